package v1alpha1_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/profiles"
)

// The EnforcementPolicy CRD refuses capability names outside a list written
// into its validation rules. That list must be exactly footprint's table, or
// the cluster would refuse a policy footprint generates (or accept one it
// cannot enforce).
func TestCRDCapabilityListIsFootprintsTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "crds", "footprint.dev_enforcementpolicies.yaml"))
	if err != nil {
		t.Fatalf("%v (run make generate)", err)
	}
	var want []string
	for n := 0; n <= profiles.MaxCapability; n++ {
		want = append(want, profiles.CapabilityName(n))
	}
	rules := regexp.MustCompile(`rule: self in \[([^\]]*)\]`).FindAllStringSubmatch(strings.ReplaceAll(string(data), "\n", " "), -1)
	if len(rules) != 2 {
		t.Fatalf("found %d capability rules in the CRD, want 2 (allow and allowInUserNamespace)", len(rules))
	}
	for _, r := range rules {
		var got []string
		for _, q := range strings.Split(r[1], ",") {
			got = append(got, strings.Trim(strings.TrimSpace(q), "'"))
		}
		if !slices.Equal(got, want) {
			t.Errorf("the CRD's capability list differs from profiles' table:\n got  %v\n want %v\n(edit the markers in enforcementpolicy_types.go, then make generate)", got, want)
		}
	}
}
