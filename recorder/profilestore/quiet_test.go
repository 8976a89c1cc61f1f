package profilestore

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// requestsClient counts the profile reads and writes (creates and spec
// updates) a Store sends to the API server.
type requestsClient struct {
	client.Client
	reads, writes atomic.Int64
}

func (c *requestsClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.reads.Add(1)
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *requestsClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.writes.Add(1)
	return c.Client.Create(ctx, obj, opts...)
}

func (c *requestsClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.writes.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

// hasWritten reports whether the Writer has written a delta to the key's
// profile (and remembers what it wrote).
func (w *Writer) hasWritten(key WorkloadContainer) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written[key.identity()] != nil
}

// busySpec is what a busy container did: an entry of every kind, each seen
// n times.
func busySpec(n int64) v1alpha1.ProfileSpec {
	return v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{{Name: "CAP_SETUID", Verdict: v1alpha1.VerdictGranted, Count: n}},
		Files:        []v1alpha1.FileEntry{file("/etc/app.conf", n, "read"), file("/var/log/app.log", n, "read", "write")},
		Connections:  []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: "10.0.0.7", Port: 5432, Count: n}},
		Sockets:      []v1alpha1.SocketEntry{{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/run/app.sock"}, Count: n}},
		Executables:  []v1alpha1.ExecutableEntry{{Path: "/usr/bin/true", Count: n}},
		Syscalls:     []v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"openat", "read"}}},
	}
}

// busySource is the busy container's pod on node-a, after n events.
func busySource(n int64) v1alpha1.Source {
	s := source("node-a", "web-1", n, time.Duration(n)*time.Second)
	// The container was restarted with a new image: the source ran both.
	s.Images = []v1alpha1.Image{{Name: "web:0", Digest: "sha256:" + strings.Repeat("0", 64)}, {Name: "web:1", Digest: "sha256:" + strings.Repeat("a", 64)}}
	return s
}

func TestPureIdentitiesChangeWithEntriesAndSourcesNotWithCounts(t *testing.T) {
	seed := maphash.MakeSeed()
	base := func() (v1alpha1.ProfileSpec, v1alpha1.Source) { return busySpec(1), busySource(1) }
	ids := func(d v1alpha1.ProfileSpec, s v1alpha1.Source) identities {
		t.Helper()
		p, err := prepareDelta(webApp("shop"), "rec", d, s, t0)
		if err != nil {
			t.Fatal(err)
		}
		p = profiles.NormalizeSpec(p) // as Writer.queue does
		return identitiesOf(seed, "rec", &p)
	}
	written := ids(base())
	for _, tc := range []struct {
		name   string
		change func(*v1alpha1.ProfileSpec, *v1alpha1.Source)
		isNew  bool
	}{
		{"nothing", func(*v1alpha1.ProfileSpec, *v1alpha1.Source) {}, false},
		{"every count, the events and the last sighting grow", func(d *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			*d, *s = busySpec(1000), busySource(1000)
		}, false},
		{"a new collapse", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Collapsed = []v1alpha1.Collapse{{Glob: "/etc/**", Entries: 5, Reason: "r"}}
		}, true},
		{"a file entry found with fewer access modes than written", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Files[1].Access = []v1alpha1.FileAccessMode{"read"}
		}, false},
		{"a source that ran one of its two images", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			s.Images = s.Images[1:]
		}, false},
		{"a new capability verdict", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Capabilities = append(d.Capabilities, v1alpha1.CapabilityEntry{Name: "CAP_SETUID", Verdict: v1alpha1.VerdictDenied, Count: 1})
		}, true},
		{"a new file", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Files = append(d.Files, file("/etc/other.conf", 1, "read"))
		}, true},
		{"a new access to a written file", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Files[0].Access = append(d.Files[0].Access, "write")
		}, true},
		{"a new connection port", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Connections = append(d.Connections, v1alpha1.ConnectionEntry{Protocol: "TCP", Address: "10.0.0.7", Port: 5433, Count: 1})
		}, true},
		{"a new socket", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Sockets = append(d.Sockets, v1alpha1.SocketEntry{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/run/other.sock"}, Count: 1})
		}, true},
		{"an executable run as another user", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Executables[0].UIDs = []int64{1000}
		}, true},
		{"a new system call", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Syscalls[0].Names = append(d.Syscalls[0].Names, "write")
		}, true},
		{"a new socket family", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Syscalls[0].SocketFamilies = []string{"AF_UNIX"}
		}, true},
		{"a new pod", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) { s.Pod = "web-2" }, true},
		{"a new node", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) { s.Node = "node-b" }, true},
		{"a new image", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			s.Images = append(s.Images, v1alpha1.Image{Name: "web:2", Digest: "sha256:" + strings.Repeat("b", 64)})
		}, true},
		{"a new run of the pod", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			s.FirstSeen = metav1.NewTime(s.FirstSeen.Add(time.Hour))
		}, true},
		{"records lost", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			s.LostRecords, s.LostByKind = 3, map[string]int64{"files": 3}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s := base()
			tc.change(&d, &s)
			if got := !ids(d, s).within(written); got != tc.isNew {
				t.Errorf("judged new: %v, want %v", got, tc.isNew)
			}
		})
	}
	lost, more := busySource(1), busySource(1)
	lost.LostRecords, more.LostRecords = 3, 4
	if ids(busySpec(1), more).within(ids(busySpec(1), lost)) {
		t.Error("a lost count going from 3 to 4 was judged nothing new")
	}
}

