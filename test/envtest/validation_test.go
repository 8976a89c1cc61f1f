package envtest_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// object makes an unstructured footprint object from the YAML of its spec,
// the way a user's manifest reaches the API server.
func object(t *testing.T, kind, namespace, name, spec string) *unstructured.Unstructured {
	t.Helper()
	var s map[string]any
	if err := yaml.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatalf("bad test YAML %q: %v", spec, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
	}}
	if s != nil {
		u.Object["spec"] = s
	}
	return u
}

const goodRecording = `
podSelector: {matchLabels: {app: web}}
containerSelector: [nginx, sidecar]
kinds: [capabilities, files]
duration: 1h30m
limits: {filesPerDirectory: 32, maxFiles: 1024}
`

const goodPolicy = `
selector:
  workload: {apiVersion: apps/v1, kind: Deployment, name: web}
  podSelector: {matchLabels: {app: web}}
  containers: [nginx]
mode: Enforce
action: Kill
profile: web-nginx
unknownImages: Enforce
images:
- {name: docker.io/library/nginx:1.27, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
- {name: registry.example:5000/team/nginx:1.27}
- {digest: "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"}
capabilities:
  allow: [CAP_NET_BIND_SERVICE, CAP_CHOWN]
  allowInUserNamespace: [CAP_SYS_ADMIN]
files:
  allow:
  - {path: /, access: [read]}
  - {path: /etc/passwd, access: [read]}
  - {path: /proc/*/status, access: [read]}
  - {path: /var/cache/nginx/**, access: [read, write, create, truncate]}
  - {path: /.hidden/..data/x, access: [read]}
connect:
  allow:
  - {cidr: 10.96.0.10/32, protocol: UDP, port: 53}
  - {cidr: 10.0.0.0/8, protocol: TCP, port: 8000, endPort: 8080}
  - {cidr: "fd00::/64", protocol: TCP, port: 443}
  - {cidr: 0.0.0.0/0, protocol: UDP, port: 0}
executables:
  allow:
  - {path: /usr/sbin/nginx}
  - {path: /usr/lib/**}
`

const goodProfile = `
workload: {apiVersion: apps/v1, kind: Deployment, name: web}
container: nginx
capabilities:
- {name: CAP_NET_BIND_SERVICE, verdict: Granted, count: 2}
- {name: CAP_41, verdict: Denied, probe: true, count: 1}
files:
- {path: "pipe:[40912]", access: [write], count: 1}
- {path: /var/cache/**, access: [read, write], count: 0}
connections:
- {protocol: UDP, address: "::ffff:10.96.0.10", port: 53, count: 40}
executables:
- {path: /bin/sh, uids: [0], gids: [0], count: 2}
sockets:
- {operation: Bind, family: IPv4, protocol: TCP, address: 0.0.0.0, port: 80, count: 1}
- {operation: Raw, family: IPv4, protocol: ICMP, count: 1}
- {operation: Raw, family: IPv6, protocol: ICMPv6, count: 1}
- {operation: Raw, family: IPv4, protocol: "255", count: 1}
- {operation: Raw, family: Packet, protocol: "0x0003", count: 1}
sources:
- node: node-a
  pod: web-5c4b-q7z
  policy: web-nginx
  firstSeen: "2026-01-01T00:00:00Z"
  lastSeen: "2026-01-01T00:05:00Z"
  images:
  - {name: docker.io/library/nginx:1.27, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
  - {name: docker.io/library/nginx:1.28}
`

func TestValidSpecsAreAccepted(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	for _, tc := range []struct{ kind, spec string }{
		{"ProfileRecording", goodRecording},
		{"ProfileRecording", `podSelector: {}`},
		{"ProfileRecording", "podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}\nduration: 90s"},
		{"EnforcementPolicy", goodPolicy},
		{"EnforcementPolicy", `{}`}, // a local policy: no selector, nothing enforced
		{"EnforcementPolicy", "capabilities: {}\nfiles: {}\nconnect: {}\nexecutables: {}"}, // deny everything
		{"Profile", goodProfile},
		{"Profile", `{}`},
	} {
		obj := object(t, tc.kind, ns, "", tc.spec)
		obj.SetGenerateName(strings.ToLower(tc.kind) + "-")
		if err := env.Client.Create(ctx(t), obj); err != nil {
			t.Errorf("%s refused:\n%s\n%v", tc.kind, tc.spec, err)
		}
	}
}

