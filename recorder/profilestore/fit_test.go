package profilestore

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func filesIn(dir string, n int) []v1alpha1.FileEntry {
	out := make([]v1alpha1.FileEntry, 0, n)
	for i := range n {
		out = append(out, v1alpha1.FileEntry{Path: fmt.Sprintf("%s/entry-%06d.dat", dir, i), Access: []v1alpha1.FileAccessMode{"read"}, Count: 1})
	}
	return out
}

// spreadFiles are files in dirs directories of perDir files each, with long
// names, so no directory is crowded but the whole is large.
func spreadFiles(dirs, perDir int) []v1alpha1.FileEntry {
	var out []v1alpha1.FileEntry
	for d := range dirs {
		for f := range perDir {
			out = append(out, v1alpha1.FileEntry{
				Path:   fmt.Sprintf("/srv/data/tenant-%05d/%s-%d.json", d, strings.Repeat("record", 8), f),
				Access: []v1alpha1.FileAccessMode{"read", "write"}, Count: int64(f + 1),
			})
		}
	}
	return out
}

func manyConnections(n int) []v1alpha1.ConnectionEntry {
	out := make([]v1alpha1.ConnectionEntry, 0, n)
	for i := range n {
		out = append(out, v1alpha1.ConnectionEntry{Protocol: "TCP", Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), Port: 443, Count: int64(i%7 + 1)})
	}
	return out
}

func manyPods(nodes, pods int) []v1alpha1.Source {
	var out []v1alpha1.Source
	for i := range pods {
		start := t0.Add(time.Duration(i) * time.Minute)
		out = append(out, v1alpha1.Source{
			Node: fmt.Sprintf("node-%d", i%nodes), Pod: fmt.Sprintf("report-%06d", i), Recording: "rec",
			FirstSeen: metav1.NewTime(start), LastSeen: metav1.NewTime(start.Add(30 * time.Second)), Events: 10,
		})
	}
	return out
}

// oversized are profiles that do not fit their bounds, each with the
// record it must leave.
var oversized = []struct {
	name   string
	spec   v1alpha1.ProfileSpec
	bounds Bounds
	// wantGlob is a glob spec.collapsed must hold; overBudget says whether
	// its reason must blame the object size.
	wantGlob       string
	wantOverBudget bool
}{
	{
		name:     "20k files in one directory collapse to dir/**",
		spec:     v1alpha1.ProfileSpec{Files: filesIn("/var/cache/app/thumbnails", 20000)},
		bounds:   DefaultBounds,
		wantGlob: "/var/cache/app/thumbnails/**",
	},
	{
		name:           "files within their limits but over the byte budget collapse harder",
		spec:           v1alpha1.ProfileSpec{Files: spreadFiles(3000, 4)},
		bounds:         Bounds{Limits: profiles.Limits{FilesPerDirectory: 100000, MaxFiles: 100000}, MaxObjectBytes: 256 << 10},
		wantGlob:       "/srv/data/**",
		wantOverBudget: true,
	},
	{
		name:     "the pods of a CronJob past MaxSources fold into one source per node",
		spec:     v1alpha1.ProfileSpec{Sources: manyPods(3, 600)},
		bounds:   Bounds{MaxSources: 100},
		wantGlob: "pod:node-0/*",
	},
	{
		name:           "connections past any budget: the least used are left out, and it says so",
		spec:           v1alpha1.ProfileSpec{Connections: manyConnections(30000)},
		bounds:         Bounds{MaxObjectBytes: 256 << 10},
		wantGlob:       "connections:*",
		wantOverBudget: true,
	},
}

func TestPureFitKeepsOversizedProfilesWithinBoundsAndSaysHow(t *testing.T) {
	for _, tc := range oversized {
		t.Run(tc.name, func(t *testing.T) {
			p := &v1alpha1.Profile{Spec: tc.spec}
			p.Spec.Workload = &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}
			p.Spec.Container = "app"
			fitted := Fit(p, tc.bounds, t0)
			checkFitted(t, fitted, tc.bounds, tc.wantGlob, tc.wantOverBudget)
			again := Fit(fitted, tc.bounds, t0.Add(time.Hour))
			if !sameJSON(fitted.Spec, again.Spec) {
				t.Errorf("fitting a fitted profile again changed its spec")
			}
		})
	}
}

