package profiles

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles/profiletest"
)

// propertyRuns is how many random profiles each property is checked on.
const propertyRuns = 400

func randomSource(t *testing.T, seed uint64) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

// sameSpec compares specs the way they would be stored: through JSON, so
// that a nil and an empty list, or two equal times in different locations,
// are the same.
func sameSpec(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func dump(t *testing.T, v any) string {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestNormalizeIsIdempotent(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		p := profiletest.Profile(randomSource(t, seed))
		once := Normalize(p)
		twice := Normalize(once)
		if !sameSpec(t, once, twice) {
			t.Fatalf("seed %d: normalising twice changed the profile:\nonce:\n%s\ntwice:\n%s", seed, dump(t, once), dump(t, twice))
		}
	}
}

func TestNormalizeDoesNotModifyItsArgument(t *testing.T) {
	p := profiletest.Profile(randomSource(t, 7))
	before := dump(t, p)
	Normalize(p)
	if after := dump(t, p); after != before {
		t.Fatalf("Normalize modified its argument")
	}
}

func TestMergeIsCommutative(t *testing.T) {
	r := randomSource(t, 1)
	for i := range propertyRuns {
		a, b := profiletest.Profile(r), profiletest.Profile(r)
		ab, err := MergeSpec(a.Spec, b.Spec)
		if err != nil {
			t.Fatal(err)
		}
		ba, err := MergeSpec(b.Spec, a.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSpec(t, ab, ba) {
			t.Fatalf("run %d: merge(a, b) != merge(b, a):\na:\n%s\nb:\n%s\nab:\n%s\nba:\n%s", i, dump(t, a.Spec), dump(t, b.Spec), dump(t, ab), dump(t, ba))
		}
	}
}

func TestMergeIsAssociative(t *testing.T) {
	r := randomSource(t, 2)
	for i := range propertyRuns {
		a, b, c := profiletest.Profile(r), profiletest.Profile(r), profiletest.Profile(r)
		ab, _ := MergeSpec(a.Spec, b.Spec)
		abc1, _ := MergeSpec(ab, c.Spec)
		bc, _ := MergeSpec(b.Spec, c.Spec)
		abc2, _ := MergeSpec(a.Spec, bc)
		if !sameSpec(t, abc1, abc2) {
			t.Fatalf("run %d: (a+b)+c != a+(b+c):\n%s\n---\n%s", i, dump(t, abc1), dump(t, abc2))
		}
	}
}

func TestMergeIsIdempotent(t *testing.T) {
	r := randomSource(t, 3)
	for i := range propertyRuns {
		a := profiletest.Profile(r)
		aa, err := MergeSpec(a.Spec, a.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if want := NormalizeSpec(a.Spec); !sameSpec(t, aa, want) {
			t.Fatalf("run %d: merge(a, a) != normalize(a):\n%s\n---\n%s", i, dump(t, aa), dump(t, want))
		}
	}
}

// TestMergeKeepsEveryObservation checks the property that matters to a user:
// whatever either profile shows, the merged profile still covers.
func TestMergeKeepsEveryObservation(t *testing.T) {
	r := randomSource(t, 4)
	for range propertyRuns {
		a, b := profiletest.Profile(r), profiletest.Profile(r)
		merged, err := MergeSpec(a.Spec, b.Spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, side := range []v1alpha1.ProfileSpec{NormalizeSpec(a.Spec), NormalizeSpec(b.Spec)} {
			for _, f := range side.Files {
				if !coveredWithAccess(merged.Files, f) {
					t.Fatalf("file %s %v lost in the merge:\n%s", f.Path, f.Access, dump(t, merged.Files))
				}
			}
			for _, c := range side.Capabilities {
				if !containsCapability(merged.Capabilities, c) {
					t.Fatalf("capability %+v lost in the merge", c)
				}
			}
		}
	}
}

func coveredWithAccess(files []v1alpha1.FileEntry, want v1alpha1.FileEntry) bool {
	for _, f := range files {
		if PatternCovers(f.Path, want.Path) && reflect.DeepEqual(UnionAccess(f.Access, want.Access), f.Access) {
			return true
		}
	}
	return false
}

func containsCapability(caps []v1alpha1.CapabilityEntry, want v1alpha1.CapabilityEntry) bool {
	for _, c := range caps {
		if c.Name == canonicalCapability(want.Name) && c.Verdict == want.Verdict && c.Probe == want.Probe && c.UserNamespace == want.UserNamespace && c.Count >= want.Count {
			return true
		}
	}
	return false
}

func TestMergeUnitesReplicasAndKeepsTheirSources(t *testing.T) {
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	replica := func(pod string, path string, access ...v1alpha1.FileAccessMode) *v1alpha1.Profile {
		return &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
			Workload:  &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"},
			Container: "app",
			Files:     []v1alpha1.FileEntry{{Path: path, Access: access, Count: 3}},
			Sources:   []v1alpha1.Source{{Node: "node-a", Pod: pod, FirstSeen: metav1.NewTime(start), LastSeen: metav1.NewTime(start.Add(time.Hour)), Events: 10}},
		}}
	}
	a := replica("web-1", "/proc/11/status", v1alpha1.AccessRead)
	b := replica("web-2", "/proc/12/status", v1alpha1.AccessWrite, v1alpha1.AccessRead)
	merged, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Spec.Files) != 1 || merged.Spec.Files[0].Path != "/proc/*/status" {
		t.Fatalf("want one /proc/*/status entry, got %s", dump(t, merged.Spec.Files))
	}
	if got := merged.Spec.Files[0].Access; !reflect.DeepEqual(got, []v1alpha1.FileAccessMode{"read", "write"}) {
		t.Errorf("access = %v, want [read write]", got)
	}
	if len(merged.Spec.Sources) != 2 {
		t.Errorf("want both replicas as sources, got %s", dump(t, merged.Spec.Sources))
	}
}

func TestMergeOfASnapshotFlushedTwiceDoesNotDoubleCounts(t *testing.T) {
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	first := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_NET_BIND_SERVICE", Verdict: "Granted", Count: 5}},
		Sources:      []v1alpha1.Source{{Node: "n", Pod: "p", FirstSeen: metav1.NewTime(start), LastSeen: metav1.NewTime(start.Add(time.Minute)), Events: 50}},
	}}
	later := first.DeepCopy()
	later.Spec.Capabilities[0].Count = 8
	later.Spec.Sources[0].LastSeen = metav1.NewTime(start.Add(2 * time.Minute))
	later.Spec.Sources[0].Events = 80
	merged, err := Merge(first, later)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Merge(merged, later)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Spec.Capabilities[0].Count; got != 8 {
		t.Errorf("count = %d after merging the same snapshot twice, want 8", got)
	}
	if len(again.Spec.Sources) != 1 || again.Spec.Sources[0].Events != 80 || !again.Spec.Sources[0].LastSeen.Equal(&later.Spec.Sources[0].LastSeen) {
		t.Errorf("want one source with the later snapshot's figures, got %s", dump(t, again.Spec.Sources))
	}
}

