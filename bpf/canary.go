package bpf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// The self-test's canary is this very binary, started again in a cgroup of
// its own (the way container runtimes re-execute themselves) with
// canaryEnv naming what it must do: open a file, make a capability check,
// connect. Its exec is an operation under test too. It reports each
// operation's result on stdout, one line each: "open ok", "connect EPERM".
const canaryEnv = "FOOTPRINT_BPF_CANARY"

// The canary's operations.
const (
	// canaryOpen opens /proc/self/comm read-only: a file that exists
	// wherever /proc is mounted, with short path components (a rule
	// matches a component of up to 63 bytes), and that neither the Go
	// runtime nor a dynamic loader opens.
	canaryOpen = "open"
	// canaryCapability sets the supplementary groups the canary already
	// has: a CAP_SETGID check with no effect.
	canaryCapability = "capability"
	// canaryConnect connects a UDP socket to 127.0.0.1:9: a connect that
	// sends nothing.
	canaryConnect = "connect"
	// canaryLeave moves the canary to the cgroup whose cgroup.procs
	// canaryOutsideEnv names, then waits for its stdin to close, so that
	// the parent can look at it away from its cgroup.
	canaryLeave = "leave"
	// canaryChown changes the owner of canaryFile to what it is
	// (chown(2) with -1, -1): a file change made without an open, which
	// the change hooks see and which changes nothing.
	canaryChown = "chown"
	// canaryUtimes sets canaryFile's modification time to now, its access
	// time left as it is: a time set, which the times hooks see, on a file
	// only procfs keeps (in memory, for the canary's own process).
	canaryUtimes = "utimes"
	// canaryPtrace reads its parent's memory with process_vm_readv at an
	// address that is not mapped: the kernel checks the access (ptrace
	// attach mode) first, then fails with EFAULT, reading nothing.
	canaryPtrace = "ptrace"
	// canarySeccomp puts the canary's thread under a seccomp filter that
	// refuses io_uring_setup(2) with EPERM, as a policy's filter refuses
	// a call outside it, and makes that call: the filter refuses it
	// before it does anything.
	canarySeccomp = "seccomp"
)

// canaryOutsideEnv names the cgroup.procs file canaryLeave writes to.
const canaryOutsideEnv = "FOOTPRINT_BPF_CANARY_OUTSIDE"

// canaryTimeout bounds one canary: under software emulation (the test VM)
// starting a Go binary takes a good part of a second.
const canaryTimeout = 30 * time.Second

// A process started as the canary does its operations and exits before
// main, and before any test, runs.
func init() {
	if ops := os.Getenv(canaryEnv); ops != "" {
		os.Exit(runCanary(strings.Split(ops, ",")))
	}
}

// canaryFile is what canaryOpen opens.
const canaryFile = "/proc/self/comm"

func runCanary(ops []string) int {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, op := range ops {
		var err error
		switch op {
		case canaryOpen:
			var fd int
			if fd, err = unix.Open(canaryFile, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
			}
		case canaryCapability:
			err = setSameGroups()
		case canaryConnect:
			err = connectUDP()
		case canaryChown:
			err = unix.Chown(canaryFile, -1, -1)
		case canaryUtimes:
			err = unix.UtimesNanoAt(unix.AT_FDCWD, canaryFile,
				[]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}, 0)
		case canaryLeave:
			err = os.WriteFile(os.Getenv(canaryOutsideEnv), []byte("0"), 0)
		case canaryPtrace:
			err = readParentMemory()
		case canarySeccomp:
			err = refusedBySeccomp()
		default:
			var ok bool
			if err, ok = runSocketCanary(op); !ok {
				fmt.Fprintf(out, "%s unknown\n", op)
				return 2
			}
		}
		fmt.Fprintf(out, "%s %s\n", op, canaryResult(err))
		// Each line reaches the parent before the next operation, which
		// may be the one that kills the canary.
		out.Flush()
		if op == canaryLeave && err == nil {
			io.Copy(io.Discard, os.Stdin)
		}
	}
	return 0
}

func canaryResult(err error) string {
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno) && errno == unix.EPERM:
		return "EPERM"
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// setSameGroups sets this thread's supplementary groups to what they are:
// the kernel checks CAP_SETGID (audited) and changes nothing.
func setSameGroups() error {
	groups := make([]uint32, 1024)
	n, _, e := unix.RawSyscall(unix.SYS_GETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(&groups[0])), 0)
	if e != 0 {
		return e
	}
	if _, _, e = unix.RawSyscall(unix.SYS_SETGROUPS, n, uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		return e
	}
	return nil
}

func readParentMemory() error {
	var b [1]byte
	local := []unix.Iovec{{Base: &b[0], Len: 1}}
	remote := []unix.RemoteIovec{{Base: 1, Len: 1}}
	_, err := unix.ProcessVMReadv(os.Getppid(), local, remote, 0)
	return err
}

// canarySyscall is the call canarySeccomp's filter refuses: one the Go
// runtime never makes.
const canarySyscall = unix.SYS_IO_URING_SETUP

