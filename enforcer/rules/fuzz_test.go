package rules

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// specProbes are the probes for one policy, drawn with a fixed seed, and
// bounded so that a policy with many rules stays quick to check.
func specProbes(spec *v1alpha1.EnforcementPolicySpec) probes {
	r := rand.New(rand.NewPCG(7, 8))
	pr := randomProbes(r, spec)
	pr.paths = sample(r, pr.paths, 1000)
	pr.addrs = sample(r, pr.addrs, 100)
	pr.ports = sample(r, pr.ports, 40)
	return pr
}

// sample keeps n elements of s, the first ones (fixed probes) included.
func sample[T any](r *rand.Rand, s []T, n int) []T {
	if len(s) <= n {
		return s
	}
	keep := s[:n/2]
	rest := s[n/2:]
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	return append(keep, rest[:n-n/2]...)
}

// FuzzCompile decodes arbitrary YAML into an EnforcementPolicy and compiles
// it: Compile never panics, refuses with an InvalidPolicyError, and a policy
// it accepts agrees with policies.Matcher around the policy's own rule
// paths and destinations.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/policies/*.yaml")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("spec: {files: {allow: [{path: /a/*/x, access: [read]}, {path: /a/b/**, access: [write]}]}}"))
	f.Add([]byte("spec: {executables: {allow: [{path: /**}]}, connect: {allow: [{cidr: ::/0, protocol: TCP, port: 0, endPort: 65535}]}}"))
	f.Add([]byte("spec: {capabilities: {allow: [CAP_CHOWN], allowInUserNamespace: [CAP_SYS_ADMIN]}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var policy v1alpha1.EnforcementPolicy
		if err := yaml.Unmarshal(data, &policy); err != nil {
			return
		}
		c, err := Compile(&policy)
		if err != nil {
			var inv *InvalidPolicyError
			if !errors.As(err, &inv) || len(inv.Errors) == 0 || err.Error() == "" {
				t.Fatalf("refused without naming a field: %v", err)
			}
			return
		}
		checkAgreement(t, &policy.Spec, c, specProbes(&policy.Spec))
	})
}
