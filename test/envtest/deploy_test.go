package envtest_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestDeployInstallsCleanly renders deploy/ the way `kubectl apply -k
// deploy/` does and sends every object to the API server: the namespace for
// real, everything else as a server-side apply with dryRun=All, so every
// admission step (schema, RBAC object validation, DaemonSet validation)
// runs.
func TestDeployInstallsCleanly(t *testing.T) {
	kubectl := filepath.Join(env.Assets, "kubectl")
	out, err := exec.Command(kubectl, "kustomize", repoPath(t, "deploy")).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("kubectl kustomize deploy/: %v\n%s", err, exit.Stderr)
		}
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	kinds := map[string]int{}
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode kustomize output: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		kinds[u.GetKind()]++
		opts := []client.PatchOption{client.FieldOwner("footprint-test"), client.ForceOwnership}
		if u.GetKind() != "Namespace" {
			opts = append(opts, client.DryRunAll)
		}
		if err := env.Client.Patch(ctx(t), u, client.Apply, opts...); err != nil { //nolint:staticcheck // unstructured apply
			t.Errorf("%s %s refused: %v", u.GetKind(), u.GetName(), err)
		}
	}
	for kind, want := range map[string]int{
		"CustomResourceDefinition": 3, "Namespace": 1, "ServiceAccount": 1, "ClusterRole": 1,
		"ClusterRoleBinding": 1, "DaemonSet": 1, "Service": 1,
	} {
		if kinds[kind] != want {
			t.Errorf("deploy/ has %d %s, want %d (all: %v)", kinds[kind], kind, want, kinds)
		}
	}
}
