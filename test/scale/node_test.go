package scale

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/agenttest"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/internal/kubelettest"
	"github.com/footprint-dev/footprint/internal/loopback"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// nodeSize is one busy-node run's shape; make bench-node sets it through
// the environment.
type nodeSize struct {
	// pods each run two containers; half the pods are laid out by
	// kubelet's cgroupfs driver, half by its systemd driver.
	pods int
	// rate is the operations a second of all containers together.
	rate float64
	// duration is how long the load is measured once every pod runs.
	duration time.Duration
	// flush is the agent's --flush-interval.
	flush time.Duration
	// nice is the busyloads' nice value: 0 has them compete with the
	// agent and the API server on equal terms.
	nice int
}

func nodeSizeFromEnv(t *testing.T) nodeSize {
	s := nodeSize{pods: 10, rate: 2000, duration: 5 * time.Second, flush: 2 * time.Second}
	if e := os.Getenv("FOOTPRINT_NODE_PODS"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 2 {
			t.Fatalf("FOOTPRINT_NODE_PODS=%q: want a number of at least 2", e)
		}
		s.pods = n
	}
	if e := os.Getenv("FOOTPRINT_NODE_LOAD_NICE"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 || n > 19 {
			t.Fatalf("FOOTPRINT_NODE_LOAD_NICE=%q: want 0 to 19", e)
		}
		s.nice = n
	}
	if e := os.Getenv("FOOTPRINT_NODE_RATE"); e != "" {
		r, err := strconv.ParseFloat(e, 64)
		if err != nil || r <= 0 {
			t.Fatalf("FOOTPRINT_NODE_RATE=%q: want a positive number of operations a second", e)
		}
		s.rate = r
	}
	for _, v := range []struct {
		env string
		d   *time.Duration
	}{{"FOOTPRINT_NODE_DURATION", &s.duration}, {"FOOTPRINT_NODE_FLUSH", &s.flush}} {
		if e := os.Getenv(v.env); e != "" {
			d, err := time.ParseDuration(e)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a positive duration", v.env, e)
			}
			*v.d = d
		}
	}
	return s
}

// sandboxDelay is how long after making a pod's cgroup kubelet starts its
// first container: it sets up the sandbox and its network in between
// (hundreds of milliseconds on a real node; the shorter end here).
const sandboxDelay = 300 * time.Millisecond

// warmUp is how long the last pod's containers run before the measured
// time starts: long enough for each to go through its operations once.
const warmUp = 3 * time.Second

// container is one container of the benchmark and its ground truth: what
// its busyload does.
type container struct {
	pod, name string
	cgroup    *cgroupfs.Cgroup
	// files are opened again and again; once is opened once, first.
	files []string
	once  string
	// connects are loopback listeners of the test.
	connects []*net.TCPAddr
	caps     []string
	// load is busyload, the container's entrypoint; exe the program it
	// executes.
	load, exe string
	// id is the container's, as containerd names it; sandbox, on a pod's
	// first container, is the pod's sandbox's.
	id, sandbox string

	result cgroupcmd.Result
	err    error
	out    bytes.Buffer
}

