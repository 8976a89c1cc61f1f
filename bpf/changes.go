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
	"path_link", "path_symlink", "path_mknod", "path_chmod", "path_chown"}

// changeSyscalls are the system calls of file changes, as their tracepoints
// are named. fchmodat2 is Linux 6.6+.
var changeSyscalls = []string{"truncate", "ftruncate", "unlink", "unlinkat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat", "chmod", "fchmod",
	"fchmodat", "fchmodat2", "chown", "lchown", "fchown", "fchownat"}

func changeHooks(prefix string) []string {
	names := make([]string, len(changeHookNames))
	for i, h := range changeHookNames {
		names[i] = prefix + "_" + h
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

var kernelBTF = sync.OnceValues(btf.LoadKernelSpec)

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
	return spec.TypeByName(fn, &f) == nil
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
	for _, name := range c.changes {
		ps := spec.Programs[name]
		if ps == nil || !hookExists(ps) {
			missing = append(missing, changeHookOf(name)+" (not in this kernel)")
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
	for _, h := range changeHookNames {
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