func TestMergeRefusesDifferentWorkloads(t *testing.T) {
	a := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}}}
	b := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "api"}}}
	_, err := Merge(a, b)
	if err == nil || !strings.Contains(err.Error(), "Deployment/web and Deployment/api") {
		t.Fatalf("want an error naming both workloads, got %v", err)
	}
	c := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Container: "app"}}
	d := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Container: "sidecar"}}
	if _, err := Merge(c, d); err == nil || !strings.Contains(err.Error(), `"app" and "sidecar"`) {
		t.Fatalf("want an error naming both containers, got %v", err)
	}
}

func TestNormalizeFoldsEntriesThatBecomeEqual(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{
			{Name: "net_bind_service", Verdict: "Granted", Count: 2},
			{Name: "CAP_NET_BIND_SERVICE", Verdict: "Granted", Count: 3},
		},
		Files: []v1alpha1.FileEntry{
			{Path: "/proc/1/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 2},
			{Path: "/proc/self/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 3},
			{Path: "/var/cache/app/**", Access: []v1alpha1.FileAccessMode{"read"}, Count: 10},
			{Path: "/var/cache/app/x", Access: []v1alpha1.FileAccessMode{"write"}, Filesystem: "overlay", RootFilesystem: true, Count: 1},
		},
		Connections: []v1alpha1.ConnectionEntry{
			{Protocol: "TCP", Address: "::ffff:10.0.0.1", Port: 443, Count: 1},
			{Protocol: "TCP", Address: "10.0.0.1", Port: 443, Count: 1},
		},
	}}
	n := Normalize(p).Spec
	if len(n.Capabilities) != 1 || n.Capabilities[0].Name != "CAP_NET_BIND_SERVICE" || n.Capabilities[0].Count != 5 {
		t.Errorf("capabilities = %s", dump(t, n.Capabilities))
	}
	want := []v1alpha1.FileEntry{
		{Path: "/proc/*/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 5},
		{Path: "/var/cache/app/**", Access: []v1alpha1.FileAccessMode{"read", "write"}, Filesystem: "overlay", RootFilesystem: true, Count: 11},
	}
	if !reflect.DeepEqual(n.Files, want) {
		t.Errorf("files = %s, want %s", dump(t, n.Files), dump(t, want))
	}
	if len(n.Connections) != 1 || n.Connections[0].Address != "10.0.0.1" || n.Connections[0].Count != 2 {
		t.Errorf("connections = %s", dump(t, n.Connections))
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:10.0.0.1":  "10.0.0.1",
		"fd00:0:0::1":      "fd00::1",
		"fe80::1%eth0":     "fe80::1",
		" 10.0.0.1 ":       "10.0.0.1",
		"not-an-address":   "not-an-address",
		"2001:DB8::1":      "2001:db8::1",
		"::ffff:127.0.0.1": "127.0.0.1",
	} {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiffNamesWhatAppearedDisappearedAndChanged(t *testing.T) {
	before := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_NET_RAW", Verdict: "Granted", Count: 1}},
		Files: []v1alpha1.FileEntry{
			{Path: "/var/log/app.log", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
			{Path: "/proc/7/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
		},
	}}
	after := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
		Files: []v1alpha1.FileEntry{
			{Path: "/var/log/app.log", Access: []v1alpha1.FileAccessMode{"read", "write"}, RootFilesystem: true, Count: 9},
			{Path: "/proc/8/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 5}, // same after normalising
			{Path: "/etc/shadow", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
		},
		Connections: []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: "fd00::1", Port: 443, Count: 1}},
	}}
	var got []string
	for _, c := range Diff(before, after) {
		got = append(got, fmt.Sprintf("%s %s %s [%s|%s]", c.Op, c.Kind, c.Entry, c.Before, c.After))
	}
	want := []string{
		"removed capability CAP_NET_RAW granted [|]",
		"changed file /var/log/app.log [read|read+write on the root filesystem]",
		"added file /etc/shadow [|read]",
		"added connection TCP [fd00::1]:443 [|]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A source an agent upgraded in the middle of (two snapshots of one pod's
// recording, the first from an agent before generations were counted)
// keeps the older generation: that part of the recording did not see the
// newer routes, and a policy exported from it must not govern them.
func TestMergeKeepsTheOldestRoutesOfASource(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	later := metav1.NewTime(at.Add(time.Minute))
	prof := func(routes int32, seen metav1.Time) *v1alpha1.Profile {
		return &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Container: "app", Sources: []v1alpha1.Source{
			{Node: "n1", Pod: "web-1", Recording: "rec", FirstSeen: at, LastSeen: seen, Routes: routes},
		}}}
	}
	for _, order := range [][2]*v1alpha1.Profile{
		{prof(0, at), prof(v1alpha1.CurrentRoutes, later)},
		{prof(v1alpha1.CurrentRoutes, later), prof(0, at)},
	} {
		m, err := Merge(order[0], order[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Spec.Sources) != 1 || m.Spec.Sources[0].Routes != 0 {
			t.Errorf("merged sources %+v; want one, with no routes generation (the first)", m.Spec.Sources)
		}
	}
	m, err := Merge(prof(v1alpha1.CurrentRoutes, at), prof(v1alpha1.CurrentRoutes, later))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Spec.Sources[0].Routes; got != v1alpha1.CurrentRoutes {
		t.Errorf("routes = %d after merging two current snapshots; want %d", got, v1alpha1.CurrentRoutes)
	}
}