// TestOneBusyNodeRecordsEveryEntry runs the node agent (bin/footprint
// agent, as the DaemonSet does) against a real API server, through a proxy
// that counts its requests, with pods of two containers laid out in
// cgroups as kubelet lays them out (half by the cgroupfs driver, half by
// the systemd driver) and selected by one ProfileRecording. In each
// container a busyload opens files, connects to the test's listeners,
// checks capabilities and executes a program, at the size's rate, mostly
// repeats. Every Profile must then hold every entry its container's
// busyload made: unique entries lost must be 0. The agent's memory, CPU
// and kernel figures, how soon each cgroup was watched and what the node
// cost the API server go to the log.
//
// `go test ./test/scale` runs 10 pods at 2,000 operations a second for a
// few seconds; `make bench-node` runs 250 pods (500 containers) at 50,000
// a second for a minute.
func TestOneBusyNodeRecordsEveryEntry(t *testing.T) {
	kerneltest.RequireRoot(t)
	sz := nodeSizeFromEnv(t)
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx := context.Background()
	const node = "busy-node"

	// What the containers connect to: listeners of the test's own.
	var listeners []*net.TCPAddr
	for i := 0; i < 8; i++ {
		listeners = append(listeners, loopback.Listen(t))
	}

	// The containers' files, and a program of its own for each one to
	// execute: true, by a name of its own (a hard link). Not busyload
	// itself: a Go program reads /proc/self/cgroup and mountinfo at start,
	// which the kernel sees as /proc/<pid>/..., a new entry every exec.
	busyload := agenttest.Build(t, "github.com/footprint-dev/footprint/test/scale/busyload")
	data := t.TempDir()
	exeDir := filepath.Join(data, "bin")
	if err := os.Mkdir(exeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	trueBin, err := exec.LookPath("true")
	if err == nil {
		trueBin, err = filepath.EvalSymlinks(trueBin)
	}
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(data, "shared", "config")
	writeFile(t, shared)
	layouts := []kubelettest.Layout{kubelettest.NewWithDriver(t, kubelettest.Cgroupfs), kubelettest.NewWithDriver(t, kubelettest.Systemd)}
	// Capability checks that make no other kind of entry (a raw ICMP
	// socket for CAP_NET_RAW would add a socket entry too).
	capNames := []string{"CAP_SETGID", "CAP_SETUID", "CAP_SYS_NICE"}
	var ctrs []*container
	for p := 0; p < sz.pods; p++ {
		for c := 0; c < 2; c++ {
			i := len(ctrs)
			dir := filepath.Join(data, fmt.Sprintf("c%04d", i))
			ct := &container{pod: fmt.Sprintf("busy-%04d", p), name: fmt.Sprintf("c%d", c), once: filepath.Join(dir, "boot"),
				files: []string{shared}, load: busyload, exe: filepath.Join(exeDir, fmt.Sprintf("true-%04d", i))}
			writeFile(t, ct.once)
			for f := 0; f < 4; f++ {
				ct.files = append(ct.files, filepath.Join(dir, fmt.Sprintf("data-%d", f)))
				writeFile(t, ct.files[len(ct.files)-1])
			}
			ct.connects = []*net.TCPAddr{listeners[i%8]}
			if j := (i / 8) % 8; j != i%8 {
				ct.connects = append(ct.connects, listeners[j])
			}
			for b, name := range capNames {
				if (i%7+1)&(1<<b) != 0 {
					ct.caps = append(ct.caps, name)
				}
			}
			ct.id, ct.sandbox = kubelettest.ContainerID(t), kubelettest.ContainerID(t)
			if err := linkOrCopy(trueBin, ct.exe); err != nil {
				t.Fatal(err)
			}
			ctrs = append(ctrs, ct)
		}
	}

	// The ProfileRecording, then the agent, through the counting proxy.
	rec := &v1alpha1.ProfileRecording{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "busy"},
		Spec: v1alpha1.ProfileRecordingSpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "busy"}},
			Kinds:       []v1alpha1.RecordedKind{v1alpha1.RecordCapabilities, v1alpha1.RecordFiles, v1alpha1.RecordConnections, v1alpha1.RecordExecutables},
		},
	}
	if err := env.Client.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	counts := &apiCounts{}
	kubeconfig := countingProxy(t, env.Config, counts)
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-busynode-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	metricsAddr := agenttest.FreeAddr(t)
	args := []string{"--pin-path", pinPath, "--flush-interval", sz.flush.String(), "--metrics-bind-address", metricsAddr}
	pprofDir, pprofAddr := os.Getenv("FOOTPRINT_NODE_PPROF"), ""
	if pprofDir != "" {
		pprofAddr = agenttest.FreeAddr(t)
		args = append(args, "--pprof-bind-address", pprofAddr)
	}
	agent := agenttest.Start(t, kubeconfig, node, args...)
	watched, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, "lifecycle", "watched_cgroups"), nil)
	if err != nil {
		t.Fatalf("the agent's watched cgroups: %v", err)
	}
	defer watched.Close()
	watch := newWatchTimes(watched)
	watch.start()
	defer watch.stop()
	startedAt := agentCPU(t, agent.Pid())
	startedTime := time.Now()

	// The pods, started as kubelet starts them: the Pod object (bound to
	// this node), the pod's cgroup once kubelet's watch has brought it, a
	// sandbox later, the containers'
	// cgroups and processes, then the status with their ids. Twenty a
	// second.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	kubelet := watchBoundPods(t, env.Config, ns, node)
	perContainer := sz.rate / float64(len(ctrs))
	var running, exited sync.WaitGroup
	errs := make(chan error, sz.pods)
	for p := 0; p < sz.pods; p++ {
		running.Add(1)
		go func() {
			defer running.Done()
			errs <- startPod(ctx, loadCtx, env.Client, kubelet, layouts[p%2], ns, node, ctrs[2*p:2*p+2], perContainer, sz.nice, watch, &exited)
		}()
		time.Sleep(50 * time.Millisecond)
	}
	running.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ramp := time.Since(startedTime)
	rampCPU := agentCPU(t, agent.Pid()) - startedAt

	// The measured minute: every container runs and has made each of
	// its entries once (a cycle of its operations takes under a second),
	// so what the kernel sees is repeats.
	time.Sleep(warmUp)
	m0, cpu0, api0, t0 := scrape(t, metricsAddr), agentCPU(t, agent.Pid()), counts.snapshot(), time.Now()
	var profiled sync.WaitGroup
	if pprofDir != "" {
		// The agent's CPU profile over the measured time, and its heap
		// at the end: where the figures below come from.
		profiled.Go(func() {
			fetchProfile(t, pprofAddr, fmt.Sprintf("profile?seconds=%d", max(1, int(sz.duration.Seconds())-1)), filepath.Join(pprofDir, "cpu.pprof"))
		})
	}
	// The second half apart: by then each Profile has been created and
	// holds its entries, so what the agent costs is the steady state.
	time.Sleep(sz.duration / 2)
	cpuHalf, tHalf := agentCPU(t, agent.Pid()), time.Now()
	time.Sleep(sz.duration - sz.duration/2)
	profiled.Wait()
	if pprofDir != "" {
		fetchProfile(t, pprofAddr, "heap", filepath.Join(pprofDir, "heap.pprof"))
	}
	m1, cpu1, api1, t1 := scrape(t, metricsAddr), agentCPU(t, agent.Pid()), counts.snapshot(), time.Now()
	hwm, rss, anon, file := agentMemory(t, agent.Pid())
	maps := agentMaps(t, agent.Pid())
	stopLoad()
	exited.Wait()
	window := t1.Sub(t0)

	// The ground truth: every container's busyload did all it was given.
	var ops struct{ Opens, Connects, CapabilityChecks, Execs int64 }
	for _, c := range ctrs {
		var got struct{ Opens, Connects, CapabilityChecks, Execs int64 }
		if c.err != nil || c.result.ExitCode != 0 || json.Unmarshal(c.out.Bytes(), &got) != nil {
			t.Fatalf("%s/%s: busyload failed (exit %d, %v): %s", c.pod, c.name, c.result.ExitCode, c.err, c.out.String())
		}
		ops.Opens += got.Opens
		ops.Connects += got.Connects
		ops.CapabilityChecks += got.CapabilityChecks
		ops.Execs += got.Execs
	}
	// Every Profile must hold its container's entries once the agent
	// has flushed what it recorded (its interval, and retries).
	var missing map[string]int
	var lostRecords int64
	var complete time.Duration
	stopped := time.Now()
	for deadline := stopped.Add(3*sz.flush + time.Minute); ; time.Sleep(time.Second) {
		last := time.Now().After(deadline)
		missing, lostRecords = lostEntries(t, env.Client, ns, ctrs, last)
		if len(missing) == 0 || last {
			complete = time.Since(stopped)
			break
		}
	}
	total := 0
	for _, n := range missing {
		total += n
	}
	if total > 0 {
		t.Errorf("unique entries lost: %d (by kind: %v) of the %d containers' ground truth, %s after the load stopped", total, missing, len(ctrs), complete.Round(time.Second))
	}
	if lostRecords > 0 {
		t.Errorf("the Profiles' sources say %d sightings lost", lostRecords)
	}
	if lost := m1.sum("footprint_lost_entry_sightings_total"); lost > 0 {
		t.Errorf("the kernel lost %v sightings of entries its maps could not keep", lost)
	}
	agent.Stop(t)

	// The figures.
	ev := m1.sum("footprint_events_total") - m0.sum("footprint_events_total")
	newEv := ev - (m1.sum("footprint_repeats_total") - m0.sum("footprint_repeats_total"))
	t.Logf("%d pods (%d containers; cgroupfs and systemd drivers, half each) on one node, started in %s; measured for %s; agent flush every %s; busyloads at nice %d",
		sz.pods, len(ctrs), ramp.Round(100*time.Millisecond), window.Round(100*time.Millisecond), sz.flush, sz.nice)
	t.Logf("load: %.0f operations/s asked, the busyloads made %d opens, %d connects, %d capability checks, %d execs in all",
		sz.rate, ops.Opens, ops.Connects, ops.CapabilityChecks, ops.Execs)
	t.Logf("unique entries lost: %d (every Profile complete %s after the load stopped); sightings lost: %d",
		total, complete.Round(100*time.Millisecond), lostRecords)
	t.Logf("agent memory: VmHWM %.1f MiB, VmRSS %.1f MiB (anonymous %.1f, files %.1f), Go heap in use %.1f MiB of %.1f MiB the Go runtime holds (the agent process alone: it runs as a subprocess)",
		mib(hwm), mib(rss), mib(anon), mib(file), mib(m1["go_memstats_heap_inuse_bytes"]), mib(m1["go_memstats_sys_bytes"]))
	t.Logf("agent CPU: %.2f%% of one core while the load ran (%.2f%% in its second half), %.2f%% while the pods started",
		100*(cpu1-cpu0)/window.Seconds(), 100*(cpu1-cpuHalf)/t1.Sub(tHalf).Seconds(), 100*rampCPU/ramp.Seconds())
	reduction := "no record (every event a repeat)"
	if newEv > 0 {
		reduction = fmt.Sprintf("%.0f : 1", ev/newEv)
	}
	t.Logf("kernel events: %.0f/s recorded (all kinds); first sightings sent to user space: %.0f; kernel->user reduction on the ring buffer %s",
		ev/window.Seconds(), newEv, reduction)
	swept := maps.entries
	flushes := window.Seconds() / sz.flush.Seconds()
	t.Logf("the sweeps read %d aggregated entries every flush (%.0f a second): events to swept entries %.0f : 1",
		swept, float64(swept)*flushes/window.Seconds(), ev/max(1, float64(swept)*flushes))
	t.Logf("BPF maps: %.1f MiB memlock in %d maps (largest: %s)", mib(maps.memlock), maps.count, strings.Join(maps.largest, ", "))
	runtime := m1.sum("footprint_bpf_program_run_seconds_total") - m0.sum("footprint_bpf_program_run_seconds_total")
	t.Logf("in-kernel program time: %.0f ns per recorded event (every footprint program's run time, on every task, over recorded events); %s",
		runtime*1e9/max(1, ev), programTimes(m0, m1, window))
	pod, ctr, never := watch.latencies(false)
	t.Logf("cgroup made -> watched: pods p50 %s, p99 %s (the kernel, provisionally, as the cgroup is made); containers p50 %s, p99 %s (the kernel extends the pod's watch); never watched: %d",
		pct(pod, 0.5), pct(pod, 0.99), pct(ctr, 0.5), pct(ctr, 0.99), never)
	if never > 0 {
		t.Errorf("%d cgroups were never watched", never)
	}
	pod, ctr, never = watch.latencies(true)
	t.Logf("cgroup made -> kept (no longer provisional): pods p50 %s, p99 %s (the agent: inotify, reconcile, Watch); containers p50 %s, p99 %s (the pod's status names them, then reconcile); never kept: %d",
		pct(pod, 0.5), pct(pod, 0.99), pct(ctr, 0.5), pct(ctr, 0.99), never)
	minutes := window.Minutes()
	t.Logf("API from the node while the load ran: %.0f requests/min, %.0f writes/min, %.1f KiB/min sent, %.1f conflicts/min; while the pods started: %d requests, %d writes, %.1f KiB",
		float64(api1.requests-api0.requests)/minutes, float64(api1.writes-api0.writes)/minutes, float64(api1.bytes-api0.bytes)/1024/minutes,
		float64(api1.conflicts-api0.conflicts)/minutes, api0.requests, api0.writes, float64(api0.bytes)/1024)
}

