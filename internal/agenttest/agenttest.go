// Package agenttest runs footprint's own binaries in tests: it builds them
// once per test binary, and starts `footprint agent` as the DaemonSet runs
// it, against a real API server, until it is ready. The CLI tests and the
// node benchmark (test/scale) share it, so that both run the agent the same
// way.
package agenttest

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FootprintPackage is cmd/footprint's import path.
const FootprintPackage = "github.com/footprint-dev/footprint/cmd/footprint"

var (
	buildMu sync.Mutex
	// binDir holds the built binaries; RemoveBinaries removes it.
	binDir   string
	binaries = map[string]built{}
)

type built struct {
	path string
	err  error
}

// Build builds the main package pkg (an import path in this module) once per
// test binary, into a directory every user can read (some tests run the
// binaries as nobody), and returns the binary's path. Call RemoveBinaries
// from TestMain when the tests are over.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	b, ok := binaries[pkg]
	if !ok {
		b = build(pkg)
		binaries[pkg] = b
	}
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.path
}

func build(pkg string) built {
	if binDir == "" {
		dir, err := os.MkdirTemp("", "footprint-test-bin-")
		if err != nil {
			return built{err: err}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return built{err: err}
		}
		binDir = dir
	}
	path := filepath.Join(binDir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput()
	if err != nil {
		return built{err: errors.New("go build: " + err.Error() + "\n" + string(out))}
	}
	return built{path: path}
}

// Binary is the footprint binary (Build of cmd/footprint).
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, FootprintPackage)
}

// RemoveBinaries removes what Build built; for TestMain.
func RemoveBinaries() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
		binDir = ""
		binaries = map[string]built{}
	}
}

// FreeAddr returns a loopback address nothing listens on (at the time).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SyncBuffer is a buffer a running command writes while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Agent is the footprint binary running as the DaemonSet runs it.
type Agent struct {
	Cmd *exec.Cmd
	// Out is what it wrote to stdout and stderr; the test's log gets it
	// when the test fails.
	Out    *SyncBuffer
	exited chan error
}

// Start runs `footprint agent --node-name node --kubeconfig kubeconfig`
// with its metrics off and its probes on a free address, then args (which
// win over those: --metrics-bind-address ADDR turns the metrics on), and
// waits until /readyz answers. The agent is killed when the test ends if it
// still runs.
func Start(t testing.TB, kubeconfig, node string, args ...string) *Agent {
	t.Helper()
	healthAddr := FreeAddr(t)
	a := &Agent{Out: &SyncBuffer{}, exited: make(chan error, 1)}
	a.Cmd = exec.Command(Binary(t), append([]string{"agent", "--node-name", node, "--kubeconfig", kubeconfig,
		"--metrics-bind-address", "0", "--health-probe-bind-address", healthAddr}, args...)...)
	a.Cmd.Stdout, a.Cmd.Stderr = a.Out, a.Out
	if err := a.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- a.Cmd.Wait() }()
	t.Cleanup(func() {
		if a.Cmd.ProcessState == nil {
			a.Cmd.Process.Kill()
			<-a.exited
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", a.Out.String())
		}
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get("http://" + healthAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
		}
		select {
		case err := <-a.exited:
			t.Fatalf("the agent exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never became ready")
		}
	}
}

// Pid is the agent's process id.
func (a *Agent) Pid() int { return a.Cmd.Process.Pid }

// Stop sends SIGTERM and expects the agent to exit cleanly within 30 s.
func (a *Agent) Stop(t testing.TB) {
	t.Helper()
	a.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.exited:
		if err != nil {
			t.Errorf("the agent did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop within 30s of SIGTERM")
	}
}
