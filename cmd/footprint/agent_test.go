package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	metricsAddr, healthAddr := freeAddr(t), freeAddr(t)
	// Pinned programs outlive the agent by design: this test's go at the end.
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-agent-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	var out bytes.Buffer
	cmd := exec.Command(footprintBinary(t), "agent", "--node-name", "node-a", "--kubeconfig", kubeconfig,
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
		"footprint_lost_records_total", "footprint_enforcement_checks_total", "footprint_bpf_program_run_seconds_total"} {
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

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
