package generator

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// update rewrites the golden files: go test ./generator -update. Review the
// diff by hand before committing it.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

func loadFixture(t *testing.T, name string) *v1alpha1.Profile {
	t.Helper()
	p, err := profiles.LoadFile(filepath.Join("testdata", "profiles", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkGolden compares output with testdata/NAME.golden.yaml.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./generator -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test ./generator -update and review the diff):\n%s", name, path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out = append(out, fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl))
		}
	}
	return strings.Join(out, "\n")
}

// clusterResolver stands in for the in-cluster resolver the Kubernetes side
// supplies: it knows the database Service.
type clusterResolver struct{}

func (clusterResolver) ResolveDestination(c v1alpha1.ConnectionEntry) (Destination, bool) {
	if c.Address == "10.0.3.7" && c.Port == 5432 {
		port := intstr.FromString("postgres")
		return Destination{
			PodSelector:       metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "data"}},
			Port:              &port,
			Description:       "Service data/db",
		}, true
	}
	return Destination{}, false
}

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

// goldenCases are every artifact for the fixed profiles. Each is also
// decoded strictly with the real API types by TestGeneratedObjectsDecodeStrictly.
var goldenCases = []struct {
	name     string
	fixture  string
	generate func(p *v1alpha1.Profile) ([]byte, error)
}{
	{"web-securitycontext", "web", func(p *v1alpha1.Profile) ([]byte, error) {
		return SecurityContextPatch(p, SecurityContextOptions{})
	}},
	{"web-policy", "web", func(p *v1alpha1.Profile) ([]byte, error) {
		return PolicyYAML(p, PolicyOptions{})
	}},
	{"web-networkpolicy", "web", func(p *v1alpha1.Profile) ([]byte, error) {
		return NetworkPolicyYAML(p, NetworkPolicyOptions{PodSelector: webSelector, Resolver: clusterResolver{}})
	}},
	{"web-tetragon", "web", func(p *v1alpha1.Profile) ([]byte, error) {
		return TetragonYAML(p, TetragonOptions{PodSelector: webSelector})
	}},
	{"worker-securitycontext", "worker", func(p *v1alpha1.Profile) ([]byte, error) {
		return SecurityContextPatch(p, SecurityContextOptions{})
	}},
	{"worker-policy-enforce-kill", "worker", func(p *v1alpha1.Profile) ([]byte, error) {
		return PolicyYAML(p, PolicyOptions{Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill})
	}},
	{"worker-networkpolicy-unresolved", "worker", func(p *v1alpha1.Profile) ([]byte, error) {
		return NetworkPolicyYAML(p, NetworkPolicyOptions{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"job": "report"}}})
	}},
	{"worker-tetragon-enforce-kill", "worker", func(p *v1alpha1.Profile) ([]byte, error) {
		return TetragonYAML(p, TetragonOptions{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"job": "report"}}, Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill})
	}},
	{"local-securitycontext-pod", "local", func(p *v1alpha1.Profile) ([]byte, error) {
		return SecurityContextPatch(p, SecurityContextOptions{Target: Target{Workload: &v1alpha1.WorkloadReference{Kind: "Pod", Name: "server"}, Container: "server", Namespace: "dev"}})
	}},
	{"local-policy", "local", func(p *v1alpha1.Profile) ([]byte, error) {
		return PolicyYAML(p, PolicyOptions{})
	}},
}

func TestGoldenArtifacts(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.generate(loadFixture(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, got)
		})
	}
}
