package envtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/test/envtest"
)

// env is one control plane shared by the tests of this package; each test
// works in a namespace of its own.
var env *envtest.Environment

func TestMain(m *testing.M) {
	start := time.Now()
	e, err := envtest.New()
	if err != nil {
		// Not a skip: a machine that cannot run the API server cannot
		// vouch for the CRDs.
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "envtest: kube-apiserver and etcd from %s up with %d CRDs in %s\n", e.Assets, len(e.CRDs), time.Since(start).Round(100*time.Millisecond))
	env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
	}
	os.Exit(code)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func repoPath(t *testing.T, rel string) string {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}
