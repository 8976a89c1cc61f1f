package enforcer

import (
	"math/bits"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
)

// TestEveryCompiledAccessHasItsOwnKernelBit checks the one place the
// compiler's access bits meet the kernel's: every bit a rule can grant
// reaches the kernel as a bit of its own, and every kernel bit a hook
// checks is one a rule can grant (else the hook would refuse it always).
func TestEveryCompiledAccessHasItsOwnKernelBit(t *testing.T) {
	kernelAll := bpf.AccessRead | bpf.AccessWrite | bpf.AccessExec | bpf.AccessCreate | bpf.AccessTruncate | bpf.AccessChanges
	seen := bpf.Access(0)
	for b := rules.Access(1); b != 0 && b <= rules.AccessAll; b <<= 1 {
		if rules.AccessAll&b == 0 {
			continue
		}
		k := toKernelAccess(b)
		if bits.OnesCount32(uint32(k)) != 1 {
			t.Errorf("compiled access %#x maps to kernel bits %v; want exactly one", b, k)
		}
		if seen&k != 0 {
			t.Errorf("compiled access %#x maps to kernel %v, which another bit maps to", b, k)
		}
		seen |= k
	}
	if seen != kernelAll {
		t.Errorf("the compiled bits reach kernel %v; want every kernel bit, %v", seen, kernelAll)
	}
}

// TestEveryRouteCanBeLeftAlone checks that a policy of the first
// generation leaves every route added since alone in the kernel, each by
// a flag of its own: a route without one would be governed for a policy
// exported before it.
func TestEveryRouteCanBeLeftAlone(t *testing.T) {
	spec := v1alpha1.EnforcementPolicySpec{Files: &v1alpha1.FileRules{}, Routes: v1alpha1.FirstRoutes}
	routes := spec.RoutesLeftAlone()
	if len(routes) == 0 {
		t.Fatal("the first generation leaves nothing alone")
	}
	var before bpf.KernelPolicy
	for _, r := range routes {
		var kp bpf.KernelPolicy
		if err := spare(&kp, []v1alpha1.Route{r}); err != nil {
			t.Fatal(err)
		}
		if kp == before {
			t.Errorf("route %s sets no flag", r)
		}
	}
	var all bpf.KernelPolicy
	if err := spare(&all, routes); err != nil {
		t.Fatal(err)
	}
	if !all.SpareMkdir || !all.SpareUtimes {
		t.Errorf("the first generation's policy is %+v; want mkdir and utimes left alone", all)
	}
	var current bpf.KernelPolicy
	spec.Routes = v1alpha1.CurrentRoutes
	if err := spare(&current, spec.RoutesLeftAlone()); err != nil || current != before {
		t.Errorf("a current policy leaves %+v alone (%v); want nothing", current, err)
	}
}
