package profilestore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
)

// Labels every Profile written by the store carries, so that profiles can be
// listed by workload, container or recording with a label selector. Values
// longer than a label value may be (63 characters) are shortened with a hash
// suffix; the spec always holds the full names.
const (
	LabelWorkloadKind = "footprint.dev/workload-kind"
	LabelWorkload     = "footprint.dev/workload"
	LabelContainer    = "footprint.dev/container"
	// LabelRecording names the ProfileRecording that last wrote the profile.
	LabelRecording = "footprint.dev/recording"
)

// hashLength is how many hex digits of a SHA-256 name a hash suffix keeps:
// 40 bits, so that two keys of one namespace meet by chance about once in a
// trillion pairs.
const hashLength = 10

// WorkloadContainer identifies one Profile: a container of a workload in a
// namespace. Profiles of every replica and node of the workload are merged
// into the one Profile of its key.
type WorkloadContainer struct {
	// Namespace is where the workload runs and where its Profile is stored.
	Namespace string
	// Workload is the object that owns the pods: a Deployment, StatefulSet,
	// DaemonSet, Job, CronJob, or the Pod itself when nothing owns it.
	// APIVersion is optional and does not take part in the identity.
	Workload v1alpha1.WorkloadReference
	// Container is the container's name in the pod template.
	Container string
}

func (k WorkloadContainer) String() string {
	return fmt.Sprintf("%s/%s %s container %s", k.Namespace, k.Workload.Kind, k.Workload.Name, k.Container)
}

// identity is the key without the parts that do not identify a profile.
func (k WorkloadContainer) identity() WorkloadContainer {
	k.Workload.APIVersion = ""
	return k
}

// Validate says what is wrong with a key, naming the field.
func (k WorkloadContainer) Validate() error {
	var errs []error
	if k.Namespace == "" {
		errs = append(errs, errors.New("namespace: required"))
	} else if msgs := validation.IsDNS1123Label(k.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", k.Namespace, strings.Join(msgs, "; ")))
	}
	if !slices.Contains(workloads.Kinds, k.Workload.Kind) {
		errs = append(errs, fmt.Errorf("workload kind %q: want one of %s", k.Workload.Kind, strings.Join(workloads.Kinds, ", ")))
	}
	if k.Workload.Name == "" {
		errs = append(errs, errors.New("workload name: required"))
	} else if len(k.Workload.Name) > validation.DNS1123SubdomainMaxLength {
		errs = append(errs, fmt.Errorf("workload name: longer than %d characters", validation.DNS1123SubdomainMaxLength))
	}
	if k.Container == "" {
		errs = append(errs, errors.New("container: required"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("profile key %s: %w", k, errors.Join(errs...))
	}
	return nil
}

// owns reports whether a stored profile is the one of this key. A profile
// with another workload or container, or with none (one recorded locally
// and applied by hand), belongs to someone else and is never written over.
func (k WorkloadContainer) owns(p *v1alpha1.Profile) bool {
	w := p.Spec.Workload
	return w != nil && w.Kind == k.Workload.Kind && w.Name == k.Workload.Name && p.Spec.Container == k.Container
}

// ProfileName is the name of the Profile of a key: `<workload>-<container>`
// (web-nginx for container nginx of Deployment web). When that is not a
// faithful spelling of the key -- it had to be lower-cased or had characters
// an object name cannot hold replaced, or it is longer than 253 characters
// and had to be shortened -- a hash of the key is appended
// (`<shortened>-<hash>`), so that different keys never share a name by
// construction.
//
// The plain name can still be claimed by another key of the namespace
// (Deployment web and StatefulSet web, both with a container app; or web-app
// with container x and web with container app-x). The store notices that the
// object at the plain name belongs to another key and uses CollisionName
// instead, so the profile of the key that came first keeps the plain name.
func ProfileName(key WorkloadContainer) string {
	plain := key.Workload.Name + "-" + key.Container
	name := dnsSubdomain(strings.ToLower(plain))
	if name == plain && len(name) <= validation.DNS1123SubdomainMaxLength {
		return name
	}
	return withHash(name, validation.DNS1123SubdomainMaxLength, keyHash(key))
}

// CollisionName is the name the store uses for a key whose ProfileName is
// held by the profile of another key: the plain name with a hash of the key
// appended. It is a valid object name and differs from every ProfileName
// that needed no hash.
func CollisionName(key WorkloadContainer) string {
	name := ProfileName(key)
	suffix := "-" + keyHash(key)
	if strings.HasSuffix(name, suffix) {
		return name // already hashed: a second collision is out of reach
	}
	return withHash(name, validation.DNS1123SubdomainMaxLength, keyHash(key))
}

// keyHash identifies a key in hashLength hex digits. Kind, name and
// container are separated by a byte that none of them may contain.
func keyHash(key WorkloadContainer) string {
	sum := sha256.Sum256([]byte(key.Workload.Kind + "\x00" + key.Workload.Name + "\x00" + key.Container))
	return hex.EncodeToString(sum[:])[:hashLength]
}

// withHash appends "-hash" to name, shortening name so that the whole stays
// within max characters and still ends in a letter or digit.
func withHash(name string, max int, hash string) string {
	keep := max - len(hash) - 1
	if len(name) > keep {
		name = name[:keep]
	}
	name = strings.TrimRight(name, "-.")
	if name == "" {
		return hash
	}
	return name + "-" + hash
}

// dnsSubdomain turns s into a DNS-1123 subdomain: lower-case letters, digits
// and '-', in labels separated by '.', each label starting and ending with a
// letter or digit. Anything else becomes '-'. The result may be longer than
// 253 characters; the caller shortens it.
func dnsSubdomain(s string) string {
	mapped := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, s)
	var labels []string
	for _, l := range strings.Split(mapped, ".") {
		if l = strings.Trim(l, "-"); l != "" {
			labels = append(labels, l)
		}
	}
	out := strings.Join(labels, ".")
	if out == "" {
		return "profile"
	}
	return out
}

// labelValue makes s a valid label value: at most 63 characters of letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit. A
// value that had to change gets a hash of the original appended, so two
// different names never share a label value.
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	mapped := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
	sum := sha256.Sum256([]byte(s))
	hash := hex.EncodeToString(sum[:])[:hashLength]
	keep := validation.LabelValueMaxLength - hashLength - 1
	if len(mapped) > keep {
		mapped = mapped[:keep]
	}
	mapped = strings.Trim(mapped, "-_.")
	if mapped == "" {
		return hash
	}
	return mapped + "-" + hash
}

// profileLabels are the labels of a key's profile last written for a
// recording.
func profileLabels(key WorkloadContainer, recording string) map[string]string {
	l := map[string]string{
		LabelWorkloadKind: labelValue(key.Workload.Kind),
		LabelWorkload:     labelValue(key.Workload.Name),
		LabelContainer:    labelValue(key.Container),
	}
	if recording != "" {
		l[LabelRecording] = labelValue(recording)
	}
	return l
}
