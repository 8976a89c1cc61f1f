package enforcer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/internal/loopback"
	"github.com/footprint-dev/footprint/profiles"
)

// policy decodes an EnforcementPolicy from YAML, failing the test on error.
func policy(t *testing.T, text string) *v1alpha1.EnforcementPolicy {
	t.Helper()
	var p v1alpha1.EnforcementPolicy
	if err := yaml.UnmarshalStrict([]byte(text), &p); err != nil {
		t.Fatalf("policy: %v\n%s", err, text)
	}
	return &p
}

// connectOnlyTo is a policy in mode that governs only connects and allows
// TCP to the loopback address addr alone.
func connectOnlyTo(t *testing.T, mode, addr string) *v1alpha1.EnforcementPolicy {
	return policy(t, fmt.Sprintf("spec:\n  mode: %s\n  connect:\n    allow:\n      - {cidr: 127.0.0.1/32, protocol: TCP, port: %s}\n", mode, port(addr)))
}

// systemReadRules allows reading the system's files and the test binary,
// and nothing else.
func systemReadRules(t *testing.T) string {
	s := "  files:\n    allow:\n"
	for _, p := range []string{"/usr/**", "/etc/**", "/proc/**", "/sys/**", selfPath(t)} {
		s += "      - {path: \"" + p + "\", access: [read]}\n"
	}
	return s
}

// execRules allows the helper's own executions: env and the test binary.
func execRules(t *testing.T, extra ...string) string {
	s := "  executables:\n    allow:\n"
	for _, p := range append([]string{envPath(t), selfPath(t)}, extra...) {
		s += "      - path: " + p + "\n"
	}
	return s
}

func run(t *testing.T, p *v1alpha1.EnforcementPolicy, command []string) *LocalResult {
	t.Helper()
	var stderr bytes.Buffer
	res, err := EnforceCommand(context.Background(), LocalOptions{Policy: p, Command: command, Stderr: &stderr})
	if err != nil {
		t.Fatalf("EnforceCommand: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("command stderr:\n%s", stderr.String())
			t.Logf("violations: %+v", res.Violations)
			t.Logf("backends: %+v", res.Choices)
		}
	})
	return res
}

// listen starts a TCP listener on loopback that accepts and closes.
func listen(t *testing.T) string { return loopback.Listen(t).String() }

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func onlyViolation(t *testing.T, res *LocalResult) bpf.Violation {
	t.Helper()
	if len(res.Violations) != 1 {
		t.Fatalf("got %d violations, want 1: %+v", len(res.Violations), res.Violations)
	}
	return res.Violations[0]
}

// allSyscallsBut is a policy section allowing every x86-64 system call but
// the ones named.
func allSyscallsBut(t *testing.T, but ...string) string {
	t.Helper()
	s := "  syscalls:\n    allow:\n      - arch: X86_64\n        names:\n"
	for nr := 0; nr < 512; nr++ {
		if name, ok := profiles.SyscallName(v1alpha1.ArchX86_64, nr); ok && !slices.Contains(but, name) {
			s += "          - " + name + "\n"
		}
	}
	return s
}

func TestSystemCallsOutsideThePolicyFailWithEPERM(t *testing.T) {
	for _, tc := range []struct {
		mode, want string
	}{
		{"Enforce", "EPERM"},
		// Audit mode logs (SCMP_ACT_LOG) and allows.
		{"Audit", "ok"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := policy(t, "spec:\n  mode: "+tc.mode+"\n"+allSyscallsBut(t, "unshare", "ptrace"))
			res := run(t, p, helperCommand(t, "unshare-expect", tc.want))
			if res.ExitCode != 0 {
				t.Errorf("exit code %d: unshare did not give %s", res.ExitCode, tc.want)
			}
		})
	}
	// A call that reaches no more than a recorded one (mremap, with mmap
	// recorded) is allowed and not reported: libc makes it only when a
	// realloc grows a large block, which a recording may never have seen.
	t.Run("a companion of a recorded call", func(t *testing.T) {
		p := policy(t, "spec:\n  mode: Enforce\n"+allSyscallsBut(t, "mremap", "unshare"))
		res := run(t, p, helperCommand(t, "mremap-expect", "ok"))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Errorf("exit code %d, violations %+v: mremap was refused or reported under a policy that allows mmap", res.ExitCode, res.Violations)
		}
	})
	// Held from the first instruction: the command itself may not make
	// the call either, nor what it executes.
	p := policy(t, "spec:\n  mode: Enforce\n"+allSyscallsBut(t, "unshare"))
	res := run(t, p, []string{"unshare", "--uts", "true"})
	if res.ExitCode == 0 {
		t.Error("unshare(1) ran unshare(2) under a policy that refuses it")
	}
}

