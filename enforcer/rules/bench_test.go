package rules

import (
	"fmt"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// benchmarkSpec is the size the enforcement benchmarks use: 100 file rules,
// 20 connect rules and 10 executables, shaped like a generated policy.
func benchmarkSpec() *v1alpha1.EnforcementPolicySpec {
	spec := &v1alpha1.EnforcementPolicySpec{
		Mode:         v1alpha1.ModeEnforce,
		Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"}},
		Files:        &v1alpha1.FileRules{},
		Connect:      &v1alpha1.ConnectRules{},
		Executables:  &v1alpha1.ExecutableRules{},
	}
	dirs := []string{"/etc", "/usr/lib/x86_64-linux-gnu", "/usr/share/app", "/var/cache/app", "/app/static", "/proc/*", "/tmp"}
	for i := range 100 {
		path := fmt.Sprintf("%s/file-%d", dirs[i%len(dirs)], i)
		switch i % 10 {
		case 7:
			path = fmt.Sprintf("%s/dir-%d/**", dirs[i%len(dirs)], i)
		case 8:
			path = fmt.Sprintf("%s/*/file-%d", dirs[i%len(dirs)], i)
		}
		spec.Files.Allow = append(spec.Files.Allow, v1alpha1.FileRule{Path: path, Access: []v1alpha1.FileAccessMode{v1alpha1.AccessRead}})
	}
	for i := range 20 {
		rule := v1alpha1.ConnectRule{CIDR: fmt.Sprintf("10.0.%d.%d/32", i/8, i), Protocol: v1alpha1.ProtocolTCP, Port: int32(8000 + i)}
		if i%5 == 0 {
			rule.CIDR, rule.Protocol, rule.Port = fmt.Sprintf("fd00::%x/128", i), v1alpha1.ProtocolUDP, 53
		}
		spec.Connect.Allow = append(spec.Connect.Allow, rule)
	}
	for i := range 10 {
		spec.Executables.Allow = append(spec.Executables.Allow, v1alpha1.ExecutableRule{Path: fmt.Sprintf("/usr/bin/tool-%d", i)})
	}
	return spec
}

func BenchmarkCompile(b *testing.B) {
	spec := benchmarkSpec()
	c, err := CompileSpec(spec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileSpec(spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Files.Nodes)), "file-nodes")
	b.ReportMetric(float64(len(c.Connect)), "connect-entries")
}

// BenchmarkAllowed is the Go model of the kernel walk, for scale.
func BenchmarkAllowed(b *testing.B) {
	c, err := CompileSpec(benchmarkSpec())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.Files.Allowed("/usr/lib/x86_64-linux-gnu/file-1")
	}
}

func TestBenchmarkPolicyAgrees(t *testing.T) {
	spec := benchmarkSpec()
	c, err := CompileSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	checkAgreement(t, spec, c, specProbes(spec))
}
