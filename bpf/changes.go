package bpf

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// File changes made without an open of the path (c/objects.h): each file
// backend carries programs for them besides its open programs, one per
// hook, named PREFIX_HOOK.

// changeHookNames are the LSM hooks (and security_* functions) of file
// changes. file_truncate is Linux 6.2+ (ftruncate, and O_TRUNC opens; before
// 6.2 both went through path_truncate).
var changeHookNames = []string{"path_truncate", "file_truncate", "path_unlink", "path_rmdir", "path_rename",
	"path_link", "path_symlink", "path_mknod", "path_mkdir", "path_chmod", "path_chown", "file_receive"}

// Times set (utimensat and its family) have no LSM hook that sees their
// path: the recorder reads it at vfs_utimes (fentry); the enforcer decides
// there and refuses at security_inode_setattr (fmod_ret), and clears at
// vfs_utimes' exit what a call that failed before that left. The three are
// one: without all of them a refusal would be reported and not made.
var (
	recordTimesHooks  = []string{"vfs_utimes"}
	enforceTimesHooks = []string{"vfs_utimes", "vfs_utimes_exit", "inode_setattr"}
)

// hookParams are the arguments a change program takes of a kernel function
// whose signature changed across versions: a kernel with another signature
// lacks the hook.
var hookParams = map[string]int{"security_inode_setattr": 3}

// changeSyscalls are the system calls of file changes, as their tracepoints
// are named. fchmodat2 is Linux 6.6+.
var changeSyscalls = []string{"truncate", "ftruncate", "unlink", "unlinkat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat", "mkdir", "mkdirat", "chmod", "fchmod",
	"fchmodat", "fchmodat2", "chown", "lchown", "fchown", "fchownat", "utime", "utimes", "futimesat", "utimensat"}

// changeHooks names the change programs of the object's backend with prefix:
// one per path hook, and one per extra hook.
func changeHooks(prefix string, extra ...string) []string {
	var names []string
	for _, h := range append(slices.Clone(changeHookNames), extra...) {
		names = append(names, prefix+"_"+h)
	}
	return names
}

func changeTracepoints(prefix string) []string {
	names := make([]string, len(changeSyscalls))
	for i, s := range changeSyscalls {
		names[i] = prefix + "_enter_" + s
	}
	return names
}

// kernelBTF is the running kernel's BTF, parsed once for all the loads of
// a start-up; ReleaseLoadCaches lets it go.
func kernelBTF() (*btf.Spec, error) {
	kernelSpec.Lock()
	defer kernelSpec.Unlock()
	if kernelSpec.spec == nil && kernelSpec.err == nil {
		kernelSpec.spec, kernelSpec.err = btf.LoadKernelSpec()
	}
	return kernelSpec.spec, kernelSpec.err
}

var kernelSpec struct {
	sync.Mutex
	spec *btf.Spec
	err  error
}

// ReleaseLoadCaches frees what loading programs keeps for the next load:
// the kernel's parsed BTF, here and in cilium/ebpf (some MiB of a
// long-running agent's heap). A later load parses it again.
func ReleaseLoadCaches() {
	kernelSpec.Lock()
	kernelSpec.spec, kernelSpec.err = nil, nil
	kernelSpec.Unlock()
	btf.FlushKernelSpec()
}

// hookExists says whether the kernel has the function a tracing or LSM
// program attaches to. Tracepoints are left to the attach, which skips a
// missing optional one.
func hookExists(ps *ebpf.ProgramSpec) bool {
	var fn string
	switch ps.Type {
	case ebpf.LSM:
		fn = "bpf_lsm_" + ps.AttachTo
	case ebpf.Tracing:
		fn = ps.AttachTo
	default:
		return true
	}
	spec, err := kernelBTF()
	if err != nil {
		return true // the load will say what is wrong
	}
	var f *btf.Func
	if spec.TypeByName(fn, &f) != nil {
		return false
	}
	want, ok := hookParams[fn]
	if !ok {
		return true
	}
	proto, ok := f.Type.(*btf.FuncProto)
	return ok && len(proto.Params) == want
}

