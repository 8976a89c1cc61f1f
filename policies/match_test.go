package policies

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

var policyPathExamples = map[string]bool{
	"/":                        true,
	"/**":                      true,
	"/etc/passwd":              true,
	"/proc/*/status":           true,
	"/var/cache/app/**":        true,
	"/var/run/x/*/token":       true,
	"/etc/..data/x":            true,
	"/.hidden":                 true,
	"/a/...":                   true,
	"/*/**":                    true,
	"":                         false,
	"etc/passwd":               false,
	"/etc/":                    false,
	"/etc//passwd":             false,
	"/etc/./passwd":            false,
	"/etc/../passwd":           false,
	"/var/log/app-*.log":       false,
	"/var/**/log":              false,
	"/var/**/**":               false,
	"/a/b**":                   false,
	"/..":                      false,
	"/.":                       false,
	"/a/*x":                    false,
	"/white space/is fine":     true,
	"/brackets[1]/and?/marks!": true,
}

func TestValidatePath(t *testing.T) {
	for p, valid := range policyPathExamples {
		if err := ValidatePath(p); (err == nil) != valid {
			t.Errorf("ValidatePath(%q) = %v, want valid=%v", p, err, valid)
		}
	}
}

// TestCRDPathPatternAgreesWithValidatePath keeps the API server's check
// (the kubebuilder Pattern marker on FileRule.Path and ExecutableRule.Path)
// and footprint's own in step, so a policy is refused the same way locally
// and in a cluster.
func TestCRDPathPatternAgreesWithValidatePath(t *testing.T) {
	src, err := os.ReadFile("../crds/v1alpha1/enforcementpolicy_types.go")
	if err != nil {
		t.Fatal(err)
	}
	markers := regexp.MustCompile("(?m)^\\s*// \\+kubebuilder:validation:Pattern=`([^`]+)`\\s*\\n\\s*Path string").FindAllSubmatch(src, -1)
	if len(markers) != 2 {
		t.Fatalf("found %d Path pattern markers, want 2 (FileRule and ExecutableRule)", len(markers))
	}
	for _, m := range markers {
		pattern := regexp.MustCompile(string(m[1]))
		for p, valid := range policyPathExamples {
			if pattern.MatchString(p) != valid {
				t.Errorf("CRD pattern %s on %q: match=%v, want %v", m[1], p, !valid, valid)
			}
		}
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/etc/passwd", "/etc/passwd", true},
		{"/etc/passwd", "/etc/passwd2", false},
		{"/proc/*/status", "/proc/12/status", true},
		{"/proc/*/status", "/proc/status", false},
		{"/proc/*/status", "/proc/1/2/status", false},
		{"/tmp/*", "/tmp/.X11-unix", true},
		{"/var/cache/**", "/var/cache", true},
		{"/var/cache/**", "/var/cache/a/b/c", true},
		{"/var/cache/**", "/var/cachex", false},
		{"/**", "/anything/at/all", true},
		{"/", "/", true},
		{"/", "/etc", false},
		{"/a/**", "/a/../etc/shadow", false}, // not a canonical path: matches nothing
		{"/a/**", "a/b", false},
	}
	for _, tt := range tests {
		if got := MatchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func testPolicy() *v1alpha1.EnforcementPolicySpec {
	endPort := int32(8090)
	return &v1alpha1.EnforcementPolicySpec{
		Mode:         v1alpha1.ModeEnforce,
		Action:       v1alpha1.ActionDeny,
		Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_NET_BIND_SERVICE"}},
		Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{
			{Path: "/etc/passwd", Access: []v1alpha1.FileAccessMode{"read"}},
			{Path: "/var/cache/app/**", Access: []v1alpha1.FileAccessMode{"read", "write", "create"}},
			{Path: "/var/cache/app/fixed", Access: []v1alpha1.FileAccessMode{"truncate"}},
		}},
		Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{
			{CIDR: "10.96.0.10/32", Protocol: "UDP", Port: 53},
			{CIDR: "10.0.0.0/24", Protocol: "TCP", Port: 8080, EndPort: &endPort},
		}},
		Executables: &v1alpha1.ExecutableRules{Allow: []v1alpha1.ExecutableRule{{Path: "/usr/sbin/nginx"}}},
	}
}