// checkFitted checks that a profile respects its bounds and records why it
// was collapsed.
func checkFitted(t *testing.T, p *v1alpha1.Profile, bounds Bounds, wantGlob string, wantOverBudget bool) {
	t.Helper()
	b := bounds.withDefaults()
	if size := objectSize(p); size > b.MaxObjectBytes {
		t.Errorf("the profile takes %d bytes, over its budget of %d", size, b.MaxObjectBytes)
	}
	if n := len(p.Spec.Files); n > b.Limits.MaxFiles {
		t.Errorf("%d files, over the limit of %d", n, b.Limits.MaxFiles)
	}
	if n := len(p.Spec.Sources); n > b.MaxSources {
		t.Errorf("%d sources, over the limit of %d", n, b.MaxSources)
	}
	var found *v1alpha1.Collapse
	for i, c := range p.Spec.Collapsed {
		if c.Glob == wantGlob {
			found = &p.Spec.Collapsed[i]
		}
	}
	if found == nil {
		t.Fatalf("spec.collapsed has no record for %s: %+v", wantGlob, p.Spec.Collapsed)
	}
	if found.Entries <= 1 || found.Reason == "" {
		t.Errorf("record %+v: want the number of entries folded and a reason", *found)
	}
	if got := strings.HasPrefix(found.Reason, overBudget); got != wantOverBudget {
		t.Errorf("record %+v: reason blames the size budget: %v, want %v", *found, got, wantOverBudget)
	}
	c := meta.FindStatusCondition(p.Status.Conditions, profiles.ConditionCollapsed)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("no Collapsed condition: %+v", p.Status.Conditions)
	}
	if wantOverBudget && !strings.Contains(c.Message, "to keep the object under") {
		t.Errorf("the Collapsed condition does not say the object size forced it: %q", c.Message)
	}
}

func TestPureFitLeavesAProfileWithinBoundsAlone(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: filesIn("/etc", 10), Sources: manyPods(2, 5)}}
	fitted := Fit(p, DefaultBounds, t0)
	if !sameJSON(profiles.Normalize(p).Spec, fitted.Spec) || len(fitted.Status.Conditions) != 0 {
		t.Errorf("a small profile changed: collapsed %+v, conditions %+v", fitted.Spec.Collapsed, fitted.Status.Conditions)
	}
	if fitted.Status.Summary == nil || fitted.Status.Summary.Files != 10 || fitted.Status.Summary.Pods != 5 {
		t.Errorf("summary = %+v, want 10 files and 5 pods", fitted.Status.Summary)
	}
}

func TestPureFoldedSourcesKeepTheirTotals(t *testing.T) {
	sources := manyPods(2, 50)
	folded, records := foldOldSources(sources, nil, 10, "test")
	if len(folded) > 10 {
		t.Fatalf("%d sources, want at most 10", len(folded))
	}
	var events int64
	for _, s := range folded {
		events += s.Events
	}
	if events != 500 {
		t.Errorf("events add up to %d after folding, want 500", events)
	}
	var entries int32
	for _, r := range records {
		entries += r.Entries
	}
	if int(entries)+len(folded)-len(records) != 50 {
		t.Errorf("records account for %d folded sources; %d kept and %d folded into %d", entries, len(folded)-len(records), entries, len(records))
	}
	// The newest pods are the ones kept as they are.
	if folded[len(folded)-1].Pod == "" && folded[0].Pod == "" {
		t.Errorf("no pod kept as it was: %+v", folded)
	}
}

func TestPureRecordingLimitsFillInDefaults(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		name   string
		limits *v1alpha1.RecordingLimits
		want   profiles.Limits
		wantOK bool
	}{
		{"none", nil, profiles.Limits{}, false},
		{"empty", &v1alpha1.RecordingLimits{}, profiles.Limits{}, false},
		{"files per directory only", &v1alpha1.RecordingLimits{FilesPerDirectory: n(16)}, profiles.Limits{FilesPerDirectory: 16, MaxFiles: 2048}, true},
		{"both", &v1alpha1.RecordingLimits{FilesPerDirectory: n(16), MaxFiles: n(100)}, profiles.Limits{FilesPerDirectory: 16, MaxFiles: 100}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RecordingLimits(tc.limits)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("RecordingLimits = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPureFoldedSourcesKeepTheirImages(t *testing.T) {
	sources := manyPods(2, 50)
	var want []v1alpha1.Image
	for i := range sources {
		img := v1alpha1.Image{Name: fmt.Sprintf("docker.io/library/report:v%02d", i%20)}
		sources[i].Images = []v1alpha1.Image{img}
		want = append(want, img)
	}
	folded, records := foldOldSources(sources, nil, 10, "test")
	var got []v1alpha1.Image
	for _, s := range folded {
		got = append(got, s.Images...)
	}
	if got, want := profiles.NormalizeImages(got), profiles.NormalizeImages(want); !reflect.DeepEqual(got, want) {
		t.Errorf("images after folding = %v, want %v", got, want)
	}
	// A pod's later snapshot that the fold already covers is absorbed
	// into it, and so are its images.
	late := v1alpha1.Image{Name: "docker.io/library/report:late"}
	again := append(slices.Clone(folded), v1alpha1.Source{Node: "node-0", Pod: "report-000000", Recording: "rec",
		FirstSeen: sources[0].FirstSeen, LastSeen: sources[0].LastSeen, Images: []v1alpha1.Image{late}})
	absorbed := absorbFoldedSources(again, records)
	if len(absorbed) != len(folded) {
		t.Fatalf("%d sources after absorbing, want %d", len(absorbed), len(folded))
	}
	var all []v1alpha1.Image
	for _, s := range absorbed {
		all = append(all, s.Images...)
	}
	if !slices.Contains(all, late) {
		t.Errorf("the absorbed source's image %v is gone: %v", late, all)
	}
}