// withChanges returns the backend with those of its change programs whose
// hooks this kernel has among its programs (optional, for tracepoints of
// system calls this kernel lacks), and the hooks it lacks.
func withChanges(spec *ebpf.CollectionSpec, c backend) (backend, []string) {
	if len(c.changes) == 0 {
		return c, nil
	}
	var missing []string
	programs := slices.Clone(c.programs)
	optional := map[string]bool{}
	for k, v := range c.optional {
		optional[k] = v
	}
	lacks := func(name string) bool { ps := spec.Programs[name]; return ps == nil || !hookExists(ps) }
	timesWhole := !slices.ContainsFunc(c.changes, func(name string) bool {
		return slices.Contains(enforceTimesHooks[1:], changeHookOf(name)) && lacks(name)
	})
	for _, name := range c.changes {
		hook := changeHookOf(name)
		if lacks(name) || !timesWhole && slices.Contains(enforceTimesHooks, hook) {
			// Before Linux 6.2 ftruncate and O_TRUNC opens went
			// through path_truncate: nothing is missing.
			if hook != "file_truncate" {
				missing = append(missing, hook+" (not in this kernel)")
			}
			continue
		}
		programs = append(programs, name)
		optional[name] = true
	}
	c.programs, c.optional = programs, optional
	return c, missing
}

// changeHookOf is the hook or system call a change program is for.
func changeHookOf(program string) string {
	if i := strings.Index(program, "_enter_"); i >= 0 {
		return program[i+len("_enter_"):]
	}
	for _, h := range append(slices.Clone(changeHookNames), enforceTimesHooks...) {
		if strings.HasSuffix(program, "_"+h) {
			return h
		}
	}
	return program
}

// changesNote says which file-change hooks a backend lacks on this kernel.
func changesNote(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("file changes not seen here: %s", strings.Join(missing, ", "))
}

// withoutChanges returns the backend without its change programs.
func withoutChanges(c backend) backend {
	c.programs = slices.DeleteFunc(slices.Clone(c.programs), func(p string) bool { return slices.Contains(c.changes, p) })
	c.changes = nil
	return c
}

// FileChange is one kind of change made to a file without an open of its
// path, and what sees it.
type FileChange struct {
	// Operation names the system calls, e.g. "unlink, rmdir".
	Operation string `json:"operation"`
	// Access is the access modes it is recorded and enforced as.
	Access string `json:"access"`
	// hooks are the LSM hooks that see it; syscalls the system calls
	// whose tracepoints do.
	hooks, syscalls []string
}

// FileChanges are the changes footprint records and enforces as file
// access, besides opens.
var FileChanges = []FileChange{
	{"truncate, ftruncate", "truncate", []string{"path_truncate", "file_truncate"}, []string{"truncate", "ftruncate"}},
	{"unlink, rmdir", "delete", []string{"path_unlink", "path_rmdir"}, []string{"unlink", "unlinkat", "rmdir"}},
	{"rename", "rename-from, rename-to", []string{"path_rename"}, []string{"rename", "renameat", "renameat2"}},
	{"link", "link-target, link", []string{"path_link"}, []string{"link", "linkat"}},
	{"symlink", "symlink", []string{"path_symlink"}, []string{"symlink", "symlinkat"}},
	{"mknod (device, FIFO)", "mknod", []string{"path_mknod"}, []string{"mknod", "mknodat"}},
	// A directory made is a create of its path, as a regular file's
	// mknod is: both put a new name there.
	{"mkdir", "create", []string{"path_mkdir"}, []string{"mkdir", "mkdirat"}},
	{"chmod (set-ID bits)", "chmod (setid)", []string{"path_chmod"}, []string{"chmod", "fchmod", "fchmodat", "fchmodat2"}},
	{"chown", "chown", []string{"path_chown"}, []string{"chown", "lchown", "fchown", "fchownat"}},
	{"utimensat, utimes, utime, futimesat (times set)", "utimes", []string{"vfs_utimes"}, []string{"utimensat", "utimes", "utime", "futimesat"}},
	// No system call's tracepoint sees a descriptor arrive: recvmsg's
	// does not know what its control message holds.
	{"descriptor received (SCM_RIGHTS, pidfd_getfd)", "receive", []string{"file_receive"}, nil},
}