// The defaults a user does not write are filled in at admission, so that
// kubectl get -o yaml shows what will happen.
func TestDefaultsAreFilledIn(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	rec := &v1alpha1.ProfileRecording{}
	rec.Name, rec.Namespace = "web", ns
	if err := env.Client.Create(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	if got := rec.Spec.Kinds; !slices.Equal(got, v1alpha1.AllRecordedKinds) {
		t.Errorf("kinds defaulted to %v, want %v", got, v1alpha1.AllRecordedKinds)
	}
	pol := &v1alpha1.EnforcementPolicy{}
	pol.Name, pol.Namespace = "web", ns
	if err := env.Client.Create(ctx(t), pol); err != nil {
		t.Fatal(err)
	}
	if pol.Spec.Mode != v1alpha1.ModeAudit || pol.Spec.Action != v1alpha1.ActionDeny {
		t.Errorf("mode and action defaulted to %q and %q, want Audit and Deny", pol.Spec.Mode, pol.Spec.Action)
	}
	if pol.Spec.UnknownImages != v1alpha1.ModeAudit {
		t.Errorf("unknownImages defaulted to %q, want Audit: a pod running an image the policy was not recorded from is audited, not refused", pol.Spec.UnknownImages)
	}
}

// badSpecs are specs the API server must refuse, each with the field its
// message must name and what the message must say. goField is the field
// footprint's own validator (policies.Validate / ValidateProfile, used
// by the local commands) names for the same mistake: the cluster and the
// laptop must agree on what is wrong and where.
var badSpecs = []struct {
	name    string
	kind    string
	spec    string
	field   string
	want    []string
	goField string
}{
	// ProfileRecording
	// Images
	{"image digest that is not one", "EnforcementPolicy", "images: [{name: docker.io/library/nginx:1.27, digest: v1}]", "spec.images[0].digest",
		[]string{"should match"}, "spec.images[0].digest"},
	{"image with neither name nor digest", "EnforcementPolicy", "images: [{}]", "spec.images[0]",
		[]string{"an image needs a name or a digest"}, "spec.images[0]"},
	{"unknown images mode", "EnforcementPolicy", "unknownImages: Deny", "spec.unknownImages",
		[]string{`Unsupported value: "Deny"`, `"Audit", "Enforce"`}, "spec.unknownImages"},
	{"source image digest that is not one", "Profile", "sources: [{firstSeen: \"2026-01-01T00:00:00Z\", lastSeen: \"2026-01-01T00:00:00Z\", images: [{digest: \"sha256:12\"}]}]", "spec.sources[0].images[0].digest",
		[]string{"should match"}, "spec.sources[0].images[0].digest"},
	{"negative duration", "ProfileRecording", "podSelector: {}\nduration: -5m", "spec.duration",
		[]string{"duration -5m is negative", "leave duration out to record until the recording is deleted"}, ""},
	{"zero duration", "ProfileRecording", "podSelector: {}\nduration: 0s", "spec.duration",
		[]string{"duration 0s is out of range: give at least 1s"}, ""},
	{"duration beyond a year", "ProfileRecording", "podSelector: {}\nduration: 10000h", "spec.duration",
		[]string{"duration 10000h is out of range", "at most 8760h"}, ""},
	{"duration in words", "ProfileRecording", "podSelector: {}\nduration: 5 minutes", "spec.duration",
		[]string{"duration 5 minutes is not a length of time: write it like 30m, 1h or 2h30m"}, ""},
	{"duration without a unit", "ProfileRecording", "podSelector: {}\nduration: \"90\"", "spec.duration",
		[]string{"duration 90 is not a length of time"}, ""},
	{"missing podSelector", "ProfileRecording", "duration: 1h", "spec.podSelector",
		[]string{"Required value"}, ""},
	{"unknown kind", "ProfileRecording", "podSelector: {}\nkinds: [ioctls]", "spec.kinds[0]",
		[]string{`Unsupported value: "ioctls"`, `"capabilities", "files", "connections", "executables", "syscalls"`}, ""},
	{"no kinds", "ProfileRecording", "podSelector: {}\nkinds: []", "spec.kinds",
		[]string{"should have at least 1 items"}, ""},
	{"repeated kind", "ProfileRecording", "podSelector: {}\nkinds: [files, files]", "spec.kinds[1]",
		[]string{`Duplicate value: "files"`}, ""},
	{"container name with capitals", "ProfileRecording", "podSelector: {}\ncontainerSelector: [Web_App]", "spec.containerSelector[0]",
		[]string{`Invalid value: "Web_App"`, "should match"}, ""},
	{"bad selector operator", "ProfileRecording", "podSelector: {matchExpressions: [{key: app, operator: Like, values: [web]}]}", "",
		nil, ""}, // not refused: the schema of metav1.LabelSelector does not check operators (the controller reports it)
	{"zero files per directory", "ProfileRecording", "podSelector: {}\nlimits: {filesPerDirectory: 0}", "spec.limits.filesPerDirectory",
		[]string{"should be greater than or equal to 1"}, ""},
	{"files per directory above max files", "ProfileRecording", "podSelector: {}\nlimits: {filesPerDirectory: 100, maxFiles: 10}", "spec.limits.filesPerDirectory",
		[]string{"filesPerDirectory must not be larger than maxFiles"}, ""},

	// EnforcementPolicy
	{"unknown capability", "EnforcementPolicy", "capabilities: {allow: [CAP_NET_BIND_SERVICE, CAP_FLY]}", "spec.capabilities.allow[1]",
		[]string{"unknown capability CAP_FLY: use a name from capabilities(7), e.g. CAP_NET_BIND_SERVICE"}, "spec.capabilities.allow[1]"},
	{"capability in Kubernetes spelling", "EnforcementPolicy", "capabilities: {allow: [NET_BIND_SERVICE]}", "spec.capabilities.allow[0]",
		[]string{"capability NET_BIND_SERVICE must be written the way the kernel spells it: CAP_NET_BIND_SERVICE"}, "spec.capabilities.allow[0]"},
	{"capability in lower case", "EnforcementPolicy", "capabilities: {allowInUserNamespace: [cap_sys_admin]}", "spec.capabilities.allowInUserNamespace[0]",
		[]string{"must be written the way the kernel spells it: CAP_SYS_ADMIN"}, "spec.capabilities.allowInUserNamespace[0]"},
	{"repeated capability", "EnforcementPolicy", "capabilities: {allow: [CAP_CHOWN, CAP_CHOWN]}", "spec.capabilities.allow[1]",
		[]string{`Duplicate value: "CAP_CHOWN"`}, "spec.capabilities.allow[1]"},
	{"malformed CIDR", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.300/24, protocol: TCP, port: 80}]}", "spec.connect.allow[0].cidr",
		[]string{"cidr 10.0.0.300/24 is not an address range: write one such as 10.0.0.0/24 or fd00::/64"}, "spec.connect.allow[0].cidr"},
	{"CIDR without a prefix length", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.1, protocol: TCP, port: 80}]}", "spec.connect.allow[0].cidr",
		[]string{"cidr 10.0.0.1 is a single address: write it as 10.0.0.1/32"}, "spec.connect.allow[0].cidr"},
	{"IPv6 address without a prefix length", "EnforcementPolicy", "connect: {allow: [{cidr: \"fd00::1\", protocol: TCP, port: 80}]}", "spec.connect.allow[0].cidr",
		[]string{"write it as fd00::1/128"}, "spec.connect.allow[0].cidr"},
	{"CIDR with host bits", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.1/24, protocol: TCP, port: 80}]}", "spec.connect.allow[0].cidr",
		[]string{"cidr 10.0.0.1/24 has host bits set: write the range from its first address"}, "spec.connect.allow[0].cidr"},
	{"IPv4-mapped CIDR", "EnforcementPolicy", "connect: {allow: [{cidr: \"::ffff:10.0.0.0/104\", protocol: TCP, port: 80}]}", "spec.connect.allow[0].cidr",
		[]string{"IPv4-mapped ranges are matched as IPv4"}, "spec.connect.allow[0].cidr"},
	{"port above 65535", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.0/8, protocol: TCP, port: 70000}]}", "spec.connect.allow[0].port",
		[]string{"should be less than or equal to 65535"}, "spec.connect.allow[0].port"},
	{"negative port", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.0/8, protocol: TCP, port: -1}]}", "spec.connect.allow[0].port",
		[]string{"should be greater than or equal to 0"}, "spec.connect.allow[0].port"},
	{"endPort below port", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.0/8, protocol: TCP, port: 443, endPort: 80}]}", "spec.connect.allow[0].endPort",
		[]string{"endPort must not be lower than port"}, "spec.connect.allow[0].endPort"},
	{"SCTP", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.0/8, protocol: SCTP, port: 80}]}", "spec.connect.allow[0].protocol",
		[]string{"protocol SCTP is not enforced: footprint governs TCP and UDP"}, "spec.connect.allow[0].protocol"},
	{"unknown protocol", "EnforcementPolicy", "connect: {allow: [{cidr: 10.0.0.0/8, protocol: ICMP, port: 0}]}", "spec.connect.allow[0].protocol",
		[]string{`Unsupported value: "ICMP"`}, "spec.connect.allow[0].protocol"},
	{"relative file path", "EnforcementPolicy", "files: {allow: [{path: etc/passwd, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"relative path etc/passwd: write it from the root, e.g. /etc/passwd"}, "spec.files.allow[0].path"},
	{"file path ending in a slash", "EnforcementPolicy", "files: {allow: [{path: /etc/, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"path /etc/ ends with a slash"}, "spec.files.allow[0].path"},
	{"empty path component", "EnforcementPolicy", "files: {allow: [{path: /etc//passwd, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"path /etc//passwd has an empty component (//)"}, "spec.files.allow[0].path"},
	{"dot-dot component", "EnforcementPolicy", "files: {allow: [{path: /etc/../root/.ssh, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"path /etc/../root/.ssh has a . or .. component"}, "spec.files.allow[0].path"},
	{"** before the end", "EnforcementPolicy", "files: {allow: [{path: /var/**/log, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"path /var/**/log has ** before its end"}, "spec.files.allow[0].path"},
	{"partial-component glob", "EnforcementPolicy", "files: {allow: [{path: /var/log/*.log, access: [read]}]}", "spec.files.allow[0].path",
		[]string{"path /var/log/*.log has a partial-component glob", "write * for the whole component"}, "spec.files.allow[0].path"},
	{"no access", "EnforcementPolicy", "files: {allow: [{path: /etc/passwd, access: []}]}", "spec.files.allow[0].access",
		[]string{"should have at least 1 items"}, "spec.files.allow[0].access"},
	{"unknown access", "EnforcementPolicy", "files: {allow: [{path: /etc/passwd, access: [append]}]}", "spec.files.allow[0].access[0]",
		[]string{`Unsupported value: "append"`}, "spec.files.allow[0].access[0]"},
	{"relative executable", "EnforcementPolicy", "executables: {allow: [{path: bin/sh}]}", "spec.executables.allow[0].path",
		[]string{"relative path bin/sh: write it from the root, e.g. /bin/sh"}, "spec.executables.allow[0].path"},
	{"unknown mode", "EnforcementPolicy", "mode: Block", "spec.mode",
		[]string{`Unsupported value: "Block"`, `"Audit", "Enforce"`}, "spec.mode"},
	{"unknown action", "EnforcementPolicy", "action: Warn", "spec.action",
		[]string{`Unsupported value: "Warn"`, `"Deny", "Kill"`}, "spec.action"},
	{"selector of containers only", "EnforcementPolicy", "selector: {containers: [nginx]}", "spec.selector",
		[]string{"selector needs a workload or a podSelector"}, "spec.selector"},
	{"workload of an unknown kind", "EnforcementPolicy", "selector: {workload: {kind: ReplicaSet, name: web}}", "spec.selector.workload.kind",
		[]string{`Unsupported value: "ReplicaSet"`}, "spec.selector.workload.kind"},
	{"workload without a name", "EnforcementPolicy", "selector: {workload: {kind: Deployment, name: \"\"}}", "spec.selector.workload.name",
		[]string{"should be at least 1 chars long"}, "spec.selector.workload.name"},
	{"container name with capitals", "EnforcementPolicy", "selector: {workload: {kind: Deployment, name: web}, containers: [Nginx]}", "spec.selector.containers[0]",
		[]string{`Invalid value: "Nginx"`}, "spec.selector.containers[0]"},

	// Profile
	{"capability without CAP_", "Profile", "capabilities: [{name: NET_ADMIN, verdict: Granted, count: 1}]", "spec.capabilities[0].name",
		[]string{`Invalid value: "NET_ADMIN"`, "should match"}, ""}, // ValidateProfile accepts the Kubernetes spelling
	{"unknown verdict", "Profile", "capabilities: [{name: CAP_CHOWN, verdict: Maybe, count: 1}]", "spec.capabilities[0].verdict",
		[]string{`Unsupported value: "Maybe"`}, "spec.capabilities[0].verdict"},
	{"negative count", "Profile", "files: [{path: /etc/passwd, access: [read], count: -3}]", "spec.files[0].count",
		[]string{"should be greater than or equal to 0"}, "spec.files[0].count"},
	{"file without access", "Profile", "files: [{path: /etc/passwd, access: [], count: 1}]", "spec.files[0].access",
		[]string{"should have at least 1 items"}, "spec.files[0].access"},
	{"connection port above 65535", "Profile", "connections: [{protocol: TCP, address: 10.0.0.1, port: 65536, count: 1}]", "spec.connections[0].port",
		[]string{"should be less than or equal to 65535"}, "spec.connections[0].port"},
	{"negative uid", "Profile", "executables: [{path: /bin/sh, uids: [-1], count: 1}]", "spec.executables[0].uids[0]",
		[]string{"should be greater than or equal to 0"}, "spec.executables[0].uids[0]"},
	{"workload of an unknown kind", "Profile", "workload: {kind: Service, name: web}", "spec.workload.kind",
		[]string{`Unsupported value: "Service"`}, "spec.workload.kind"},
}

func TestBadSpecsAreRefusedNamingTheField(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	for _, tc := range badSpecs {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			obj := object(t, tc.kind, ns, "bad", tc.spec)
			err := env.Client.Create(ctx(t), obj, client.DryRunAll)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused, but the schema is not expected to check this: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.spec)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("refused, but not as invalid: %v", err)
			}
			msg := err.Error()
			t.Logf("%s", msg)
			if !strings.Contains(msg, tc.field+": ") {
				t.Errorf("the message does not name %s", tc.field)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("the message does not say %q", want)
				}
			}
			if tc.goField != "" {
				checkGoValidator(t, tc.kind, tc.spec, tc.goField)
			}
		})
	}
}

