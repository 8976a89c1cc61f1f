package policies

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Load decodes an EnforcementPolicy like profiles.Load decodes a Profile,
// and validates it with Validate.
func Load(data []byte) (*v1alpha1.EnforcementPolicy, error) {
	return profiles.Decode(data, "EnforcementPolicy", Validate)
}

// LoadFile is Load for a file.
func LoadFile(path string) (*v1alpha1.EnforcementPolicy, error) {
	return profiles.LoadFileWith(path, Load)
}

// LoadObject decodes a Profile or an EnforcementPolicy, whichever the
// document's kind says. It lives here rather than in profiles because it
// needs both loaders, and profiles does not know policies.
func LoadObject(data []byte) (runtime.Object, error) {
	kind, err := profiles.DocumentKind(data)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "EnforcementPolicy":
		return Load(data)
	default:
		// profiles.Load explains what a Profile should look like, including
		// when the kind is something else altogether.
		return profiles.Load(data)
	}
}

// LoadObjectFile is LoadObject for a file.
func LoadObjectFile(path string) (runtime.Object, error) {
	return profiles.LoadFileWith(path, LoadObject)
}