func TestMatcherDecisions(t *testing.T) {
	m, err := NewMatcher(testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		name    string
		d       Decision
		allowed bool
		reason  string
	}
	netBind, _ := profiles.ParseCapability("CAP_NET_BIND_SERVICE")
	sysAdmin, _ := profiles.ParseCapability("CAP_SYS_ADMIN")
	checks := []check{
		{"read of an allowed file", m.FileOpen("/etc/passwd", "read"), true, "allowed by /etc/passwd"},
		{"write of a read-only file", m.FileOpen("/etc/passwd", "read", "write"), false, "do not grant write"},
		{"file outside every rule", m.FileOpen("/etc/shadow", "read"), false, "no rule matches"},
		{"times set on a file it may write", m.FileOpen("/var/cache/app/x", "utimes"), true, "allowed by /var/cache/app/**"},
		{"times set on a read-only file", m.FileOpen("/etc/passwd", "utimes"), false, "do not grant utimes"},
		{"rules add up", m.FileOpen("/var/cache/app/fixed", "write", "truncate"), true, "/var/cache/app/**, /var/cache/app/fixed"},
		{"open without modes is a read", m.FileOpen("/etc/passwd"), true, ""},
		{"pipes are not governed", m.FileOpen("pipe:[123]", "write"), true, "not a filesystem path"},
		{"non-canonical path", m.FileOpen("/var/cache/app/../../../etc/shadow", "read"), false, "not a canonical path"},
		{"allowed exec", m.Exec("/usr/sbin/nginx"), true, ""},
		{"other exec", m.Exec("/bin/sh"), false, "execution of /bin/sh"},
		{"allowed DNS", m.Connect("UDP", netip.MustParseAddr("10.96.0.10"), 53), true, ""},
		{"DNS over the wrong protocol", m.Connect("TCP", netip.MustParseAddr("10.96.0.10"), 53), false, ""},
		{"port range", m.Connect("TCP", netip.MustParseAddr("10.0.0.200"), 8085), true, "8080-8090"},
		{"outside the range", m.Connect("TCP", netip.MustParseAddr("10.0.0.200"), 8091), false, ""},
		{"IPv4-mapped is matched as IPv4", m.Connect("UDP", netip.MustParseAddr("::ffff:10.96.0.10"), 53), true, ""},
		{"allowed capability", m.Capability(CapabilityCheck{Capability: netBind, WouldBeGranted: true}), true, ""},
		{"other capability", m.Capability(CapabilityCheck{Capability: sysAdmin, WouldBeGranted: true}), false, "CAP_SYS_ADMIN"},
		{"probe is not governed", m.Capability(CapabilityCheck{Capability: sysAdmin, NoAudit: true, WouldBeGranted: true}), true, "probe"},
		{"check refused anyway", m.Capability(CapabilityCheck{Capability: sysAdmin}), true, "refused by the kernel anyway"},
		{"capability in a child user namespace", m.Capability(CapabilityCheck{Capability: netBind, UserNamespace: true, WouldBeGranted: true}), false, "allowInUserNamespace"},
	}
	for _, c := range checks {
		if c.d.Allowed != c.allowed || !strings.Contains(c.d.Reason, c.reason) {
			t.Errorf("%s: got %+v, want allowed=%v with reason containing %q", c.name, c.d, c.allowed, c.reason)
		}
		if !c.d.Allowed && c.d.Verdict != VerdictDeny {
			t.Errorf("%s: verdict %s in Enforce/Deny, want Deny", c.name, c.d.Verdict)
		}
	}
}

