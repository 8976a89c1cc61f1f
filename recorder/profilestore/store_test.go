package profilestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// newClient is a client of its own for the shared API server, as another
// node's agent would have.
func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(rest.CopyConfig(cfg), client.Options{Scheme: envtest.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// webApp is container app of Deployment web in ns.
func webApp(ns string) WorkloadContainer {
	return WorkloadContainer{Namespace: ns, Workload: v1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, Container: "app"}
}

func source(node, pod string, events int64, last time.Duration) v1alpha1.Source {
	return v1alpha1.Source{
		Node: node, Pod: pod, Kernel: "6.8.0", Backends: map[string]string{"files": "lsm/file_open"},
		FirstSeen: metav1.NewTime(t0), LastSeen: metav1.NewTime(t0.Add(last)), Events: events,
	}
}

func file(path string, count int64, access ...v1alpha1.FileAccessMode) v1alpha1.FileEntry {
	return v1alpha1.FileEntry{Path: path, Access: access, Count: count}
}

func stored(t *testing.T, key WorkloadContainer) *v1alpha1.Profile {
	t.Helper()
	p := &v1alpha1.Profile{}
	if err := apiServer(t).Client.Get(testContext(t), types.NamespacedName{Namespace: key.Namespace, Name: ProfileName(key)}, p); err != nil {
		t.Fatalf("reading profile %s: %v", ProfileName(key), err)
	}
	return p
}

func fileCounts(p *v1alpha1.Profile) map[string]int64 {
	out := map[string]int64{}
	for _, f := range p.Spec.Files {
		out[f.Path] = f.Count
	}
	return out
}

// checkSummary checks that the stored status summary is the summary of the
// stored spec.
func checkSummary(t *testing.T, p *v1alpha1.Profile) {
	t.Helper()
	want := p.Spec.Summarize()
	got := p.Status.Summary
	if got == nil {
		t.Fatal("status.summary is empty")
	}
	if !sameJSON(got, want) {
		t.Errorf("status.summary = %s, want the spec's %s", dumpJSON(got), dumpJSON(want))
	}
}

func dumpJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func TestMergeCreatesTheProfileFromNothing(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	s := NewStore(newClient(t, e.Config), Options{})
	delta := v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_NET_BIND_SERVICE", Verdict: "Granted", Count: 1}},
		Files:        []v1alpha1.FileEntry{file("/etc/hosts", 3, "read")},
		Connections:  []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: "10.0.0.7", Port: 5432, Count: 2}},
		Executables:  []v1alpha1.ExecutableEntry{{Path: "/usr/bin/app", UIDs: []int64{1000}, Count: 1}},
	}
	if err := s.Merge(testContext(t), key, "rec-1", delta, source("node-a", "web-1", 7, time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := stored(t, key)
	if p.Name != "web-app" {
		t.Errorf("name = %q, want web-app", p.Name)
	}
	wantLabels := map[string]string{LabelWorkloadKind: "Deployment", LabelWorkload: "web", LabelContainer: "app", LabelRecording: "rec-1"}
	for k, v := range wantLabels {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if w := p.Spec.Workload; w == nil || w.Kind != "Deployment" || w.Name != "web" || w.APIVersion != "apps/v1" || p.Spec.Container != "app" {
		t.Errorf("spec names %+v container %q, want Deployment web (apps/v1) container app", w, p.Spec.Container)
	}
	if len(p.Spec.Capabilities) != 1 || len(p.Spec.Files) != 1 || len(p.Spec.Connections) != 1 || len(p.Spec.Executables) != 1 {
		t.Errorf("entries missing: %s", dumpJSON(p.Spec))
	}
	if len(p.Spec.Sources) != 1 || p.Spec.Sources[0].Recording != "rec-1" || p.Spec.Sources[0].Node != "node-a" || p.Spec.Sources[0].Events != 7 {
		t.Errorf("sources = %s, want node-a's with recording rec-1", dumpJSON(p.Spec.Sources))
	}
	checkSummary(t, p)
	if p.Status.Summary.Recording != "rec-1" || p.Status.Summary.Nodes != 1 {
		t.Errorf("summary = %s", dumpJSON(p.Status.Summary))
	}
	if len(p.Status.Conditions) != 0 {
		t.Errorf("a small profile has conditions: %+v", p.Status.Conditions)
	}
}

func TestMergeFromTwoNodesKeepsBothAndTheirProvenance(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	a, b := NewStore(newClient(t, e.Config), Options{}), NewStore(newClient(t, e.Config), Options{})
	ctx := testContext(t)
	if err := a.Merge(ctx, key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/etc/hosts", 3, "read"), file("/var/log/a.log", 1, "write")}}, source("node-a", "web-1", 10, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.Merge(ctx, key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/etc/hosts", 5, "read", "write"), file("/tmp/b", 2, "create")}}, source("node-b", "web-2", 20, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := stored(t, key)
	want := map[string]int64{"/etc/hosts": 5, "/var/log/a.log": 1, "/tmp/b": 2}
	if got := fileCounts(p); !mapsEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if i := slices.IndexFunc(p.Spec.Files, func(f v1alpha1.FileEntry) bool { return f.Path == "/etc/hosts" }); i < 0 || !slices.Equal(p.Spec.Files[i].Access, []v1alpha1.FileAccessMode{"read", "write"}) {
		t.Errorf("/etc/hosts access not united: %s", dumpJSON(p.Spec.Files))
	}
	var nodes []string
	for _, s := range p.Spec.Sources {
		nodes = append(nodes, s.Node+"/"+s.Pod)
	}
	if !slices.Equal(nodes, []string{"node-a/web-1", "node-b/web-2"}) {
		t.Errorf("sources = %v, want node-a/web-1 and node-b/web-2", nodes)
	}
	checkSummary(t, p)
	if p.Status.Summary.Nodes != 2 || p.Status.Summary.Pods != 2 {
		t.Errorf("summary = %s, want 2 nodes and 2 pods", dumpJSON(p.Status.Summary))
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// countingClient counts the conflicts the API server answered, to show
// that a test made writers collide.
type countingClient struct {
	client.Client
	conflicts, alreadyExists *atomic.Int64
}

func (c countingClient) count(err error) error {
	switch {
	case apierrors.IsConflict(err):
		c.conflicts.Add(1)
	case apierrors.IsAlreadyExists(err):
		c.alreadyExists.Add(1)
	}
	return err
}

func (c countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.count(c.Client.Create(ctx, obj, opts...))
}

func (c countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.count(c.Client.Update(ctx, obj, opts...))
}

func TestConcurrentWritersOnTwoNodesLoseNoEntry(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	const rounds = 50
	var conflicts, alreadyExists atomic.Int64
	bounds := Bounds{Limits: profiles.Limits{FilesPerDirectory: 1000, MaxFiles: 4096}}

	// Each round of a node sends entries of its own (never sent again, so
	// losing any write would lose them) and an entry both nodes send with
	// different counts, plus its source's cumulative figures.
	type node struct{ name, pod, own string }
	nodes := []node{{"node-a", "web-a", "/a"}, {"node-b", "web-b", "/b"}}
	count := func(n, r int) int64 {
		if n == 0 {
			return int64(r + 1)
		}
		return int64(rounds - r)
	}
	start := make(chan struct{})
	errs := make(chan error, len(nodes))
	var wg sync.WaitGroup
	for n, nd := range nodes {
		store := NewStore(countingClient{newClient(t, e.Config), &conflicts, &alreadyExists}, Options{Bounds: bounds})
		wg.Go(func() {
			<-start
			for r := range rounds {
				delta := v1alpha1.ProfileSpec{
					Files: []v1alpha1.FileEntry{
						file(fmt.Sprintf("%s/own-%02d", nd.own, r), 1, "write"),
						file(fmt.Sprintf("/shared/entry-%02d", r), count(n, r), "read"),
					},
					Connections: []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: fmt.Sprintf("10.%d.0.%d", n, r+1), Port: 443, Count: 1}},
				}
				if err := store.Merge(testContext(t), key, "rec", delta, source(nd.name, nd.pod, int64(10*(r+1)), time.Duration(r)*time.Second)); err != nil {
					errs <- fmt.Errorf("%s round %d: %w", nd.name, r, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	p := stored(t, key)
	want := map[string]int64{}
	for n, nd := range nodes {
		for r := range rounds {
			want[fmt.Sprintf("%s/own-%02d", nd.own, r)] = 1
			shared := fmt.Sprintf("/shared/entry-%02d", r)
			want[shared] = max(want[shared], count(n, r))
		}
	}
	got := fileCounts(p)
	for path, n := range want {
		if got[path] != n {
			t.Errorf("%s: count %d, want %d", path, got[path], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d file entries, want %d", len(got), len(want))
	}
	if len(p.Spec.Connections) != 2*rounds {
		t.Errorf("%d connections, want %d", len(p.Spec.Connections), 2*rounds)
	}
	if len(p.Spec.Sources) != 2 {
		t.Fatalf("sources = %s, want one per node", dumpJSON(p.Spec.Sources))
	}
	for _, s := range p.Spec.Sources {
		if s.Events != 10*rounds || !s.LastSeen.Time.Equal(t0.Add((rounds-1)*time.Second)) {
			t.Errorf("source %s/%s: events %d last seen %s, want %d and the last round's", s.Node, s.Pod, s.Events, s.LastSeen, 10*rounds)
		}
	}
	checkSummary(t, p)
	t.Logf("%d conflicts and %d lost create races were retried", conflicts.Load(), alreadyExists.Load())
	if conflicts.Load()+alreadyExists.Load() == 0 {
		t.Error("the writers never collided: the test did not exercise the retry")
	}
}

// committedButFailedClient does the first spec update it is asked for and
// then reports a timeout, as when the connection drops after the API server
// committed the write.
type committedButFailedClient struct {
	client.Client
	done atomic.Bool
}

func (c *committedButFailedClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.Client.Update(ctx, obj, opts...); err != nil {
		return err
	}
	if c.done.CompareAndSwap(false, true) {
		return apierrors.NewTimeoutError("the connection dropped after the write", 1)
	}
	return nil
}

func TestSendingASnapshotAgainIsSafe(t *testing.T) {
	e := apiServer(t)
	first := v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_CHOWN", Verdict: "Granted", Count: 5}},
		Files:        []v1alpha1.FileEntry{file("/etc/passwd", 4, "read")},
	}
	later := *first.DeepCopy()
	later.Capabilities[0].Count = 8
	later.Files = append(later.Files, file("/data/new", 1, "write"))

	for _, tc := range []struct {
		name string
		// send writes the snapshots in order through the store and
		// returns the profile's resource version after each.
		sends []v1alpha1.ProfileSpec
		// wrap replaces the store's client.
		wrap       func(client.Client) client.Client
		wantCaps   int64
		wantFiles  int
		wantEvents int64
	}{
		{name: "the same snapshot twice", sends: []v1alpha1.ProfileSpec{first, first}, wantCaps: 5, wantFiles: 1},
		{name: "an older snapshot after a newer one", sends: []v1alpha1.ProfileSpec{later, first}, wantCaps: 8, wantFiles: 2},
		{name: "a newer snapshot replaces the figures", sends: []v1alpha1.ProfileSpec{first, later, later}, wantCaps: 8, wantFiles: 2},
		{
			name:  "a retry of a write that succeeded but reported a timeout",
			sends: []v1alpha1.ProfileSpec{first, later, later},
			wrap:  func(c client.Client) client.Client { return &committedButFailedClient{Client: c} },
			// The first update (second send) times out after committing;
			// the third send is the retry.
			wantCaps: 8, wantFiles: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := envtest.Namespace(t, e.Client)
			key := webApp(ns)
			var c client.Client = newClient(t, e.Config)
			if tc.wrap != nil {
				c = tc.wrap(c)
			}
			s := NewStore(c, Options{})
			var versions []string
			var failures int
			for i, d := range tc.sends {
				// Cumulative figures of the one source grow with its counts.
				events := d.Capabilities[0].Count * 10
				err := s.Merge(testContext(t), key, "rec", d, source("node-a", "web-1", events, time.Duration(events)*time.Second))
				if err != nil {
					if tc.wrap == nil || !apierrors.IsTimeout(err) {
						t.Fatalf("send %d: %v", i, err)
					}
					failures++
				}
				versions = append(versions, stored(t, key).ResourceVersion)
			}
			p := stored(t, key)
			if got := p.Spec.Capabilities[0].Count; got != tc.wantCaps {
				t.Errorf("capability count %d, want %d (not added up)", got, tc.wantCaps)
			}
			if len(p.Spec.Files) != tc.wantFiles {
				t.Errorf("%d files, want %d", len(p.Spec.Files), tc.wantFiles)
			}
			for _, f := range p.Spec.Files {
				if f.Path == "/etc/passwd" && f.Count != 4 {
					t.Errorf("/etc/passwd count %d, want 4", f.Count)
				}
			}
			if len(p.Spec.Sources) != 1 || p.Spec.Sources[0].Events != tc.wantCaps*10 {
				t.Errorf("sources = %s, want one with %d events", dumpJSON(p.Spec.Sources), tc.wantCaps*10)
			}
			checkSummary(t, p)
			if tc.wrap != nil && failures != 1 {
				t.Errorf("%d sends failed, want the one whose reply was lost", failures)
			}
			// A send that brings nothing new is not even written.
			last := len(versions) - 1
			if tc.wrap == nil && sameJSON(tc.sends[last], tc.sends[last-1]) && versions[last] != versions[last-1] {
				t.Errorf("re-sending an identical snapshot wrote a new version (%s -> %s)", versions[last-1], versions[last])
			}
		})
	}
}

func TestOversizedDeltasAreCollapsedAndTheObjectStaysUnderTheLimit(t *testing.T) {
	e := apiServer(t)
	for _, tc := range oversized {
		t.Run(tc.name, func(t *testing.T) {
			ns := envtest.Namespace(t, e.Client)
			key := webApp(ns)
			delta := *tc.spec.DeepCopy()
			if raw, _ := json.Marshal(delta); tc.bounds.withDefaults().MaxObjectBytes < len(raw) {
				t.Logf("the delta alone takes %d bytes", len(raw))
			}
			var src v1alpha1.Source
			if len(delta.Sources) == 0 {
				src = source("node-a", "web-1", 1, time.Minute)
			}
			s := NewStore(newClient(t, e.Config), Options{Bounds: tc.bounds})
			if err := s.Merge(testContext(t), key, "rec", delta, src); err != nil {
				t.Fatalf("Merge of an oversized delta failed: %v", err)
			}
			p := stored(t, key)
			checkFitted(t, p, tc.bounds, tc.wantGlob, tc.wantOverBudget)
			checkSummary(t, p)
			if raw, _ := json.Marshal(p); len(raw) > 3<<19 {
				t.Errorf("the stored object takes %d bytes, over the API server's 1.5 MiB", len(raw))
			}
			// Sending the same delta again changes nothing.
			before := p.ResourceVersion
			if err := s.Merge(testContext(t), key, "rec", delta, src); err != nil {
				t.Fatal(err)
			}
			if after := stored(t, key); after.ResourceVersion != before {
				t.Errorf("re-sending the oversized delta wrote a new version: %s", dumpJSON(after.Spec.Collapsed))
			}
		})
	}
}

func TestHugeDirectoryIsRecordedAsCollapsed(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	delta := v1alpha1.ProfileSpec{Files: append(filesIn("/var/cache/app/thumbnails", 20000), file("/etc/hosts", 1, "read"))}
	raw, _ := json.Marshal(delta)
	if len(raw) < 3<<19 {
		t.Fatalf("test premise: the delta (%d bytes) should be over the API server's limit", len(raw))
	}
	s := NewStore(newClient(t, e.Config), Options{})
	if err := s.Merge(testContext(t), key, "rec", delta, source("node-a", "web-1", 20001, time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := stored(t, key)
	want := map[string]int64{"/etc/hosts": 1, "/var/cache/app/thumbnails/**": 20000}
	if got := fileCounts(p); !mapsEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if len(p.Spec.Collapsed) != 1 || p.Spec.Collapsed[0].Entries != 20000 || !strings.Contains(p.Spec.Collapsed[0].Reason, "/var/cache/app/thumbnails") {
		t.Errorf("collapsed = %s", dumpJSON(p.Spec.Collapsed))
	}
	stored, _ := json.Marshal(p)
	t.Logf("a %d-byte delta was stored as a %d-byte object", len(raw), len(stored))
}

func TestAKeyWhoseNameIsTakenGetsTheHashedNameAndKeepsIt(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	ctx := testContext(t)
	deploy := webApp(ns)
	sts := deploy
	sts.Workload = v1alpha1.WorkloadReference{Kind: "StatefulSet", Name: "web"}
	// A profile someone applied by hand holds the plain name of a third.
	jobKey := WorkloadContainer{Namespace: ns, Workload: v1alpha1.WorkloadReference{Kind: "Job", Name: "batch"}, Container: "run"}
	foreign := &v1alpha1.Profile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ProfileName(jobKey)}, Spec: v1alpha1.ProfileSpec{Command: []string{"/bin/true"}}}
	if err := e.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}

	s := NewStore(newClient(t, e.Config), Options{})
	write := func(s *Store, k WorkloadContainer, path string) {
		t.Helper()
		if err := s.Merge(ctx, k, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file(path, 1, "read")}}, source("node-a", "p", 1, time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	write(s, deploy, "/deploy/1")
	write(s, sts, "/sts/1")
	write(s, jobKey, "/job/1")
	// A fresh store (an agent restarted) finds each profile where it is.
	fresh := NewStore(newClient(t, e.Config), Options{})
	write(fresh, sts, "/sts/2")
	write(fresh, deploy, "/deploy/2")
	write(fresh, jobKey, "/job/2")

	for _, tc := range []struct {
		key       WorkloadContainer
		wantName  string
		wantFiles []string
	}{
		{deploy, "web-app", []string{"/deploy/1", "/deploy/2"}},
		{sts, CollisionName(sts), []string{"/sts/1", "/sts/2"}},
		{jobKey, CollisionName(jobKey), []string{"/job/1", "/job/2"}},
	} {
		p, err := fresh.Get(ctx, tc.key)
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		var files []string
		for _, f := range p.Spec.Files {
			files = append(files, f.Path)
		}
		if p.Name != tc.wantName || !slices.Equal(files, tc.wantFiles) {
			t.Errorf("%s: profile %s with %v, want %s with %v", tc.key, p.Name, files, tc.wantName, tc.wantFiles)
		}
	}
	var untouched v1alpha1.Profile
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(foreign), &untouched); err != nil || untouched.Spec.Workload != nil || len(untouched.Spec.Files) != 0 {
		t.Errorf("the hand-applied profile was changed: %v %s", err, dumpJSON(untouched.Spec))
	}
}

func TestInvalidDeltasAreRefusedBeforeAnyWrite(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	s := NewStore(newClient(t, e.Config), Options{})
	good := source("node-a", "p", 1, time.Second)
	for _, tc := range []struct {
		name  string
		key   WorkloadContainer
		delta v1alpha1.ProfileSpec
		src   v1alpha1.Source
		want  string
	}{
		{"unknown capability", webApp(ns), v1alpha1.ProfileSpec{Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_FLY", Verdict: "Granted"}}}, good, "spec.capabilities[0].name"},
		{"delta of another workload", webApp(ns), v1alpha1.ProfileSpec{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "api"}}, good, "not for the key's"},
		{"source without a start", webApp(ns), v1alpha1.ProfileSpec{}, v1alpha1.Source{Node: "node-a", Pod: "p"}, "firstSeen is required"},
		{"key without a container", WorkloadContainer{Namespace: ns, Workload: v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}}, v1alpha1.ProfileSpec{}, good, "container: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Merge(testContext(t), tc.key, "rec", tc.delta, tc.src)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Merge = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
	var list v1alpha1.ProfileList
	if err := e.Client.List(testContext(t), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Errorf("invalid deltas wrote %d profiles (%v)", len(list.Items), err)
	}
}

func TestARecordingsLimitsApplyToTheProfilesItWrites(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	s := NewStore(newClient(t, e.Config), Options{LimitsFor: func(namespace, recording string) (profiles.Limits, bool) {
		if namespace == ns && recording == "strict" {
			return profiles.Limits{FilesPerDirectory: 4, MaxFiles: 100}, true
		}
		return profiles.Limits{}, false
	}})
	if err := s.Merge(testContext(t), key, "strict", v1alpha1.ProfileSpec{Files: filesIn("/etc/app", 10)}, source("node-a", "web-1", 10, time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := stored(t, key)
	if got := fileCounts(p); !mapsEqual(got, map[string]int64{"/etc/app/**": 10}) {
		t.Errorf("files = %v, want /etc/app collapsed past the recording's 4 files per directory", got)
	}
	if len(p.Spec.Collapsed) != 1 || !strings.Contains(p.Spec.Collapsed[0].Reason, "more than 4 file entries") {
		t.Errorf("collapsed = %s", dumpJSON(p.Spec.Collapsed))
	}
}
