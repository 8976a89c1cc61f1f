package profiles

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestSocketFamiliesMergeAsAUnionUnlessASetAllowsAny(t *testing.T) {
	x64 := v1alpha1.ArchX86_64
	withFamilies := func(f ...string) v1alpha1.SyscallSet {
		return v1alpha1.SyscallSet{Arch: x64, Names: []string{"read", "socket"}, SocketFamilies: f}
	}
	for _, tc := range []struct {
		what     string
		into     []v1alpha1.SyscallSet
		from     []v1alpha1.SyscallSet
		families []string
	}{
		{"two recordings", []v1alpha1.SyscallSet{withFamilies("AF_UNIX", "AF_INET")}, []v1alpha1.SyscallSet{withFamilies("AF_NETLINK", "AF_INET")}, []string{"AF_INET", "AF_NETLINK", "AF_UNIX"}},
		{"a recording without sockets", []v1alpha1.SyscallSet{withFamilies("AF_INET")}, []v1alpha1.SyscallSet{{Arch: x64, Names: []string{"write"}}}, []string{"AF_INET"}},
		// Recorded before families were: socket with any family, which the union keeps.
		{"a recording without families", []v1alpha1.SyscallSet{withFamilies("AF_INET")}, []v1alpha1.SyscallSet{withFamilies()}, nil},
	} {
		t.Run(tc.what, func(t *testing.T) {
			got := foldSyscalls(tc.into, tc.from)
			if len(got) != 1 || !slices.Equal(got[0].SocketFamilies, tc.families) {
				t.Fatalf("folded %+v, want socket families %v", got, tc.families)
			}
		})
	}
}

func TestAnUnknownSocketFamilyIsRefusedNamingTheField(t *testing.T) {
	errs := ValidateSyscalls([]v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"socket"}, SocketFamilies: []string{"AF_INET", "inet6"}}}, field.NewPath("spec", "syscalls"))
	if len(errs) != 1 || !strings.Contains(errs.ToAggregate().Error(), "spec.syscalls[0].socketFamilies[1]") || !strings.Contains(errs.ToAggregate().Error(), "AF_INET6") {
		t.Fatalf("errors %v, want one naming spec.syscalls[0].socketFamilies[1] with a hint", errs)
	}
}

func TestSocketFamilyNamesMatchLinuxNumbers(t *testing.T) {
	for nr, want := range map[int]string{1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 40: "AF_VSOCK", 44: "AF_XDP", 45: "AF_MCTP"} {
		if got, ok := SocketFamilyName(nr); !ok || got != want {
			t.Errorf("family %d: %q, want %s", nr, got, want)
		}
		if got, ok := SocketFamilyNumber(want); !ok || got != nr {
			t.Errorf("%s: %d, want %d", want, got, nr)
		}
	}
	if _, ok := SocketFamilyName(46); ok {
		t.Error("family 46 has a name: AF_MAX is 46")
	}
}
