package profilestore

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// outage is how long the API server stays away in
// TestWriterBuffersAMinuteOfOutageWithinItsBounds: a minute, as issue 15
// asks; FOOTPRINT_TEST_OUTAGE shortens it while iterating.
func outage(t *testing.T) time.Duration {
	if s := os.Getenv("FOOTPRINT_TEST_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("FOOTPRINT_TEST_OUTAGE=%q: %v", s, err)
		}
		return d
	}
	return time.Minute
}

// The API server goes away for a minute while 20 containers keep finding
// new files, ten a second each (600 per container in the minute): the
// writer keeps one delta per container, each within the profile's bounds
// (many files under one directory collapse into a glob, as they would in
// the stored profile), and once the API server is back every file reaches
// its profile, by name or through a glob that covers it.
func TestWriterBuffersAMinuteOfOutageWithinItsBounds(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	cfg, px := throughProxy(t, e.Config)
	w := NewWriter(NewStore(newClient(t, cfg), Options{}), WriterOptions{
		FlushInterval: 200 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, Log: testLog(t),
	})
	runWriter(t, w)

	const containers = 20
	keys := make([]WorkloadContainer, containers)
	for i := range keys {
		keys[i] = webApp(ns)
		keys[i].Container = fmt.Sprintf("c%02d", i)
	}
	written := map[WorkloadContainer][]string{}
	add := func(k WorkloadContainer, round, n int) {
		t.Helper()
		var delta v1alpha1.ProfileSpec
		for j := 0; j < n; j++ {
			path := fmt.Sprintf("/data/%s/f-%06d", k.Container, round*n+j)
			delta.Files = append(delta.Files, file(path, 1, "read"))
			written[k] = append(written[k], path)
		}
		if err := w.Add(k, "rec", delta, source("node-a", "web-"+k.Container, int64(round+1), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		add(k, 0, 1)
	}
	waitFor(t, "the first deltas to be written", 30*time.Second, func() bool { return len(w.Pending()) == 0 })

	px.down()
	largest := 0 // bytes of the largest pending delta seen during the outage
	start := time.Now()
	for round := 1; time.Since(start) < outage(t); round++ {
		for _, k := range keys {
			add(k, round, 10)
		}
		w.mu.Lock()
		if n := len(w.pending); n > containers {
			t.Errorf("%d deltas pending for %d containers", n, containers)
		}
		for _, p := range w.pending {
			data, _ := json.Marshal(p.spec)
			largest = max(largest, len(data))
		}
		w.mu.Unlock()
		time.Sleep(time.Second)
	}
	files := len(written[keys[0]])
	t.Logf("%s away: %d files per container, largest pending delta %d bytes", outage(t), files, largest)
	if largest > DefaultBounds.MaxObjectBytes {
		t.Errorf("a pending delta grew to %d bytes, over the %d a profile may take", largest, DefaultBounds.MaxObjectBytes)
	}

	px.up()
	// Pending is empty while a flush is in flight: wait for the profiles.
	uncovered := func(k WorkloadContainer) (int, error) {
		p, err := NewStore(e.Client, Options{}).Get(testContext(t), k)
		if err != nil {
			return len(written[k]), err
		}
		missing := 0
		for _, path := range written[k] {
			covered := false
			for _, f := range p.Spec.Files {
				if f.Path == path || profiles.MatchProfilePath(f.Path, path) {
					covered = true
					break
				}
			}
			if !covered {
				missing++
			}
		}
		return missing, nil
	}
	upAt := time.Now()
	waitFor(t, "every file to reach its profile", 90*time.Second, func() bool {
		for _, k := range keys {
			if n, err := uncovered(k); n > 0 || err != nil {
				return false
			}
		}
		return true
	})
	t.Logf("every profile complete %s after the API server came back", time.Since(upAt).Round(100*time.Millisecond))
}
