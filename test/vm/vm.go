// Package vm runs Go tests inside a throw-away QEMU VM booted with Debian's stock kernel,
// for what the development and CI hosts cannot do: load BPF LSM, fentry and fexit programs
// (see shared/KERNEL.md). The VM is driven by vmtest.sh in this directory, embedded here so
// the helper works from any package; the script installs qemu and the kernel on first use
// and caches them.
//
// A test that needs the VM routes on the environment: on the host it launches itself in
// the VM, inside the VM (FOOTPRINT_IN_VM=1) it runs its body:
//
//	func TestDenyOpen(t *testing.T) {
//		if !vm.InVMOrLaunch(t) {
//			return // ran in the VM, its verdict is this test's verdict
//		}
//		// body: runs as root inside the VM, BPF LSM available
//	}
//
// RunPackageTests runs a whole package's tests (matching a pattern) in one VM boot instead.
//
// A test that must hold on every kernel footprint is tested on runs in each boot of Boots
// (Debian's stable and newer LTS kernels, each with and without bpf among the active
// LSMs) through InEachBootOrLaunch, and learns inside which boot it runs:
//
//	func TestRecordsInVM(t *testing.T) {
//		boot, inVM := vm.InEachBootOrLaunch(t)
//		if !inVM {
//			return
//		}
//		// body: boot.BPFLSM says whether BPF-LSM programs run here
//	}
//
// Such tests are named ...InVM: the first of a package to run boots each VM once for
// all of them (a boot is minutes of emulation), and each reports its own verdict.
//
// Neither skips silently: a VM that cannot be set up or booted fails the test with a
// message saying how to fix it. Only FOOTPRINT_SKIP_VM=1 skips, and the skip says what is
// left untested.
package vm

import (
	"bytes"
	"context"
	"debug/elf"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// EnvInVM is set to "1" in the environment of every binary the harness runs in the VM.
	EnvInVM = "FOOTPRINT_IN_VM"
	// EnvSkip, set to "1", makes the helpers skip instead of booting the VM.
	EnvSkip = "FOOTPRINT_SKIP_VM"
	// envKernel pins the kernel package (PACKAGE=VERSION) the script boots.
	envKernel = "FOOTPRINT_VM_KERNEL"
	// envTimeout bounds the VM's run in seconds.
	envTimeout = "FOOTPRINT_VM_TIMEOUT"
	// envAppend is extra kernel command line.
	envAppend = "FOOTPRINT_VM_APPEND"
	// envBoot names, inside the VM, the boot of Boots it runs in.
	envBoot = "FOOTPRINT_VM_BOOT"
	// EnvBoots, set to a comma-separated list of boot names, runs the matrix tests in
	// those boots only.
	EnvBoots = "FOOTPRINT_VM_BOOTS"
	// envMatrix is set to "1" in the VM for a run of InEachBootOrLaunch's tests.
	envMatrix = "FOOTPRINT_VM_MATRIX"

	// exitSetup and exitNoCode are vmtest.sh's own exit codes.
	exitSetup  = 124
	exitNoCode = 125

	// defaultTimeout bounds a VM run when the test has no deadline.
	defaultTimeout = 20 * time.Minute
	// deadlineMargin is kept between the VM's timeout and the test's deadline so that a
	// hung VM is reported by this package rather than by the test binary's panic.
	deadlineMargin = 15 * time.Second
	// inVMMargin is kept between the in-VM test binary's -test.timeout and the VM's
	// timeout so that a hung test dumps its goroutines before the VM is killed; it covers
	// boot and power-off.
	inVMMargin = 45 * time.Second
)

//go:embed vmtest.sh
var script []byte

// ErrNoExitCode means the VM ended without reporting the binary's exit code: it did not
// boot, the kernel panicked, or it timed out.
var ErrNoExitCode = errors.New("the VM reported no exit code (boot failure, kernel panic or timeout)")

// ErrSetup means the harness could not install its packages or prepare the kernel.
var ErrSetup = errors.New("the VM harness could not be set up")

// InVM reports whether this process runs inside the harness's VM.
func InVM() bool { return os.Getenv(EnvInVM) == "1" }

