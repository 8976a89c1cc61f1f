package profilestore

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/test/envtest"
)

// One real kube-apiserver and etcd, with footprint's CRDs, shared by the
// tests of this package and started by the first test that needs it; each
// test writes in a namespace of its own.
var (
	envOnce sync.Once
	env     *envtest.Environment
	envErr  error
)

// apiServer returns the shared control plane, failing the test (never
// skipping it) when it cannot start.
func apiServer(t *testing.T) *envtest.Environment {
	t.Helper()
	envOnce.Do(func() {
		start := time.Now()
		env, envErr = envtest.New()
		if envErr == nil {
			fmt.Fprintf(os.Stderr, "envtest: kube-apiserver and etcd up in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
	})
	if envErr != nil {
		t.Fatalf("envtest: %v", envErr)
	}
	return env
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
