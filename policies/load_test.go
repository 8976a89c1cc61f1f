package policies

import (
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

const minimalProfile = `apiVersion: footprint.dev/v1alpha1
kind: Profile
metadata:
  name: web-app
spec:
  files:
  - path: /etc/passwd
    access: [read]
    count: 2
`

func TestLoadObjectDispatchesOnKind(t *testing.T) {
	obj, err := LoadObject([]byte(minimalProfile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*v1alpha1.Profile); !ok {
		t.Fatalf("got %T, want a Profile", obj)
	}
	obj, err = LoadObject([]byte("apiVersion: footprint.dev/v1alpha1\nkind: EnforcementPolicy\nmetadata:\n  name: p\nspec:\n  mode: Audit\n  files:\n    allow:\n    - path: /etc/passwd\n      access: [read]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*v1alpha1.EnforcementPolicy); !ok {
		t.Fatalf("got %T, want an EnforcementPolicy", obj)
	}
}

func TestLoadRefusesBadPoliciesBeforeAnythingIsLoaded(t *testing.T) {
	const head = "apiVersion: footprint.dev/v1alpha1\nkind: EnforcementPolicy\nmetadata:\n  name: p\nspec:\n"
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"unknown capability", "  capabilities:\n    allow: [CAP_FLY]\n", []string{"line 7", "spec.capabilities.allow[0]", `unknown capability "CAP_FLY"`}},
		{"kubernetes spelling", "  capabilities:\n    allow: [NET_BIND_SERVICE]\n", []string{"spec.capabilities.allow[0]", "CAP_NET_BIND_SERVICE"}},
		{"malformed CIDR", "  connect:\n    allow:\n    - cidr: 10.0.0.0/33\n      protocol: TCP\n      port: 443\n", []string{"line 8", "spec.connect.allow[0].cidr", "not a CIDR"}},
		{"address without length", "  connect:\n    allow:\n    - cidr: 10.0.0.1\n      protocol: TCP\n      port: 443\n", []string{"10.0.0.1/32"}},
		{"host bits", "  connect:\n    allow:\n    - cidr: 10.0.0.1/24\n      protocol: TCP\n      port: 443\n", []string{"10.0.0.0/24"}},
		{"relative path", "  files:\n    allow:\n    - path: etc/passwd\n      access: [read]\n", []string{"line 8", "spec.files.allow[0].path", "relative path", "/etc/passwd"}},
		{"partial glob", "  files:\n    allow:\n    - path: /var/log/app-*.log\n      access: [read]\n", []string{"partial-component glob", "write * for the whole component"}},
		{"double star in the middle", "  executables:\n    allow:\n    - path: /usr/**/bin\n", []string{"spec.executables.allow[0].path", "** may only end a path"}},
		{"endPort below port", "  connect:\n    allow:\n    - cidr: 10.0.0.0/8\n      protocol: TCP\n      port: 443\n      endPort: 80\n", []string{"spec.connect.allow[0].endPort", "must not be lower than port"}},
		{"bad mode", "  mode: Sometimes\n", []string{"line 6", "spec.mode", "Audit", "Enforce"}},
		{"negative routes generation", "  routes: -1\n", []string{"line 6", "spec.routes", "1 or more", "leave it out"}},
		{"selector selecting everything", "  selector:\n    containers: [app]\n", []string{"spec.selector", "a workload or a podSelector"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(head + tt.spec))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}
