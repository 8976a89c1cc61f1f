package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/internal/violationevents"
	"github.com/footprint-dev/footprint/recorder"
	"github.com/footprint-dev/footprint/recorder/profilestore"
)

type agentFlags struct {
	node                 string
	kubeconfig           string
	metricsAddr          string
	healthAddr           string
	cgroupRoot           string
	flushInterval        time.Duration
	countOnlyInterval    time.Duration
	pinPath              string
	uninstallWhenDeleted string
	seccompDir           string
	pprofAddr            string
}

func newAgentCommand() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent --node-name NODE",
		Short: "Run the node agent (the footprint DaemonSet)",
		Long: `agent is footprint on a Kubernetes node, run by the DaemonSet in deploy/. It
watches the pods of its own node (so its memory does not grow with the cluster)
and the ProfileRecordings, records the containers they select from their first
instruction, and merges what it recorded into one Profile per workload
container, together with the agents of the other nodes. It holds the
containers EnforcementPolicies select to them in the kernel and reports each
violation as an Event on the pod and in footprint_violations_total.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.node, "node-name", os.Getenv("NODE_NAME"), "the node this agent runs on (default $NODE_NAME; the DaemonSet sets it from spec.nodeName)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&f.metricsAddr, "metrics-bind-address", ":9464", `Prometheus metrics address ("0" turns them off)`)
	fl.StringVar(&f.healthAddr, "health-probe-bind-address", ":9465", `/healthz and /readyz address ("0" turns them off)`)
	fl.StringVar(&f.pprofAddr, "pprof-bind-address", "", `Go's /debug/pprof profiles of the agent's CPU and memory, for diagnosing its cost (off by default; "127.0.0.1:6060" serves them on the node's loopback)`)
	fl.StringVar(&f.cgroupRoot, "cgroup-root", "", "the cgroup v2 mount (default: found in /proc/self/mountinfo)")
	fl.DurationVar(&f.flushInterval, "flush-interval", 10*time.Second, "how often recorded entries are merged into Profiles")
	fl.DurationVar(&f.countOnlyInterval, "count-only-interval", 5*time.Minute, "how often a Profile is written when its container found nothing new, only did the same things again (a new entry, source or loss is written at the next flush)")
	fl.StringVar(&f.seccompDir, "seccomp-dir", enforcer.DefaultSeccompDir, "kubelet's seccomp directory, where the agent installs the Localhost profile of each EnforcementPolicy with system call rules")
	fl.StringVar(&f.pinPath, "pin-path", "/sys/fs/bpf/footprint", `where kernel maps and links are pinned, so that recording and enforcement go on across agent restarts ("" turns pinning off)`)
	fl.StringVar(&f.uninstallWhenDeleted, "uninstall-when-deleted", "", "the agent's DaemonSet, NAMESPACE/NAME: when it (or its namespace) is deleted, a stopping agent removes its pinned programs and maps instead of leaving them to its successor")
	return cmd
}