func TestPolicyVerdictFollowsModeAndAction(t *testing.T) {
	for _, tt := range []struct {
		mode   v1alpha1.EnforcementMode
		action v1alpha1.EnforcementAction
		want   Verdict
	}{
		{"", "", VerdictAudit},
		{v1alpha1.ModeAudit, v1alpha1.ActionKill, VerdictAudit},
		{v1alpha1.ModeEnforce, "", VerdictDeny},
		{v1alpha1.ModeEnforce, v1alpha1.ActionKill, VerdictKill},
	} {
		spec := testPolicy()
		spec.Mode, spec.Action = tt.mode, tt.action
		m, err := NewMatcher(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Exec("/bin/sh").Verdict; got != tt.want {
			t.Errorf("mode %q action %q: verdict %s, want %s", tt.mode, tt.action, got, tt.want)
		}
	}
}

func TestAbsentKindsAreNotEnforcedButEmptyOnesDenyAll(t *testing.T) {
	absent, err := NewMatcher(&v1alpha1.EnforcementPolicySpec{})
	if err != nil {
		t.Fatal(err)
	}
	if !absent.Exec("/bin/sh").Allowed || !absent.FileOpen("/etc/shadow", "write").Allowed {
		t.Error("a policy without executables or files must not enforce them")
	}
	empty, err := NewMatcher(&v1alpha1.EnforcementPolicySpec{Executables: &v1alpha1.ExecutableRules{}, Files: &v1alpha1.FileRules{}})
	if err != nil {
		t.Fatal(err)
	}
	if empty.Exec("/bin/sh").Allowed || empty.FileOpen("/etc/hosts").Allowed {
		t.Error("an empty allow-list must deny everything of its kind")
	}
}

func TestWouldDenyListsWhatTheProfileDidOutsideThePolicy(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{
		Capabilities: []v1alpha1.CapabilityEntry{
			{Name: "CAP_NET_BIND_SERVICE", Verdict: "Granted", Count: 1},
			{Name: "CAP_SYS_ADMIN", Verdict: "Granted", Probe: true, Count: 900},
			{Name: "CAP_CHOWN", Verdict: "Denied", Count: 2},
			{Name: "CAP_NET_RAW", Verdict: "Granted", Count: 4},
		},
		Files: []v1alpha1.FileEntry{
			{Path: "/etc/passwd", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
			{Path: "/var/cache/app/**", Access: []v1alpha1.FileAccessMode{"read", "write"}, Count: 1},
			{Path: "/proc/*/status", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
			{Path: "/etc/passwd2", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1},
		},
		Connections: []v1alpha1.ConnectionEntry{{Protocol: "TCP", Address: "10.0.3.7", Port: 5432, Count: 1}},
		Executables: []v1alpha1.ExecutableEntry{{Path: "/usr/sbin/nginx", Count: 1}, {Path: "/bin/sh", Count: 1}},
	}}
	policy := &v1alpha1.EnforcementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: *testPolicy()}
	denials, err := WouldDeny(p, policy)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range denials {
		got = append(got, string(d.Kind)+" "+d.Entry)
	}
	want := []string{
		"capability CAP_NET_RAW granted",
		"file /etc/passwd2 (read)",
		"file /proc/*/status (read)",
		"connection TCP 10.0.3.7:5432",
		"executable /bin/sh",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("denials:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWouldDenyChecksEveryDepthOfARecursiveGlob(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{{Path: "/data/**", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1}}}}
	shallow := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{
		{Path: "/data", Access: []v1alpha1.FileAccessMode{"read"}},
		{Path: "/data/*", Access: []v1alpha1.FileAccessMode{"read"}},
		{Path: "/data/*/*", Access: []v1alpha1.FileAccessMode{"read"}},
	}}}}
	denials, err := WouldDeny(p, shallow)
	if err != nil {
		t.Fatal(err)
	}
	if len(denials) != 1 || !strings.Contains(denials[0].Reason, "/data/*/*/*") {
		t.Fatalf("want /data/** refused three levels down, got %+v", denials)
	}
	deep := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{{Path: "/data/**", Access: []v1alpha1.FileAccessMode{"read"}}}}}}
	if denials, _ := WouldDeny(p, deep); len(denials) != 0 {
		t.Fatalf("/data/** allows /data/**, got %+v", denials)
	}
}
