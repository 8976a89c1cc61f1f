package envtest_test

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/test/envtest"
)

// Start gives a test a control plane of its own, with the CRDs installed,
// separate from every other one.
func TestStartGivesATestItsOwnControlPlane(t *testing.T) {
	cfg, c := envtest.Start(t)
	if cfg.Host == env.Config.Host {
		t.Fatalf("Start returned the shared control plane at %s", cfg.Host)
	}
	ns := envtest.Namespace(t, c)
	rec := &v1alpha1.ProfileRecording{}
	rec.Name, rec.Namespace = "mine", ns
	if err := c.Create(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	err := env.Client.Get(ctx(t), types.NamespacedName{Namespace: ns, Name: "mine"}, &v1alpha1.ProfileRecording{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("the object is visible in the shared control plane: %v", err)
	}
}