// checkGoValidator runs footprint's own validator on the same spec.
func checkGoValidator(t *testing.T, kind, spec, want string) {
	t.Helper()
	var errs field.ErrorList
	// A value the Go type cannot hold (a port above 2^31) is refused by the
	// decoder already, naming the field.
	decodeRefuses := func(err error) bool {
		last := want[strings.LastIndex(want, ".")+1:]
		if i := strings.Index(last, "["); i >= 0 {
			last = last[:i]
		}
		if !strings.Contains(err.Error(), last) {
			t.Errorf("decoding fails without naming %s: %v", last, err)
		}
		return true
	}
	switch kind {
	case "EnforcementPolicy":
		var p v1alpha1.EnforcementPolicy
		if err := yaml.Unmarshal([]byte(spec), &p.Spec); err != nil && decodeRefuses(err) {
			return
		}
		errs = policies.Validate(&p)
	case "Profile":
		var p v1alpha1.Profile
		if err := yaml.Unmarshal([]byte(spec), &p.Spec); err != nil && decodeRefuses(err) {
			return
		}
		errs = profiles.ValidateProfile(&p)
	default:
		t.Fatalf("no Go validator for %s", kind)
	}
	var fields []string
	for _, e := range errs {
		if e.Field == want {
			return
		}
		fields = append(fields, e.Field)
	}
	t.Errorf("the API server refuses this at %s, but footprint's own validator %s", want, map[bool]string{true: "accepts it", false: "names " + strings.Join(fields, ", ")}[len(errs) == 0])
}

