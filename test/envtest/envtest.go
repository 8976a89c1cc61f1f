// Package envtest runs a real Kubernetes control plane -- kube-apiserver and
// etcd, no kubelet or controllers -- with footprint's CRDs installed, for tests
// of the API types, the controllers and the kubectl plugin.
//
// The binaries come from $KUBEBUILDER_ASSETS when it is set, and otherwise from
// hack/control-plane.sh, which builds them from their Go modules once and
// caches them (the first build takes about 6 minutes on 2 cores, later ones
// nothing). A test that cannot get them fails; it never skips.
//
//	func TestSomething(t *testing.T) {
//		cfg, c := envtest.Start(t)
//		ns := envtest.Namespace(t, c)
//		...
//	}
//
// Start brings up a control plane of the test's own (about 4 s); a package
// with many tests can share one from TestMain with New.
package envtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/violationevents"
)

// modulePath identifies the repository's go.mod when looking for its root.
const modulePath = "github.com/footprint-dev/footprint"

// Environment is a running control plane with footprint's CRDs installed.
type Environment struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is a controller-runtime client (no cache) for Config, knowing
	// the built-in types and footprint's.
	Client client.Client
	// Scheme holds the built-in types, the CRD types and footprint's types.
	Scheme *k8sruntime.Scheme
	// CRDs are the CustomResourceDefinitions installed from deploy/crds.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Assets is the directory holding kube-apiserver, etcd and kubectl.
	Assets string

	env *crenvtest.Environment
}

// Scheme returns a scheme with the built-in types, CustomResourceDefinitions
// and footprint's types.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // only on a programming error: duplicate registrations
		}
	}
	return s
}

// New starts a control plane and installs deploy/crds and the peers' CRDs
// (testdata/peer-crds). Stop it with Stop.
func New() (*Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	scheme := Scheme()
	env := &crenvtest.Environment{
		Scheme: scheme,
		// footprint's own CRDs, and its peers' (Tetragon, the Security
		// Profiles Operator), which its exports must pass.
		CRDDirectoryPaths:        []string{filepath.Join(root, "deploy", "crds"), filepath.Join(root, "test", "envtest", "testdata", "peer-crds")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: durationFromEnv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT", time.Minute),
		ControlPlaneStopTimeout:  durationFromEnv("KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT", 30*time.Second),
	}
	env.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	env.ControlPlane.Etcd = &crenvtest.Etcd{Path: filepath.Join(assets, "etcd")}
	if kubectl := filepath.Join(assets, "kubectl"); checkExecutable(kubectl) {
		env.ControlPlane.KubectlPath = kubectl
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	if len(env.CRDs) == 0 {
		_ = env.Stop()
		return nil, fmt.Errorf("no CRDs found in %s: run make generate", filepath.Join(root, "deploy", "crds"))
	}
	return &Environment{Config: cfg, Client: c, Scheme: scheme, CRDs: env.CRDs, Assets: assets, env: env}, nil
}

// KubeConfig is a kubeconfig file's contents for an admin of the control
// plane, for programs the test runs (kubectl, footprint agent).
func (e *Environment) KubeConfig() []byte { return e.env.KubeConfig }

// Stop stops the API server and etcd and removes their data.
func (e *Environment) Stop() error {
	return e.env.Stop()
}

// Start starts a control plane for one test and stops it when the test ends.
// It fails the test (never skips it) when the control plane cannot start.
func Start(t testing.TB) (*rest.Config, client.Client) {
	e := StartEnvironment(t)
	return e.Config, e.Client
}

// StartEnvironment is Start returning the whole Environment.
func StartEnvironment(t testing.TB) *Environment {
	t.Helper()
	e, err := New()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("envtest: stopping the control plane: %v", err)
		}
	})
	return e
}

// Namespace creates a namespace with a name made from the test's and returns
// its name. Namespaces are not deleted (no namespace controller runs): each
// test gets a fresh one.
func Namespace(t testing.TB, c client.Client) string {
	t.Helper()
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 50 {
		name = name[:50]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: strings.Trim(name, "-") + "-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	return ns.Name
}

var (
	assetsOnce sync.Once
	assetsDir  string
	assetsErr  error
)

// Assets returns the directory holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS when set, otherwise what hack/control-plane.sh prints
// after building (or finding in its cache) the binaries.
func Assets() (string, error) {
	assetsOnce.Do(func() { assetsDir, assetsErr = findAssets() })
	return assetsDir, assetsErr
}

func findAssets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if err := checkAssets(dir); err != nil {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s: %w (unset it to have hack/control-plane.sh build them, or run make envtest-assets)", dir, err)
		}
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "hack", "control-plane.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Dir = root
	cmd.Stdout = &stdout
	// A cold build takes minutes: show its progress to whoever watches.
	cmd.Stderr = io.MultiWriter(os.Stderr, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("KUBEBUILDER_ASSETS is not set and %s failed (%v); its output:\n%s", script, err, tail(stderr.String(), 40))
	}
	dir := strings.TrimSpace(lastLine(stdout.String()))
	if err := checkAssets(dir); err != nil {
		return "", fmt.Errorf("%s printed %q: %w", script, dir, err)
	}
	return dir, nil
}

func checkAssets(dir string) error {
	var missing []string
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if !checkExecutable(filepath.Join(dir, bin)) {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no executable %s there", strings.Join(missing, " or "))
	}
	return nil
}

// RepoRoot returns the repository's root directory: the nearest directory
// above this source file, or else above the working directory, whose go.mod
// declares footprint's module.
func RepoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(data, []byte("module "+modulePath+"\n")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the footprint repository (a go.mod declaring " + modulePath + ") above this package or the working directory")
}

func checkExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func durationFromEnv(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// NodeManager returns a controller-runtime manager as a node agent sets it
// up (its pod cache holds only node's pods, no metrics server), and a
// function that starts it and stops it when the test ends.
func NodeManager(t testing.TB, e *Environment, node string) (ctrl.Manager, func()) {
	t.Helper()
	ctrl.SetLogger(logr.Discard())
	skip := true
	// The agent's broadcaster (cmd/footprint/agent.go), shut down after
	// the manager stops (cleanups run last in, first out).
	events := violationevents.NewBroadcaster()
	t.Cleanup(events.Shutdown)
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:           e.Scheme,
		EventBroadcaster: events, //nolint:staticcheck // shut down above
		Metrics:          metricsserver.Options{BindAddress: "0"},
		// Several tests of a package each run the same controllers.
		Controller: config.Controller{SkipNameValidation: &skip},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", node)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := func() {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	return mgr, start
}
