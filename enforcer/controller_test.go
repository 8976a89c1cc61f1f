package enforcer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kubelettest"
	"github.com/footprint-dev/footprint/recorder/containers"
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
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const node = "node-a"

	layout := kubelettest.New(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the manager stops (cleanups run last in, first out).
	t.Cleanup(func() { enf.Close() })

	mgr, startManager := envtest.NodeManager(t, env, node)
	c := &PolicyController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: node, Enforcer: enf,
		Resolver: containers.NewResolver(layout.Root), Events: mgr.GetEventRecorderFor("footprint-agent"), Log: logr.Discard(),
	}
	if err := c.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager()

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
	eventually(t, "the pod's cgroup is held", func() bool {
		c.Reconcile(ctx, policyNodeKey)
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.enforced[podCg.ID]
		return ok
	})

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
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const node = "node-a"

	layout := kubelettest.New(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enf.Close() })
	bundles := t.TempDir()
	mgr, startManager := envtest.NodeManager(t, env, node)
	c := &PolicyController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: node, Enforcer: enf,
		Resolver: containers.NewResolver(layout.Root), Events: mgr.GetEventRecorderFor("footprint-agent"), Log: logr.Discard(),
		BundleDirs: []string{filepath.Join(bundles, "%s", "config.json")},
	}
	if err := c.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager()

	allowed, other := listen(t), listen(t)
	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns},
		Spec: v1alpha1.EnforcementPolicySpec{
			Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Containers: []string{"app"}},
			Mode:     v1alpha1.ModeEnforce,
			Connect:  &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "127.0.0.1/32", Protocol: "TCP", Port: int32(mustAtoi(t, port(allowed)))}}},
		},
	}
	must(t, env.Client.Create(ctx, policy))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "sidecar", Image: "sidecar"}}},
	}
	must(t, env.Client.Create(ctx, pod))
	podDir := "kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID)
	podCg := layout.Mkdir(podDir)
	eventually(t, "the pod's cgroup is held pending classification", func() bool {
		c.Reconcile(ctx, policyNodeKey)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.enforced[podCg.ID].pending
	})

	// The runtime starts the sandbox and the containers. Their OCI configs
	// appear only half a second later: until then nobody can tell which
	// container is which, and each must wait, stopped at its first exec.
	// Had the app run on unheld, its connect outside the policy would
	// have worked.
	start := func(name, kind string, args ...string) <-chan int {
		id := kubelettest.ContainerID(t)
		annotations := map[string]string{"io.kubernetes.cri.container-type": kind}
		if kind == "container" {
			annotations["io.kubernetes.cri.container-name"] = name
		}
		data, _ := json.Marshal(map[string]any{"annotations": annotations})
		time.AfterFunc(500*time.Millisecond, func() {
			os.MkdirAll(filepath.Join(bundles, id), 0o755)
			os.WriteFile(filepath.Join(bundles, id, "config.json"), data, 0o644)
		})
		cg := layout.Mkdir(podDir + "/" + id)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