// A Profile written by the recorder must never be refused: numbered
// capabilities (newer than footprint's table), IPv4-mapped addresses,
// non-path files and zero counts all occur in real recordings.
func TestRealisticProfileQuirksAreAccepted(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	if err := env.Client.Create(ctx(t), object(t, "Profile", ns, "quirks", goodProfile), client.DryRunAll); err != nil {
		t.Fatal(err)
	}
}

// policyPaths are path patterns and whether they are valid in a file or
// executable rule (the examples of the policies package's own tests, and more).
var policyPaths = func() map[string]bool {
	valid := []string{
		"/", "/**", "/etc/passwd", "/proc/*/status", "/var/cache/app/**",
		"/var/run/x/*/token", "/etc/..data/x", "/.hidden", "/a/...", "/*/**",
		"/*", "/a/*/*/b", "/white space/is fine", "/brackets[1]/and?/marks!",
		"/" + strings.Repeat("a", 1023),
	}
	invalid := []string{
		"etc/passwd", "/etc/", "/etc//passwd", "/etc/./passwd", "/etc/../passwd",
		"/var/log/app-*.log", "/var/**/log", "/var/**/**", "/a/b**", "/..", "/.",
		"/a/*x", "/***", "/a/**x", "/**/**", "*", "/a/x*/b",
	}
	m := map[string]bool{}
	for _, p := range valid {
		m[p] = true
	}
	for _, p := range invalid {
		m[p] = false
	}
	return m
}()

