package apps

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"
)

var (
	throughput = flag.Bool("throughput", false, "run TestThroughput, a benchmark (make bench-apps)")
	rounds     = flag.Int("rounds", 7, "TestThroughput: interleaved rounds of plain, record and enforce per app")
	loadTime   = flag.Duration("load-time", 5*time.Second, "TestThroughput: how long each load runs (pgbench, the HTTP load)")
)

// maxLoss is the throughput footprint may cost a daemon, recording or
// enforcing: plain throughput over footprint's at most 1.05.
const maxLoss = 1.05

// benchConfigs are how a daemon runs in each round.
var benchConfigs = []string{"plain", "record", "enforce"}

// appBench is one app's throughput measurement.
type appBench struct {
	name, load string
	lab        *lab
	// start runs the daemon in a config and waits until it serves.
	start func(config string) *run
	// load runs the load generator and returns operations per second.
	load1 func() float64
	// stop shuts the daemon down.
	stop func(r *run)
}

// startIn returns the daemon's starter for a config: plainly, recorded to a
// throwaway profile, or held to the policy of the warm-up recording.
func (l *lab) startIn(config string) func(name string, daemon ...string) *run {
	switch config {
	case "plain":
		return l.plain
	case "record":
		return func(name string, daemon ...string) *run {
			args := []string{"record", "--output", l.path("bench-round.profile.yaml")}
			if l.user != nil {
				args = append(args, "--user", l.user.Username)
			}
			return l.footprint(name, append(append(args, "--"), daemon...)...)
		}
	}
	return l.enforce
}

// TestThroughput measures each daemon's throughput under a load generator
// plain, recorded and enforced (with the policy of a recording of the same
// load), in interleaved rounds, and prints medians and per-round ratios.
func TestThroughput(t *testing.T) {
	if !*throughput {
		t.Skip("a benchmark: make bench-apps (go test -run TestThroughput ./test/apps -args -throughput)")
	}
	requireApp(t, redisServer, "/usr/bin/redis-benchmark", nginxBin, pgBin+"/postgres", pgBin+"/pgbench")
	benches := []*appBench{redisBench(t), nginxBench(t), postgresBench(t)}
	ops := map[string]map[string][]float64{}
	for _, b := range benches {
		ops[b.name] = map[string][]float64{}
	}
	for round := range *rounds {
		for _, b := range benches {
			// Rotate the order so that drift on a shared machine does
			// not always fall on the same config.
			for i := range benchConfigs {
				config := benchConfigs[(i+round)%len(benchConfigs)]
				r := b.start(config)
				v := b.load1()
				b.stop(r)
				code, out := r.wait(stepTimeout)
				if v := violations(out); len(v) > 0 || (code != 0 && config != "plain") {
					t.Fatalf("%s %s round %d: exit %d, violations %q; output:\n%s", b.name, config, round, code, v, out)
				}
				ops[b.name][config] = append(ops[b.name][config], v)
				t.Logf("round %d %s %s: %.0f ops/s", round+1, b.name, config, v)
			}
		}
	}
	printThroughput(os.Stdout, benches, ops)
}

// printThroughput prints the table for the README: median ops/s per config
// and the loss (plain over config) of each round, median (min-max), with
// whether it meets maxLoss where the spread allows an answer.
func printThroughput(out io.Writer, benches []*appBench, ops map[string]map[string][]float64) {
	fmt.Fprintf(out, "\n%d interleaved rounds, %s, %v loads; loss = plain/config throughput per round, median (min-max)\n\n",
		*rounds, time.Now().UTC().Format(time.DateOnly), *loadTime)
	w := tabwriter.NewWriter(out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, "| app, load\t plain\t record\t enforce\t record loss\t enforce loss\t")
	var verdicts []string
	for _, b := range benches {
		o := ops[b.name]
		fmt.Fprintf(w, "| %s, %s\t %.0f/s\t %.0f/s\t %.0f/s", b.name, b.load, median(o["plain"]), median(o["record"]), median(o["enforce"]))
		for _, config := range []string{"record", "enforce"} {
			losses := make([]float64, len(o[config]))
			for i := range losses {
				losses[i] = o["plain"][i] / o[config][i]
			}
			fmt.Fprintf(w, "\t %.3fx (%.3f-%.3f)", median(losses), slices.Min(losses), slices.Max(losses))
			verdicts = append(verdicts, fmt.Sprintf("  %s %s: %s", b.name, config, lossVerdict(losses)))
		}
		fmt.Fprintln(w, "\t")
	}
	w.Flush()
	fmt.Fprintf(out, "\ntarget: at most %.2fx throughput loss\n%s\n", maxLoss, strings.Join(verdicts, "\n"))
}

