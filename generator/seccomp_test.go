package generator

import (
	"encoding/json"
	"errors"
	"slices"
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
	if audit.DefaultAction != ScmpActLog || audit.DefaultErrnoRet != nil || len(audit.Syscalls) != 1 {
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