// The API server and footprint's own validator (what `footprint enforce`
// runs locally) agree on every path, and whenever the server refuses one it
// says why in words, not only with its pattern.
func TestPolicyPathsAreJudgedLikeFootprintJudgesThem(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	for p, valid := range policyPaths {
		if goValid := policies.ValidatePath(p) == nil; goValid != valid {
			t.Errorf("policies.ValidatePath(%q): valid=%v, want %v", p, goValid, valid)
		}
		quoted, _ := json.Marshal(p)
		spec := fmt.Sprintf("files: {allow: [{path: %s, access: [read]}]}\nexecutables: {allow: [{path: %s}]}", quoted, quoted)
		err := env.Client.Create(ctx(t), object(t, "EnforcementPolicy", ns, "paths", spec), client.DryRunAll)
		short := p
		if len(short) > 40 {
			short = short[:40] + "..."
		}
		switch {
		case valid && err != nil:
			t.Errorf("path %q refused: %v", short, err)
		case !valid && err == nil:
			t.Errorf("path %q accepted", short)
		case !valid:
			msg := err.Error()
			for _, field := range []string{"spec.files.allow[0].path", "spec.executables.allow[0].path"} {
				if !strings.Contains(msg, field+`: Invalid value: "string": `) {
					t.Errorf("path %q: no explanation at %s, only: %v", short, field, err)
				}
			}
		}
	}
	long := "/" + strings.Repeat("a", 1024)
	err := env.Client.Create(ctx(t), object(t, "EnforcementPolicy", ns, "paths", fmt.Sprintf("executables: {allow: [{path: %s}]}", long)), client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "spec.executables.allow[0].path: Too long: may not be more than 1024") {
		t.Errorf("a path of 1025 characters: %v", err)
	}
}