// InVMOrLaunch routes a top-level test that must run in the VM. Inside the VM it returns
// true and the caller goes on with the test body. On the host it runs this very test
// (-test.run ^NAME$) of the current package in the VM, through RunPackageTests with env,
// and returns false: the caller must return at once, the body has run and been judged.
func InVMOrLaunch(t *testing.T, env ...string) bool {
	t.Helper()
	if InVM() {
		if os.Getenv(envMatrix) == "1" {
			// Its name put it in a boot matrix run of its package; it
			// runs in a VM of its own.
			t.Log("not run in this boot matrix: the test launches its own VM")
			return false
		}
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("vm.InVMOrLaunch needs a top-level test, %s is a subtest", t.Name())
	}
	RunPackageTests(t, ".", "^"+regexp.QuoteMeta(t.Name())+"$", env...)
	return false
}

// Boot is one way the test VM boots: a Debian kernel, with or without bpf among the
// active LSMs.
type Boot struct {
	// Name names the boot in subtest names and in EnvBoots.
	Name string
	// Kernel is the Debian kernel package to boot, or a meta package standing for the
	// kernel it depends on; empty is linux-image-amd64's (Debian 12: Linux 6.1).
	Kernel string
	// BPFLSM says whether bpf is an active LSM. Without it the kernel boots the way
	// Ubuntu's and many cloud images' default kernels do: BPF-LSM built in and not
	// active, so BPF-LSM programs load and attach and never run.
	BPFLSM bool
}

// The LSM lists of the boots with and without bpf (the last lsm= on the command line
// wins, after vmtest.sh's own and after FOOTPRINT_VM_APPEND's).
const (
	withBPFLSM = "lsm=lockdown,capability,landlock,yama,bpf"
	noBPFLSM   = "lsm=lockdown,capability,landlock,yama"
)

// Boots is the matrix every backend is proven in: Debian 12's kernel (6.1) and the newer
// LTS kernel its security archive carries (6.12), each with and without BPF-LSM active.
var Boots = []Boot{
	{Name: "6.1-bpf-lsm", BPFLSM: true},
	{Name: "6.1-no-bpf-lsm"},
	{Name: "6.12-bpf-lsm", Kernel: "linux-image-6.12-amd64", BPFLSM: true},
	{Name: "6.12-no-bpf-lsm", Kernel: "linux-image-6.12-amd64"},
}

// scriptEnv is the environment that makes vmtest.sh boot b.
func (b Boot) scriptEnv() []string {
	var env []string
	if b.Kernel != "" {
		env = append(env, envKernel+"="+b.Kernel)
	}
	lsm := noBPFLSM
	if b.BPFLSM {
		lsm = withBPFLSM
	}
	return append(env, envAppend+"="+strings.TrimSpace(os.Getenv(envAppend)+" "+lsm))
}

// CurrentBoot returns, inside the VM, the boot of Boots this run is; false when the run
// was not started by InEachBootOrLaunch.
func CurrentBoot() (Boot, bool) {
	name := os.Getenv(envBoot)
	for _, b := range Boots {
		if b.Name == name {
			return b, true
		}
	}
	return Boot{}, false
}

// InEachBootOrLaunch routes a top-level test that must hold in every boot of Boots.
// Inside the VM it returns the boot it runs in and true, and the caller goes on with the
// test body. On the host it has the test run in the VM once per boot (subtests named
// after the boots; EnvBoots picks some) and returns false: the caller must return at once.
//
// A boot costs minutes of emulation, so the first such test of a package to run boots
// each VM once for all of them: every test of the package whose name ends in "InVM" and
// that the host's -test.run selects runs in that boot, and each test's subtests report
// its own verdict from the run. A test that asks for other env than the run had runs in
// a boot of its own. The console goes to the log of the test that started the run.
func InEachBootOrLaunch(t *testing.T, env ...string) (Boot, bool) {
	t.Helper()
	if InVM() {
		b, ok := CurrentBoot()
		if !ok {
			t.Fatalf("%s=%q names no boot of vm.Boots", envBoot, os.Getenv(envBoot))
		}
		return b, true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("vm.InEachBootOrLaunch needs a top-level test, %s is a subtest", t.Name())
	}
	if !strings.HasSuffix(t.Name(), matrixSuffix) {
		t.Fatalf("vm.InEachBootOrLaunch needs a test named ...%s (the name that lets one boot run them all), not %s", matrixSuffix, t.Name())
	}
	var only map[string]bool
	if list := os.Getenv(EnvBoots); list != "" {
		only = map[string]bool{}
		for _, name := range strings.Split(list, ",") {
			only[strings.TrimSpace(name)] = true
		}
	}
	name := t.Name()
	var boots []Boot
	for _, b := range Boots {
		if only == nil || only[b.Name] {
			boots = append(boots, b)
		}
	}
	if len(boots) == 0 {
		t.Fatalf("%s=%q names no boot of vm.Boots", EnvBoots, os.Getenv(EnvBoots))
	}
	if os.Getenv(EnvSkip) != "1" {
		startMatrixRuns(t, name, boots, env)
	}
	for _, b := range boots {
		t.Run(b.Name, func(t *testing.T) {
			skipIfAsked(t, fmt.Sprintf("%s in boot %s", name, b.Name))
			matrixRunOf(t, name, b, env).judgeTest(t, name)
		})
	}
	return Boot{}, false
}

