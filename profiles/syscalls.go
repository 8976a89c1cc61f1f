package profiles

import (
	"fmt"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// syscallTables are the system call tables of each ABI a profile holds,
// from the kernel's syscall_64.tbl and syscall_32.tbl (through
// go-seccomp-bpf, which generates them from the kernel's sources).
var syscallTables = map[v1alpha1.SyscallArch]*arch.Info{
	v1alpha1.ArchX86_64: arch.X86_64,
	v1alpha1.ArchX86:    arch.I386,
}

// SyscallArches are the ABIs a profile holds system calls for, native
// first.
var SyscallArches = []v1alpha1.SyscallArch{v1alpha1.ArchX86_64, v1alpha1.ArchX86}

// RuntimeSyscalls are the system calls a seccomp allow-list must allow
// whatever the workload does, because the container runtime (or
// footprint's own shim, locally) makes them after installing the filter and
// before the workload's first instruction. Measured on runc 1.1.5 under
// containerd 1.6 (Debian 12) with SCMP_ACT_LOG, both ways runc installs the
// filter: right before execve when no_new_privs is set (write, close,
// rt_sigreturn, execve, fstatfs, futex, getdents64, epoll_ctl, openat,
// fcntl), and before dropping privileges when it is not (also read, fstat,
// getcwd, chdir, setuid, setgid, getppid, setgroups, capget, capset, prctl,
// newfstatat, faccessat2). runc init and the shim are Go programs whose
// runtime may run on the filtered thread at any moment, or start a thread
// from it that inherits the filter, so the Go runtime's own calls are
// allowed too (futex, rt_sigreturn, sched_yield, nanosleep, mmap, munmap,
// madvise, rt_sigprocmask, sigaltstack, gettid, tgkill, getpid, clone,
// exit, exit_group). test/e2e starts a container under a profile of its
// recorded calls. Neither measurement has socket or socketpair: the
// runtime needs no address family (SyscallSet.SocketFamilies) either.
var RuntimeSyscalls = []string{
	// measured: no_new_privs set
	"write", "close", "rt_sigreturn", "execve", "fstatfs", "futex", "getdents64", "epoll_ctl", "openat", "fcntl",
	// measured: no_new_privs not set
	"read", "fstat", "getcwd", "chdir", "setuid", "setgid", "getppid", "setgroups", "capget", "capset", "prctl",
	"newfstatat", "faccessat2",
	// the Go runtime's own
	"sched_yield", "nanosleep", "mmap", "munmap", "madvise", "rt_sigprocmask", "sigaltstack", "gettid", "tgkill",
	"getpid", "clone", "exit", "exit_group",
}

// A SyscallCompanion is a family of system calls that reach nothing more
// than a recorded one of them does, of which libc or the program picks one
// by sizes, timing or whether the vDSO answers: glibc's realloc of a large
// block calls mremap where a recording that never grew one saw only mmap;
// a sleep interrupted by a signal resumes through restart_syscall. A
// recording cannot be relied on to have seen every member, so an allow-list
// built from one allows the whole family of any member it holds, and a
// daemon is not refused a call on a rerun that did the same thing with
// another (PostgreSQL under its own policy was, one rerun in two, until
// mremap came with mmap).
type SyscallCompanion struct {
	// Of are the calls whose recording allows the family.
	Of []string
	// Allow are the calls then allowed (names an ABI lacks are skipped).
	Allow []string
	// Reach says what the family reaches, for a person reading the policy.
	Reach string
}

// SyscallCompanions are the families footprint widens a recorded allow-list
// by. Each reaches only what the process already holds (its own memory,
// its clocks, the fds it has): none opens, connects, executes or changes
// credentials, and none is a call seccomp is asked to keep out (io_uring,
// open_by_handle_at, clone3, socket families).
var SyscallCompanions = []SyscallCompanion{
	{
		Of:    []string{"mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "brk"},
		Allow: []string{"mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "brk"},
		Reach: "its own memory",
	},
	{
		Of:    []string{"clock_gettime", "clock_gettime64", "gettimeofday", "time", "clock_getres", "clock_getres_time64"},
		Allow: []string{"clock_gettime", "clock_gettime64", "gettimeofday", "time", "clock_getres", "clock_getres_time64"},
		Reach: "the clocks (where the vDSO does not answer)",
	},
	{
		Of: []string{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "poll", "ppoll", "ppoll_time64",
			"select", "_newselect", "pselect6", "pselect6_time64", "epoll_wait", "epoll_pwait", "epoll_pwait2",
			"futex", "futex_time64"},
		Allow: []string{"restart_syscall"},
		Reach: "resuming a wait a signal interrupted",
	},
	{
		Of:    []string{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64"},
		Allow: []string{"nanosleep", "clock_nanosleep", "clock_nanosleep_time64"},
		Reach: "sleeping",
	},
	{
		Of:    []string{"read", "readv", "pread64", "preadv", "preadv2"},
		Allow: []string{"read", "readv", "pread64", "preadv", "preadv2"},
		Reach: "reading the fds it holds",
	},
	{
		Of:    []string{"write", "writev", "pwrite64", "pwritev", "pwritev2"},
		Allow: []string{"write", "writev", "pwrite64", "pwritev", "pwritev2"},
		Reach: "writing the fds it holds",
	},
	{
		Of:    []string{"fsync", "fdatasync", "sync_file_range"},
		Allow: []string{"fsync", "fdatasync", "sync_file_range"},
		Reach: "flushing the files it holds",
	},
}

// SyscallCompanionsOf returns, sorted, the calls the companions of a set's
// calls add to it: those the set does not name and its ABI has.
func SyscallCompanionsOf(set v1alpha1.SyscallSet) []string {
	var out []string
	for _, c := range SyscallCompanions {
		if !slices.ContainsFunc(c.Of, func(n string) bool { return slices.Contains(set.Names, n) }) {
			continue
		}
		for _, n := range c.Allow {
			if _, ok := SyscallNumber(set.Arch, n); ok && !slices.Contains(set.Names, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SyscallName returns the name of system call number nr of an ABI, and
// false when the table does not know it.
func SyscallName(a v1alpha1.SyscallArch, nr int) (string, bool) {
	t := syscallTables[a]
	if t == nil {
		return "", false
	}
	name, ok := t.SyscallNumbers[nr]
	return name, ok
}

// SyscallNumber returns the number of a system call of an ABI, and false
// when the ABI has no system call of that name.
func SyscallNumber(a v1alpha1.SyscallArch, name string) (int, bool) {
	t := syscallTables[a]
	if t == nil {
		return 0, false
	}
	nr, ok := t.SyscallNames[name]
	return nr, ok
}

// foldSyscalls unites the system call sets of from into into, per ABI, and
// returns them sorted: native first, names and families in order. A set
// that allows socket or socketpair with any family (recorded without
// families) makes the union allow any family too.
func foldSyscalls(into, from []v1alpha1.SyscallSet) []v1alpha1.SyscallSet {
	names := map[v1alpha1.SyscallArch][]string{}
	families := map[v1alpha1.SyscallArch][]string{}
	anyFamily := map[v1alpha1.SyscallArch]bool{}
	for _, set := range slices.Concat(into, from) {
		names[set.Arch] = append(names[set.Arch], set.Names...)
		families[set.Arch] = append(families[set.Arch], set.SocketFamilies...)
		anyFamily[set.Arch] = anyFamily[set.Arch] || !FamiliesRestricted(set)
	}
	var out []v1alpha1.SyscallSet
	for _, a := range slices.Concat(SyscallArches, unknownArches(names)) {
		n := names[a]
		if len(n) == 0 {
			continue
		}
		slices.Sort(n)
		set := v1alpha1.SyscallSet{Arch: a, Names: slices.Compact(n)}
		if f := families[a]; len(f) > 0 && !anyFamily[a] {
			slices.Sort(f)
			set.SocketFamilies = slices.Compact(f)
		}
		out = append(out, set)
	}
	return out
}

// unknownArches lists, sorted, the ABIs in names that footprint has no table
// for: validation refuses them, normalisation keeps them.
func unknownArches(names map[v1alpha1.SyscallArch][]string) []v1alpha1.SyscallArch {
	var out []v1alpha1.SyscallArch
	for a := range names {
		if syscallTables[a] == nil {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// Syscalls returns the names of the system calls of an ABI in a spec.
func Syscalls(spec v1alpha1.ProfileSpec, a v1alpha1.SyscallArch) []string {
	for _, set := range spec.Syscalls {
		if set.Arch == a {
			return set.Names
		}
	}
	return nil
}

// ValidateSyscalls refuses an ABI footprint has no table for and names the
// ABI does not have, naming the field.
func ValidateSyscalls(sets []v1alpha1.SyscallSet, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[v1alpha1.SyscallArch]bool{}
	for i, set := range sets {
		p := path.Index(i)
		if syscallTables[set.Arch] == nil {
			errs = append(errs, field.NotSupported(p.Child("arch"), set.Arch, []string{string(v1alpha1.ArchX86_64), string(v1alpha1.ArchX86)}))
			continue
		}
		if seen[set.Arch] {
			errs = append(errs, field.Duplicate(p.Child("arch"), set.Arch))
		}
		seen[set.Arch] = true
		for j, name := range set.Names {
			if _, ok := SyscallNumber(set.Arch, name); !ok {
				errs = append(errs, field.Invalid(p.Child("names").Index(j), name, fmt.Sprintf("%s has no system call of that name: use the kernel's names, e.g. openat, clone3", set.Arch)))
			}
		}
		errs = append(errs, validateSocketFamilies(set, p.Child("socketFamilies"))...)
	}
	return errs
}
