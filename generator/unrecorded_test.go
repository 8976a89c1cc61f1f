package generator

import (
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestAPolicySaysWhichFileRoutesItsRecordingCouldNotSee(t *testing.T) {
	for _, tc := range []struct {
		backend string
		unseen  bool
	}{
		{"tracepoint/syscalls/sys_exit_open*", true},
		{"lsm/file_open", false},
		{"fentry/security_file_open", false},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			p := loadFixture(t, "web")
			for i := range p.Spec.Sources {
				p.Spec.Sources[i].Backends["files"] = tc.backend
			}
			out, err := PolicyYAML(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
			if err != nil {
				t.Fatal(err)
			}
			said := strings.Contains(string(out), "NOT SEEN by the recording's backend, so refused though the workload may need them: descriptors received from another process (receive)")
			if said != tc.unseen {
				t.Errorf("the policy says received descriptors were not seen: %v, want %v:\n%s", said, tc.unseen, out)
			}
		})
	}
}
