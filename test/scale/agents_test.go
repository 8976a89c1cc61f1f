package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/recorder/profilestore"
	"github.com/footprint-dev/footprint/test/envtest"
)

// size is one run's shape; make bench-scale sets it through the environment.
type size struct {
	agents, workloads, replicas int
	duration, flush             time.Duration
}

func sizeFromEnv(t *testing.T) size {
	s := size{agents: 10, workloads: 5, replicas: 4, duration: 15 * time.Second, flush: 2 * time.Second}
	for _, v := range []struct {
		env string
		n   *int
	}{{"FOOTPRINT_SCALE_AGENTS", &s.agents}, {"FOOTPRINT_SCALE_WORKLOADS", &s.workloads}, {"FOOTPRINT_SCALE_REPLICAS", &s.replicas}} {
		if e := os.Getenv(v.env); e != "" {
			n, err := strconv.Atoi(e)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive number", v.env, e)
			}
			*v.n = n
		}
	}
	for _, v := range []struct {
		env string
		d   *time.Duration
	}{{"FOOTPRINT_SCALE_DURATION", &s.duration}, {"FOOTPRINT_SCALE_FLUSH", &s.flush}} {
		if e := os.Getenv(v.env); e != "" {
			d, err := time.ParseDuration(e)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a positive duration", v.env, e)
			}
			*v.d = d
		}
	}
	if s.replicas > s.agents {
		s.replicas = s.agents
	}
	return s
}

// apiCounts counts one agent's requests to the API server.
type apiCounts struct {
	requests, writes, conflicts, bytes atomic.Int64
}

type countingTransport struct {
	next   http.RoundTripper
	counts *apiCounts
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.counts.requests.Add(1)
	if r.Method != http.MethodGet {
		c.counts.writes.Add(1)
	}
	if r.ContentLength > 0 {
		c.counts.bytes.Add(r.ContentLength)
	}
	resp, err := c.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusConflict {
		c.counts.conflicts.Add(1)
	}
	return resp, err
}

// agent is one simulated node: its writer, and what it has observed so far
// of each workload it runs a replica of (cumulative, as a node's snapshot).
type agent struct {
	node   string
	writer *profilestore.Writer
	counts *apiCounts
	// files[w] are the paths the agent's replica of workload w opened.
	files map[int][]string
	// probes[w] are executables only agent 0's replicas run, one a round:
	// entries that never fold into a glob, to time their way to the
	// Profile.
	probes map[int][]string
	events map[int]int64
	start  time.Time
}

