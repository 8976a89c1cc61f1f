package profiles

import (
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestCompanionsAddWhatLibcPicksAtRunTime(t *testing.T) {
	x64, i386 := v1alpha1.ArchX86_64, v1alpha1.ArchX86
	for _, tc := range []struct {
		what string
		set  v1alpha1.SyscallSet
		want []string
	}{
		{"mmap brings the rest of its own memory's calls", v1alpha1.SyscallSet{Arch: x64, Names: []string{"mmap", "munmap"}},
			[]string{"brk", "madvise", "mprotect", "mremap"}},
		{"an i386 set gets its ABI's names only", v1alpha1.SyscallSet{Arch: i386, Names: []string{"mmap2", "nanosleep"}},
			[]string{"brk", "clock_nanosleep", "clock_nanosleep_time64", "madvise", "mmap", "mprotect", "mremap", "munmap", "restart_syscall"}},
		{"a wait brings restart_syscall", v1alpha1.SyscallSet{Arch: x64, Names: []string{"epoll_wait"}},
			[]string{"restart_syscall"}},
		{"a flush brings the other flushes", v1alpha1.SyscallSet{Arch: x64, Names: []string{"fdatasync"}},
			[]string{"fsync", "sync_file_range"}},
		{"calls without companions bring nothing", v1alpha1.SyscallSet{Arch: x64, Names: []string{"openat", "connect", "execve", "exit_group"}},
			nil},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if got := SyscallCompanionsOf(tc.set); !slices.Equal(got, tc.want) {
				t.Errorf("companions of %v = %v, want %v", tc.set.Names, got, tc.want)
			}
		})
	}
}

// A companion must reach nothing a recorded call does not: none may be a
// call that reaches a file, a peer, a program or a privilege by itself,
// or one seccomp keeps out of a workload that never used it.
func TestCompanionsAreNeverACallThatReachesSomethingNew(t *testing.T) {
	never := []string{"open", "openat", "openat2", "open_by_handle_at", "creat", "connect", "bind", "socket", "socketpair",
		"execve", "execveat", "ptrace", "clone3", "unshare", "setns", "mount", "io_uring_setup", "io_uring_enter",
		"pidfd_getfd", "process_vm_readv", "process_vm_writev", "setuid", "setgid", "capset", "bpf", "perf_event_open"}
	for _, c := range SyscallCompanions {
		for _, n := range c.Allow {
			if slices.Contains(never, n) {
				t.Errorf("the companions of %v (%s) allow %s", c.Of, c.Reach, n)
			}
			if _, ok64 := SyscallNumber(v1alpha1.ArchX86_64, n); !ok64 {
				if _, ok32 := SyscallNumber(v1alpha1.ArchX86, n); !ok32 {
					t.Errorf("the companions of %v name %s, which no ABI has", c.Of, n)
				}
			}
		}
	}
}