func runAgent(cmd *cobra.Command, f agentFlags) error {
	if f.node == "" {
		return usagef("agent needs its node's name: --node-name NODE or $NODE_NAME (the DaemonSet sets it from spec.nodeName)")
	}
	if err := requireRoot("agent"); err != nil {
		return err
	}
	log := zap.New(zap.UseDevMode(false)).WithValues("node", f.node)
	ctrl.SetLogger(log)

	if f.kubeconfig != "" {
		os.Setenv("KUBECONFIG", f.kubeconfig)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the cluster: %w (give --kubeconfig, or run the agent in a pod)", err)
	}
	var uninstall *uninstallWatch
	if f.uninstallWhenDeleted != "" {
		namespace, name, err := parseUninstallTarget(f.uninstallWhenDeleted)
		if err != nil {
			return err
		}
		c, err := client.NewWithWatch(cfg, client.Options{})
		if err != nil {
			return err
		}
		uninstall = &uninstallWatch{c: c, namespace: namespace, name: name, log: log.WithName("uninstall")}
		go uninstall.Run(cmd.Context())
	}
	// Registered first, so it runs last: after every kernel object of the
	// agent is closed, the pins are all that keeps them.
	defer func() {
		if uninstall == nil || f.pinPath == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !uninstall.uninstalling(ctx) {
			log.Info("stopping for a restart: the kernel programs and maps stay pinned for the next agent", "pins", f.pinPath)
			return
		}
		if err := removePins(f.pinPath); err != nil {
			log.Error(err, "uninstall")
			return
		}
		log.Info("uninstalled: footprint's programs and maps are removed from this node", "pins", f.pinPath)
	}()
	mount := f.cgroupRoot
	if mount == "" {
		if mount, err = cgroupfs.Mount(); err != nil {
			return err
		}
	}
	pin := func(sub string) string {
		if f.pinPath == "" {
			return ""
		}
		return filepath.Join(f.pinPath, sub)
	}
	// A predecessor whose enforcement maps this version cannot read keeps
	// enforcing, moved aside, until every policy is installed again.
	retirement, err := bpf.RetireIncompatibleEnforcement(bpf.EnforcementPins{
		Lifecycle: pin("lifecycle"), Enforcer: pin("enforcer"), Retired: pin("retired")})
	if err != nil {
		return err
	}
	if retirement.Generation != "" {
		log.Info("the enforcement maps changed layout: the predecessor's programs go on enforcing from a retired generation until every policy is installed again",
			"generation", retirement.Generation)
	}
	// One lifecycle for both parts. Its maps were pinned beside the
	// recorder's and the enforcer's before it had a directory of its own.
	lc, err := bpf.LoadLifecycle(bpf.LifecycleOptions{CgroupRoot: mount, PinPath: pin("lifecycle"),
		AdoptPins: map[string]string{"watched_cgroups": pin("recorder"), "enforced_cgroups": pin("enforcer"), "runtime_tasks": pin("recorder")}})
	if err != nil {
		return err
	}
	defer lc.Close()
	if f.pinPath != "" {
		// The enforcer's own runtime marks of earlier versions: the
		// adopted recorder's are the same tasks.
		os.Remove(filepath.Join(pin("enforcer"), "runtime_tasks"))
	}
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, PinPath: pin("recorder"), Lifecycle: lc})
	if err != nil {
		return err
	}
	defer rec.Close()
	for _, c := range rec.Choices() {
		log.Info("recording backend", "kind", c.Kind.String(), "chosen", c.Chosen, "proof", c.Proof, "note", c.Note)
		for _, rj := range c.Rejected {
			log.Info("recording backend refused", "kind", c.Kind.String(), "backend", rj.Backend, "stage", string(rj.Stage), "reason", rj.Reason)
		}
	}

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	// PolicyViolation Events keep to the agent's own per-pod limit, which
	// counts what it leaves out; client-go's correlator would combine
	// and drop them on its own (internal/violationevents).
	events := violationevents.NewBroadcaster()
	defer events.Shutdown()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		EventBroadcaster:       events, //nolint:staticcheck // deprecated for managers shorter-lived than the process; this one is the process
		Metrics:                metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress: f.healthAddr,
		PprofBindAddress:       f.pprofAddr,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Only this node's pods: memory does not grow with the cluster.
			&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", f.node)},
		}},
	})
	if err != nil {
		return fmt.Errorf("set up the controller manager: %w", err)
	}
	if f.healthAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return err
		}
	}

	// The store reads and writes Profiles straight through the API server:
	// a cached read may be older than the object and cost a conflict.
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	writer := profilestore.NewWriter(profilestore.NewStore(direct, profilestore.Options{Log: log.WithName("profiles")}),
		profilestore.WriterOptions{FlushInterval: f.flushInterval, CountOnlyInterval: f.countOnlyInterval, Log: log.WithName("profiles")})
	if err := mgr.Add(manager.RunnableFunc(writer.Run)); err != nil {
		return err
	}
	nodeRec := recorder.NewNodeRecorder(rec, containers.NewResolver(mount), f.node, log.WithName("recorder"))
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		// Entries a full kernel map could not keep come only this way.
		// Should reading fail, the kernel counts what it then loses.
		if err := nodeRec.ReadSightings(ctx); err != nil {
			log.Error(err, "reading first sightings stopped: entries the kernel's full maps cannot keep are counted as lost from now on")
		}
		return nil
	})); err != nil {
		return err
	}
	if f.pinPath == "" {
		// Unpinned, the maps die with the agent: stop recording cleanly.
		// Pinned, the kernel goes on recording and the successor finds
		// everything (a stopping agent never forgets what it recorded).
		defer nodeRec.Close()
	}
	rc := &recorder.RecordingController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: f.node,
		Recorder: nodeRec, Writer: writer, FlushInterval: f.flushInterval, Log: log.WithName("recordings"),
	}
	if err := rc.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the recording controller: %w", err)
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, PinPath: pin("enforcer"), Lifecycle: lc})
	if err != nil {
		return err
	}
	defer enf.Close()
	// Everything is loaded: the kernel's BTF need not stay in memory.
	bpf.ReleaseLoadCaches()
	for _, c := range enf.Choices() {
		log.Info("enforcement backend", "kind", c.Kind.String(), "chosen", c.Chosen, "effect", string(c.Effect), "proof", c.Proof)
		for _, rj := range c.Rejected {
			log.Info("enforcement backend refused", "kind", c.Kind.String(), "backend", rj.Backend, "stage", string(rj.Stage), "reason", rj.Reason)
		}
	}
	metrics.Registry.MustRegister(enforcer.Violations, newKernelCollector(lc, rec, enf, retirement))
	if stats, err := bpf.EnableRunTimeStats(); err != nil {
		log.Info("BPF program run times are not measured", "reason", err.Error())
	} else {
		defer stats.Close()
	}
	pc := &enforcer.PolicyController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: f.node, Enforcer: enf,
		Resolver: containers.NewResolver(mount), Events: mgr.GetEventRecorderFor("footprint-agent"), Log: log.WithName("policies"),
		Settled: func() {
			n, err := retirement.Release()
			if err != nil {
				log.Error(err, "the retired enforcement generations could not be removed: their programs still check every operation against the older policies")
				return
			}
			if n > 0 {
				log.Info("every policy is installed again: the retired enforcement generations are removed", "generations", n)
			}
		},
	}
	if err := pc.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the enforcement controller: %w", err)
	}
	sp := &enforcer.SeccompProfiles{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Dir: f.seccompDir, Log: log.WithName("seccomp")}
	if err := sp.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the seccomp profile installer: %w", err)
	}
	for part, replaced := range map[string][]bpf.PinReplacement{"lifecycle": lc.PinReplacements(), "recorder": rec.PinReplacements(), "enforcer": enf.PinReplacements(), "enforcement": retirement.Replaced} {
		for _, r := range replaced {
			// Loud: what a dropped entry held (a policy rule, a hold, a
			// recorded entry) is gone until the controllers install or
			// record it again.
			log.Error(errors.New(r.String()), "a pinned map of another footprint version had to be replaced",
				"part", part, "map", r.Path, "change", r.Change, "migrated", r.Migrated, "dropped", r.Dropped)
		}
	}
	for part, reused := range map[string][]bpf.PinJudgedBySize{"lifecycle": lc.PinsJudgedBySize(), "recorder": rec.PinsJudgedBySize(), "enforcer": enf.PinsJudgedBySize()} {
		for _, p := range reused {
			// A layout changed within the same sizes would go unnoticed.
			log.Info("a pinned map was reused on its sizes alone: no BTF to compare its layout with",
				"part", part, "map", p.Path, "reason", p.Reason)
		}
	}
	log.Info("agent starting", "cgroup2", mount)
	if err := mgr.Start(cmd.Context()); err != nil && !errors.Is(err, cmd.Context().Err()) {
		return err
	}
	return nil
}
