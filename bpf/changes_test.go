package bpf

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf"
)

// TestTimesAreEnforcedByAllThreeHooksOrNone checks that the enforcer's
// programs for times set are attached together: the fentry program reports
// a refusal that only security_inode_setattr makes, so without that hook
// (another kernel's signature, or none) none of them is attached and the
// route is said not seen, rather than reported as refused and let through.
// The kernel's BTF decides which hooks exist: this host has all three.
func TestTimesAreEnforcedByAllThreeHooksOrNone(t *testing.T) {
	if _, err := kernelBTF(); err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	prefix := "fp_enforce_fmod_ret"
	programs := map[string]*ebpf.ProgramSpec{
		prefix + "_vfs_utimes":      {Type: ebpf.Tracing, AttachTo: "vfs_utimes", AttachType: ebpf.AttachTraceFEntry},
		prefix + "_vfs_utimes_exit": {Type: ebpf.Tracing, AttachTo: "vfs_utimes", AttachType: ebpf.AttachTraceFExit},
		prefix + "_inode_setattr":   {Type: ebpf.Tracing, AttachTo: "security_inode_setattr", AttachType: ebpf.AttachModifyReturn},
	}
	b := backend{name: "fmod_ret/security_file_open", changes: changeHooks(prefix, enforceTimesHooks...)}

	for _, tc := range []struct {
		name        string
		drop        string // a program the object (or kernel) lacks
		wantTimes   bool
		wantMissing []string
	}{
		{name: "every hook", wantTimes: true},
		{name: "no security_inode_setattr", drop: prefix + "_inode_setattr",
			wantMissing: []string{"vfs_utimes (not in this kernel)", "vfs_utimes_exit (not in this kernel)", "inode_setattr (not in this kernel)"}},
		{name: "no fexit", drop: prefix + "_vfs_utimes_exit",
			wantMissing: []string{"vfs_utimes (not in this kernel)", "vfs_utimes_exit (not in this kernel)", "inode_setattr (not in this kernel)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{}}
			for name, ps := range programs {
				if name != tc.drop {
					spec.Programs[name] = ps.Copy()
				}
			}
			got, missing := withChanges(spec, b)
			for name := range programs {
				if has := slices.Contains(got.programs, name); has != tc.wantTimes {
					t.Errorf("program %s attached: %v; want %v", name, has, tc.wantTimes)
				}
			}
			var timesMissing []string
			for _, m := range missing {
				if slices.Contains(tc.wantMissing, m) {
					timesMissing = append(timesMissing, m)
				}
			}
			if len(timesMissing) != len(tc.wantMissing) {
				t.Errorf("missing %q; want it to name %q", missing, tc.wantMissing)
			}
		})
	}
}
