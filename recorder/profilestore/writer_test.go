package profilestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/test/envtest"
)

// proxy forwards TCP connections to the API server and can be cut off and
// restored, so that a client through it meets an API server that went away
// (connections reset, then refused) and came back at the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

// up listens (again) at the proxy's address.
func (p *proxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

// down stops listening and cuts every connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// throughProxy returns a config for the API server that goes through a
// proxy, and the proxy.
func throughProxy(t *testing.T, cfg *rest.Config) (*rest.Config, *proxy) {
	t.Helper()
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		t.Fatalf("API server address %q: %v", cfg.Host, err)
	}
	p := newProxy(t, u.Host)
	c := rest.CopyConfig(cfg)
	u.Host = p.addr
	c.Host = u.String()
	c.Timeout = 3 * time.Second
	return c, p
}

// testLog writes the writer's log lines to the test's log.
func testLog(t *testing.T) logr.Logger {
	return funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{Verbosity: 1})
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// filesOf reads the files of a key's profile straight from the API server;
// nil when there is no profile.
func filesOf(t *testing.T, key WorkloadContainer) map[string]int64 {
	t.Helper()
	p, err := NewStore(apiServer(t).Client, Options{}).Get(testContext(t), key)
	if err != nil {
		return nil
	}
	return fileCounts(p)
}

