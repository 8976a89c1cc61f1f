package profiles

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func filesUnder(dir string, n int, access v1alpha1.FileAccessMode) []v1alpha1.FileEntry {
	var out []v1alpha1.FileEntry
	for i := range n {
		out = append(out, v1alpha1.FileEntry{Path: fmt.Sprintf("%s/file%03d", dir, i), Access: []v1alpha1.FileAccessMode{access}, Count: 1})
	}
	return out
}

func TestBoundCollapsesTheDeepestCrowdedDirectory(t *testing.T) {
	now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: append(append(
		filesUnder("/usr/lib/python3/site-packages/numpy", 70, "read"),
		filesUnder("/usr/lib/python3/site-packages/yaml", 5, "read")...),
		v1alpha1.FileEntry{Path: "/usr/lib/python3/site-packages/numpy/core/x.so", Access: []v1alpha1.FileAccessMode{"exec"}, Count: 2},
		v1alpha1.FileEntry{Path: "/etc/hosts", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
	)}}
	bounded := Bound(p, Limits{FilesPerDirectory: 64}, now)
	var paths []string
	for _, f := range bounded.Spec.Files {
		paths = append(paths, f.Path)
	}
	if len(paths) != 7 || paths[0] != "/etc/hosts" || paths[1] != "/usr/lib/python3/site-packages/numpy/**" {
		t.Fatalf("want numpy collapsed and the rest kept, got %v", paths)
	}
	numpy := bounded.Spec.Files[1]
	if got := JoinAccess(numpy.Access); got != "read+exec" || numpy.Count != 72 {
		t.Errorf("collapsed entry: access %s count %d, want read+exec and 72", got, numpy.Count)
	}
	if len(bounded.Spec.Collapsed) != 1 || bounded.Spec.Collapsed[0].Entries != 71 || !strings.Contains(bounded.Spec.Collapsed[0].Reason, "more than 64 file entries under /usr/lib/python3/site-packages/numpy") {
		t.Errorf("collapsed = %+v", bounded.Spec.Collapsed)
	}
	cond := bounded.Status.Conditions
	if len(cond) != 1 || cond[0].Type != ConditionCollapsed || cond[0].Status != "True" || !cond[0].LastTransitionTime.Time.Equal(now) || !strings.Contains(cond[0].Message, "numpy/** (71 entries)") {
		t.Errorf("condition = %+v", cond)
	}
	if len(p.Spec.Collapsed) != 0 {
		t.Error("Bound modified its argument")
	}
}

func TestBoundLowersTheThresholdUntilTheProfileFits(t *testing.T) {
	var files []v1alpha1.FileEntry
	for d := range 10 {
		files = append(files, filesUnder(fmt.Sprintf("/srv/site%d", d), 30, "read")...)
	}
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: files}}
	bounded := Bound(p, Limits{FilesPerDirectory: 64, MaxFiles: 50}, time.Now())
	if n := len(bounded.Spec.Files); n > 50 {
		t.Fatalf("%d files left, want at most 50", n)
	}
	for _, f := range bounded.Spec.Files {
		if f.Path == "/**" {
			t.Fatal("the root must never be collapsed")
		}
	}
}

func TestBoundLeavesASmallProfileAlone(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: filesUnder("/etc", 10, "read")}}
	bounded := Bound(p, DefaultLimits, time.Now())
	if len(bounded.Spec.Files) != 10 || len(bounded.Spec.Collapsed) != 0 || len(bounded.Status.Conditions) != 0 {
		t.Fatalf("a small profile changed: %+v", bounded.Spec.Collapsed)
	}
}

func TestMergingIntoACollapsedProfileKeepsItCollapsed(t *testing.T) {
	collapsed := Bound(&v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: filesUnder("/var/cache/app", 100, "read")}}, DefaultLimits, time.Now())
	fresh := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: filesUnder("/var/cache/app", 3, "write")}}
	merged, err := Merge(collapsed, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Spec.Files) != 1 || merged.Spec.Files[0].Path != "/var/cache/app/**" || JoinAccess(merged.Spec.Files[0].Access) != "read+write" {
		t.Fatalf("files = %+v", merged.Spec.Files)
	}
}
