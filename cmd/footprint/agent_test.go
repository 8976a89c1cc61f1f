package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/internal/agenttest"
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/test/envtest"
)

// TestTheAgentRunsAgainstARealAPIServer runs the footprint binary as the
// DaemonSet does (agent --node-name) against a real kube-apiserver: it
// loads its kernel programs, serves /healthz, /readyz and its metrics, and
// stops cleanly on SIGTERM.
func TestTheAgentRunsAgainstARealAPIServer(t *testing.T) {
	needRoot(t)
	env := envtest.StartEnvironment(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr, healthAddr := agenttest.FreeAddr(t), agenttest.FreeAddr(t)
	// Pinned programs outlive the agent by design: this test's go at the end.
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-agent-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	var out bytes.Buffer
	cmd := exec.Command(agenttest.Binary(t), "agent", "--node-name", "node-a", "--kubeconfig", kubeconfig,
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", healthAddr, "--pin-path", pinPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out.String())
		}
	}()

	get := func(url string) (string, bool) {
		resp, err := http.Get(url)
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String(), resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, ok := get("http://" + healthAddr + "/readyz"); ok {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the agent exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never became ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The metrics server starts alongside the probes, not before them.
	var metrics string
	ok := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if metrics, ok = get("http://" + metricsAddr + "/metrics"); ok && strings.Contains(metrics, "controller_runtime_reconcile_total") {
			break
		}
	}
	for _, want := range []string{"controller_runtime_reconcile_total", "footprint_events_total", "footprint_repeats_total",
		"footprint_lost_records_total", "footprint_enforcement_checks_total", "footprint_kernel_violations_unreported_total",
		"footprint_bpf_program_run_seconds_total"} {
		if !ok || !strings.Contains(metrics, want) {
			t.Errorf("metrics endpoint (ok=%v) lacks %s", ok, want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the agent did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop within 30s of SIGTERM")
	}
	for _, want := range []string{"agent starting", "enforcement backend"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("agent output lacks %q", want)
		}
	}
	// What it pinned stays for its successor.
	for _, dir := range []string{"recorder/links", "enforcer/links"} {
		if entries, err := os.ReadDir(filepath.Join(pinPath, dir)); err != nil || len(entries) == 0 {
			t.Errorf("nothing pinned in %s: %v", dir, err)
		}
	}
}

// TestAnUpgradedAgentReleasesTheRetiredEnforcementOnceItHasReconciled
// restarts the agent over pins whose policies map another version laid out
// differently: the agent retires its predecessor's enforcement, says so,
// and removes it once its first reconcile is done (on a node with nothing
// to enforce, right after it starts).
func TestAnUpgradedAgentReleasesTheRetiredEnforcementOnceItHasReconciled(t *testing.T) {
	needRoot(t)
	env := envtest.StartEnvironment(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-upgrade-agent-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	agenttest.Start(t, kubeconfig, "node-a", "--pin-path", pinPath).Stop(t)

	kerneltest.PinAnotherVersionsMap(t, filepath.Join(pinPath, "enforcer", "policies"), 8)

	metricsAddr := agenttest.FreeAddr(t)
	agent := agenttest.Start(t, kubeconfig, "node-a", "--pin-path", pinPath, "--metrics-bind-address", metricsAddr)
	defer agent.Stop(t)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(agent.Out.String(), "the retired enforcement generations are removed"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the agent never removed the retired enforcement generation")
		}
	}
	if !strings.Contains(agent.Out.String(), "the enforcement maps changed layout") {
		t.Error("the agent did not say it retired its predecessor's enforcement")
	}
	if _, err := os.Stat(filepath.Join(pinPath, "retired")); !os.IsNotExist(err) {
		t.Errorf("the retired generations are still pinned (%v)", err)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var metrics bytes.Buffer
	metrics.ReadFrom(resp.Body)
	for _, want := range []string{"footprint_enforcement_generations_retired 0", `footprint_pinned_maps_replaced{change="ValueSize: `} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(metrics.String(), `map="policies",part="enforcement"`) {
		t.Errorf("metrics do not name the replaced policies map:\n%s", grepLines(metrics.String(), "footprint_pinned_maps_replaced"))
	}
}

// grepLines are the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// An agent told its DaemonSet tells a restart from an uninstall: stopped
// while the DaemonSet exists, it leaves its pins to its successor; stopped
// after the DaemonSet was deleted, it removes them (and with them its
// programs, once its own descriptors are closed).
func TestAnAgentRemovesItsPinsOnlyWhenItsDaemonSetIsDeleted(t *testing.T) {
	needRoot(t)
	env := envtest.StartEnvironment(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := envtest.Namespace(t, env.Client)
	labels := map[string]string{"app": "footprint"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "footprint-agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "footprint"}}}},
		},
	}
	if err := env.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-uninstall-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	args := []string{"--pin-path", pinPath, "--uninstall-when-deleted", ns + "/footprint-agent"}

	restarted := agenttest.Start(t, kubeconfig, "node-a", args...)
	restarted.Stop(t)
	if entries, err := os.ReadDir(filepath.Join(pinPath, "enforcer", "links")); err != nil || len(entries) == 0 {
		t.Fatalf("a restart (the DaemonSet is there) left nothing pinned for the successor: %v", err)
	}
	if !strings.Contains(restarted.Out.String(), "stopping for a restart") {
		t.Errorf("the restarting agent did not say it keeps its pins")
	}

	uninstalled := agenttest.Start(t, kubeconfig, "node-a", args...)
	if err := env.Client.Delete(ctx, ds); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(uninstalled.Out.String(), "footprint is being uninstalled"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the agent never noticed its DaemonSet was deleted")
		}
	}
	uninstalled.Stop(t)
	if _, err := os.Stat(pinPath); !os.IsNotExist(err) {
		t.Errorf("the pins are still there after the uninstall (stat: %v)", err)
	}
	if !strings.Contains(uninstalled.Out.String(), "uninstalled: footprint's programs and maps are removed") {
		t.Errorf("the agent did not say it uninstalled")
	}
}

func TestTheUninstallTargetIsNamespaceSlashName(t *testing.T) {
	for _, bad := range []string{"", "footprint-agent", "/footprint-agent", "footprint-system/", "a/b/c"} {
		if _, _, err := parseUninstallTarget(bad); err == nil || !strings.Contains(err.Error(), "NAMESPACE/NAME") {
			t.Errorf("parseUninstallTarget(%q) = %v, want an error naming the form", bad, err)
		}
	}
	if ns, name, err := parseUninstallTarget("footprint-system/footprint-agent"); err != nil || ns != "footprint-system" || name != "footprint-agent" {
		t.Errorf("parseUninstallTarget = %q, %q, %v", ns, name, err)
	}
}