// TestSystemCallsOutsideThePolicyAreReportedOnce: the seccomp filter
// refuses (Enforce) or logs (Audit) a call outside the policy, and says
// nothing to footprint; the reporter does, once per distinct call.
func TestSystemCallsOutsideThePolicyAreReportedOnce(t *testing.T) {
	for _, tc := range []struct {
		mode, want string
		outcome    bpf.Outcome
		says       string
	}{
		{"Enforce", "EPERM", bpf.Denied, "called unshare: refused by seccomp"},
		{"Audit", "ok", bpf.Audited, "called unshare: would be refused"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := policy(t, "spec:\n  mode: "+tc.mode+"\n"+allSyscallsBut(t, "unshare"))
			res := run(t, p, helperCommand(t, "unshare-twice-expect", tc.want))
			if res.ExitCode != 0 {
				t.Errorf("exit code %d: unshare did not give %s", res.ExitCode, tc.want)
			}
			v := onlyViolation(t, res)
			unshare, _ := profiles.SyscallNumber(v1alpha1.ArchX86_64, "unshare")
			if v.Kind != bpf.KindSyscall || v.Syscall != unshare || v.Compat || v.Outcome != tc.outcome || v.NoSeccomp {
				t.Errorf("violation = %+v, want unshare (%d), %s, under a seccomp filter", v, unshare, tc.outcome)
			}
			if got := Describe(v); !strings.Contains(got, tc.says) {
				t.Errorf("Describe = %q, want it to say %q", got, tc.says)
			}
			if c := res.Counters[bpf.KindSyscall]; c.Violations != 2 || c.Reported != 1 {
				t.Errorf("counters %+v: want the 2 calls counted and reported once", c)
			}
		})
	}
}

// A process held to a policy with system calls but started without its
// seccomp filter (a pod that does not name the Localhost profile) is not
// refused: the report says so rather than "refused".
func TestASystemCallOutsideThePolicyWithoutItsFilterIsReportedAsNotRefused(t *testing.T) {
	_, installer, reader, cg := heldCgroup(t, "unfiltered", 10)
	c, err := rules.Compile(policy(t, "spec:\n  mode: Enforce\n"+allSyscallsBut(t, "unshare")))
	if err != nil {
		t.Fatal(err)
	}
	if err := installer.Install(10, c); err != nil {
		t.Fatal(err)
	}
	command := helperCommand(t, "unshare-expect", "ok")
	path, _ := cgroupcmd.LookCommand(command[0])
	res, err := cgroupcmd.Run(context.Background(), cg, cgroupcmd.Options{Path: path, Args: command})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d (%v): unshare without the filter must work", res.ExitCode, err)
	}
	reader.SetDeadline(time.Now().Add(time.Second))
	v, err := reader.Read()
	if err != nil || v.Kind != bpf.KindSyscall || v.Outcome != bpf.Unfiltered || !v.NoSeccomp {
		t.Fatalf("violation %+v (%v), want unshare reported as not refused, without a filter", v, err)
	}
	if got, want := Describe(v), "called unshare: not refused: the process runs without the policy's seccomp profile"; !strings.Contains(got, want) {
		t.Errorf("Describe = %q, want it to say %q", got, want)
	}
}

