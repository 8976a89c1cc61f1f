package enforcer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/filechanges"
	"github.com/footprint-dev/footprint/internal/sidedoor"
	"github.com/footprint-dev/footprint/internal/testaction"
	"github.com/footprint-dev/footprint/profiles"
)

// floodCalls are 31 system calls that neither the Go runtime needs nor
// profiles.RuntimeSyscalls allows, nor any is a companion of another call
// (profiles.SyscallCompanions), each harmless without arguments: a
// workload making them outside its policy floods its pod with reports.
var floodCalls = []string{"getsockname", "getuid", "geteuid", "getgid", "getegid", "getpgrp", "getsid", "getpgid",
	"uname", "sysinfo", "times", "getrusage", "getpriority", "getresuid", "getresgid", "getgroups",
	"sched_getscheduler", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "getitimer", "getpeername", "mincore", "alarm", "getcpu", "ioprio_get",
	"get_robust_list", "rt_sigpending", "getrlimit", "sysfs"}

// The test binary doubles as the program under test (internal/testaction).
func TestMain(m *testing.M) { testaction.Main(m, runAction) }

var (
	helperCommand = testaction.Command
	selfPath      = testaction.Self
)

// envPath is env's resolved path, which the exec rules must allow.
func envPath(t *testing.T) string {
	env, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	if env, err = filepath.EvalSymlinks(env); err != nil {
		t.Fatal(err)
	}
	return env
}