// linkOrCopy makes a hard link, or where the two are on different
// filesystems a copy.
func linkOrCopy(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startPod does what kubelet and containerd do to start a Burstable pod
// with ctrs on node, and leaves the containers' busyloads running until
// load ends (exited is done when they have).
func startPod(ctx, load context.Context, c client.Client, kubelet *boundPods, layout kubelettest.Layout, ns, node string, ctrs []*container, rate float64, nice int, watch *watchTimes, exited *sync.WaitGroup) error {
	requests := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ctrs[0].pod, Labels: map[string]string{"app": "busy"}},
		Spec:       corev1.PodSpec{NodeName: node},
	}
	for _, ct := range ctrs {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: ct.name, Image: "footprint.dev/busyload", Resources: requests})
	}
	seen := kubelet.expect(pod.Name)
	if err := c.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	// Kubelet makes the cgroup once its own watch brings it the pod, as
	// the agent's brings it to the agent.
	select {
	case <-seen:
	case <-time.After(time.Minute):
		return fmt.Errorf("pod %s: no watch event in a minute", pod.Name)
	}
	uid := string(pod.UID)
	podCg, err := cgroupfs.Create(filepath.Join(layout.Root, layout.PodDir(uid)))
	if err != nil {
		return err
	}
	watch.add(podCg.ID, true)
	time.Sleep(sandboxDelay)
	if _, err := cgroupfs.Create(filepath.Join(layout.Root, layout.ContainerDir(uid, ctrs[0].sandbox))); err != nil {
		return err // the sandbox's (pause) cgroup
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable}
	for _, ct := range ctrs {
		id := ct.id
		if ct.cgroup, err = cgroupfs.Create(filepath.Join(layout.Root, layout.ContainerDir(uid, id))); err != nil {
			return err
		}
		watch.add(ct.cgroup.ID, false)
		var connects []string
		for _, a := range ct.connects {
			connects = append(connects, a.String())
		}
		args := []string{ct.load, "-files", strings.Join(ct.files, ","), "-once", ct.once, "-connect", strings.Join(connects, ","),
			"-caps", strings.Join(ct.caps, ","), "-exec", ct.exe, "-rate", strconv.FormatFloat(rate, 'f', 2, 64), "-nice", strconv.Itoa(nice)}
		exited.Add(1)
		go func() {
			defer exited.Done()
			// In a mount namespace of its own, as a runtime starts a
			// container: its exec is the workload's first (runtime.h).
			ct.result, ct.err = cgroupcmd.Run(load, ct.cgroup, cgroupcmd.Options{Path: ct.load, Args: args, Stdout: &ct.out, Stderr: &ct.out,
				StopGrace: 10 * time.Second, MountNamespace: true})
		}()
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ct.name, ContainerID: "containerd://" + id, State: running, Ready: true, Image: "footprint.dev/busyload"})
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("pod %s status: %w", pod.Name, err)
	}
	return nil
}