func TestSocketFamiliesOutsideThePolicyAreReported(t *testing.T) {
	for _, tc := range []struct {
		mode, want string
		outcome    bpf.Outcome
	}{
		{"Enforce", "EPERM", bpf.Denied},
		{"Audit", "ok", bpf.Audited},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := policy(t, "spec:\n  mode: "+tc.mode+"\n"+allSyscallsBut(t)+"        socketFamilies: [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK]\n")
			res := run(t, p, helperCommand(t, "packet-socket-expect", tc.want))
			if res.ExitCode != 0 {
				t.Errorf("exit code %d: socket(AF_PACKET) did not give %s", res.ExitCode, tc.want)
			}
			v := onlyViolation(t, res)
			if v.Kind != bpf.KindSyscall || !v.HasSocketFamily || v.SocketFamily != 17 || v.Outcome != tc.outcome {
				t.Errorf("violation = %+v, want socket(AF_PACKET), %s", v, tc.outcome)
			}
			if got := Describe(v); !strings.Contains(got, "called socket(AF_PACKET): ") {
				t.Errorf("Describe = %q, want it to name socket(AF_PACKET)", got)
			}
		})
	}
}

func TestConnectOutsideThePolicyFailsWithEPERMWhileAllowedDestinationsWork(t *testing.T) {
	allowed, other := listen(t), listen(t)
	p := connectOnlyTo(t, "Enforce", allowed)
	res := run(t, p, helperCommand(t, "connect", allowed, "ok", other, "EPERM"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", res.ExitCode)
	}
	v := onlyViolation(t, res)
	if v.Kind != bpf.KindConnect || v.Addr.String() != "127.0.0.1" || fmt.Sprint(v.Port) != port(other) || v.Protocol != 6 || v.Outcome != bpf.Denied {
		t.Errorf("violation = %+v, want a denied TCP connect to %s", v, other)
	}
	// This process is outside the enforced cgroup.
	c, err := net.Dial("tcp", other)
	if err != nil {
		t.Fatalf("a process outside the cgroup was affected: %v", err)
	}
	c.Close()
}

func TestUnconnectedUDPSendOutsideThePolicyFails(t *testing.T) {
	p := policy(t, `
spec:
  mode: Enforce
  connect:
    allow:
      - {cidr: 127.0.0.1/32, protocol: UDP, port: 53}
`)
	res := run(t, p, helperCommand(t, "udp-send", "127.0.0.1:5353", "EPERM"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", res.ExitCode)
	}
	if v := onlyViolation(t, res); v.Kind != bpf.KindConnect || v.Port != 5353 || v.Protocol != 17 {
		t.Errorf("violation = %+v, want UDP to port 5353", v)
	}
}

func TestAuditModeReportsAndAllows(t *testing.T) {
	allowed, other := listen(t), listen(t)
	p := policy(t, fmt.Sprintf(`
spec:
  mode: Audit
  connect:
    allow:
      - {cidr: 127.0.0.0/8, protocol: TCP, port: %s}
`, port(allowed)))
	res := run(t, p, helperCommand(t, "connect", allowed, "ok", other, "ok"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", res.ExitCode)
	}
	if v := onlyViolation(t, res); v.Outcome != bpf.Audited || fmt.Sprint(v.Port) != port(other) {
		t.Errorf("violation = %+v, want an audited connect to %s", v, other)
	}
}

func TestFileOpenOutsideThePolicyIsStopped(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "written")
	p := policy(t, `
spec:
  mode: Enforce
  unpreventable: Kill
  files:
    allow:
      - {path: "/**", access: [read]}
`+execRules(t))
	res := run(t, p, helperCommand(t, "write", target))
	v := onlyViolation(t, res)
	if v.Kind != bpf.KindFile || v.Path != target || v.Access != bpf.AccessWrite|bpf.AccessCreate {
		t.Errorf("violation = %+v, want a write+create of %s", v, target)
	}
	assertStopped(t, res, v)
	if v.Exe != selfPath(t) {
		t.Errorf("violation names program %q, want %q", v.Exe, selfPath(t))
	}
}

// Where the kernel cannot refuse an operation, Enforce mode audits it
// unless the policy accepts killing the process once it has happened.
func TestWhatTheKernelCannotRefuseIsAuditedUnlessThePolicyAcceptsKilling(t *testing.T) {
	for _, tc := range []struct{ name, unpreventable string }{
		{"by default", ""},
		{"unpreventable: Audit", "  unpreventable: Audit\n"},
		{"unpreventable: Kill", "  unpreventable: Kill\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t, "spec:\n  mode: Enforce\n"+tc.unpreventable+systemReadRules(t)+execRules(t))
			res := run(t, p, helperCommand(t, "write", filepath.Join(t.TempDir(), "written")))
			v := onlyViolation(t, res)
			var effect bpf.Effect
			for _, c := range res.Choices {
				if c.Kind == bpf.KindFile {
					effect = c.Effect
				}
			}
			want, exit := bpf.Denied, 3 // the helper's failure
			switch {
			case effect == bpf.KilledAfter && tc.unpreventable == "  unpreventable: Kill\n":
				want, exit = bpf.Killed, 128+9
			case effect == bpf.KilledAfter:
				want, exit = bpf.Audited, 0
			}
			if v.Outcome != want || res.ExitCode != exit {
				t.Errorf("with file opens %s here: outcome %s, exit %d; want %s, exit %d", effect, v.Outcome, res.ExitCode, want, exit)
			}
		})
	}
}

func TestReadingAnAllowedFileIsNotAViolation(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "data")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := policy(t, `
spec:
  mode: Enforce
  files:
    allow:
      - {path: "/**", access: [read]}
`+execRules(t))
	res := run(t, p, helperCommand(t, "open-many", target, "1000"))
	if res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("exit code %d, violations %+v: want 0 and none", res.ExitCode, res.Violations)
	}
	if c := res.Counters[bpf.KindFile]; c.CacheHits < 900 {
		t.Errorf("verdict cache hits = %d, want at least 900 of 1000 repeat opens", c.CacheHits)
	}
}

