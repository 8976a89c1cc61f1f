package profilestore

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func key(kind, name, container string) WorkloadContainer {
	return WorkloadContainer{Namespace: "shop", Workload: v1alpha1.WorkloadReference{Kind: kind, Name: name}, Container: container}
}

func TestNamesAreValidDeterministicAndReadable(t *testing.T) {
	long := strings.Repeat("a", 250)
	for _, tc := range []struct {
		name string
		key  WorkloadContainer
		want string // "" when a hashed name is expected
		// wantPrefix is what a hashed name starts with.
		wantPrefix string
	}{
		{name: "deployment and container joined by a dash", key: key("Deployment", "web", "nginx"), want: "web-nginx"},
		{name: "dots in the workload name are kept", key: key("StatefulSet", "db.primary", "postgres"), want: "db.primary-postgres"},
		{name: "a bare pod is named like a workload", key: key("Pod", "debug-7f9c", "shell"), want: "debug-7f9c-shell"},
		{name: "upper case is lowered and hashed", key: key("Pod", "Debug", "shell"), wantPrefix: "debug-shell-"},
		{name: "characters a name cannot hold are replaced and hashed", key: key("Pod", "a_b", "c"), wantPrefix: "a-b-c-"},
		{name: "a name over 253 characters is shortened with a hash", key: key("Deployment", long, "container"), wantPrefix: strings.Repeat("a", 200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ProfileName(tc.key)
			if msgs := validation.IsDNS1123Subdomain(got); len(msgs) > 0 {
				t.Fatalf("ProfileName = %q, not a valid object name: %v", got, msgs)
			}
			if again := ProfileName(tc.key); again != got {
				t.Fatalf("ProfileName is not deterministic: %q then %q", got, again)
			}
			switch {
			case tc.want != "" && got != tc.want:
				t.Errorf("ProfileName = %q, want %q", got, tc.want)
			case tc.want == "" && (!strings.HasPrefix(got, tc.wantPrefix) || !strings.HasSuffix(got, "-"+keyHash(tc.key))):
				t.Errorf("ProfileName = %q, want %q... with the key's hash %s", got, tc.wantPrefix, keyHash(tc.key))
			}
			collision := CollisionName(tc.key)
			if msgs := validation.IsDNS1123Subdomain(collision); len(msgs) > 0 {
				t.Fatalf("CollisionName = %q, not a valid object name: %v", collision, msgs)
			}
			for label, value := range profileLabels(tc.key, "rec-"+tc.key.Workload.Name) {
				if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
					t.Errorf("label %s=%q is not a valid label value: %v", label, value, msgs)
				}
			}
		})
	}
}

func TestKeysThatShareAPlainNameGetDifferentCollisionNames(t *testing.T) {
	for _, pair := range [][2]WorkloadContainer{
		{key("Deployment", "web", "app"), key("StatefulSet", "web", "app")},
		{key("Deployment", "web-app", "x"), key("Deployment", "web", "app-x")},
	} {
		a, b := pair[0], pair[1]
		if ProfileName(a) != ProfileName(b) {
			t.Fatalf("test premise: %v and %v should share a plain name", a, b)
		}
		if CollisionName(a) == CollisionName(b) || CollisionName(a) == ProfileName(a) {
			t.Errorf("%v and %v: collision names %q and %q must differ from each other and from %q", a, b, CollisionName(a), CollisionName(b), ProfileName(a))
		}
	}
}

func TestKeysThatNeededAHashNeverShareAName(t *testing.T) {
	// Lower-casing makes these equal; the hash keeps them apart.
	a, b := key("Pod", "Web", "app"), key("Pod", "WEB", "app")
	if ProfileName(a) == ProfileName(b) {
		t.Errorf("%v and %v share the name %q", a, b, ProfileName(a))
	}
}

func TestLongLabelValuesAreShortenedAndStayDistinct(t *testing.T) {
	a, b := strings.Repeat("w", 100)+"-one", strings.Repeat("w", 100)+"-two"
	la, lb := labelValue(a), labelValue(b)
	if len(la) > 63 || la == lb {
		t.Errorf("labelValue(%q) = %q, labelValue(%q) = %q: want at most 63 characters and different", a, la, b, lb)
	}
	if labelValue("web") != "web" {
		t.Errorf("a valid value must be kept as it is, got %q", labelValue("web"))
	}
}

func TestKeysAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  WorkloadContainer
		want string
	}{
		{"no namespace", WorkloadContainer{Workload: v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, Container: "c"}, "namespace: required"},
		{"unknown kind", key("ReplicaSet", "web", "c"), `workload kind "ReplicaSet"`},
		{"no workload name", key("Deployment", "", "c"), "workload name: required"},
		{"no container", key("Deployment", "web", ""), "container: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.key.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