// boundPods is kubelet's view of the pods bound to its node: a watch of
// its own, through which kubelet learns of a pod before it makes its
// cgroup.
type boundPods struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

func watchBoundPods(t *testing.T, cfg *rest.Config, ns, node string) *boundPods {
	t.Helper()
	informers, err := cache.New(cfg, cache.Options{Scheme: envtest.Scheme(), DefaultNamespaces: map[string]cache.Config{ns: {}},
		ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", node)}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf, err := informers.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	b := &boundPods{waiting: map[string]chan struct{}{}}
	seen := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if ch := b.waiting[pod.Name]; ch != nil {
			close(ch)
			delete(b.waiting, pod.Name)
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) }}); err != nil {
		t.Fatal(err)
	}
	go informers.Start(ctx)
	if !informers.WaitForCacheSync(ctx) {
		t.Fatal("kubelet's pod watch never synced")
	}
	return b
}

// expect returns a channel closed when the watch brings the pod name.
func (b *boundPods) expect(name string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	b.waiting[name] = ch
	return ch
}

// lostEntries compares every container's Profile with its ground truth and
// returns the entries missing, by kind, and the sightings the Profiles'
// sources say were lost.
func lostEntries(t *testing.T, c client.Client, ns string, ctrs []*container, explain bool) (map[string]int, int64) {
	t.Helper()
	var list v1alpha1.ProfileList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Logf("list profiles: %v", err)
		return map[string]int{"profiles": len(ctrs)}, 0
	}
	byContainer := map[string]*v1alpha1.Profile{}
	var lost int64
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.Workload != nil {
			byContainer[p.Spec.Workload.Name+"/"+p.Spec.Container] = p
		}
		for _, s := range p.Spec.Sources {
			lost += s.LostRecords
		}
	}
	missing := map[string]int{}
	for _, ct := range ctrs {
		p := byContainer[ct.pod+"/"+ct.name]
		if p == nil {
			missing["profiles"]++
			continue
		}
		total := 0
		for _, n := range missing {
			total += n
		}
		for _, f := range append([]string{ct.once}, ct.files...) {
			if !slices.ContainsFunc(p.Spec.Files, func(e v1alpha1.FileEntry) bool { return e.Path == f || profiles.MatchProfilePath(e.Path, f) }) {
				missing["files"]++
			}
		}
		for _, a := range ct.connects {
			if !slices.ContainsFunc(p.Spec.Connections, func(e v1alpha1.ConnectionEntry) bool {
				return e.Protocol == v1alpha1.ProtocolTCP && e.Address == a.IP.String() && int(e.Port) == a.Port
			}) {
				missing["connections"]++
			}
		}
		for _, name := range ct.caps {
			if !slices.ContainsFunc(p.Spec.Capabilities, func(e v1alpha1.CapabilityEntry) bool { return e.Name == name }) {
				missing["capabilities"]++
			}
		}
		for _, exe := range []string{ct.load, ct.exe} { // its entrypoint, and what it executes
			if !slices.ContainsFunc(p.Spec.Executables, func(e v1alpha1.ExecutableEntry) bool {
				return e.Path == exe || profiles.MatchProfilePath(e.Path, exe)
			}) {
				missing["executables"]++
			}
		}
		if explain {
			now := 0
			for _, n := range missing {
				now += n
			}
			if now > total {
				// The first incomplete one, as a user would look at it.
				explain = false
				spec, _ := json.MarshalIndent(p.Spec, "", "  ")
				t.Logf("%s/%s's Profile lacks some of its files %v, connections %v, capabilities %v or executables %s, %s:\n%s",
					ct.pod, ct.name, append([]string{ct.once}, ct.files...), ct.connects, ct.caps, ct.load, ct.exe, spec)
			}
		}
	}
	return missing, lost
}

