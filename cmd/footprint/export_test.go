package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
)

// fixtures are the generator's fixed profiles; its golden files are what
// `footprint export` must print for them.
const fixtures = "../../generator/testdata"

func fixture(name string) string { return filepath.Join(fixtures, "profiles", name+".yaml") }

// runCLI runs footprint in-process and returns what it printed on stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), err
}

func TestExportPrintsTheGoldenArtifacts(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"web-securitycontext", []string{"export", "securitycontext", fixture("web")}},
		{"web-policy", []string{"export", "policy", fixture("web")}},
		{"worker-policy-enforce-kill", []string{"export", "policy", fixture("worker"), "--mode", "enforce", "--action", "Kill"}},
		{"worker-networkpolicy-unresolved", []string{"export", "networkpolicy", fixture("worker"), "--pod-selector", "job=report"}},
		{"web-tetragon", []string{"export", "tetragon", fixture("web"), "--pod-selector", "app=web"}},
		{"local-securitycontext-pod", []string{"export", "securitycontext", fixture("local"), "--workload", "pod/server", "--container", "server", "-n", "dev"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := runCLI(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(fixtures, tc.golden+".golden.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("footprint %s differs from %s.golden.yaml:\n%s", strings.Join(tc.args, " "), tc.golden, got)
			}
		})
	}
}

func TestExportRefusesBadInputWithAHint(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "securitycontext", "missing.yaml"}, "load missing.yaml: open missing.yaml: no such file or directory"},
		{[]string{"export", "securitycontext", fixture("local")}, "--workload KIND/NAME"},
		{[]string{"export", "securitycontext", fixture("local"), "--workload", "web"}, `workload "web": want KIND/NAME`},
		{[]string{"export", "securitycontext", fixture("local"), "--workload", "deployment/web"}, "--container NAME"},
		{[]string{"export", "policy", fixture("web"), "--mode", "strict"}, `--mode "strict": use audit`},
		{[]string{"export", "policy", fixture("web"), "--action", "stop"}, `--action "stop": use deny`},
		{[]string{"export", "networkpolicy", fixture("web")}, "--pod-selector"},
		{[]string{"export", "networkpolicy", fixture("web"), "--pod-selector", "app in (web"}, `--pod-selector "app in (web"`},
		{[]string{"export", "securitycontext", fixture("web"), "--allow-dir", "/etc"}, "--allow-dir does not apply to securitycontext (only to policy)"},
		{[]string{"export", "apparmor", fixture("web")}, `unknown artifact "apparmor"`},
		{[]string{"export", "seccomp", fixture("web")}, `the profile holds no system calls: record them`},
		{[]string{"export", "seccomp", fixture("api"), "--format", "yaml"}, `--format "yaml": use oci`},
		{[]string{"export", "policy"}, "want an artifact and a profile"},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("footprint %s: got %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestExportedPolicyIsWhatEnforceLoads(t *testing.T) {
	out, err := runCLI(t, "export", "policy", fixture("local"), "--mode", "enforce")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := policies.Load([]byte(out))
	if err != nil {
		t.Fatalf("footprint enforce --policy would refuse the exported policy: %v", err)
	}
	if policy.Spec.Mode != v1alpha1.ModeEnforce || policy.Spec.Selector != nil {
		t.Fatalf("want a local Enforce policy, got mode %s selector %+v", policy.Spec.Mode, policy.Spec.Selector)
	}
}

func TestDiffOfAProfileAndItsOwnPolicyIsClean(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	out, err := runCLI(t, "export", "policy", fixture("web"), "--mode", "enforce")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := runCLI(t, "diff", fixture("web"), policy, "--exit-code")
	if err != nil || !strings.Contains(got, "allows everything the profile shows") {
		t.Fatalf("got %q, %v", got, err)
	}
	// Either order works.
	if got, err := runCLI(t, "diff", policy, fixture("web")); err != nil || !strings.Contains(got, "allows everything") {
		t.Fatalf("policy first: got %q, %v", got, err)
	}
	got, err = runCLI(t, "diff", fixture("worker"), policy, "--exit-code")
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("want exit code 1 for violations, got %v", err)
	}
	for _, want := range []string{"would stop 7 operations", "/app/worker", "TCP 192.0.2.15:443", "deny"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff output lacks %q:\n%s", want, got)
		}
	}
	if _, err := runCLI(t, "diff", policy, policy); err == nil || !strings.Contains(err.Error(), "both EnforcementPolicies") {
		t.Errorf("two policies: got %v", err)
	}
}

func TestDiffOfTwoProfiles(t *testing.T) {
	got, err := runCLI(t, "diff", fixture("web"), fixture("web"), "--exit-code")
	if err != nil || !strings.Contains(got, "No differences") {
		t.Fatalf("a profile against itself: %q, %v", got, err)
	}
	got, err = runCLI(t, "diff", fixture("web"), fixture("worker"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"29 changes", "- │ capability │ CAP_NET_BIND_SERVICE granted", "+ │ executable │ /app/worker"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff output lacks %q:\n%s", want, got)
		}
	}
}

func TestExportSeccompSaysWhenSocketsAreAllowedWithAnyFamily(t *testing.T) {
	api, err := os.ReadFile(fixture("api"))
	if err != nil {
		t.Fatal(err)
	}
	// The same profile as recorded before footprint recorded families.
	older := filepath.Join(t.TempDir(), "older.yaml")
	if err := os.WriteFile(older, []byte(strings.Replace(string(api), "    socketFamilies: [AF_INET, AF_INET6]\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		profile  string
		wantNote bool
	}{{fixture("api"), false}, {older, true}} {
		root := newRootCommand()
		var stdout, stderr bytes.Buffer
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetArgs([]string{"export", "seccomp", tc.profile})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(stderr.String(), "note: socket and socketpair are allowed with any address family"); got != tc.wantNote {
			t.Errorf("%s: stderr %q, want the note: %v", tc.profile, stderr.String(), tc.wantNote)
		}
		if got := strings.Contains(stdout.String(), `"op": "SCMP_CMP_EQ"`); got == tc.wantNote {
			t.Errorf("%s: family rules in the JSON: %v, want %v", tc.profile, got, !tc.wantNote)
		}
	}
}