// TestManyAgentsWriteExactProfiles runs the agents for the size's
// duration: each round (a second) every agent's replica of each of its
// workloads opens a new file and repeats old ones, and the agent hands the
// writer its cumulative snapshot. At the end every Profile must hold
// exactly the union of its replicas' files and one source per replica with
// that replica's event count. The figures go to the log.
func TestManyAgentsWriteExactProfiles(t *testing.T) {
	sz := sizeFromEnv(t)
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key := func(w int) profilestore.WorkloadContainer {
		return profilestore.WorkloadContainer{Namespace: ns, Container: "app",
			Workload: v1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: fmt.Sprintf("w%03d", w)}}
	}

	// Replicas of each workload are spread over the agents.
	agents := make([]*agent, sz.agents)
	var runs sync.WaitGroup
	for i := range agents {
		counts := &apiCounts{}
		cfg := rest.CopyConfig(env.Config)
		cfg.QPS, cfg.Burst = 20, 30 // controller-runtime's defaults for the agent
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, counts} }
		c, err := client.New(cfg, client.Options{Scheme: envtest.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		a := &agent{node: fmt.Sprintf("node-%03d", i), counts: counts, files: map[int][]string{}, probes: map[int][]string{}, events: map[int]int64{}, start: time.Now()}
		a.writer = profilestore.NewWriter(profilestore.NewStore(c, profilestore.Options{}), profilestore.WriterOptions{FlushInterval: sz.flush})
		agents[i] = a
		runs.Add(1)
		go func() { defer runs.Done(); a.writer.Run(ctx) }()
	}
	for w := 0; w < sz.workloads; w++ {
		for r := 0; r < sz.replicas; r++ {
			a := agents[(w*sz.replicas+r)%sz.agents]
			a.files[w] = nil
		}
	}

	// Time for a new entry to appear: one probe file per round, polled.
	type probe struct {
		w     int
		path  string
		added time.Time
	}
	var probesMu sync.Mutex
	var probes []probe
	var latencies []time.Duration

	snapshot := func(a *agent, w int) error {
		var spec v1alpha1.ProfileSpec
		for _, p := range a.files[w] {
			spec.Files = append(spec.Files, v1alpha1.FileEntry{Path: p, Access: []v1alpha1.FileAccessMode{"read"}, Count: 1})
		}
		for _, p := range a.probes[w] {
			spec.Executables = append(spec.Executables, v1alpha1.ExecutableEntry{Path: p, Count: 1})
		}
		src := v1alpha1.Source{Node: a.node, Pod: fmt.Sprintf("w%03d-%s", w, a.node), FirstSeen: metav1.NewTime(a.start),
			LastSeen: metav1.NewTime(time.Now()), Events: a.events[w]}
		return a.writer.Add(key(w), "scale", spec, src)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	begin := time.Now()
	round := 0
	for ; time.Since(begin) < sz.duration; round++ {
		for _, a := range agents {
			for w := range a.files {
				path := fmt.Sprintf("/data/%s/f-%04d", a.node, round)
				a.files[w] = append(a.files[w], path)
				a.events[w] += int64(1 + rng.IntN(1000)) // mostly repeats
				if a == agents[0] {
					exe := fmt.Sprintf("/opt/probe/p%04d", round)
					a.probes[w] = append(a.probes[w], exe)
					probesMu.Lock()
					probes = append(probes, probe{w, exe, time.Now()})
					probesMu.Unlock()
				}
				if err := snapshot(a, w); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Poll for agent 0's probes (one List a round).
		var list v1alpha1.ProfileList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err == nil {
			stored := map[string][]v1alpha1.ExecutableEntry{}
			for _, p := range list.Items {
				stored[p.Spec.Workload.Name] = p.Spec.Executables
			}
			probesMu.Lock()
			probes = slices.DeleteFunc(probes, func(p probe) bool {
				if slices.ContainsFunc(stored[fmt.Sprintf("w%03d", p.w)], func(e v1alpha1.ExecutableEntry) bool { return e.Path == p.path }) {
					latencies = append(latencies, time.Since(p.added))
					return true
				}
				return false
			})
			probesMu.Unlock()
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(begin)
	for _, a := range agents {
		if err := a.writer.Flush(ctx); err != nil {
			t.Errorf("%s: final flush: %v", a.node, err)
		}
	}
	cancel()
	runs.Wait()

	// The ground truth.
	var sizes []int
	collapsed := 0
	for w := 0; w < sz.workloads; w++ {
		p, err := profilestore.NewStore(env.Client, profilestore.Options{}).Get(context.Background(), key(w))
		if err != nil {
			t.Fatalf("workload %d: %v", w, err)
		}
		data, _ := json.Marshal(p)
		sizes = append(sizes, len(data))
		want := map[string]bool{}
		sources := map[string]int64{}
		for _, a := range agents {
			if files, ok := a.files[w]; ok {
				for _, f := range files {
					want[f] = true
				}
				sources[a.node] = a.events[w]
			}
		}
		// Many files under one directory fold into a glob, by design
		// (the profile's bounds): an observed file is there by name or
		// through a glob; an entry no replica observed must not be.
		missing, extra := 0, 0
		for f := range want {
			if !slices.ContainsFunc(p.Spec.Files, func(e v1alpha1.FileEntry) bool { return e.Path == f || profiles.MatchProfilePath(e.Path, f) }) {
				missing++
			}
		}
		for _, e := range p.Spec.Files {
			if !want[e.Path] && !slices.ContainsFunc(p.Spec.Collapsed, func(c v1alpha1.Collapse) bool { return c.Glob == e.Path }) {
				extra++
			}
		}
		collapsed += len(p.Spec.Collapsed)
		for _, exe := range agents[0].probes[w] {
			if !slices.ContainsFunc(p.Spec.Executables, func(e v1alpha1.ExecutableEntry) bool { return e.Path == exe }) {
				missing++
			}
		}
		if missing > 0 || extra > 0 {
			t.Errorf("workload %d: %d of %d observed files missing, %d entries no replica observed", w, missing, len(want), extra)
		}
		for _, s := range p.Spec.Sources {
			if s.Events != sources[s.Node] {
				t.Errorf("workload %d: source %s says %d events, the replica made %d", w, s.Node, s.Events, sources[s.Node])
			}
			delete(sources, s.Node)
		}
		if len(sources) > 0 {
			t.Errorf("workload %d: no source for %v", w, sources)
		}
	}

	// The figures.
	var reqs, writes, conflicts, bytes int64
	for _, a := range agents {
		reqs += a.counts.requests.Load()
		writes += a.counts.writes.Load()
		conflicts += a.counts.conflicts.Load()
		bytes += a.counts.bytes.Load()
	}
	minutes := elapsed.Minutes()
	perAgent := func(n int64) float64 { return float64(n) / float64(sz.agents) / minutes }
	sort.Ints(sizes)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Round(100 * time.Millisecond)
	}
	t.Logf("%d agents, %d profiles (%d replicas each), %s at one new file per replica a second, flush every %s",
		sz.agents, sz.workloads, sz.replicas, elapsed.Round(time.Second), sz.flush)
	t.Logf("API requests: %.1f/s in all; per agent a minute: %.1f requests, %.1f writes, %.2f conflicts, %.1f KiB sent",
		float64(reqs)/elapsed.Seconds(), perAgent(reqs), perAgent(writes), perAgent(conflicts), perAgent(bytes)/1024)
	t.Logf("Profile sizes: %d to %d bytes (%d globs from collapsing); a new entry appeared after p50 %s, p99 %s (%d of %d probes seen before the end)",
		sizes[0], sizes[len(sizes)-1], collapsed, pct(0.5), pct(0.99), len(latencies), len(latencies)+len(probes))
	t.Logf("projection for 1,000 agents at this rate: %.0f requests/s and %.1f MiB/min on the API server",
		float64(reqs)/elapsed.Seconds()*1000/float64(sz.agents), perAgent(bytes)*1000/(1<<20))
}
