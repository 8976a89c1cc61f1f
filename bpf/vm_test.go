package bpf

import (
	"cmp"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/test/vm"
)

// TestOnlyBackendsThatFireAreChosenInVM loads footprint in a VM with
// Debian's kernels, booted with and without bpf among the active LSMs.
// Without it (Ubuntu's default), BPF-LSM programs load and attach and never
// run: the active LSM list turns them away, and where the list is not
// consulted, their self-test must. Either way fentry/fexit record and
// fmod_ret prevents in their place; with bpf active, the LSM hooks are used.
func TestOnlyBackendsThatFireAreChosenInVM(t *testing.T) {
	boot, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	wantRecorder := map[Kind]string{
		KindExec: "tp_btf/sched_process_exec", KindCapability: "fexit/cap_capable",
		KindFile: "fentry/security_file_open", KindConnect: "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		KindSyscall: "tp_btf/sys_enter",
		KindSocket:  "fentry/security_socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create",
	}
	wantEnforcer := map[Kind]string{
		KindExec: "fmod_ret/security_bprm_check", KindCapability: "fmod_ret/security_capable",
		KindFile: "fmod_ret/security_file_open", KindConnect: "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		KindCgroup:  "tp_btf/cgroup_attach_task+sched_process_fork",
		KindSocket:  "fmod_ret/security_socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create",
		KindPtrace:  "fmod_ret/security_ptrace_access_check",
		KindSyscall: "tp_btf/sys_exit",
	}
	wantEffect := map[Kind]Effect{KindCgroup: FollowsProcess, KindSyscall: ReportedSeccomp}
	if boot.BPFLSM {
		wantRecorder[KindFile] = "lsm/file_open"
		wantEnforcer[KindExec], wantEnforcer[KindCapability], wantEnforcer[KindFile] = "lsm/bprm_check_security", "lsm/capable", "lsm/file_open"
		wantEnforcer[KindSocket] = "lsm/socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create"
		wantEnforcer[KindPtrace] = "lsm/ptrace_access_check"
	}
	check := func(t *testing.T, lsmStage Stage) {
		_, rec, enf, _ := loadAll(t)
		for _, c := range rec.Choices() {
			if c.Chosen != wantRecorder[c.Kind] || c.Proof == "" {
				t.Errorf("recording %s: %q (proof %q), want %q; rejected %+v", c.Kind, c.Chosen, c.Proof, wantRecorder[c.Kind], c.Rejected)
			}
			checkLSMRejections(t, recorderBackends, c, boot.BPFLSM, lsmStage)
		}
		for _, c := range enf.Choices() {
			effect := cmp.Or(wantEffect[c.Kind], Prevented)
			if c.Chosen != wantEnforcer[c.Kind] || c.Effect != effect || c.Proof == "" {
				t.Errorf("enforcing %s: %q (%s, proof %q), want %q, %s; rejected %+v", c.Kind, c.Chosen, c.Effect, c.Proof, wantEnforcer[c.Kind], effect, c.Rejected)
			}
			checkLSMRejections(t, enforcerBackends, c.BackendChoice, boot.BPFLSM, lsmStage)
		}
	}
	t.Run("with the active LSM list consulted", func(t *testing.T) { check(t, StageLSMInactive) })
	t.Run("with the self-test alone", func(t *testing.T) {
		checkLSMList = false
		defer func() { checkLSMList = true }()
		check(t, StageSelfTest)
	})
}

// checkLSMRejections checks that where bpf is not an active LSM every
// BPF-LSM backend of the kind was turned away at stage, and that where it
// is none was.
func checkLSMRejections(t *testing.T, table []kindBackends, c BackendChoice, bpfActive bool, stage Stage) {
	t.Helper()
	part := "recording"
	if &table[0] == &enforcerBackends[0] {
		part = "enforcing"
	}
	lsmBackends := 0
	for _, name := range backendNames(table, c.Kind) {
		if strings.HasPrefix(name, "lsm/") {
			lsmBackends++
		}
	}
	var refused []Rejection
	for _, rj := range c.Rejected {
		if strings.HasPrefix(rj.Backend, "lsm/") {
			refused = append(refused, rj)
		}
	}
	switch {
	case bpfActive && len(refused) > 0:
		t.Errorf("%s %s: BPF-LSM backends refused where bpf is active: %+v", part, c.Kind, refused)
	case !bpfActive && lsmBackends > 0 && len(refused) != 1:
		t.Errorf("%s %s: BPF-LSM backends refused %+v, want its one LSM backend refused", part, c.Kind, refused)
	case !bpfActive && len(refused) == 1 && refused[0].Stage != stage:
		t.Errorf("%s %s: %s refused at %q (%s), want at %q", part, c.Kind, refused[0].Backend, refused[0].Stage, refused[0].Reason, stage)
	}
}

// TestPinsAreJudgedByLayoutInVM runs the pin layout checks on Debian's
// kernels, where the enforcer pins BPF-LSM or fmod_ret programs' maps: a
// pin of another layout is replaced, and a restart reuses every pin.
func TestPinsAreJudgedByLayoutInVM(t *testing.T) {
	if _, inVM := vm.InEachBootOrLaunch(t, "CI=true"); !inVM {
		return
	}
	t.Run("a pin of another layout is replaced", pinnedMapOfAnotherLayoutIsReplaced)
	t.Run("a restart reuses every pin", restartOfTheSameVersionReusesEveryPin)
}