// ChangeCoverage is how a file backend covers one kind of change.
type ChangeCoverage struct {
	FileChange
	// Seen is false where the backend has none of its hooks here.
	Seen bool `json:"seen"`
	// Note says what of it the backend does not see.
	Note string `json:"note,omitempty"`
}

// Coverage says how the file backend of this choice covers each kind of
// change made without an open, and what none covers.
func (c BackendChoice) Coverage() []ChangeCoverage {
	if c.Kind != KindFile || c.Chosen == "" {
		return nil
	}
	tracepoints := strings.HasPrefix(c.Chosen, "tracepoint/")
	missing := map[string]bool{}
	for _, m := range c.MissingChanges {
		missing[strings.Fields(m)[0]] = true
	}
	everything := slices.ContainsFunc(c.MissingChanges, func(m string) bool { return strings.HasPrefix(m, "every ") })
	var out []ChangeCoverage
	for _, fc := range FileChanges {
		names := fc.hooks
		if tracepoints {
			names = fc.syscalls
		}
		var have, lack []string
		for _, n := range names {
			if everything || missing[n] {
				lack = append(lack, n)
			} else {
				have = append(have, n)
			}
		}
		cov := ChangeCoverage{FileChange: fc, Seen: len(have) > 0}
		if len(lack) > 0 && len(have) > 0 {
			cov.Note = "not seen: " + strings.Join(lack, ", ")
		}
		out = append(out, cov)
	}
	return out
}

// ChangeCaveat says what a file backend's view of changes misses, or "".
func (c BackendChoice) ChangeCaveat() string {
	if c.Kind != KindFile || !strings.HasPrefix(c.Chosen, "tracepoint/") {
		return ""
	}
	return "the syscall tracepoints match a change by the name the call was given, made absolute against its directory: " +
		"symbolic links in it are not followed (a link to a directory names a file by another path), the name is read from " +
		"the process's memory at entry (another thread may change it before the kernel reads it), io_uring's changes make " +
		"no system call and are not seen, and a change is seen, and killed, even when it then fails"
}

// NotCovered are routes to a file that no backend of footprint's covers
// yet, as `footprint probe` and the README say.
var NotCovered = []string{
	"a descriptor of a pipe, socket or anonymous inode received from another process: no path to govern (the socket and connect rules hold what a socket reaches)",
	"a descriptor received over binder: the kernel installs it with no hook that sees the receiver (binder_transfer_file runs in the sender, with the receiver's credentials only); a workload reaches binder by opening a binder device or receiving a descriptor of one, which the file rules refuse (open, receive) unless it did so while recorded",
	"setxattr/removexattr: not recorded per path (the LSM hook that sees them, inode_setxattr, gets a dentry without its mount, so no path the process sees); the policy's seccomp filter refuses the system calls to a workload that never made them",
}

// timesRow is the FileChanges row of times set.
var timesRow = FileChanges[slices.IndexFunc(FileChanges, func(fc FileChange) bool { return fc.Access == "utimes" })]

// timesAttached says whether the backend attached programs for times set
// (its hooks' and tracepoints' names end as timesRow's).
func (a *attachment) timesAttached() bool {
	return slices.ContainsFunc(a.backend.programs, func(p string) bool {
		hook := changeHookOf(p)
		return slices.Contains(timesRow.hooks, hook) || slices.Contains(timesRow.syscalls, hook)
	})
}

// timesFailed marks the backend's programs for times set as not seen to
// work: they stay attached, and the choice says times set are not covered.
func (a *attachment) timesFailed(reason string) {
	for _, n := range append(slices.Clone(timesRow.hooks), timesRow.syscalls...) {
		a.missing = append(a.missing, n+" ("+reason+")")
	}
}

// changesFailed marks the backend's change programs as not seen to work:
// they stay attached, and the choice says changes are not covered.
func (a *attachment) changesFailed(reason string) {
	a.missing = []string{"every file-change hook (" + reason + ")"}
}
