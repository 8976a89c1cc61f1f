package cgroupcmd

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A command held to a seccomp filter is started through a shim: this
// binary, started again with seccompShimEnv naming the command's cgroup and
// the filter on fd 3. The shim moves itself into the cgroup, installs the
// filter on its one thread and executes the command, so that the command's
// exec is the first in the cgroup (what an EnforcementPolicy checks and
// what makes its other rules apply) and the filter is there before the
// command's first instruction. Only execve runs between the filter and the
// command.
const seccompShimEnv = "FOOTPRINT_SECCOMP_SHIM"

// The shim's exit codes when it cannot start the command, shell style.
const (
	shimFailed     = 125
	shimNotExecute = 126
	shimNotFound   = 127
)

func init() {
	if cgroup := os.Getenv(seccompShimEnv); cgroup != "" {
		os.Exit(seccompShim(cgroup, os.Args[1:]))
	}
}

// seccompShim runs in the shim; it returns only when the command could not
// be started.
func seccompShim(cgroup string, args []string) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "footprint: "+format+"\n", a...)
		return code
	}
	if len(args) < 2 {
		return fail(shimFailed, "seccomp shim: no command")
	}
	// The filter is installed on the calling thread, which then executes
	// the command: no other thread matters after execve.
	runtime.LockOSThread()
	raw, err := io.ReadAll(os.NewFile(3, "seccomp filter"))
	if err != nil || len(raw) == 0 || len(raw)%8 != 0 {
		return fail(shimFailed, "seccomp shim: read the filter: %v (%d bytes)", err, len(raw))
	}
	filter := make([]unix.SockFilter, len(raw)/8)
	for i := range filter {
		b := raw[i*8:]
		filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	unix.Close(3)
	if err := os.WriteFile(filepath.Join(cgroup, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fail(shimFailed, "seccomp shim: enter the command's cgroup: %v", err)
	}
	if user := os.Getenv(seccompShimUserEnv); user != "" {
		// Dropping privileges first: the filter the command is held to
		// need not allow the calls that drop them. Without CAP_SYS_ADMIN
		// the filter then needs no_new_privs (below).
		if err := becomeShimUser(user); err != nil {
			return fail(shimFailed, "seccomp shim: become the user: %v", err)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, seccompShimEnv+"=") || strings.HasPrefix(kv, seccompShimUserEnv+"=")
	})
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// As root (CAP_SYS_ADMIN) the filter needs no no_new_privs, which
	// would change what set-ID programs may do; without it, it does.
	flags := uintptr(0)
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog))); errno == unix.EACCES {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail(shimFailed, "seccomp shim: no_new_privs: %v", err)
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog))); errno != 0 {
			return fail(shimFailed, "seccomp shim: install the filter: %v", errno)
		}
	} else if errno != 0 {
		return fail(shimFailed, "seccomp shim: install the filter: %v", errno)
	}
	err = unix.Exec(args[0], args[1:], env)
	code := shimNotExecute
	if err == unix.ENOENT {
		code = shimNotFound
	}
	return fail(code, "%s: %v", args[1], err)
}

// shimCommand is the command that starts opts' command through the shim,
// held to the filter, in the cgroup at cgroupPath.
func shimCommand(cgroupPath string, opts Options) (*exec.Cmd, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter pipe: %w", err)
	}
	// The filter is small (8 bytes an instruction, 4096 instructions at
	// most): the pipe's buffer takes it whole.
	_, err = w.Write(opts.Seccomp)
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("seccomp filter pipe: %w", err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append([]string{"footprint-seccomp-shim", opts.Path}, opts.Args...)
	env := os.Environ()
	if opts.User != nil {
		env = append(opts.User.environ(env), seccompShimUserEnv+"="+opts.User.shimValue())
	}
	cmd.Env = append(env, seccompShimEnv+"="+cgroupPath)
	cmd.ExtraFiles = []*os.File{r}
	return cmd, nil
}
