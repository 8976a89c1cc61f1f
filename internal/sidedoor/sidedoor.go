// Package sidedoor is the workload of the side-door tests
// (enforcer/sidedoors_test.go): its normal run creates sockets of the
// families it needs, a pidfd of its parent and a file handle of its own
// binary; each attacker variant does the same and then tries one route the
// normal run never took, expecting an outcome.
//
// It must run in a program built without cgo (enforcer/testdata/sidedoor,
// or a test binary built with CGO_ENABLED=0, as in the VM): a cgo program
// creates its threads with glibc's pthread_create, which calls clone3, so
// clone3 would be in every recorded profile and its route open (see the
// README on clone3).
//
// Arguments: none | ROUTE WANT, WANT being ok, an errno name (EPERM,
// ENOSYS) or not-ERRNO (the call reached the kernel: success or any other
// error). Main exits 0 when the outcome is as expected, 3 when not, 4 for
// a 32-bit call where the kernel runs none.
package sidedoor

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/internal/compat32"
)

// NoIA32 is the exit code of a 32-bit call where the kernel runs none.
const NoIA32 = 4

// Main runs the workload with args and exits.
func Main(args []string) {
	if err := run(args); err != nil {
		fmt.Fprintf(os.Stderr, "sidedoor: %v\n", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: sidedoor none | sidedoor ROUTE WANT")
	}
	handle, mountFD, err := normal()
	if err != nil {
		return fmt.Errorf("the normal run: %w", err)
	}
	defer unix.Close(mountFD)
	if args[0] == "none" {
		return nil
	}
	route := routes[args[0]]
	if route == nil || len(args) < 2 {
		return fmt.Errorf("usage: sidedoor ROUTE WANT, ROUTE one of %v", names())
	}
	return expect(route(handle, mountFD), args[1])
}

// normal is what the workload does on every run: sockets of the families
// it needs and a file handle of its own binary, harmless by itself (the
// attack is the open by handle).
func normal() (handle unix.FileHandle, mountFD int, err error) {
	for _, s := range []struct{ family, typ int }{{unix.AF_INET, unix.SOCK_STREAM}, {unix.AF_UNIX, unix.SOCK_DGRAM}} {
		fd, err := unix.Socket(s.family, s.typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return handle, 0, fmt.Errorf("socket(%d): %w", s.family, err)
		}
		unix.Close(fd)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return handle, 0, fmt.Errorf("socketpair(AF_UNIX): %w", err)
	}
	unix.Close(pair[0])
	unix.Close(pair[1])
	// A pidfd of its parent (outside its policy): the normal run holds
	// one, the attack takes a descriptor through it.
	pidfd, err := unix.PidfdOpen(os.Getppid(), 0)
	if err != nil {
		return handle, 0, fmt.Errorf("pidfd_open: %w", err)
	}
	unix.Close(pidfd)
	self, err := os.Executable()
	if err != nil {
		return handle, 0, err
	}
	if mountFD, err = unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return handle, 0, err
	}
	if handle, _, err = unix.NameToHandleAt(unix.AT_FDCWD, self, 0); err != nil {
		return handle, 0, fmt.Errorf("name_to_handle_at: %w", err)
	}
	return handle, mountFD, nil
}

// socket creates and closes a socket.
func socket(family, typ, proto int) error {
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// routes are the attacks: each one route the normal run never took.
var routes = map[string]func(handle unix.FileHandle, mountFD int) error{
	"io_uring_setup": func(unix.FileHandle, int) error {
		var params [120]byte // struct io_uring_params
		fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if errno != 0 {
			return errno
		}
		return unix.Close(int(fd))
	},
	"open_by_handle_at": func(handle unix.FileHandle, mountFD int) error {
		fd, err := unix.OpenByHandleAt(mountFD, handle, unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	},
	// A 32-bit getpid. Where the kernel has no IA32 emulation int 0x80
	// faults (SIGSEGV) instead: exit code 4.
	"int80": func(unix.FileHandle, int) error {
		debug.SetPanicOnFault(true)
		defer func() {
			if recover() != nil {
				fmt.Fprintln(os.Stderr, "sidedoor: int 0x80 faults: no IA32 emulation")
				os.Exit(NoIA32)
			}
		}()
		if r := int(compat32.Syscall(compat32.SysGetpid, 0, 0, 0)); r < 0 && r > -4096 {
			return unix.Errno(-r)
		}
		return nil
	},
	// clone3 into a cgroup fd that is not open: the kernel answers EBADF
	// without creating a task; a filter answers before it gets there.
	"clone3-into-cgroup": func(unix.FileHandle, int) error {
		var args [11]uint64 // struct clone_args up to cgroup (CLONE_ARGS_SIZE_VER2)
		args[0] = unix.CLONE_INTO_CGROUP
		args[10] = 1 << 20
		_, _, errno := unix.Syscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args[0])), unsafe.Sizeof(args), 0)
		if errno != 0 {
			return errno
		}
		return errors.New("clone3 created a task")
	},
	// A descriptor taken from a process outside the policy (its parent's
	// stderr): what pidfd_getfd hands over is whatever that process
	// opened, past every open rule of the policy.
	"pidfd_getfd": func(unix.FileHandle, int) error {
		pidfd, err := unix.PidfdOpen(os.Getppid(), 0)
		if err != nil {
			return fmt.Errorf("pidfd_open: %w", err)
		}
		defer unix.Close(pidfd)
		fd, err := unix.PidfdGetfd(pidfd, 2, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	},
	"socket-packet": func(unix.FileHandle, int) error {
		return socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0)
	},
	"socket-vsock": func(unix.FileHandle, int) error {
		return socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	},
	"socket-netlink": func(unix.FileHandle, int) error {
		return socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	},
	"socketpair-netlink": func(unix.FileHandle, int) error {
		// Not a family socketpair supports (EOPNOTSUPP), unless refused first.
		fds, err := unix.Socketpair(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		return err
	},
}

func names() []string {
	var out []string
	for n := range routes {
		out = append(out, n)
	}
	return out
}

var errnos = map[string]unix.Errno{"EPERM": unix.EPERM, "ENOSYS": unix.ENOSYS}

func expect(err error, want string) error {
	if want == "ok" {
		if err != nil {
			return fmt.Errorf("got %v, want success", err)
		}
		return nil
	}
	name, not := strings.CutPrefix(want, "not-")
	errno, ok := errnos[name]
	if !ok {
		return fmt.Errorf("unknown expectation %q", want)
	}
	if errors.Is(err, errno) == not {
		return fmt.Errorf("got %v, want %s", err, want)
	}
	return nil
}
