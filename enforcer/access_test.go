package enforcer

import (
	"math/bits"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
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