// countingProxy serves the API server's API to the agent through a
// countingTransport, and returns a kubeconfig file for it: the agent's
// requests, writes and bytes are counted as test/scale's simulated agents'
// are, without touching the agent.
func countingProxy(t *testing.T, cfg *rest.Config, counts *apiCounts) string {
	t.Helper()
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     countingTransport{rt, counts},
		FlushInterval: -1, // watches stream
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: proxy
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: proxied
  user: {}
contexts:
- name: proxy
  context: {cluster: proxy, user: proxied}
current-context: proxy
`, srv.URL)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type apiSnapshot struct{ requests, writes, conflicts, bytes int64 }

func (c *apiCounts) snapshot() apiSnapshot {
	return apiSnapshot{c.requests.Load(), c.writes.Load(), c.conflicts.Load(), c.bytes.Load()}
}

// watchTimes times each cgroup from when it was made to when the agent's
// watch map holds it (took: the kernel's provisional watch of a new pod
// counts), and to when it holds it without the provisional flag (kept:
// the agent has looked the pod up and selected it, or the cgroup was made
// below a pod it had), polling the map for the cgroups not kept yet.
type watchTimes struct {
	m    *ebpf.Map
	mu   sync.Mutex
	made map[uint64]time.Time
	pod  map[uint64]bool
	took map[uint64]time.Duration
	kept map[uint64]time.Duration
	done chan struct{}
	wg   sync.WaitGroup
}

// watchFlagsOffset and watchProvisional: where struct fp_watch keeps its
// flags, and the provisional one (bpf/include/footprint.h).
const (
	watchFlagsOffset = 12
	watchProvisional = 1 << 3
)

func newWatchTimes(m *ebpf.Map) *watchTimes {
	return &watchTimes{m: m, made: map[uint64]time.Time{}, pod: map[uint64]bool{}, took: map[uint64]time.Duration{},
		kept: map[uint64]time.Duration{}, done: make(chan struct{})}
}

func (w *watchTimes) add(id uint64, pod bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.made[id] = time.Now()
	w.pod[id] = pod
}

// start polls until stop.
func (w *watchTimes) start() {
	w.wg.Add(1)
	go w.poll()
}

func (w *watchTimes) poll() {
	defer w.wg.Done()
	value := make([]byte, w.m.ValueSize())
	for {
		select {
		case <-w.done:
			return
		case <-time.After(time.Millisecond):
		}
		w.mu.Lock()
		var pending []uint64
		for id := range w.made {
			if _, ok := w.kept[id]; !ok {
				pending = append(pending, id)
			}
		}
		w.mu.Unlock()
		for _, id := range pending {
			if w.m.Lookup(id, &value) == nil {
				now := time.Now()
				w.mu.Lock()
				if _, ok := w.took[id]; !ok {
					w.took[id] = now.Sub(w.made[id])
				}
				if binary.NativeEndian.Uint32(value[watchFlagsOffset:])&watchProvisional == 0 {
					w.kept[id] = now.Sub(w.made[id])
				}
				w.mu.Unlock()
			}
		}
	}
}

func (w *watchTimes) stop() {
	close(w.done)
	w.wg.Wait()
}

// latencies returns the pods' and the containers' times to be watched
// (kept false) or kept (true), sorted, and how many cgroups never were.
func (w *watchTimes) latencies(kept bool) (pods, ctrs []time.Duration, never int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	times := w.took
	if kept {
		times = w.kept
	}
	for id := range w.made {
		d, ok := times[id]
		switch {
		case !ok:
			never++
		case w.pod[id]:
			pods = append(pods, d)
		default:
			ctrs = append(ctrs, d)
		}
	}
	slices.Sort(pods)
	slices.Sort(ctrs)
	return pods, ctrs, never
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(100 * time.Microsecond)
}

// agentCPU is the agent's user and system time so far, in seconds.
func agentCPU(t *testing.T, pid int) float64 {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is field 3,
	// utime 14, stime 15.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicks
}

// agentMemory is the agent's peak and current resident memory, in bytes,
// and the current one's anonymous and file-backed parts (the latter
// mostly the binary's own pages).
func agentMemory(t *testing.T, pid int) (hwm, rss, anon, file float64) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmHWM:":
				hwm = v * 1024
			case "VmRSS:":
				rss = v * 1024
			case "RssAnon:":
				anon = v * 1024
			case "RssFile:":
				file = v * 1024
			}
		}
	}
	return hwm, rss, anon, file
}

type mapFigures struct {
	memlock float64
	count   int
	largest []string
	// entries are those of the recorder's aggregation maps, which every
	// sweep reads.
	entries int
}

// aggregationMaps are the recorder's maps a sweep reads (bpf.Sweep).
var aggregationMaps = []string{"capabilities_seen", "file_paths_seen", "file_inodes_seen", "connections_seen", "sockets_seen", "executables_seen"}

// agentMaps adds up the memlock of the BPF maps the agent holds (from
// /proc/PID/fdinfo, each map once) and counts the aggregation maps'
// entries.
func agentMaps(t *testing.T, pid int) mapFigures {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fdinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	type info struct {
		name    string
		memlock float64
	}
	seen := map[uint64]info{}
	for _, fd := range fds {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		var id uint64
		var memlock float64
		isMap := false
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "map_type":
				isMap = true
			case "map_id":
				id, _ = strconv.ParseUint(v, 10, 64)
			case "memlock":
				memlock, _ = strconv.ParseFloat(v, 64)
			}
		}
		if isMap && id != 0 {
			seen[id] = info{memlock: memlock}
		}
	}
	var out mapFigures
	var all []info
	for id, in := range seen {
		out.memlock += in.memlock
		out.count++
		if m, err := ebpf.NewMapFromID(ebpf.MapID(id)); err == nil {
			if mi, err := m.Info(); err == nil {
				in.name = mi.Name
				// The kernel keeps 15 characters of a map's name.
				if slices.ContainsFunc(aggregationMaps, func(n string) bool { return n[:min(len(n), 15)] == mi.Name }) {
					var key, value []byte
					it := m.Iterate()
					for it.Next(&key, &value) {
						out.entries++
					}
				}
			}
			m.Close()
		}
		all = append(all, in)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].memlock > all[j].memlock })
	for _, in := range all[:min(4, len(all))] {
		out.largest = append(out.largest, fmt.Sprintf("%s %.1f MiB", in.name, mib(in.memlock)))
	}
	return out
}

func mib(b float64) float64 { return b / (1 << 20) }

// metrics are one scrape of the agent's Prometheus endpoint: value by
// series ("name{labels}").
type metrics map[string]float64

// fetchProfile writes one of the agent's /debug/pprof profiles to file
// (FOOTPRINT_NODE_PPROF, for `go tool pprof`).
func fetchProfile(t *testing.T, addr, profile, file string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/" + profile)
	if err != nil {
		t.Errorf("the agent's %s profile: %v", profile, err)
		return
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the agent's %s profile: %s, %v", profile, resp.Status, err)
		return
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Errorf("the agent's %s profile: %v", profile, err)
		return
	}
	t.Logf("the agent's %s profile: %s (go tool pprof bin/footprint %s)", profile, file, file)
}

func scrape(t *testing.T, addr string) metrics {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	out := metrics{}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// sum adds up every series of name.
func (m metrics) sum(name string) float64 {
	var s float64
	for series, v := range m {
		if series == name || strings.HasPrefix(series, name+"{") {
			s += v
		}
	}
	return s
}

// programTimes names the programs that ran most between two scrapes, with
// their time per run.
func programTimes(m0, m1 metrics, window time.Duration) string {
	type prog struct {
		name      string
		runs, sec float64
	}
	var progs []prog
	for series, v := range m1 {
		name, ok := strings.CutPrefix(series, "footprint_bpf_program_runs_total{program=\"")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "\"}")
		runtime := "footprint_bpf_program_run_seconds_total{program=\"" + name + "\"}"
		progs = append(progs, prog{name, v - m0[series], m1[runtime] - m0[runtime]})
	}
	sort.Slice(progs, func(i, j int) bool { return progs[i].sec > progs[j].sec })
	var parts []string
	for _, p := range progs[:min(5, len(progs))] {
		if p.runs > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f runs/s at %.0f ns", p.name, p.runs/window.Seconds(), p.sec*1e9/p.runs))
		}
	}
	return "busiest: " + strings.Join(parts, "; ")
}
