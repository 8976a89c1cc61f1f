package envtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A KUBEBUILDER_ASSETS that does not hold the binaries is an error that says
// what is missing and how to get them, never a skipped test.
func TestAssetsWithoutBinariesIsAnError(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	_, err := findAssets()
	if err == nil {
		t.Fatal("an empty KUBEBUILDER_ASSETS was accepted")
	}
	for _, want := range []string{dir, "kube-apiserver or etcd", "make envtest-assets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := findAssets(); err == nil || !strings.Contains(err.Error(), "no executable etcd") {
		t.Fatalf("a directory without etcd: got %v", err)
	}
}

func TestRepoRootHoldsTheCRDsAndTheScript(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"go.mod", "hack/control-plane.sh", "deploy/crds"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
}