func TestExecutionOutsideThePolicyIsStopped(t *testing.T) {
	truePath, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	p := policy(t, `
spec:
  mode: Enforce
  unpreventable: Kill
`+execRules(t))
	res := run(t, p, helperCommand(t, "exec", truePath))
	v := onlyViolation(t, res)
	if v.Kind != bpf.KindExec || v.Path != truePath {
		t.Errorf("violation = %+v, want an exec of %s", v, truePath)
	}
	assertStopped(t, res, v)
}

func TestCapabilityOutsideThePolicyIsStopped(t *testing.T) {
	target := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The test binary links cilium/ebpf, whose start-up creates a BPF map
	// (capability checks for BPF, PERFMON and on older kernels SYS_ADMIN):
	// a real program's needs, so the policy allows them.
	p := policy(t, `
spec:
  mode: Enforce
  unpreventable: Kill
  capabilities:
    allow: [CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN]
`)
	res := run(t, p, helperCommand(t, "chown", target, "1234"))
	v := onlyViolation(t, res)
	if v.Kind != bpf.KindCapability || v.Capability != 0 /* CAP_CHOWN */ {
		t.Errorf("violation = %+v, want CAP_CHOWN", v)
	}
	// It says which call on which file needed the capability (Go's
	// os.Chown is fchownat(AT_FDCWD, path, ...)).
	if text, want := Describe(v), fmt.Sprintf("used CAP_CHOWN in fchownat(%q)", target); !strings.Contains(text, want) {
		t.Errorf("the violation reads %q, want it to contain %q", text, want)
	}
	assertStopped(t, res, v)
}

// The same violation on several CPUs at once is still one report: the
// kernel lets only the first to enter it report it.
func TestAViolationRepeatedOnEveryCPUAtOnceIsReportedOnce(t *testing.T) {
	allowed, other := listen(t), listen(t)
	p := connectOnlyTo(t, "Enforce", allowed)
	for round := 0; round < 5; round++ {
		res := run(t, p, helperCommand(t, "connect-parallel", other, "8", "50"))
		if res.ExitCode != 0 {
			t.Fatalf("exit code %d, want 0", res.ExitCode)
		}
		if v := violationsOf(res, bpf.KindConnect); len(v) != 1 {
			t.Fatalf("round %d: %d reports of one violation, want 1: %+v", round, len(v), v)
		}
		if c := res.Counters[bpf.KindConnect]; c.Violations != 400 || c.Reported != 1 {
			t.Errorf("round %d: counted %d violations, %d reported; want 400 and 1", round, c.Violations, c.Reported)
		}
	}
}