// lossVerdict says whether the per-round losses meet maxLoss: only when the
// spread is narrower than the median's distance to the target is there an
// answer on this machine.
func lossVerdict(v []float64) string {
	lo, hi, m := slices.Min(v), slices.Max(v), median(v)
	spread, gap := hi-lo, math.Abs(m-maxLoss)
	switch {
	case hi <= maxLoss:
		return fmt.Sprintf("meets (every round at most %.2fx)", maxLoss)
	case lo > maxLoss:
		return fmt.Sprintf("misses (every round above %.2fx)", maxLoss)
	case spread > gap:
		side := "meets"
		if m > maxLoss {
			side = "misses"
		}
		return fmt.Sprintf("not resolvable here: the median %s it (%.3fx) but the rounds' spread %.3f is wider than its gap %.3f to %.2fx", side, m, spread, gap, maxLoss)
	case m <= maxLoss:
		return fmt.Sprintf("meets by the median (%.3fx; range %.3f-%.3f)", m, lo, hi)
	}
	return fmt.Sprintf("misses by the median (%.3fx; range %.3f-%.3f)", m, lo, hi)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// redisBench: redis-benchmark, 16 clients, SET then GET.
func redisBench(t *testing.T) *appBench {
	l := newRedisLab(t)
	b := &appBench{name: "redis", load: "redis-benchmark SET+GET, 16 clients", lab: l.lab}
	b.start = func(config string) *run {
		r, c := l.start(phase{name: "bench " + config}, l.startIn(config))
		c.Close()
		return r
	}
	b.load1 = func() float64 {
		out, err := exec.Command("/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", fmt.Sprint(l.port),
			"-c", "16", "-n", "100000", "-t", "set,get", "--csv").Output()
		if err != nil {
			t.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
		if err != nil {
			t.Fatalf("redis-benchmark's CSV: %v\n%s", err, out)
		}
		// Both tests' requests over both tests' time.
		var secs float64
		n := 0
		for _, rec := range recs[1:] {
			rps, err := strconv.ParseFloat(rec[1], 64)
			if err != nil || rps <= 0 {
				t.Fatalf("redis-benchmark's CSV: %q", rec)
			}
			secs += 100000 / rps
			n++
		}
		return float64(n) * 100000 / secs
	}
	b.stop = func(r *run) {
		c, err := dialRedis(l.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.do("SHUTDOWN")
		c.Close()
	}
	// The warm-up: the load recorded once, the policy exported from it.
	for i, fresh := range []bool{true, false} {
		r, c := l.start(phase{name: "bench warm-up", fresh: fresh}, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
		c.Close()
		b.load1()
		b.stop(r)
		r.finishClean(stepTimeout)
	}
	l.exportPolicy("redis (bench)")
	return b
}

// nginxBench: a Go HTTP load generator, 16 keep-alive clients fetching a
// small static file.
func nginxBench(t *testing.T) *appBench {
	l := newNginxLab(t)
	b := &appBench{name: "nginx", load: "16 keep-alive HTTP clients, a 70-byte file", lab: l.lab}
	b.start = func(config string) *run { return l.start(phase{name: "bench " + config}, l.startIn(config)) }
	b.load1 = func() float64 {
		tr := &http.Transport{MaxIdleConnsPerHost: 16}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), *loadTime)
		defer cancel()
		var n atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		start := time.Now()
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, "GET", l.url("/files/f0.txt"), nil)
					resp, err := client.Do(req)
					if err != nil {
						if ctx.Err() == nil {
							failed.Store(err)
						}
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Store(fmt.Errorf("status %d", resp.StatusCode))
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			t.Fatalf("HTTP load: %v", err)
		}
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	b.stop = func(r *run) { signal(t, l.path("run/nginx.pid"), syscall.SIGQUIT) }
	for i := range 2 {
		r := l.start(phase{name: "bench warm-up"}, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
		b.load1()
		b.stop(r)
		r.finishClean(stepTimeout)
	}
	l.exportPolicy("nginx (bench)")
	return b
}

var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// postgresBench: pgbench's select-only transactions, 8 clients, on a
// scale-2 database made during the warm-up recording.
func postgresBench(t *testing.T) *appBench {
	l := newPostgresLab(t)
	b := &appBench{name: "postgresql", load: "pgbench -S, 8 clients", lab: l.lab}
	b.start = func(config string) *run { return l.start(phase{name: "bench " + config}, l.startIn(config)) }
	pgbench := func(args ...string) string {
		cmd := exec.Command(pgBin+"/pgbench", append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(l.port), "-U", "postgres"}, args...)...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pgbench %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	b.load1 = func() float64 {
		out := pgbench("-S", "-c", "8", "-j", "2", "-T", fmt.Sprint(int(loadTime.Seconds())), "postgres")
		m := pgbenchTPS.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no tps in pgbench's output:\n%s", out)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	b.stop = func(r *run) { signal(t, l.path("data/postmaster.pid"), syscall.SIGINT) }
	for i, fresh := range []bool{true, false} {
		r := l.start(phase{name: "bench warm-up", fresh: fresh}, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
		if fresh {
			pgbench("-i", "-s", "2", "-q", "postgres")
		}
		b.load1()
		b.stop(r)
		r.finishClean(stepTimeout)
	}
	l.exportPolicy("postgresql (bench)")
	return b
}