// matrixSuffix ends the name of every test that runs through InEachBootOrLaunch.
const matrixSuffix = "InVM"

// matrixRun is one VM boot that ran some of the package's matrix tests.
type matrixRun struct {
	env     []string
	tests   []string
	code    int
	console string
	// err says why the run as a whole failed (set-up, boot, no exit code).
	err error
	// done is closed when the run has ended.
	done chan struct{}
}

// matrixRuns are this process's runs, by boot: the first test of a package to run in
// the VM starts one run per boot for every matrix test, and the tests that come later
// take their verdicts from them.
var (
	matrixMu   sync.Mutex
	matrixRuns = map[string]*matrixRun{}
)

// startMatrixRuns starts, for each boot that has none yet, the run of the package's
// matrix tests, all at once: vmSlot bounds how many VMs run together on the machine, so
// a package in its VM tests keeps every core busy instead of one. t (test name, env)
// is the test that starts them: it logs their consoles, and it ends only when they
// have.
func startMatrixRuns(t *testing.T, name string, boots []Boot, env []string) {
	t.Helper()
	matrixMu.Lock()
	defer matrixMu.Unlock()
	var tests []string
	for _, b := range boots {
		if matrixRuns[b.Name] != nil {
			continue
		}
		if tests == nil {
			tests = matrixTests(t, name)
		}
		r := &matrixRun{env: env, tests: tests, done: make(chan struct{})}
		matrixRuns[b.Name] = r
		t.Cleanup(func() { <-r.done })
		go r.run(t, b)
	}
}

// run runs the run's tests in boot b, logging into t.
func (r *matrixRun) run(t *testing.T, b Boot) {
	defer close(r.done)
	pattern := "^(" + strings.Join(quoteAll(r.tests), "|") + ")$"
	r.code, r.console, r.err = runInVM(t, ".", pattern, b.Name, b.scriptEnv(), append([]string{envBoot + "=" + b.Name, envMatrix + "=1"}, r.env...)...)
}

// matrixRunOf returns the ended run of boot b that ran test name with env: the
// package's run of that boot, or one of its own when the test asks for other env.
func matrixRunOf(t *testing.T, name string, b Boot, env []string) *matrixRun {
	t.Helper()
	matrixMu.Lock()
	first := matrixRuns[b.Name]
	matrixMu.Unlock()
	if first != nil && slices.Contains(first.tests, name) && slices.Equal(first.env, env) {
		<-first.done
		return first
	}
	r := &matrixRun{env: env, tests: []string{name}, done: make(chan struct{})}
	r.run(t, b)
	return r
}

// matrixTests lists the package's tests that end in matrixSuffix and that the host's
// -test.run selects; name is among them.
func matrixTests(t *testing.T, name string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("list the VM tests: %v", err)
	}
	out, err := exec.Command(self, "-test.list", matrixSuffix+"$").Output()
	if err != nil {
		t.Fatalf("list the VM tests (%s -test.list): %v", self, err)
	}
	selected := func(string) bool { return true }
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		// The top-level part of the pattern, as go test splits it.
		top, _, _ := strings.Cut(f.Value.String(), "/")
		if re, err := regexp.Compile(top); err == nil {
			selected = re.MatchString
		}
	}
	tests := []string{name}
	for line := range strings.Lines(string(out)) {
		test := strings.TrimSpace(line)
		if strings.HasPrefix(test, "Test") && strings.HasSuffix(test, matrixSuffix) && test != name && selected(test) {
			tests = append(tests, test)
		}
	}
	return tests
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = regexp.QuoteMeta(n)
	}
	return out
}