// A busy container's snapshot at each flush: counts-only deltas are held
// (no read, no write), anything new is written at the next flush.
func TestWriterWritesAtTheNextFlushOnlyWhatIsNew(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	for i, tc := range []struct {
		name      string
		change    func(*v1alpha1.ProfileSpec, *v1alpha1.Source)
		wantWrite bool
	}{
		{"larger counts only", func(*v1alpha1.ProfileSpec, *v1alpha1.Source) {}, false},
		{"a new file", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Files = append(d.Files, file("/var/lib/app/new", 1, "read"))
		}, true},
		{"a new access to a written file", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Files[0].Access = []v1alpha1.FileAccessMode{"read", "write"}
		}, true},
		{"a new executable", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Executables = append(d.Executables, v1alpha1.ExecutableEntry{Path: "/bin/sh", Count: 1})
		}, true},
		{"a new system call", func(d *v1alpha1.ProfileSpec, _ *v1alpha1.Source) {
			d.Syscalls[0].Names = append(d.Syscalls[0].Names, "connect")
		}, true},
		{"a new image", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) {
			s.Images = append(s.Images, v1alpha1.Image{Name: "web:2", Digest: "sha256:" + strings.Repeat("b", 64)})
		}, true},
		{"records lost", func(_ *v1alpha1.ProfileSpec, s *v1alpha1.Source) { s.LostRecords = 2 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			c := &requestsClient{Client: newClient(t, e.Config)}
			w := NewWriter(NewStore(c, Options{}), WriterOptions{CountOnlyInterval: time.Hour})
			key := webApp(ns)
			key.Container = fmt.Sprintf("c%d", i)
			if err := w.Add(key, "rec", busySpec(1), busySource(1)); err != nil {
				t.Fatal(err)
			}
			if err := w.flush(ctx, false); err != nil || c.writes.Load() != 1 {
				t.Fatalf("first flush: %v, %d writes; want the profile created", err, c.writes.Load())
			}

			d, s := busySpec(50), busySource(50)
			tc.change(&d, &s)
			if err := w.Add(key, "rec", d, s); err != nil {
				t.Fatal(err)
			}
			reads, writes := c.reads.Load(), c.writes.Load()
			if err := w.flush(ctx, false); err != nil {
				t.Fatal(err)
			}
			reads, writes = c.reads.Load()-reads, c.writes.Load()-writes
			got := fileCounts(stored(t, key))["/etc/app.conf"]
			if tc.wantWrite {
				if writes != 1 || got != 50 || len(w.Pending()) != 0 {
					t.Errorf("next flush: %d writes, stored count %d, pending %v; want the delta written at once", writes, got, w.Pending())
				}
				return
			}
			if reads != 0 || writes != 0 || got != 1 {
				t.Errorf("next flush: %d reads, %d writes, stored count %d; want the counts held back at no cost", reads, writes, got)
			}
			if len(w.Pending()) != 1 {
				t.Errorf("pending = %v, want the held delta kept", w.Pending())
			}
		})
	}
}

