package enforcer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/internal/kubelettest"
	"github.com/footprint-dev/footprint/test/envtest"
)

// TestAnEnforcementPolicyHoldsAPodStartedAfterIt runs the node agent's
// policy controller against a real API server and the real kernel: a
// policy in Enforce mode selects a pod on this node before any of its
// containers exists; the container the runtime then starts is held from
// its first instruction (a connect outside the policy fails with EPERM),
// the violation becomes an Event on the pod, and the policy's status says
// how this node enforces each kind.
func TestAnEnforcementPolicyHoldsAPodStartedAfterIt(t *testing.T) {
	n, startManager := newPolicyNode(t)
	env, ns, layout, node := n.env, n.ns, n.layout, testNode
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.startedController(t, startManager)

	allowed, other := listen(t), listen(t)
	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.EnforcementPolicySpec{
			Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Mode:     v1alpha1.ModeEnforce,
			Connect:  &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "127.0.0.1/32", Protocol: "TCP", Port: int32(mustAtoi(t, port(allowed)))}}},
		},
	}
	if err := env.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	podCg := layout.Mkdir("kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID))
	untilHeld(t, ctx, c, podCg.ID, "the pod's cgroup is held", nil)

	// The runtime starts the container after the policy holds the pod.
	app := layout.Mkdir("kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID) + "/" + kubelettest.ContainerID(t))
	cmd := helperCommand(t, "connect", allowed, "ok", other, "EPERM")
	path, _ := exec.LookPath(cmd[0])
	res, err := cgroupcmd.Run(ctx, app, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr, MountNamespace: true})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("the container's connects: exit %d, %v (want the allowed one to work and the other to fail with EPERM)", res.ExitCode, err)
	}

	var events corev1.EventList
	eventually(t, "the violation is an Event on the pod", func() bool {
		if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == pod.Name && e.Reason == "PolicyViolation" && strings.Contains(e.Message, fmt.Sprintf("connected to %s", other)) {
				return true
			}
		}
		return false
	})

	var got v1alpha1.EnforcementPolicy
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(policy), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Nodes) != 1 || got.Status.Nodes[0].Node != node {
		t.Fatalf("status nodes = %+v, want this node", got.Status.Nodes)
	}
	for _, k := range got.Status.Nodes[0].Kinds {
		if k.Kind == v1alpha1.KindConnect && k.Effect != v1alpha1.EffectPrevented {
			t.Errorf("connect effect %s, want Prevented", k.Effect)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// holdOf reconciles the node once and says how c holds cgroup then.
func holdOf(ctx context.Context, c *PolicyController, cgroup uint64) (hold, bool) {
	c.Reconcile(ctx, policyNodeKey)
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.enforced[cgroup]
	return h, ok
}

// untilHeld reconciles until c holds cgroup in a way ok accepts (nil: any).
func untilHeld(t *testing.T, ctx context.Context, c *PolicyController, cgroup uint64, what string, ok func(hold) bool) {
	t.Helper()
	eventually(t, what, func() bool {
		h, held := holdOf(ctx, c, cgroup)
		return held && (ok == nil || ok(h))
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestANamedContainerPolicyHoldsItsContainerFromTheFirstInstruction: a
// policy for the app container of a pod with a sidecar. Each container the
// runtime starts stops at its first exec until the agent has read its name
// (here from the runtime's OCI config, as the pod status does not list it
// yet): the app is then held from its first instruction, the sidecar and
// the sandbox are released, and all of them run on.
func TestANamedContainerPolicyHoldsItsContainerFromTheFirstInstruction(t *testing.T) {
	n, startManager := newPolicyNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.startedController(t, startManager)

	allowed, other := listen(t), listen(t)
	_, podDir, podCg := n.appWithSidecar(t, ctx, allowed)
	untilHeld(t, ctx, c, podCg.ID, "the pod's cgroup is held pending classification", func(h hold) bool { return h.pending })

	// The runtime starts the sandbox and the containers. Their OCI configs
	// appear only half a second later: until then nobody can tell which
	// container is which, and each must wait, stopped at its first exec.
	// Had the app run on unheld, its connect outside the policy would
	// have worked.
	start := func(name, kind string, args ...string) <-chan int {
		_, done := n.startContainer(t, ctx, podDir, name, kind, args...)
		return done
	}
	began := time.Now()
	sandbox := start("", "sandbox", "connect", other, "ok")
	app := start("app", "container", "connect", allowed, "ok", other, "EPERM")
	sidecar := start("sidecar", "container", "connect", other, "ok")
	for name, done := range map[string]<-chan int{"sandbox": sandbox, "app": app, "sidecar": sidecar} {
		if code := <-done; code != 0 {
			t.Errorf("%s: exit code %d, want 0 (the app held to the policy, the others released)", name, code)
		}
	}
	if waited := time.Since(began); waited < 500*time.Millisecond {
		t.Errorf("the containers ran to the end in %s, before anyone could classify them", waited)
	}
}

// startContainer starts a container below a pod's cgroup as a runtime
// would: its cgroup first, then the process running the helper action
// args, with the container's OCI config (naming it) half a second later.
// It returns the container's cgroup and the process's exit code to come.
func (n *policyNode) startContainer(t *testing.T, ctx context.Context, podDir, name, kind string, args ...string) (*cgroupfs.Cgroup, <-chan int) {
	id := kubelettest.ContainerID(t)
	annotations := map[string]string{"io.kubernetes.cri.container-type": kind}
	if kind == "container" {
		annotations["io.kubernetes.cri.container-name"] = name
	}
	data, _ := json.Marshal(map[string]any{"annotations": annotations})
	time.AfterFunc(500*time.Millisecond, func() {
		os.MkdirAll(filepath.Join(n.bundles, id), 0o755)
		os.WriteFile(filepath.Join(n.bundles, id, "config.json"), data, 0o644)
	})
	cg := n.layout.Mkdir(podDir + "/" + id)
	return cg, runIn(t, ctx, cg, args...)
}

// runIn runs the helper action args in a cgroup; it returns the exit code
// to come.
func runIn(t *testing.T, ctx context.Context, cg *cgroupfs.Cgroup, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		cmd := helperCommand(t, args[0], args[1:]...)
		path, _ := exec.LookPath(cmd[0])
		res, err := cgroupcmd.Run(ctx, cg, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr, Duration: time.Minute, MountNamespace: true})
		if err != nil {
			t.Error(err)
		}
		done <- res.ExitCode
	}()
	return done
}

// TestAPolicyTheAgentCannotInstallKeepsTheVersionInForce: a policy's spec
// changes to one this agent cannot compile (a system call its tables do
// not know, as a newer agent's spec is to an older agent during a
// rollback). The version in force keeps holding the pod: a container
// started afterwards is still held by its name, the status says why the
// new generation is not installed and what stays in force, and an agent
// restarted over the same kernel maps, which never installed the policy,
// keeps the holds too.
func TestAPolicyTheAgentCannotInstallKeepsTheVersionInForce(t *testing.T) {
	n, startManager := newPolicyNode(t)
	env := n.env
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.startedController(t, startManager)

	allowed, other := listen(t), listen(t)
	policy, podDir, podCg := n.appWithSidecar(t, ctx, allowed)
	// A restarted controller knows a hold from the kernel's map, by its
	// policy only.
	held := func(c *PolicyController) bool {
		_, ok := holdOf(ctx, c, podCg.ID)
		return ok
	}
	untilHeld(t, ctx, c, podCg.ID, "the pod's cgroup is held pending classification", func(h hold) bool { return h.pending })

	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(policy), policy))
	policy.Spec.Syscalls = &v1alpha1.SyscallRules{Allow: []v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "footprint_future_call"}}}}
	must(t, env.Client.Update(ctx, policy))
	notInstalled := func(c *PolicyController) func() bool {
		return func() bool {
			if !held(c) {
				t.Fatal("the pod was released when its policy's new generation could not be installed")
			}
			var got v1alpha1.EnforcementPolicy
			must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(policy), &got))
			ready := apimeta.FindStatusCondition(got.Status.Conditions, "Ready")
			return ready != nil && ready.ObservedGeneration == got.Generation && ready.Status == metav1.ConditionFalse &&
				strings.Contains(ready.Message, `"footprint_future_call"`) &&
				strings.Contains(ready.Message, "the version installed before keeps holding what it held on this node")
		}
	}
	eventually(t, "the status says the new generation is not installed and the old one holds", notInstalled(c))

	// Containers started now are classified by the names of the version
	// in force: the app held, the sidecar released.
	appCg, app := n.startContainer(t, ctx, podDir, "app", "container", "connect", allowed, "ok", other, "EPERM")
	_, sidecar := n.startContainer(t, ctx, podDir, "sidecar", "container", "connect", other, "ok")
	for name, done := range map[string]<-chan int{"app": app, "sidecar": sidecar} {
		if code := <-done; code != 0 {
			t.Fatalf("%s: exit code %d, want 0 (the app held to the version in force, the sidecar released)", name, code)
		}
	}

	// An agent restarted over the same maps never installed the policy.
	restarted := n.controller()
	must(t, restarted.restore())
	eventually(t, "the restarted agent keeps the holds", notInstalled(restarted))
	if code := <-runIn(t, ctx, appCg, "connect", other, "EPERM"); code != 0 {
		t.Fatalf("the app under the restarted agent: exit code %d, want its connect outside the version in force refused", code)
	}
}