// judgeTest fails t unless test name passed in the run.
func (r *matrixRun) judgeTest(t *testing.T, name string) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if problem := r.verdict(name); problem != "" {
		t.Error(problem)
		return
	}
	t.Logf("%s passed in the VM run of %s", name, strings.Join(r.tests, ", "))
}

// verdict says what is wrong with test name in the run's console (-test.v output), or
// "" when it passed.
func (r *matrixRun) verdict(name string) string {
	result := regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): ` + regexp.QuoteMeta(name) + ` \(.*$`)
	m := result.FindStringSubmatchIndex(r.console)
	if m == nil {
		return fmt.Sprintf("%s has no verdict in the VM run of %s (exit code %d): the run ended before it, or it did not run; the console is in the log of %s",
			name, strings.Join(r.tests, ", "), r.code, r.tests[0])
	}
	section := r.console[:m[1]]
	if i := strings.LastIndex(section, "=== RUN   "+name+"\n"); i >= 0 {
		section = section[i:]
	}
	switch r.console[m[2]:m[3]] {
	case "FAIL":
		return fmt.Sprintf("%s failed in the VM; its part of the console:\n%s", name, section)
	case "SKIP":
		return fmt.Sprintf("%s skipped inside the VM, where it is meant to run:\n%s", name, section)
	}
	return ""
}

// RunPackageTests builds the test binary of the package in pkgDir (a directory relative
// to the calling test's package, or an import path) statically, runs its tests matching
// runPattern in the VM with -test.v and the extra environment env (KEY=VALUE; EnvInVM is
// always set), and streams the VM's console into t's log. t fails when the harness cannot
// be set up, the VM does not boot or reports no exit code, the tests fail, no test
// matches runPattern, or a test skips inside the VM (a VM test that skips where it is
// meant to run tests nothing).
func RunPackageTests(t testing.TB, pkgDir, runPattern string, env ...string) {
	t.Helper()
	runPackageTests(t, pkgDir, runPattern, "as configured", nil, env...)
}

// runPackageTests is RunPackageTests in the boot named bootName, which scriptEnv
// configures.
func runPackageTests(t testing.TB, pkgDir, runPattern, bootName string, scriptEnv []string, env ...string) {
	t.Helper()
	skipIfAsked(t, fmt.Sprintf("%s (-test.run %s)", packageName(pkgDir), runPattern))
	code, console, err := runInVM(t, pkgDir, runPattern, bootName, scriptEnv, env...)
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range judge(code, console) {
		t.Error(problem)
	}
}

func packageName(pkgDir string) string {
	if abs, err := filepath.Abs(pkgDir); err == nil && strings.HasPrefix(pkgDir, ".") {
		return abs // "." says nothing in a log
	}
	return pkgDir
}

// runInVM builds the test binary of the package in pkgDir statically, runs its tests
// matching runPattern in the VM with -test.v and env, streams the console into t's log,
// and returns the exit code and the console. The error says why there is no exit code.
func runInVM(t testing.TB, pkgDir, runPattern, bootName string, scriptEnv []string, env ...string) (int, string, error) {
	t.Helper()
	pkg := packageName(pkgDir)
	if InVM() {
		t.Fatalf("vm.RunPackageTests called inside the VM (%s=1): gate the in-VM test body on vm.InVM()", EnvInVM)
	}

	// Waiting for a place among the machine's VMs counts against the test's
	// deadline, not against the VM's timeout.
	waitCtx, cancelWait := context.Background(), func() {}
	if d, ok := deadline(t); ok {
		waitCtx, cancelWait = context.WithDeadline(waitCtx, d.Add(-deadlineMargin-2*inVMMargin))
	}
	release, err := vmSlot(waitCtx)
	cancelWait()
	if err != nil {
		return 0, "", err
	}
	defer release()

	timeout := defaultTimeout
	if d, ok := deadline(t); ok && time.Until(d)-deadlineMargin < timeout {
		timeout = time.Until(d) - deadlineMargin
	}
	if timeout < 2*inVMMargin {
		return 0, "", fmt.Errorf("only %v left before the test deadline, too little for a VM run; raise go test -timeout", timeout.Round(time.Second))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "vm.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkgDir)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, "", fmt.Errorf("building the test binary of %s: %v\n%s", pkg, err, out)
	}

	var console bytes.Buffer
	// Boots of one package run side by side: each line says whose it is.
	w := &prefixWriter{w: t.Output(), prefix: "vm " + bootName + "| "}
	args := []string{"-test.v", "-test.run", runPattern, "-test.timeout", (timeout - inVMMargin).Round(time.Second).String()}
	start := time.Now()
	code, err := run(ctx, io.MultiWriter(w, &console), scriptEnv, bin, args, env...)
	w.Flush()
	switch {
	case errors.Is(err, ErrSetup):
		return 0, console.String(), fmt.Errorf("%v. The harness needs root, Debian's apt mirror and bash; the output above says what failed. To prepare a machine by hand: sudo bash test/vm/vmtest.sh --setup", err)
	case errors.Is(err, ErrNoExitCode):
		return 0, console.String(), fmt.Errorf("running %s -test.run %s: %v; the console output above shows how far it got", pkg, runPattern, err)
	case err != nil:
		return 0, console.String(), fmt.Errorf("running %s -test.run %s in the VM: %v", pkg, runPattern, err)
	}
	t.Logf("VM run (%s) of %s -test.run %s: exit code %d after %v", bootName, pkg, runPattern, code, time.Since(start).Round(100*time.Millisecond))
	return code, console.String(), nil
}

// EnvParallel caps how many VMs run at once on this machine, across test processes (go
// test runs packages side by side); default: one per CPU, as each emulated CPU keeps a
// host core busy.
const EnvParallel = "FOOTPRINT_VM_PARALLEL"

// vmSlot waits until fewer VMs than the cap run on this machine and takes a place among
// them; release gives it back. The places are files locked with flock(2), so that a
// process that dies frees its place.
func vmSlot(ctx context.Context) (release func(), err error) {
	n := runtime.NumCPU()
	if v := os.Getenv(EnvParallel); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			return nil, fmt.Errorf("%s=%q: want the number of VMs that may run at once, 1 or more", EnvParallel, v)
		}
	}
	dir := filepath.Join(os.TempDir(), "footprint-vm-places")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("a place among the machine's VMs: %w", err)
	}
	for {
		for i := range n {
			f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)), os.O_CREATE|os.O_RDWR, 0o644)
			if err != nil {
				return nil, fmt.Errorf("a place among the machine's VMs: %w", err)
			}
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				return func() { f.Close() }, nil
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waited for one of the %d places among the machine's VMs (%s) until the test's deadline: %w", n, EnvParallel, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// skipIfAsked skips t, loudly, when EnvSkip asks to: what is skipped is untested, and
// the log should say so wherever it is read.
func skipIfAsked(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvSkip) == "1" {
		msg := fmt.Sprintf("%s=1: NOT running %s in the BPF-LSM VM; what it covers is UNTESTED", EnvSkip, what)
		fmt.Fprintln(os.Stderr, "WARNING: "+msg)
		t.Skip(msg)
	}
}

// deadline is testing.T's Deadline for the test types that have one.
func deadline(t testing.TB) (time.Time, bool) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

var (
	reSkip = regexp.MustCompile(`(?m)^\s*--- SKIP: (\S+)`)
	rePass = regexp.MustCompile(`(?m)^\s*--- PASS: `)
)

// judge lists what is wrong with an in-VM run of a Go test binary (-test.v) that exited
// with code and printed output; none means it passed and tested something.
func judge(code int, output string) []string {
	var problems []string
	if code != 0 {
		problems = append(problems, fmt.Sprintf("the tests failed in the VM (exit code %d); their output is above", code))
	}
	if strings.Contains(output, "testing: warning: no tests to run") {
		problems = append(problems, "no test matched the -test.run pattern in the VM")
	} else if code == 0 && !rePass.MatchString(output) {
		problems = append(problems, "exit code 0 but no test reported PASS in the VM output")
	}
	for _, m := range reSkip.FindAllStringSubmatch(output, -1) {
		problems = append(problems, fmt.Sprintf("%s skipped inside the VM, where it is meant to run", m[1]))
	}
	return problems
}

// Run boots the VM, runs the statically linked binary with args and the extra environment
// env (KEY=VALUE; EnvInVM is always set) as root in it, copies the VM's console and the
// harness's messages to out, and returns the binary's exit code. The error wraps ErrSetup
// when the harness could not be set up and ErrNoExitCode when the VM reported no exit
// code. FOOTPRINT_VM_* variables in this process's environment configure the VM (see
// vmtest.sh); without FOOTPRINT_VM_TIMEOUT the VM may run until ctx's deadline.
func Run(ctx context.Context, out io.Writer, binary string, args []string, env ...string) (int, error) {
	return run(ctx, out, nil, binary, args, env...)
}

// run is Run with scriptEnv (FOOTPRINT_VM_* settings) overriding this process's for
// vmtest.sh.
func run(ctx context.Context, out io.Writer, scriptEnv []string, binary string, args []string, env ...string) (int, error) {
	if err := checkStatic(binary); err != nil {
		return 0, err
	}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return 0, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
	}
	f, err := os.CreateTemp("", "vmtest-*.sh")
	if err != nil {
		return 0, fmt.Errorf("writing vmtest.sh: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(script); err != nil {
		f.Close()
		return 0, fmt.Errorf("writing vmtest.sh: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("writing vmtest.sh: %w", err)
	}

	// Set up first, on its own: installing packages can take a minute on a fresh
	// machine and must not eat into the VM's timeout, and the run then boots exactly the
	// kernel the set-up resolved, without asking apt again.
	var pin bytes.Buffer
	code, err := runScript(ctx, io.MultiWriter(out, &pin), scriptEnv, f.Name(), "--setup")
	if err != nil {
		return 0, fmt.Errorf("vmtest.sh --setup: %w", err)
	}
	if code != 0 {
		return 0, fmt.Errorf("%w: vmtest.sh --setup exited with %d", ErrSetup, code)
	}
	kernel := ""
	for line := range strings.Lines(pin.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), envKernel+"="); ok {
			kernel = v
		}
	}
	if kernel == "" {
		return 0, fmt.Errorf("%w: vmtest.sh --setup did not print %s", ErrSetup, envKernel)
	}

	extra := append(slices.Clone(scriptEnv), envKernel+"="+kernel)
	if d, ok := ctx.Deadline(); ok && os.Getenv(envTimeout) == "" {
		extra = append(extra, fmt.Sprintf("%s=%d", envTimeout, int(time.Until(d).Seconds())))
	}
	cmdline := []string{f.Name()}
	for _, kv := range env {
		cmdline = append(cmdline, "-e", kv)
	}
	cmdline = append(cmdline, "--", binary)
	cmdline = append(cmdline, args...)
	code, err = runScript(ctx, out, extra, cmdline...)
	if err != nil {
		return 0, err
	}
	switch code {
	case exitSetup:
		return 0, fmt.Errorf("%w: vmtest.sh exited with %d", ErrSetup, code)
	case exitNoCode:
		return 0, ErrNoExitCode
	}
	return code, nil
}

// runScript runs bash with args and returns its exit code. It runs in a process group of
// its own so that cancelling ctx also stops qemu, which otherwise outlives the script.
func runScript(ctx context.Context, out io.Writer, extraEnv []string, args ...string) (int, error) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return 0, fmt.Errorf("%w: bash not found: %v", ErrSetup, err)
	}
	cmd := exec.CommandContext(ctx, bash, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	if cmd.Process != nil {
		// Whatever is left of the group (qemu when bash was killed first) goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		return 0, fmt.Errorf("stopped the VM harness: %w", ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running vmtest.sh: %w", err)
	}
	return 0, nil
}

// checkStatic refuses a binary that is not a statically linked x86-64 ELF executable: the
// VM has no dynamic loader or libc, so it would fail there with a confusing "not found".
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s as ELF: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is built for %v, the VM is x86-64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, the VM has no libc: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// prefixWriter prefixes each line with prefix, so the VM's console stands out in a test
// log, and hands whole lines on as they complete.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial[:i]); err != nil {
			return len(b), err
		}
		p.partial = p.partial[i+1:]
	}
}

// Flush writes an unterminated last line.
func (p *prefixWriter) Flush() {
	if len(p.partial) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.partial)
		p.partial = nil
	}
}