// Counts-only deltas are written once the interval since the profile's
// last write is up, and not before.
func TestWriterWritesHeldCountsAfterTheInterval(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	ctx := testContext(t)
	c := &requestsClient{Client: newClient(t, e.Config)}
	const interval = 3 * time.Second
	w := NewWriter(NewStore(c, Options{}), WriterOptions{CountOnlyInterval: interval})
	key := webApp(ns)

	add := func(n int64) {
		t.Helper()
		if err := w.Add(key, "rec", busySpec(n), busySource(n)); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() int64 {
		t.Helper()
		before := c.writes.Load()
		if err := w.flush(ctx, false); err != nil {
			t.Fatal(err)
		}
		return c.writes.Load() - before
	}
	add(1)
	if n := flush(); n != 1 {
		t.Fatalf("first flush: %d writes, want 1", n)
	}
	firstWrite := time.Now()
	// A flush every 100 ms with counts growing in between: held until the
	// interval is up...
	for n := int64(2); time.Since(firstWrite) < interval-time.Second; n++ {
		add(n)
		if got := flush(); got != 0 {
			t.Fatalf("%s after the last write: %d writes of larger counts only, want none before %s", time.Since(firstWrite).Round(time.Millisecond), got, interval)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := fileCounts(stored(t, key))["/etc/app.conf"]; got != 1 {
		t.Errorf("stored count %d before the interval, want the first write's 1", got)
	}
	// ...and written at the first flush after it.
	time.Sleep(time.Until(firstWrite.Add(interval)))
	add(1000)
	if n := flush(); n != 1 {
		t.Errorf("flush after the interval: %d writes, want 1", n)
	}
	if got := fileCounts(stored(t, key))["/etc/app.conf"]; got != 1000 {
		t.Errorf("stored count %d after the interval, want 1000", got)
	}
	// The interval starts again from that write.
	add(1001)
	if n := flush(); n != 0 {
		t.Errorf("flush right after the count-only write: %d writes, want 0", n)
	}
}

// Stopping writes what is held: the agent's last counts reach the profile.
func TestWriterWritesHeldCountsOnStop(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	c := &requestsClient{Client: newClient(t, e.Config)}
	w := NewWriter(NewStore(c, Options{}), WriterOptions{FlushInterval: 50 * time.Millisecond, CountOnlyInterval: time.Hour})
	key := webApp(ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	if err := w.Add(key, "rec", busySpec(1), busySource(1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first delta to be written", 10*time.Second, func() bool { return w.hasWritten(key) })
	for n := int64(2); n <= 20; n++ {
		if err := w.Add(key, "rec", busySpec(n), busySource(n)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // a flush interval
	}
	if got, writes := fileCounts(stored(t, key))["/etc/app.conf"], c.writes.Load(); got != 1 || writes != 1 {
		t.Fatalf("while running: stored count %d, %d writes; want the larger counts held", got, writes)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p := stored(t, key)
	if got := fileCounts(p)["/etc/app.conf"]; got != 20 || len(p.Spec.Sources) != 1 || p.Spec.Sources[0].Events != 20 {
		t.Errorf("after stopping: stored count %d, sources %s; want the held counts written (20, 20 events)", got, dumpJSON(p.Spec.Sources))
	}
	if len(w.Pending()) != 0 {
		t.Errorf("pending after stopping: %v", w.Pending())
	}
}

// A write that fails is not taken for written: what it held stays pending
// and new, is merged with what follows, and is written at the next flush
// the API server answers, counts held back meanwhile included.
func TestWriterLosesNothingHeldOrNewAcrossAFailedWrite(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	cfg, px := throughProxy(t, e.Config)
	ctx := testContext(t)
	w := NewWriter(NewStore(newClient(t, cfg), Options{}), WriterOptions{CountOnlyInterval: time.Hour})
	key := webApp(ns)
	add := func(d v1alpha1.ProfileSpec, n int64) {
		t.Helper()
		if err := w.Add(key, "rec", d, busySource(n)); err != nil {
			t.Fatal(err)
		}
	}
	add(busySpec(1), 1)
	if err := w.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	add(busySpec(5), 5) // held: counts only
	if err := w.flush(ctx, false); err != nil {
		t.Fatal(err)
	}

	px.down()
	d := busySpec(10)
	d.Files = append(d.Files, file("/var/lib/app/during-outage", 1, "write"))
	add(d, 10)
	if err := w.flush(ctx, false); err == nil {
		t.Fatal("a flush through a proxy that is down reported success")
	}
	add(busySpec(12), 12) // the next snapshot: larger counts only
	px.up()
	if err := w.flush(ctx, false); err != nil {
		t.Fatalf("flush once the API server is back: %v", err)
	}
	p := stored(t, key)
	files := fileCounts(p)
	if files["/var/lib/app/during-outage"] != 1 || files["/etc/app.conf"] != 12 || p.Spec.Sources[0].Events != 12 {
		t.Errorf("stored files %v, events %d; want the file found during the outage and the latest counts (12)", files, p.Spec.Sources[0].Events)
	}
	if len(w.Pending()) != 0 {
		t.Errorf("pending = %v, want everything written", w.Pending())
	}
}

// Busy containers that keep doing the same things, flushed every 100 ms
// by Run with a 1 s count-only interval: each profile is written about
// once a second (and when something new turns up), not at every flush.
func TestWriterWritesBusyContainersOncePerIntervalNotPerFlush(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	c := &requestsClient{Client: newClient(t, e.Config)}
	const (
		containers = 10
		flushEvery = 100 * time.Millisecond
		interval   = time.Second
		duration   = 4 * time.Second
	)
	w := NewWriter(NewStore(c, Options{}), WriterOptions{FlushInterval: flushEvery, CountOnlyInterval: interval})
	keys := make([]WorkloadContainer, containers)
	for i := range keys {
		keys[i] = webApp(ns)
		keys[i].Container = fmt.Sprintf("c%02d", i)
	}
	add := func(n int64, extra ...v1alpha1.FileEntry) {
		t.Helper()
		for _, k := range keys {
			d := busySpec(n)
			d.Files = append(d.Files, extra...)
			if err := w.Add(k, "rec", d, busySource(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(1)
	if err := w.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	first := c.writes.Load()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	start := time.Now()
	flushes := int64(0)
	for n := int64(2); time.Since(start) < duration; n++ {
		add(n)
		flushes++
		time.Sleep(flushEvery)
	}
	held := c.writes.Load() - first
	// Something new turns up in every container: written within a few
	// flushes, long before the interval.
	add(1_000_000, file("/var/lib/app/new", 1, "write"))
	newAt := time.Now()
	waitFor(t, "the new file in every profile", 10*time.Second, func() bool {
		var list v1alpha1.ProfileList
		if err := e.Client.List(testContext(t), &list, client.InNamespace(ns)); err != nil {
			return false
		}
		have := 0
		for _, p := range list.Items {
			if fileCounts(&p)["/var/lib/app/new"] == 1 {
				have++
			}
		}
		return have == containers
	})
	t.Logf("the new entry reached %d profiles in %s", containers, time.Since(newAt).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d containers, %d snapshots each over %s, flush every %s: %d writes (%.1f per container; up to %d, one per snapshot, without the hold)",
		containers, flushes, duration, flushEvery, held, float64(held)/containers, containers*flushes)
	if limit := int64(containers) * (int64(duration/interval) + 2); held > limit {
		t.Errorf("%d writes of larger counts only, more than %d (one per container and interval)", held, limit)
	}
	for _, k := range keys[:3] {
		if got := fileCounts(stored(t, k)); got["/var/lib/app/new"] != 1 || got["/etc/app.conf"] != 1_000_000 {
			t.Errorf("%s: files %v, want the new file and the last counts", k, got)
		}
	}
}