// policyNode is a node for the policy controller's tests, against a real
// API server and the real kernel: a namespace, kubelet's cgroup layout, a
// loaded enforcer, the runtime's OCI config directory (bundles) and a
// manager for the node.
type policyNode struct {
	env     *envtest.Environment
	ns      string
	layout  kubelettest.Layout
	enf     *bpf.Enforcer
	mgr     ctrl.Manager
	bundles string
}

const testNode = "node-a"

// newPolicyNode starts a node; start starts its manager, once the
// controllers are set up.
func newPolicyNode(t *testing.T) (n *policyNode, start func()) {
	t.Helper()
	n = &policyNode{env: envtest.StartEnvironment(t), layout: kubelettest.New(t), bundles: t.TempDir()}
	n.ns = envtest.Namespace(t, n.env.Client)
	mount, err := cgroupfs.Mount()
	must(t, err)
	n.enf, err = bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
	must(t, err)
	// Closed after the manager stops (cleanups run last in, first out).
	t.Cleanup(func() { n.enf.Close() })
	n.mgr, start = envtest.NodeManager(t, n.env, testNode)
	return n, start
}

// appWithSidecar creates a policy in Enforce mode for the app container of
// the pods labelled app=web, allowing a connect to allowed only, and such a
// pod with a sidecar, whose cgroup kubelet then makes: it returns the policy,
// the pod cgroup's directory below the layout's root and the cgroup.
func (n *policyNode) appWithSidecar(t *testing.T, ctx context.Context, allowed string) (*v1alpha1.EnforcementPolicy, string, *cgroupfs.Cgroup) {
	t.Helper()
	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: n.ns},
		Spec: v1alpha1.EnforcementPolicySpec{
			Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Containers: []string{"app"}},
			Mode:     v1alpha1.ModeEnforce,
			Connect:  &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "127.0.0.1/32", Protocol: "TCP", Port: int32(mustAtoi(t, port(allowed)))}}},
		},
	}
	must(t, n.env.Client.Create(ctx, policy))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: n.ns, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: testNode, Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "sidecar", Image: "sidecar"}}},
	}
	must(t, n.env.Client.Create(ctx, pod))
	podDir := "kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID)
	return policy, podDir, n.layout.Mkdir(podDir)
}

