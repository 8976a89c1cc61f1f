package generator

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestSeccompGolden(t *testing.T) {
	p := loadFixture(t, "api")
	s, err := Seccomp(p, SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oci, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "api-seccomp", oci)
	spo, err := yaml.Marshal(SPOSeccomp(s, p.Name, p.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "api-seccomp-spo", spo)
	policy, err := PolicyYAML(p, PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "api-policy", policy)
	patch, err := SecurityContextPatch(p, SecurityContextOptions{SeccompLocalhost: SeccompLocalhostProfile(p.Namespace, "api-server")})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "api-securitycontext-localhost", patch)
}

func TestSeccompAllowsWhatWasRecordedAndWhatTheRuntimeNeeds(t *testing.T) {
	s, err := Seccomp(loadFixture(t, "api"), SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultAction != ScmpActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != 1 {
		t.Errorf("default %s/%v, want SCMP_ACT_ERRNO with EPERM", s.DefaultAction, s.DefaultErrnoRet)
	}
	if !slices.Equal(s.Architectures, []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}) {
		t.Errorf("architectures %v, want both recorded ABIs", s.Architectures)
	}
	allowed := s.Syscalls[0].Names
	for _, want := range []string{"accept4", "getpid", "execve"} {
		if !slices.Contains(allowed, want) {
			t.Errorf("%s not allowed in %v", want, allowed)
		}
	}
	if last := s.Syscalls[len(s.Syscalls)-1]; !slices.Equal(last.Names, []string{"clone3"}) || last.ErrnoRet == nil || *last.ErrnoRet != 38 {
		t.Errorf("last rule %+v, want clone3 refused with ENOSYS", last)
	}
	audit, err := Seccomp(loadFixture(t, "api"), SeccompOptions{Mode: v1alpha1.ModeAudit})
	if err != nil {
		t.Fatal(err)
	}
	if audit.DefaultAction != ScmpActLog || audit.DefaultErrnoRet != nil || slices.ContainsFunc(audit.Syscalls, func(r SeccompSyscall) bool { return r.Action != ScmpActAllow }) {
		t.Errorf("audit: %+v, want SCMP_ACT_LOG by default and nothing refused", audit)
	}
	b, _ := json.Marshal(audit)
	var back SeccompProfile
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
}

func TestSeccompFromAProfileWithoutSystemCallsIsRefused(t *testing.T) {
	if _, err := Seccomp(loadFixture(t, "web"), SeccompOptions{}); !errors.Is(err, ErrNoSyscalls) {
		t.Errorf("error %v, want ErrNoSyscalls", err)
	}
}

func TestSeccompAllowsSocketsOnlyOfTheRecordedFamilies(t *testing.T) {
	x64, i386 := v1alpha1.ArchX86_64, v1alpha1.ArchX86
	familyRules := func(s *SeccompProfile) map[uint64][]string {
		out := map[uint64][]string{}
		for _, r := range s.Syscalls {
			if len(r.Args) == 1 && r.Args[0].Index == 0 && r.Args[0].Op == ScmpCmpEq && r.Action == ScmpActAllow {
				out[r.Args[0].Value] = r.Names
			}
		}
		return out
	}
	t.Run("one rule per family, for the calls recorded, through every ABI", func(t *testing.T) {
		s, err := SeccompFor([]v1alpha1.SyscallSet{
			{Arch: x64, Names: []string{"read", "socket", "socketpair"}, SocketFamilies: []string{"AF_UNIX", "AF_INET"}},
			{Arch: i386, Names: []string{"socket"}, SocketFamilies: []string{"AF_NETLINK"}},
		}, SeccompOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if names := s.Syscalls[0].Names; slices.Contains(names, "socket") || slices.Contains(names, "socketpair") {
			t.Errorf("socket or socketpair allowed by name alone: %v", names)
		}
		want := map[uint64][]string{1: {"socket", "socketpair"}, 2: {"socket", "socketpair"}, 16: {"socket", "socketpair"}}
		if got := familyRules(s); len(got) != len(want) || !slices.Equal(got[1], want[1]) || !slices.Equal(got[2], want[2]) || !slices.Equal(got[16], want[16]) {
			t.Errorf("family rules %v, want %v", got, want)
		}
		if slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, "address family") }) {
			t.Errorf("notes %v, want none about families", s.Notes)
		}
	})
	t.Run("a profile recorded without families allows socket by name and says so", func(t *testing.T) {
		s, err := SeccompFor([]v1alpha1.SyscallSet{{Arch: x64, Names: []string{"read", "socket"}}}, SeccompOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Syscalls[0].Names, "socket") || len(familyRules(s)) != 0 {
			t.Errorf("rules %+v, want socket allowed by name", s.Syscalls)
		}
		if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, "any address family") }) {
			t.Errorf("notes %v, want one saying any family is allowed", s.Notes)
		}
	})
	t.Run("an unknown family is refused naming the field", func(t *testing.T) {
		_, err := SeccompFor([]v1alpha1.SyscallSet{{Arch: x64, Names: []string{"socket"}, SocketFamilies: []string{"AF_INTE"}}}, SeccompOptions{})
		if err == nil || !strings.Contains(err.Error(), "syscalls[0].socketFamilies[0]") || !strings.Contains(err.Error(), "AF_INTE") {
			t.Fatalf("err = %v, want one naming syscalls[0].socketFamilies[0] and AF_INTE", err)
		}
	})
}