// runWriter runs w until the test ends.
func runWriter(t *testing.T, w *Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestWriterKeepsDeltasWhileTheAPIServerIsDownAndDeliversThemAfter(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	cfg, px := throughProxy(t, e.Config)
	key := webApp(ns)
	sidecar := key
	sidecar.Container = "sidecar"

	w := NewWriter(NewStore(newClient(t, cfg), Options{}), WriterOptions{
		FlushInterval: 100 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Log: testLog(t),
	})
	runWriter(t, w)

	add := func(k WorkloadContainer, round int) {
		t.Helper()
		delta := v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file(fmt.Sprintf("/data/round-%02d", round), int64(round+1), "read")}}
		if err := w.Add(k, "rec", delta, source("node-a", "web-1", int64(round+1), time.Duration(round)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	add(key, 0)
	waitFor(t, "the first delta to be written", 10*time.Second, func() bool { return filesOf(t, key)["/data/round-00"] == 1 })

	px.down()
	downAt := time.Now()
	for round := 1; round <= 10; round++ {
		add(key, round)
		add(sidecar, round)
		time.Sleep(150 * time.Millisecond)
	}
	if got := filesOf(t, key); len(got) != 1 {
		t.Fatalf("files written while the API server was unreachable through the proxy: %v", got)
	}
	if pending := w.Pending(); len(pending) != 2 {
		t.Fatalf("pending = %v, want both containers' deltas kept", pending)
	}
	time.Sleep(time.Until(downAt.Add(3 * time.Second)))

	px.up()
	upAt := time.Now()
	for _, k := range []WorkloadContainer{key, sidecar} {
		waitFor(t, "the deltas kept during the outage to be written", 15*time.Second, func() bool {
			got := filesOf(t, k)
			for round := 1; round <= 10; round++ {
				if got[fmt.Sprintf("/data/round-%02d", round)] != int64(round+1) {
					return false
				}
			}
			return true
		})
	}
	t.Logf("caught up %s after the API server came back", time.Since(upAt).Round(10*time.Millisecond))
	waitFor(t, "the queue to drain", 5*time.Second, func() bool { return len(w.Pending()) == 0 })
	p, err := NewStore(e.Client, Options{}).Get(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, p)
	if len(p.Spec.Sources) != 1 || p.Spec.Sources[0].Events != 11 {
		t.Errorf("sources = %s, want web-1's latest figures", dumpJSON(p.Spec.Sources))
	}
}

func TestWriterFlushesOnDemandAndOnStop(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	w := NewWriter(NewStore(newClient(t, e.Config), Options{}), WriterOptions{FlushInterval: time.Hour})
	if err := w.Add(key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/on/demand", 1, "read")}}, source("node-a", "web-1", 1, time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if filesOf(t, key)["/on/demand"] != 1 {
		t.Fatalf("Flush did not write the delta: %v", filesOf(t, key))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if err := w.Add(key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/on/stop", 1, "read")}}, source("node-a", "web-1", 2, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	cancel() // long before the hour is up
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if filesOf(t, key)["/on/stop"] != 1 {
		t.Errorf("Run did not deliver what was pending when it stopped: %v", filesOf(t, key))
	}
}

// failingStore is a Store whose API server never answers.
func failingStore(t *testing.T, bounds Bounds) *Store {
	cfg := &rest.Config{Host: "https://127.0.0.1:1", Timeout: time.Second}
	return NewStore(newClient(t, cfg), Options{Bounds: bounds})
}

func TestWriterQueueIsMergedLocallyAndBounded(t *testing.T) {
	w := NewWriter(failingStore(t, DefaultBounds), WriterOptions{})
	key := webApp("shop")
	// 50 flushes of 1,000 new files each in one directory, from two pods,
	// with the API server unreachable throughout.
	for round := range 50 {
		for pod := range 2 {
			delta := v1alpha1.ProfileSpec{Files: filesIn(fmt.Sprintf("/var/spool/batch-%d", round), 1000)}
			if err := w.Add(key, "rec", delta, source("node-a", fmt.Sprintf("web-%d", pod), int64(round), time.Duration(round)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(testContext(t)); err == nil {
		t.Fatal("Flush to an unreachable API server reported success")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) != 1 {
		t.Fatalf("%d deltas queued for one profile, want them merged into one", len(w.pending))
	}
	for _, p := range w.pending {
		if n := len(p.spec.Files); n > DefaultBounds.Limits.MaxFiles {
			t.Errorf("the queued delta holds %d files, over the limit of %d", n, DefaultBounds.Limits.MaxFiles)
		}
		if len(p.spec.Collapsed) == 0 || len(p.spec.Sources) != 2 {
			t.Errorf("queued delta: collapsed %d, sources %d; want collapses recorded and both pods", len(p.spec.Collapsed), len(p.spec.Sources))
		}
		if size := objectSize(&v1alpha1.Profile{Spec: p.spec}); size > DefaultBounds.MaxObjectBytes {
			t.Errorf("the queued delta takes %d bytes", size)
		}
	}
}

func TestWriterRefusesInvalidDeltasAtOnce(t *testing.T) {
	w := NewWriter(failingStore(t, DefaultBounds), WriterOptions{})
	err := w.Add(webApp("shop"), "rec", v1alpha1.ProfileSpec{Connections: []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: "not-an-ip", Port: 80}}}, source("node-a", "web-1", 1, time.Second))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "spec.connections[0].address") {
		t.Errorf("Add = %v, want ErrInvalid naming spec.connections[0].address", err)
	}
	if len(w.Pending()) != 0 {
		t.Error("an invalid delta was queued")
	}
}

func TestPureBackoffDoublesUpToItsMaximum(t *testing.T) {
	var got []time.Duration
	for failures := 1; failures <= 6; failures++ {
		got = append(got, backoff(time.Second, 10*time.Second, failures))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
}

func TestWriterDropsADeltaForANamespaceThatIsGoneAndSaysSo(t *testing.T) {
	e := apiServer(t)
	var logged []string
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) { mu.Lock(); logged = append(logged, args); mu.Unlock() }, funcr.Options{})
	w := NewWriter(NewStore(newClient(t, e.Config), Options{}), WriterOptions{Log: log})
	key := webApp("no-such-namespace")
	if err := w.Add(key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/x", 1, "read")}}, source("node-a", "web-1", 1, time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(testContext(t)); err == nil {
		t.Fatal("Flush into a missing namespace reported success")
	}
	if len(w.Pending()) != 0 {
		t.Error("a delta no retry can deliver stays queued")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 1 || !strings.Contains(logged[0], "dropping it") || !strings.Contains(logged[0], `"files"=1`) {
		t.Errorf("log = %q, want one error saying what was dropped", logged)
	}
}