// controller returns a policy controller of the node, not set up.
func (n *policyNode) controller() *PolicyController {
	return &PolicyController{
		Client: n.mgr.GetClient(), APIReader: n.mgr.GetAPIReader(), Node: testNode, Enforcer: n.enf,
		Resolver: containers.NewResolver(n.layout.Root), Events: n.mgr.GetEventRecorderFor("footprint-agent"), Log: logr.Discard(),
		BundleDirs: []string{filepath.Join(n.bundles, "%s", "config.json")},
	}
}

// startedController sets up a policy controller and starts the manager.
func (n *policyNode) startedController(t *testing.T, start func()) *PolicyController {
	t.Helper()
	c := n.controller()
	must(t, c.SetupWithManager(n.mgr))
	start()
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAFloodOfSystemCallsDoesNotHideALaterViolationsEvent: a pod that runs
// without its policy's seccomp profile (nothing refuses its system calls)
// makes 31 distinct calls outside the policy's allow-list, then writes a
// file the policy does not allow. Each call was an Event once, and
// client-go combined a pod's Events past 10 and dropped them past 25: the
// write was lost. Now the calls are named in an Event or two, and the
// write has an Event of its own.
func TestAFloodOfSystemCallsDoesNotHideALaterViolationsEvent(t *testing.T) {
	n, startManager := newPolicyNode(t)
	env, ns, layout := n.env, n.ns, n.layout
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.startedController(t, startManager)

	policy := policy(t, "spec:\n  mode: Audit\n  files:\n    allow:\n      - {path: \"/**\", access: [read]}\n"+allSyscallsBut(t, floodCalls...))
	policy.ObjectMeta = metav1.ObjectMeta{Name: "flood", Namespace: ns}
	policy.Spec.Selector = &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "flood"}}}
	must(t, env.Client.Create(ctx, policy))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "flood-1", Namespace: ns, Labels: map[string]string{"app": "flood"}},
		Spec:       corev1.PodSpec{NodeName: testNode, Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	must(t, env.Client.Create(ctx, pod))
	podDir := "kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID)
	podCg := layout.Mkdir(podDir)
	untilHeld(t, ctx, c, podCg.ID, "the pod's cgroup is held", nil)

	target := filepath.Join(t.TempDir(), "written")
	app := layout.Mkdir(podDir + "/" + kubelettest.ContainerID(t))
	cmd := helperCommand(t, "flood-calls-then-write", target)
	path, _ := exec.LookPath(cmd[0])
	if res, err := cgroupcmd.Run(ctx, app, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr, MountNamespace: true}); err != nil || res.ExitCode != 0 {
		t.Fatalf("the container: exit %d, %v (want the calls and the write audited and allowed)", res.ExitCode, err)
	}

	callsIn := regexp.MustCompile(`called (\d+) system calls outside the policy: `)
	var messages []string
	t.Cleanup(func() {
		if t.Failed() {
			var got v1alpha1.EnforcementPolicy
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(policy), &got); err == nil {
				t.Logf("the policy's status: %+v", got.Status)
			}
			t.Logf("the pod's Events:\n%s", strings.Join(messages, "\n"))
		}
	})
	eventually(t, "the write and every system call are in the pod's Events", func() bool {
		var events corev1.EventList
		must(t, env.Client.List(ctx, &events, client.InNamespace(ns)))
		messages = nil
		write, calls := false, 0
		for _, e := range events.Items {
			if e.InvolvedObject.Name != pod.Name || e.Reason != v1alpha1.ViolationEventReason {
				continue
			}
			messages = append(messages, e.Message)
			switch m := callsIn.FindStringSubmatch(e.Message); {
			case m != nil:
				calls += mustAtoi(t, m[1])
			case strings.Contains(e.Message, " called "):
				calls++
			case strings.Contains(e.Message, target) && strings.HasSuffix(e.Message, ": audited (policy flood)"):
				write = true
			}
		}
		return write && calls >= len(floodCalls)
	})
	syscallEvents := 0
	for _, m := range messages {
		if strings.Contains(m, "combined from similar events") {
			t.Errorf("an Event was combined with others: %q", m)
		}
		if strings.Contains(m, " called ") {
			syscallEvents++
			if !strings.Contains(m, "would be refused (the process runs without the policy's seccomp profile) (policy flood)") {
				t.Errorf("system call Event %q does not say that the process runs without the policy's seccomp profile", m)
			}
		}
	}
	// The calls come within a flush or two.
	if syscallEvents > 3 {
		t.Errorf("%d Events for the system calls, want them gathered in at most 3:\n%s", syscallEvents, strings.Join(messages, "\n"))
	}
}
