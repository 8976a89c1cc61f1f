package profiles

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/profiles/profiletest"
)

const validProfile = `apiVersion: footprint.dev/v1alpha1
kind: Profile
metadata:
  name: web-app
  namespace: shop
  labels:
    app: web
spec:
  workload:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  container: app
  capabilities:
  - name: CAP_NET_BIND_SERVICE
    verdict: Granted
    count: 3
  files:
  - path: /etc/passwd
    access: [read]
    filesystem: overlay
    rootFilesystem: true
    count: 2
  connections:
  - protocol: UDP
    address: 10.96.0.10
    port: 53
    count: 12
  executables:
  - path: /usr/sbin/nginx
    uids: [101]
    count: 1
  sources:
  - node: node-a
    pod: web-7d9f-abcde
    firstSeen: "2025-01-01T10:00:00Z"
    lastSeen: "2025-01-01T11:00:00Z"
    backends:
      capabilities: fexit/cap_capable
`

func TestLoadReadsAValidProfile(t *testing.T) {
	p, err := Load([]byte(validProfile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "web-app" || p.Spec.Workload.Name != "web" || p.Spec.Files[0].Path != "/etc/passwd" || p.Spec.Sources[0].Backends["capabilities"] != "fexit/cap_capable" {
		t.Fatalf("decoded the wrong thing: %+v", p)
	}
}

func TestLoadReadsJSONIndentedWithTabs(t *testing.T) {
	p, err := Load([]byte(validProfile))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(data)
	if err != nil {
		t.Fatalf("JSON with tabs: %v", err)
	}
	if !sameSpec(t, p, back) {
		t.Fatalf("JSON round trip changed the profile")
	}
}

func TestLoadRefusesMalformedInputNamingLineAndField(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(validProfile, old) {
			t.Fatalf("test setup: %q not in the valid profile", old)
		}
		return strings.Replace(validProfile, old, new, 1)
	}
	tests := []struct {
		name  string
		input string
		want  []string // every string must appear in the error
	}{
		{"unknown field with a suggestion", replace("    access: [read]", "    acess: [read]"), []string{"line 20", "spec.files[0].acess", "unknown field", `did you mean "access"`}},
		{"unknown top-level field", validProfile + "extra: 1\n", []string{"line 40", "extra", "unknown field"}},
		{"wrong type", replace("    count: 3", "    count: three"), []string{"line 17", "spec.capabilities[0].count", "expected a whole number", `"three"`}},
		{"list expected", replace("access: [read]", "access: read"), []string{"line 20", "spec.files[0].access", "expected a list"}},
		{"unknown capability", replace("CAP_NET_BIND_SERVICE", "CAP_FLY"), []string{"line 15", "spec.capabilities[0].name", `unknown capability "CAP_FLY"`}},
		{"bad verdict", replace("verdict: Granted", "verdict: Maybe"), []string{"line 16", "spec.capabilities[0].verdict", "Granted", "Denied"}},
		{"bad address", replace("10.96.0.10", "10.96.0.300"), []string{"line 26", "spec.connections[0].address", "not an IP address"}},
		{"port out of range", replace("port: 53", "port: 70000"), []string{"line 27", "spec.connections[0].port", "0 to 65535"}},
		{"bad access mode", replace("access: [read]", "access: [rw]"), []string{"line 20", "spec.files[0].access[0]", "read"}},
		{"bad time", replace(`firstSeen: "2025-01-01T10:00:00Z"`, "firstSeen: yesterday"), []string{"line 36", "spec.sources[0].firstSeen", "RFC 3339"}},
		{"duplicate field", replace("  container: app\n", "  container: app\n  container: web\n"), []string{"line 14", "spec.container", "given twice", "first on line 13"}},
		{"bad workload kind", replace("kind: Deployment", "kind: Deploymint"), []string{"line 11", "spec.workload.kind", "Deployment"}},
		{"YAML syntax", "apiVersion: footprint.dev/v1alpha1\nkind: Profile\nspec:\n  files:\n  - path: /a\n   access: [read]\n", []string{"malformed YAML", "line 3"}},
		{"not a profile", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", []string{"not a footprint Profile", "v1 Pod"}},
		{"no kind", "metadata:\n  name: x\n", []string{"not a footprint Profile", "no apiVersion and kind"}},
		{"empty", "", []string{"empty document"}},
		{"only a comment", "# nothing\n", []string{"empty document"}},
		{"a list, not an object", "- a\n- b\n", []string{"line 1", "expected an object"}},
		{"two documents", validProfile + "---\n" + validProfile, []string{"line 40", "second YAML document"}},
		{"anchors", strings.Replace(validProfile, "  container: app", "  container: &c app", 1), []string{"anchors and aliases"}},
		{"negative count", replace("    count: 12", "    count: -1"), []string{"line 28", "spec.connections[0].count", "not negative"}},
		{"several problems at once", strings.Replace(replace("CAP_NET_BIND_SERVICE", "CAP_FLY"), "10.96.0.10", "nowhere", 1), []string{"line 15: spec.capabilities[0].name", "line 26: spec.connections[0].address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load([]byte(tt.input))
			if err == nil {
				t.Fatalf("want an error, got a profile: %+v", p)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestLoadFileNamesTheFile(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("want an error naming the missing file, got %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: footprint.dev/v1alpha1\nkind: Profile\nspec:\n  nope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), "load "+path+": line 4: spec.nope: unknown field") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadRoundTripsWhatTheRecorderWrites(t *testing.T) {
	r := randomSource(t, 11)
	for range 100 {
		p := profiletest.Profile(r)
		data, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if !sameSpec(t, p, back) {
			t.Fatalf("round trip changed the profile:\n%s", data)
		}
	}
}

// FuzzLoad checks that the profile loader never panics, and that whatever it
// accepts survives being written out and read back.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(validProfile))
	f.Add([]byte(`{"apiVersion":"footprint.dev/v1alpha1","kind":"Profile","spec":{"files":[{"path":"/a","access":["read"],"count":1}]}}`))
	f.Add([]byte("apiVersion: footprint.dev/v1alpha1\nkind: Profile\nspec: {capabilities: [{name: CAP_KILL, verdict: Denied, count: 1}]}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("- - - -\n"))
	f.Add([]byte("apiVersion: footprint.dev/v1alpha1\nkind: Profile\nmetadata: {creationTimestamp: null, managedFields: [{fieldsV1: {f:spec: {}}}]}\n"))
	f.Add([]byte("\xef\xbb\xbf{\n\t\"kind\": \"Profile\"\n}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load(data)
		if err != nil {
			if p != nil {
				t.Fatal("Load returned both a profile and an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("cannot write back an accepted profile: %v", err)
		}
		back, err := Load(out)
		if err != nil {
			t.Fatalf("an accepted profile, written back, is refused: %v\n%s", err, out)
		}
		if !sameSpec(t, p, back) {
			t.Fatalf("an accepted profile changes when written back:\n%s", out)
		}
	})
}