// refusedBySeccomp installs, on this thread only (the call is made on it),
// a seccomp filter that refuses canarySyscall with EPERM and allows every
// other call, and makes the call.
func refusedBySeccomp() error {
	runtime.LockOSThread() // the thread exits with the canary
	const (
		auditArchX86_64 = 0xc000003e
		retErrno        = 0x00050000
		retAllow        = 0x7fff0000
		ldAbsW          = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK            = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK            = unix.BPF_RET | unix.BPF_K
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: 4}, // seccomp_data.arch
		{Code: jeqK, Jt: 0, Jf: 3, K: auditArchX86_64},
		{Code: ldAbsW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 1, K: canarySyscall},
		{Code: retK, K: retErrno | uint32(unix.EPERM)},
		{Code: retK, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %v", err) // not EPERM: the call was not made
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("install a seccomp filter: %v", e)
	}
	if _, _, e := unix.RawSyscall(canarySyscall, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

func connectUDP() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
}

// canaryOutcome is how a canary ended.
type canaryOutcome struct {
	// results is each operation's result: "ok", "EPERM" or an error.
	results map[string]string
	// execErr is why the canary could not be executed at all.
	execErr error
	// killed is true when SIGKILL ended it.
	killed bool
	// exitCode is its exit status when it exited.
	exitCode int
}

func (o canaryOutcome) String() string {
	switch {
	case o.execErr != nil:
		return "its exec failed: " + o.execErr.Error()
	case o.killed:
		return "it was killed"
	}
	return fmt.Sprintf("it exited with code %d", o.exitCode)
}

// runCanaryIn starts the canary straight in cg (clone3 into the cgroup:
// nothing of this process ever runs there) and waits for it.
func runCanaryIn(cg *cgroupfs.Cgroup, ops []string) (canaryOutcome, error) {
	return runCanaryWith(cg, ops, canaryRun{})
}

// canaryRun is what canaryLeave needs: where the canary goes, and what to
// look at while it is there.
type canaryRun struct {
	// outside is the cgroup canaryLeave moves the canary to.
	outside *cgroupfs.Cgroup
	// away runs once the canary has moved, with its process id; the
	// canary waits until it returns.
	away func(pid int)
}

func runCanaryWith(cg *cgroupfs.Cgroup, ops []string, run canaryRun) (canaryOutcome, error) {
	dir, err := cg.Open()
	if err != nil {
		return canaryOutcome{}, err
	}
	defer dir.Close()
	ctx, cancel := context.WithTimeout(context.Background(), canaryTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{"footprint-self-test"}
	cmd.Env = []string{canaryEnv + "=" + strings.Join(ops, ",")}
	if run.outside != nil {
		cmd.Env = append(cmd.Env, canaryOutsideEnv+"="+filepath.Join(run.outside.Path, "cgroup.procs"))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return canaryOutcome{}, fmt.Errorf("start the self-test canary: %w", err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return canaryOutcome{}, fmt.Errorf("start the self-test canary: %w", err)
	}
	defer stdin.Close()
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	out := canaryOutcome{results: map[string]string{}}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EPERM) {
			out.execErr = err
			return out, nil
		}
		return out, fmt.Errorf("start the self-test canary in %s: %w", cg.Path, err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		op, result, ok := strings.Cut(lines.Text(), " ")
		if !ok {
			continue
		}
		out.results[op] = result
		if op == canaryLeave && result == "ok" {
			if run.away != nil {
				run.away(cmd.Process.Pid)
			}
			stdin.Close()
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return out, fmt.Errorf("the self-test canary did not finish within %v", canaryTimeout)
	}
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
		out.killed = st.Signal() == syscall.SIGKILL
		out.exitCode = 128 + int(st.Signal())
		return out, nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return out, fmt.Errorf("wait for the self-test canary: %w", err)
	}
	out.exitCode = cmd.ProcessState.ExitCode()
	return out, nil
}

// canaryHome is where canaries get their cgroups: below this process's own
// cgroup, the one place it may always move a process to. Where cgroup2 is
// mounted with nsdelegate (systemd) and this process has a cgroup namespace
// of its own (a node agent's container), a cgroup outside that namespace is
// out of reach, and the host's mount may not even show where this process's
// cgroup is; a cgroup2 mount made here shows this namespace's root, with
// this process's cgroup at the path /proc/self/cgroup gives.
type canaryHome struct {
	dir     string
	cleanup func()
}

func newCanaryHome() (*canaryHome, error) {
	own, err := ownCgroupPath()
	if err != nil {
		return nil, fmt.Errorf("self-test: %w", err)
	}
	mnt, err := os.MkdirTemp("", "footprint-cgroup-")
	if err != nil {
		return nil, fmt.Errorf("self-test: %w", err)
	}
	if err := unix.Mount("cgroup2", mnt, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		os.Remove(mnt)
		return nil, fmt.Errorf("self-test: mount cgroup2 at %s: %w", mnt, err)
	}
	return &canaryHome{dir: filepath.Join(mnt, own), cleanup: func() {
		unix.Unmount(mnt, unix.MNT_DETACH)
		os.Remove(mnt)
	}}, nil
}

// ownCgroupPath returns this process's cgroup v2 path, relative to its
// cgroup namespace's root.
func ownCgroupPath() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path, nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// create makes a canary's cgroup, named after its purpose and this process.
func (h *canaryHome) create(purpose string) (*cgroupfs.Cgroup, error) {
	cg, err := cgroupfs.Create(filepath.Join(h.dir, "selftest-"+purpose+"-"+strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("self-test: %w", err)
	}
	return cg, nil
}

func (h *canaryHome) close() { h.cleanup() }