func runAction(action string, args []string) error {
	switch action {
	case "file-change": // op dir [want(ok|EPERM)]: one change without an open (internal/filechanges)
		op, err := filechanges.Lookup(args[0])
		if err != nil {
			return err
		}
		err = op.Do(args[1])
		if len(args) > 2 {
			return expect(err, args[2])
		}
		return err
	case "receive": // name path want(ok|EPERM): a descriptor of path from the server at name (receive_vm_test.go)
		return expect(receiveDescriptor(args[0], args[1]), args[2])
	case "file-changes": // dir want(ok|EPERM) [op...]: every change (or those named), each in dir/OP, with the expected outcome each
		for _, op := range filechanges.Ops {
			if len(args) > 2 && !slices.Contains(args[2:], op.Name) {
				continue
			}
			if err := expect(op.Do(filepath.Join(args[0], op.Name)), args[1]); err != nil {
				return fmt.Errorf("%s: %w", op.Name, err)
			}
		}
	case "connect": // addr want(ok|EPERM) ...: TCP connects with the expected outcome each
		for i := 0; i+1 < len(args); i += 2 {
			c, err := net.Dial("tcp", args[i])
			if err := expect(err, args[i+1]); err != nil {
				return fmt.Errorf("connect %s: %w", args[i], err)
			}
			if c != nil {
				c.Close()
			}
		}
	case "connect-loop": // addr count: count TCP connects that must all succeed
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", args[0])
			if err != nil {
				return fmt.Errorf("connect %d of %d: %w", i+1, n, err)
			}
			c.Close()
		}
	case "connect-parallel": // addr threads count: count denied TCP connects on each of threads threads at once
		threads, _ := strconv.Atoi(args[1])
		n, _ := strconv.Atoi(args[2])
		errs := make(chan error, threads)
		start := make(chan struct{})
		for i := 0; i < threads; i++ {
			go func() {
				runtime.LockOSThread()
				<-start
				for j := 0; j < n; j++ {
					if _, err := net.Dial("tcp", args[0]); !errors.Is(err, unix.EPERM) {
						errs <- fmt.Errorf("connect %d: got %v, want EPERM", j, err)
						return
					}
				}
				errs <- nil
			}()
		}
		close(start)
		for i := 0; i < threads; i++ {
			if err := <-errs; err != nil {
				return err
			}
		}
	case "udp-send": // addr want
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer c.Close()
		to, err := net.ResolveUDPAddr("udp", args[0])
		if err != nil {
			return err
		}
		_, err = c.WriteToUDP([]byte("ping"), to)
		return expect(err, args[1])
	case "read": // path: open for reading
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		f.Close()
	case "write": // path: open for writing (creating it)
		f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	case "open-many": // path count: the same open, count times
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			fd, err := unix.Open(args[0], unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
	case "create-distinct": // dir count: count distinct new files
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			fd, err := unix.Open(filepath.Join(args[0], fmt.Sprintf("f%05d", i)), unix.O_WRONLY|unix.O_CREAT, 0o644)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
	case "open-expect": // path read|write|truncate want
		flag := unix.O_RDONLY
		switch args[1] {
		case "write":
			flag = unix.O_WRONLY | unix.O_CREAT
		case "truncate":
			flag = unix.O_WRONLY | unix.O_TRUNC
		}
		fd, err := unix.Open(args[0], flag, 0o644)
		if err == nil {
			unix.Close(fd)
		}
		return expect(err, args[2])
	case "exec-expect": // path want: the exec must fail with want (or replace us when ok)
		err := syscall.Exec(args[0], args[:1], os.Environ())
		return expect(err, args[1])
	case "chown-expect": // path uid want
		uid, _ := strconv.Atoi(args[1])
		return expect(os.Chown(args[0], uid, -1), args[2])
	case "flood-then-connect": // dir count addr: count distinct new files, then a TCP connect
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			fd, err := unix.Open(filepath.Join(args[0], fmt.Sprintf("f%05d", i)), unix.O_WRONLY|unix.O_CREAT, 0o644)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		c, err := net.Dial("tcp", args[2])
		if err != nil {
			return err
		}
		return c.Close()
	case "flood-calls-then-write": // path: each of floodCalls, then an open of path for writing
		for _, name := range floodCalls {
			nr, ok := profiles.SyscallNumber(v1alpha1.ArchX86_64, name)
			if !ok {
				return fmt.Errorf("no system call %q", name)
			}
			// Without arguments each fails (EFAULT, EINVAL) or only
			// reads: what matters is that it was called.
			unix.Syscall(uintptr(nr), 0, 0, 0)
		}
		fd, err := unix.Open(args[0], unix.O_WRONLY|unix.O_CREAT, 0o644)
		if err != nil {
			return err
		}
		unix.Close(fd)
	case "unshare-expect": // want: unshare(CLONE_NEWUTS)
		return expect(unix.Unshare(unix.CLONE_NEWUTS), args[0])
	case "mremap-expect": // want: grow a mapping with mremap, as glibc's realloc of a large block does
		b, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return err
		}
		grown, err := unix.Mremap(b, 2<<20, unix.MREMAP_MAYMOVE)
		if err == nil {
			err = unix.Munmap(grown)
		}
		return expect(err, args[0])
	case "unshare-twice-expect": // want: unshare(CLONE_NEWUTS), twice
		if err := expect(unix.Unshare(unix.CLONE_NEWUTS), args[0]); err != nil {
			return err
		}
		return expect(unix.Unshare(unix.CLONE_NEWUTS), args[0])
	case "packet-socket-expect": // want: socket(AF_PACKET, SOCK_DGRAM), then socket(AF_INET, SOCK_DGRAM), which must work
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		if err := expect(err, args[0]); err != nil {
			return fmt.Errorf("socket(AF_PACKET): %w", err)
		}
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return fmt.Errorf("socket(AF_INET): %w", err)
		}
		return unix.Close(fd)
	case "unprivileged-chown-expect": // path uid want: chown without CAP_CHOWN in the effective set
		uid, _ := strconv.Atoi(args[1])
		// Capabilities are per thread: drop it on the thread that chowns.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return err
		}
		data[0].Effective &^= 1 << unix.CAP_CHOWN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return err
		}
		return expect(unix.Fchownat(unix.AT_FDCWD, args[0], uid, -1, 0), args[2])
	case "exec": // path args...: replace this process
		return syscall.Exec(args[0], args, os.Environ())
	case "chown": // path uid
		uid, _ := strconv.Atoi(args[1])
		return os.Chown(args[0], uid, -1)
	case "leave": // dir action args...: move to cgroup dir, then do the action
		if err := os.WriteFile(filepath.Join(args[0], "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("move to %s: %w", args[0], err)
		}
		return runAction(args[1], args[2:])
	case "enter-subcgroup": // action args...: move to a new cgroup below this one, then do the action
		own, err := ownCgroupDir()
		if err != nil {
			return err
		}
		sub := filepath.Join(own, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("move to %s: %w", sub, err)
		}
		return runAction(args[0], args[1:])
	case "clone-into": // dir action args...: a child cloned into cgroup dir does the action
		dir, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer dir.Close()
		return runChild(&syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}, true, args[1], args[2:])
	case "move-child": // dir action args...: a child, once this process moved it to cgroup dir, does the action
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(self, args[2:]...)
		cmd.Env = append(os.Environ(), testaction.Env+"=after-stdin", "FOOTPRINT_TEST_THEN="+args[1])
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		moveErr := os.WriteFile(filepath.Join(args[0], "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("the child: %w", err)
		}
		if moveErr != nil {
			return fmt.Errorf("move the child to %s: %w", args[0], moveErr)
		}
	case "after-stdin": // args...: once stdin closes, do the action FOOTPRINT_TEST_THEN names
		io.Copy(io.Discard, os.Stdin)
		return runAction(os.Getenv("FOOTPRINT_TEST_THEN"), args)
	case "spawn": // action args...: a child does the action
		return runChild(nil, true, args[0], args[1:])
	case "spawn-detached": // action args...: a child does the action; it is not waited for
		return runChild(nil, false, args[0], args[1:])
	case "sockets": // (op target want)...: socket operations (sockets_test.go)
		return runSocketSteps(args)
	case "ptrace": // (how pid|child want)...: reach another process (ptrace_vm_test.go)
		return runPtraceSteps(args)
	case "side-door": // none | route want: the side-door workload (internal/sidedoor; sidedoors_test.go)
		sidedoor.Main(args)
	case "sleep": // seconds
		n, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(n) * time.Second)
	case "pinned-enforcer": // pinPath cgroupID port: deny connects except to port, pinned as the agent pins; say "ready", wait to be killed
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return err
		}
		mount, err := cgroupfs.Mount()
		if err != nil {
			return err
		}
		_, enf, err := loadAsTheAgent(mount, args[0])
		if err != nil {
			return err
		}
		var p v1alpha1.EnforcementPolicy
		if err := yaml.UnmarshalStrict([]byte(readAndConnectTo(args[2])), &p); err != nil {
			return err
		}
		compiled, err := rules.Compile(&p)
		if err != nil {
			return err
		}
		installer, err := NewInstaller(enf)
		if err != nil {
			return err
		}
		if err := installer.Install(7, compiled); err != nil {
			return err
		}
		if err := enf.EnforceCgroup(id, 7, bpf.Hold{Live: true}); err != nil {
			return err
		}
		fmt.Println("ready")
		// Not select{}: with every goroutine asleep, the runtime ends the
		// process itself ("all goroutines are asleep"), before the kill.
		for {
			time.Sleep(time.Hour)
			runtime.KeepAlive(enf)
		}
	default:
		return fmt.Errorf("unknown action")
	}
	return nil
}

// runChild starts the test binary again for an action and, when wait is
// set, fails when the child does.
func runChild(attr *syscall.SysProcAttr, wait bool, action string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), testaction.Env+"="+action)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the child: %w", err)
	}
	if !wait {
		return nil
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the child: %w", err)
	}
	return nil
}

// ownCgroupDir is this process's cgroup v2 directory.
func ownCgroupDir() (string, error) {
	mount, err := cgroupfs.Mount()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(mount, path), nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

func expect(err error, want string) error {
	switch want {
	case "ok":
		if err != nil {
			return fmt.Errorf("got %v, want success", err)
		}
	case "EPERM":
		if !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("got %v, want EPERM", err)
		}
	default:
		return fmt.Errorf("unknown expectation %q", want)
	}
	return nil
}