func TestARepeatedViolationIsReportedOnce(t *testing.T) {
	target := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := policy(t, `
spec:
  mode: Audit
`+systemReadRules(t)+execRules(t))
	res := run(t, p, helperCommand(t, "open-many", target, "100000"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0 in audit mode", res.ExitCode)
	}
	v := onlyViolation(t, res)
	if v.Path != target || v.Outcome != bpf.Audited {
		t.Errorf("violation = %+v, want an audited read of %s", v, target)
	}
	if n := res.Counters[bpf.KindFile].Violations; n < 100000 {
		t.Errorf("kernel counted %d violations, want at least 100000", n)
	}
}

func TestATightLoopOfDistinctViolationsCannotFloodUserSpace(t *testing.T) {
	dir := t.TempDir()
	p := policy(t, `
spec:
  mode: Audit
`+systemReadRules(t)+execRules(t))
	const n = 20000
	res := run(t, p, helperCommand(t, "create-distinct", dir, fmt.Sprint(n)))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0 in audit mode", res.ExitCode)
	}
	c := res.Counters[bpf.KindFile]
	if c.Violations < n {
		t.Errorf("kernel counted %d violations, want at least %d", c.Violations, n)
	}
	if c.Suppressed == 0 || uint64(len(res.Violations)) != c.Reported || c.Reported+c.Suppressed+c.RingBufferLost < n {
		t.Errorf("reported %d (read %d), suppressed %d, lost %d: want the rate bound to suppress some of %d and account for all",
			c.Reported, len(res.Violations), c.Suppressed, c.RingBufferLost, n)
	}
}

// A flood of distinct violations of one kind uses up that kind's report
// budget, not another's: a connect right after thousands of forbidden file
// creations in the same second is still reported.
func TestAFloodOfOneKindDoesNotHideAViolationOfAnother(t *testing.T) {
	dir, other := t.TempDir(), listen(t)
	p := policy(t, `
spec:
  mode: Audit
`+systemReadRules(t)+`  connect: {allow: []}
`+execRules(t))
	const n = 2000
	res := run(t, p, helperCommand(t, "flood-then-connect", dir, fmt.Sprint(n), other))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0 in audit mode", res.ExitCode)
	}
	if c := res.Counters[bpf.KindFile]; c.Suppressed == 0 {
		t.Fatalf("file violations: reported %d, suppressed %d: the flood did not reach the report bound", c.Reported, c.Suppressed)
	}
	connects := 0
	for _, v := range res.Violations {
		if v.Kind == bpf.KindConnect {
			connects++
		}
	}
	if connects != 1 {
		t.Errorf("%d connect violations reported after the flood, want 1", connects)
	}
}

// A violation is reported once per installed policy version: after a switch
// from Audit to Enforce it is reported again, also for a policy without
// file rules (whose versions once all looked alike to the kernel).
func TestAViolationIsReportedAgainUnderANewPolicyVersion(t *testing.T) {
	allowed, other := listen(t), listen(t)
	_, installer, reader, cg := heldCgroup(t, "versions", 9)
	connectOnly := func(mode string) *rules.Compiled {
		c, err := rules.Compile(policy(t, fmt.Sprintf("spec:\n  mode: %s\n  connect: {allow: [{cidr: 127.0.0.1/32, protocol: TCP, port: %s}]}\n", mode, port(allowed))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		mode, want string
		outcome    bpf.Outcome
	}{{"Audit", "ok", bpf.Audited}, {"Enforce", "EPERM", bpf.Denied}} {
		if err := installer.Install(9, connectOnly(tc.mode)); err != nil {
			t.Fatal(err)
		}
		// The same connect twice: one report per version.
		command := helperCommand(t, "connect", other, tc.want, other, tc.want)
		path, _ := cgroupcmd.LookCommand(command[0])
		res, err := cgroupcmd.Run(context.Background(), cg, cgroupcmd.Options{Path: path, Args: command})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: exit %d (%v)", tc.mode, res.ExitCode, err)
		}
		reader.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if v, err := reader.Read(); err != nil || v.Kind != bpf.KindConnect || v.Outcome != tc.outcome {
			t.Errorf("%s: violation %+v (%v), want one %s connect", tc.mode, v, err, tc.outcome)
		}
		reader.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if v, err := reader.Read(); err == nil {
			t.Errorf("%s: the repeat was reported too: %+v", tc.mode, v)
		}
	}
}

// heldCgroup loads an enforcer with its installer and violation reader,
// and holds a new cgroup to policy id (installed or not) from now on.
func heldCgroup(t *testing.T, name string, id uint32) (*bpf.Enforcer, *Installer, *bpf.ViolationReader, *cgroupfs.Cgroup) {
	t.Helper()
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enf.Close() })
	installer, err := NewInstaller(enf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(installer.Close)
	reader, err := enf.NewViolationReader()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("%s-%d", name, os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Remove() })
	if err := enf.EnforceCgroup(cg.ID, id, bpf.Hold{Live: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enf.ReleaseCgroup(cg.ID) })
	return enf, installer, reader, cg
}

