package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func files(rules ...string) *v1alpha1.FileRules {
	out := &v1alpha1.FileRules{}
	for _, r := range rules {
		path, access, _ := strings.Cut(r, " ")
		var modes []v1alpha1.FileAccessMode
		for _, m := range strings.Split(access, "+") {
			modes = append(modes, v1alpha1.FileAccessMode(m))
		}
		out.Allow = append(out.Allow, v1alpha1.FileRule{Path: path, Access: modes})
	}
	return out
}

func executables(paths ...string) *v1alpha1.ExecutableRules {
	out := &v1alpha1.ExecutableRules{}
	for _, p := range paths {
		out.Allow = append(out.Allow, v1alpha1.ExecutableRule{Path: p})
	}
	return out
}

func port(p int32) *int32 { return &p }

func TestCompileRefusesBadPoliciesNamingTheField(t *testing.T) {
	manyNodes := &v1alpha1.FileRules{}
	for i := range 200 {
		manyNodes.Allow = append(manyNodes.Allow, v1alpha1.FileRule{Path: fmt.Sprintf("/d%d/f", i), Access: []v1alpha1.FileAccessMode{"read"}})
	}
	for j := range 100 {
		manyNodes.Allow = append(manyNodes.Allow, v1alpha1.FileRule{Path: fmt.Sprintf("/*/g%d", j), Access: []v1alpha1.FileAccessMode{"read"}})
	}
	manyEntries := &v1alpha1.ConnectRules{}
	for i := range 5 {
		manyEntries.Allow = append(manyEntries.Allow, v1alpha1.ConnectRule{CIDR: fmt.Sprintf("10.0.%d.0/24", i), Protocol: "TCP", Port: 1000, EndPort: port(1999)})
	}

	tests := []struct {
		name string
		spec v1alpha1.EnforcementPolicySpec
		want []string // substrings of the error, field first
	}{
		{"relative file path", v1alpha1.EnforcementPolicySpec{Files: files("/etc/passwd read", "etc/x read")},
			[]string{`spec.files.allow[1].path: Invalid value: "etc/x": relative path`}},
		{"empty file path", v1alpha1.EnforcementPolicySpec{Files: files(" read")},
			[]string{`spec.files.allow[0].path: Invalid value: "": empty path`}},
		{"dot-dot component", v1alpha1.EnforcementPolicySpec{Files: files("/etc/../shadow read")},
			[]string{`spec.files.allow[0].path`, `".." component`}},
		{"double slash", v1alpha1.EnforcementPolicySpec{Files: files("/etc//shadow read")},
			[]string{`spec.files.allow[0].path`, `empty component`}},
		{"trailing slash", v1alpha1.EnforcementPolicySpec{Files: files("/etc/ read")},
			[]string{`spec.files.allow[0].path`, `ends with a slash`}},
		{"** before the end", v1alpha1.EnforcementPolicySpec{Files: files("/a read", "/var/**/log read")},
			[]string{`spec.files.allow[1].path: Invalid value: "/var/**/log"`, `** may only end a path`}},
		{"partial-component glob", v1alpha1.EnforcementPolicySpec{Files: files("/var/log/app-*.log read")},
			[]string{`spec.files.allow[0].path`, `partial-component glob`}},
		{"NUL in a component", v1alpha1.EnforcementPolicySpec{Files: files("/etc/pass\x00wd read")},
			[]string{`spec.files.allow[0].path`, `NUL`}},
		{"unknown access mode", v1alpha1.EnforcementPolicySpec{Files: files("/etc/passwd read+append")},
			[]string{`spec.files.allow[0].access[1]: Unsupported value: "append"`}},
		{"no access mode", v1alpha1.EnforcementPolicySpec{Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{{Path: "/etc/passwd"}}}},
			[]string{`spec.files.allow[0].access: Required value`}},
		{"relative executable", v1alpha1.EnforcementPolicySpec{Executables: executables("/bin/sh", "bin/ls")},
			[]string{`spec.executables.allow[1].path: Invalid value: "bin/ls": relative path`}},
		{"** inside an executable path", v1alpha1.EnforcementPolicySpec{Executables: executables("/usr/**/bin")},
			[]string{`spec.executables.allow[0].path`, `** may only end a path`}},
		{"unknown capability", v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_CHOWN", "CAP_FLY"}}},
			[]string{`spec.capabilities.allow[1]: Invalid value: "CAP_FLY": unknown capability`, `capabilities(7)`}},
		{"unknown capability in a user namespace", v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{AllowInUserNamespace: []string{"CAP_NOPE"}}},
			[]string{`spec.capabilities.allowInUserNamespace[0]: Invalid value: "CAP_NOPE"`}},
		{"capability not in the kernel's spelling", v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"NET_ADMIN"}}},
			[]string{`spec.capabilities.allow[0]`, `CAP_NET_ADMIN`}},
		{"malformed CIDR", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0/8", Protocol: "TCP", Port: 80}}}},
			[]string{`spec.connect.allow[0].cidr: Invalid value: "10.0.0/8": not a CIDR`}},
		{"bare address", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.1", Protocol: "TCP", Port: 80}}}},
			[]string{`spec.connect.allow[0].cidr`, `10.0.0.1/32`}},
		{"host bits", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.1/8", Protocol: "TCP", Port: 80}}}},
			[]string{`spec.connect.allow[0].cidr`, `10.0.0.0/8`}},
		{"unknown protocol", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.0/8", Protocol: "ICMP", Port: 80}}}},
			[]string{`spec.connect.allow[0].protocol: Unsupported value: "ICMP"`}},
		{"port out of range", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 70000}}}},
			[]string{`spec.connect.allow[0].port: Invalid value: 70000`}},
		{"endPort below port", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 80, EndPort: port(79)}}}},
			[]string{`spec.connect.allow[0].endPort: Invalid value: 79`}},
		{"port range too wide", v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 80}, {CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 1000, EndPort: port(9000)}}}},
			[]string{`spec.connect.allow[1].endPort: Invalid value: 9000: the range 1000-9000 covers 8001 ports, more than 1024 (MaxPortRange)`, `port 0 with endPort 65535 for any port`}},
		{"too many connect entries", v1alpha1.EnforcementPolicySpec{Connect: manyEntries},
			[]string{`spec.connect.allow: Too many`, `more than 4096 kernel entries (MaxConnectRules`}},
		{"too many path nodes", v1alpha1.EnforcementPolicySpec{Files: manyNodes},
			[]string{`spec.files.allow: Too many`, `more than 16384 path nodes (MaxPathNodes)`}},
		{"unknown mode", v1alpha1.EnforcementPolicySpec{Mode: "Block"},
			[]string{`spec.mode: Unsupported value: "Block"`}},
		{"unknown action", v1alpha1.EnforcementPolicySpec{Action: "Stop"},
			[]string{`spec.action: Unsupported value: "Stop"`}},
		{"several problems at once", v1alpha1.EnforcementPolicySpec{Files: files("etc/x read"), Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_FLY"}}},
			[]string{"invalid policy: 2 problems:\n", `  spec.capabilities.allow[0]: Invalid value: "CAP_FLY"`, `  spec.files.allow[0].path: Invalid value: "etc/x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileSpec(&tt.spec)
			if err == nil {
				t.Fatalf("compiled: %+v", c)
			}
			var inv *InvalidPolicyError
			if !errors.As(err, &inv) || len(inv.Errors) == 0 {
				t.Fatalf("error %T %v is not an InvalidPolicyError", err, err)
			}
			var fe *field.Error
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "spec.") {
				t.Fatalf("error does not unwrap to a field error: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, want)
				}
			}
		})
	}
}

func TestCompileNilPolicy(t *testing.T) {
	if _, err := Compile(nil); err == nil {
		t.Fatal("compiled a nil policy")
	}
	if _, err := CompileSpec(nil); err == nil {
		t.Fatal("compiled a nil spec")
	}
}

func TestCompileDefaultsAndGovernedKinds(t *testing.T) {
	t.Run("empty spec governs nothing", func(t *testing.T) {
		c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{})
		if err != nil {
			t.Fatal(err)
		}
		// Killing after the fact is not accepted unless the policy says so.
		want := &Compiled{Mode: v1alpha1.ModeAudit, Action: v1alpha1.ActionDeny, Unpreventable: v1alpha1.UnpreventableAudit}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("got %+v, want %+v", c, want)
		}
		if !c.FileAllowed("/etc/shadow", AccessAll) || !c.ExecAllowed("/bin/sh") || !c.ConnectAllowed(ProtocolTCP, netip.MustParseAddr("1.2.3.4"), 22) || !c.CapabilityAllowed(21, false) {
			t.Fatal("a policy without sections denies something")
		}
	})
	t.Run("empty sections govern and allow nothing", func(t *testing.T) {
		c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{
			Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill,
			Capabilities: &v1alpha1.CapabilityRules{}, Files: &v1alpha1.FileRules{},
			Executables: &v1alpha1.ExecutableRules{}, Connect: &v1alpha1.ConnectRules{},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &Compiled{
			Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill, Unpreventable: v1alpha1.UnpreventableAudit,
			Capabilities: &Capabilities{}, Files: &PathTree{Nodes: []PathNode{{Parent: -1}}},
			Executables: &PathTree{Nodes: []PathNode{{Parent: -1}}}, ConnectGoverned: true,
			// No spec.routes: the first generation, as every policy
			// before generations were counted.
			RoutesLeftAlone: []v1alpha1.Route{v1alpha1.RouteMkdir, v1alpha1.RouteUtimes},
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("got %+v, want %+v", c, want)
		}
		if c.FileAllowed("/", AccessRead) || c.ExecAllowed("/bin/sh") || c.ConnectAllowed(ProtocolUDP, netip.MustParseAddr("::1"), 53) || c.CapabilityAllowed(0, false) {
			t.Fatal("an empty section allows something")
		}
		if !c.FileAllowed("pipe:[12]", AccessRead|AccessWrite) {
			t.Fatal("a file outside the filesystem is governed")
		}
	})
}

func TestCapabilityMasks(t *testing.T) {
	c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{
		Allow:                []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_CHECKPOINT_RESTORE"},
		AllowInUserNamespace: []string{"CAP_SYS_ADMIN"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Capabilities{Allowed: 1<<0 | 1<<10 | 1<<40, AllowedInUserNamespace: 1 << 21}); *c.Capabilities != want {
		t.Fatalf("got %+v, want %+v", *c.Capabilities, want)
	}
}

// TestPathTreeShape pins the determinised layout of small policies: the
// wildcard's subtree merged into literal siblings, `/**` on both masks,
// breadth-first order with the wildcard child last.
func TestPathTreeShape(t *testing.T) {
	tests := []struct {
		name  string
		rules []string
		want  string
	}{
		{"literal paths share prefixes", []string{"/etc/passwd read", "/etc/hosts read", "/dev/null read+write"}, `
0	-1	/	none
1	0	/dev	none
2	0	/etc	none
3	1	/dev/null	read+write+utimes
4	2	/etc/hosts	read
5	2	/etc/passwd	read
`},
		{"a wildcard's subtree is merged into its literal siblings", []string{"/a/*/x read", "/a/b/y write"}, `
0	-1	/	none
1	0	/a	none
2	1	/a/b	none
3	1	/a/*	none
4	2	/a/b/x	read
5	2	/a/b/y	write+utimes
6	3	/a/*/x	read
`},
		{"** sets access and descendants, and reaches through wildcards", []string{"/app/** read", "/*/bin/** exec", "/app/lib/x.so write"}, `
0	-1	/	none
1	0	/app	read	/**: read
2	0	/*	none
3	1	/app/bin	exec	/**: exec
4	1	/app/lib	none
5	2	/*/bin	exec	/**: exec
6	4	/app/lib/x.so	write+utimes
`},
		{"root rules", []string{"/ read", "/** exec"}, `
0	-1	/	read+exec	/**: exec
`},
		{"a 63-byte literal stays literal", []string{"/" + strings.Repeat("n", 63) + " read"}, `
0	-1	/	none
1	0	/` + strings.Repeat("n", 63) + `	read
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{Files: files(tt.rules...)})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, c)
			if got := "\n" + c.Files.String(); got != tt.want {
				t.Fatalf("got%s\nwant%s", got, tt.want)
			}
			if len(c.Widened) > 0 {
				t.Fatalf("widened: %q", c.Widened)
			}
		})
	}
}

func TestPathTreeAllowed(t *testing.T) {
	c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{Files: files(
		"/etc/passwd read",
		"/proc/*/status read",
		"/proc/self/** write",
		"/var/cache/app/** read+write+create",
		"/var/cache/app/lock truncate",
		"/tmp/* read+write+create",
	)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want Access
	}{
		{"/etc/passwd", AccessRead},
		{"/etc/shadow", 0},
		{"/etc", 0},
		{"/proc/1/status", AccessRead},
		{"/proc/self/status", AccessRead | AccessWrite | AccessUtimes},
		{"/proc/self", AccessWrite | AccessUtimes},
		{"/proc/self/fd/3", AccessWrite | AccessUtimes},
		{"/proc/1/fd/3", 0},
		{"/proc/" + strings.Repeat("9", 80) + "/status", AccessRead},
		{"/var/cache/app", AccessRead | AccessWrite | AccessCreate | AccessUtimes},
		{"/var/cache/app/a/b/c", AccessRead | AccessWrite | AccessCreate | AccessUtimes},
		{"/var/cache/app/lock", AccessRead | AccessWrite | AccessCreate | AccessTruncate | AccessUtimes},
		{"/var/cache", 0},
		{"/tmp/x", AccessRead | AccessWrite | AccessCreate | AccessUtimes},
		{"/tmp/x/y", 0},
		{"/tmp", 0},
		{"/", 0},
		{"/etc/passwd/", 0},
		{"/etc//passwd", 0},
		{"/etc/./passwd", 0},
		{"etc/passwd", 0},
	}
	for _, tt := range tests {
		if got := c.Files.Allowed(tt.path); got != tt.want {
			t.Errorf("Allowed(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestWidenedNotes(t *testing.T) {
	long := strings.Repeat("x", MaxComponentLen+1)
	tests := []struct {
		name   string
		spec   v1alpha1.EnforcementPolicySpec
		notes  []string
		widens string // a path the compiled rules allow and the policy does not
	}{
		{"long literal file component", v1alpha1.EnforcementPolicySpec{Files: files("/etc/hosts read", "/data/"+long+"/f read")},
			[]string{`spec.files.allow[1].path: /data/` + long + `/f enforced as /data/*/f: "` + long + `" is 64 bytes long and the kernel matches components of up to 63 bytes literally`},
			"/data/other/f"},
		{"long literal executable component", v1alpha1.EnforcementPolicySpec{Executables: executables("/opt/" + long)},
			[]string{`spec.executables.allow[0].path: /opt/` + long + ` enforced as /opt/*:`},
			"/opt/sh"},
		{"nothing widened", v1alpha1.EnforcementPolicySpec{Files: files("/etc/hosts read", "/proc/*/status read", "/app/** read"), Executables: executables("/bin/sh")},
			nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileSpec(&tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Widened) != len(tt.notes) {
				t.Fatalf("Widened = %q, want %d notes", c.Widened, len(tt.notes))
			}
			for i, want := range tt.notes {
				if !strings.HasPrefix(c.Widened[i], want) {
					t.Errorf("note %q\ndoes not start with %q", c.Widened[i], want)
				}
			}
			if tt.widens != "" && !(c.FileAllowed(tt.widens, AccessRead) && c.ExecAllowed(tt.widens)) {
				t.Errorf("%s is not allowed: the note is not needed", tt.widens)
			}
		})
	}
}

// TestPartialGlobsWouldBeWidened covers the tree compiler's handling of
// partial-component globs, which policies.ValidateSpec refuses before they get
// there today.
func TestPartialGlobsWouldBeWidened(t *testing.T) {
	list := field.NewPath("spec", "files", "allow")
	tree, notes, errs := compileTree([]pathRule{
		{field: list.Index(0).Child("path"), path: "/etc/hosts", access: AccessRead},
		{field: list.Index(1).Child("path"), path: "/etc/config/..*/x", access: AccessRead},
	}, list)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{`spec.files.allow[1].path: /etc/config/..*/x enforced as /etc/config/*/x: "..*" is a partial-component glob and the kernel matches whole components`}
	if !reflect.DeepEqual(notes, want) {
		t.Fatalf("notes %q, want %q", notes, want)
	}
	if tree.Allowed("/etc/config/..2025_01_01/x") != AccessRead || tree.Allowed("/etc/config/data/x") != AccessRead {
		t.Fatalf("the widened rule does not match:\n%s", tree)
	}
}

func TestConnectCompilation(t *testing.T) {
	tests := []struct {
		name  string
		rules []v1alpha1.ConnectRule
		want  []string
	}{
		{"IPv4 is mapped; port 0 is port 0", []v1alpha1.ConnectRule{
			{CIDR: "10.96.0.10/32", Protocol: "UDP", Port: 53},
			{CIDR: "10.96.0.10/32", Protocol: "UDP", Port: 0},
			{CIDR: "10.0.3.0/24", Protocol: "TCP", Port: 5432},
		}, []string{
			"proto 6 ::ffff:10.0.3.0/120 port 5432",
			"proto 17 ::ffff:10.96.0.10/128 port 0",
			"proto 17 ::ffff:10.96.0.10/128 port 53",
		}},
		{"a port range expands, the full range is any port", []v1alpha1.ConnectRule{
			{CIDR: "fd00::/64", Protocol: "TCP", Port: 8080, EndPort: port(8082)},
			{CIDR: "192.0.2.0/24", Protocol: "TCP", Port: 0, EndPort: port(65535)},
		}, []string{
			"proto 6 ::ffff:192.0.2.0/120 port any",
			"proto 6 fd00::/64 port 8080",
			"proto 6 fd00::/64 port 8081",
			"proto 6 fd00::/64 port 8082",
		}},
		{"duplicates and covered entries are dropped", []v1alpha1.ConnectRule{
			{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 443},
			{CIDR: "10.0.3.7/32", Protocol: "TCP", Port: 443},
			{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 443},
			{CIDR: "10.0.3.7/32", Protocol: "TCP", Port: 440, EndPort: port(444)},
			{CIDR: "10.0.3.0/24", Protocol: "TCP", Port: 0, EndPort: port(65535)},
			{CIDR: "10.0.3.7/32", Protocol: "TCP", Port: 22},
			{CIDR: "10.0.3.7/32", Protocol: "UDP", Port: 443},
		}, []string{
			"proto 6 ::ffff:10.0.3.0/120 port any",
			"proto 6 ::ffff:10.0.0.0/104 port 443",
			"proto 17 ::ffff:10.0.3.7/128 port 443",
		}},
		{"an IPv6 range around the IPv4-mapped range leaves it out", []v1alpha1.ConnectRule{
			{CIDR: "::fffc:0:0/94", Protocol: "TCP", Port: 80},
		}, []string{
			"proto 6 ::fffc:0:0/95 port 80",
			"proto 6 ::fffe:0:0/96 port 80",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &v1alpha1.EnforcementPolicySpec{Connect: &v1alpha1.ConnectRules{Allow: tt.rules}}
			c, err := CompileSpec(spec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range c.Connect {
				got = append(got, r.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			checkInvariants(t, c)
		})
	}
}

func TestIPv6PrefixesExcludeTheMappedRange(t *testing.T) {
	for _, s := range []string{"::/0", "::/64", "::/80", "::/95", "::fffe:0:0/95", "::/1"} {
		p := netip.MustParsePrefix(s)
		parts := ipv6Prefixes(p)
		if len(parts) != 96-p.Bits() {
			t.Errorf("%s: %d parts, want %d", s, len(parts), 96-p.Bits())
		}
		for _, q := range parts {
			if !containsPrefix(p, q) || q.Overlaps(v4Mapped) {
				t.Errorf("%s: part %s is outside it or overlaps %s", s, q, v4Mapped)
			}
		}
	}
	if got := ipv6Prefixes(netip.MustParsePrefix("fd00::/8")); len(got) != 1 {
		t.Errorf("fd00::/8 split into %v", got)
	}
}

// TestExamplePolicies compiles the policies in testdata (which also seed the
// fuzz target) and checks them against the reference.
func TestExamplePolicies(t *testing.T) {
	paths, _ := filepath.Glob("testdata/policies/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no example policies")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var policy v1alpha1.EnforcementPolicy
			if err := yaml.UnmarshalStrict(data, &policy); err != nil {
				t.Fatal(err)
			}
			c, err := Compile(&policy)
			if strings.HasPrefix(filepath.Base(p), "invalid-") {
				if err == nil {
					t.Fatal("an invalid policy compiled")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkAgreement(t, &policy.Spec, c, specProbes(&policy.Spec))
		})
	}
}

// TestAFileAProcessMayWriteMayHaveItsTimesSet checks that utimes comes with
// write, and only with it: a daemon touching its own lock file is not
// refused, a file it may only read keeps its times.
func TestAFileAProcessMayWriteMayHaveItsTimesSet(t *testing.T) {
	p := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce,
		Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{
			{Path: "/run/app.lock", Access: []v1alpha1.FileAccessMode{v1alpha1.AccessRead, v1alpha1.AccessWrite}},
			{Path: "/etc/app.conf", Access: []v1alpha1.FileAccessMode{v1alpha1.AccessRead}},
			{Path: "/srv/stamp", Access: []v1alpha1.FileAccessMode{v1alpha1.AccessUtimes}},
		}}}}
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		modes []v1alpha1.FileAccessMode
		want  bool
	}{
		{"/run/app.lock", []v1alpha1.FileAccessMode{v1alpha1.AccessUtimes}, true},
		{"/etc/app.conf", []v1alpha1.FileAccessMode{v1alpha1.AccessUtimes}, false},
		{"/srv/stamp", []v1alpha1.FileAccessMode{v1alpha1.AccessUtimes}, true},
		{"/srv/stamp", []v1alpha1.FileAccessMode{v1alpha1.AccessWrite}, false},
	} {
		if got := c.FileAllowed(tc.path, AccessOf(tc.modes...)); got != tc.want {
			t.Errorf("%v of %s allowed: %v; want %v", tc.modes, tc.path, got, tc.want)
		}
	}
}
