package generator

import (
	"fmt"
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

func TestAPolicyIsExportedForTheOldestRoutesItsSourcesRecorded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []int32
		want    int32
	}{
		{"every source recorded by this release", []int32{v1alpha1.CurrentRoutes, v1alpha1.CurrentRoutes}, v1alpha1.CurrentRoutes},
		{"one source from an agent before generations were counted", []int32{v1alpha1.CurrentRoutes, 0}, v1alpha1.FirstRoutes},
		{"a source from a later release", []int32{v1alpha1.CurrentRoutes + 1}, v1alpha1.CurrentRoutes},
		{"no source: written by hand", nil, v1alpha1.CurrentRoutes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadFixture(t, "web")
			p.Spec.Sources = p.Spec.Sources[:0]
			for _, r := range tc.sources {
				p.Spec.Sources = append(p.Spec.Sources, v1alpha1.Source{Node: fmt.Sprint("node-", len(p.Spec.Sources)), Routes: r})
			}
			g, err := Policy(p, PolicyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Policy.Spec.Routes; got != tc.want {
				t.Errorf("spec.routes = %d; want %d", got, tc.want)
			}
		})
	}
}