func TestAnInvalidPolicyIsRefusedBeforeAnythingIsLoaded(t *testing.T) {
	tests := []struct {
		name, spec, field string
	}{
		{"unknown capability", `capabilities: {allow: [CAP_FLY]}`, "spec.capabilities.allow[0]"},
		{"malformed CIDR", `connect: {allow: [{cidr: 10.0.0.300/8, protocol: TCP, port: 80}]}`, "spec.connect.allow[0].cidr"},
		{"relative path", `files: {allow: [{path: etc/passwd, access: [read]}]}`, "spec.files.allow[0].path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy(t, "spec:\n  "+tt.spec+"\n")
			_, err := EnforceCommand(context.Background(), LocalOptions{Policy: p, Command: []string{"/nonexistent/never-run"}})
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error = %v, want one naming %s", err, tt.field)
			}
		})
	}
}

// assertStopped checks that the violation was acted on the way this kernel
// can: denied (the process saw EPERM and the action failed) or killed.
func assertStopped(t *testing.T, res *LocalResult, v bpf.Violation) {
	t.Helper()
	switch v.Outcome {
	case bpf.Killed, bpf.DeniedKilled:
		if res.ExitCode != 128+9 {
			t.Errorf("outcome %s but exit code %d, want 137 (SIGKILL)", v.Outcome, res.ExitCode)
		}
	case bpf.Denied:
		if res.ExitCode != 3 {
			t.Errorf("outcome denied but exit code %d, want the helper's failure (3)", res.ExitCode)
		}
	default:
		t.Errorf("outcome %s, want denied or killed", v.Outcome)
	}
}

func TestAnAnyPortRuleAllowsEveryPortAndPortZeroOnlyItself(t *testing.T) {
	a, b := listen(t), listen(t)
	anyPort := policy(t, `
spec:
  mode: Enforce
  connect:
    allow:
      - {cidr: 127.0.0.0/8, protocol: TCP, port: 0, endPort: 65535}
`)
	if res := run(t, anyPort, helperCommand(t, "connect", a, "ok", b, "ok")); res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("any-port rule: exit %d, violations %+v", res.ExitCode, res.Violations)
	}
	portZero := policy(t, `
spec:
  mode: Enforce
  connect:
    allow:
      - {cidr: 127.0.0.0/8, protocol: TCP, port: 0}
`)
	if res := run(t, portZero, helperCommand(t, "connect", a, "EPERM")); res.ExitCode != 0 || len(res.Violations) != 1 {
		t.Fatalf("port-0 rule: exit %d, violations %+v: want the connect to %s denied", res.ExitCode, res.Violations, a)
	}
}

// A command run as a user is held to its policy from its exec on, with or
// without a seccomp filter (whose shim enters the cgroup as root, then
// becomes the user).
func TestACommandRunAsAUserIsHeldToItsPolicy(t *testing.T) {
	kerneltest.RequireRoot(t)
	nobody, err := cgroupcmd.LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	id, err := filepath.EvalSymlinks("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	base := "spec:\n  mode: Enforce\n  capabilities: {allow: []}\n  executables:\n    allow:\n      - path: " + id + "\n" + systemReadRules(t)
	for _, tc := range []struct{ name, policy string }{
		{"without a seccomp filter", base},
		{"with a seccomp filter", base + allSyscallsBut(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			res, err := EnforceCommand(context.Background(), LocalOptions{Policy: policy(t, tc.policy),
				Command: []string{id, "-u"}, User: nobody, Stdout: &stdout, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 || strings.TrimSpace(stdout.String()) != "65534" {
				t.Errorf("exit %d, uid %q, want 0 and 65534; stderr: %s", res.ExitCode, stdout.String(), stderr.String())
			}
			if len(res.Violations) != 0 {
				t.Errorf("violations: %+v, want none: the switch to the user is not the command's", res.Violations)
			}
		})
	}
}
