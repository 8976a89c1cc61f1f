package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A bad policy is refused before anything is loaded or run, with the field
// named; so are mistakes on the command line.
func TestEnforceRefusesBadInputBeforeRunningAnything(t *testing.T) {
	dir := footprintBinaryDir(t)
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	policy := func(spec string) string {
		return "apiVersion: footprint.dev/v1alpha1\nkind: EnforcementPolicy\nmetadata: {name: p}\nspec:\n  " + spec + "\n"
	}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"no policy", []string{"enforce", "--", "true"}, 2,
			[]string{"enforce needs a policy: give --policy FILE", "--profile FILE"}},
		{"both a policy and a profile", []string{"enforce", "--policy", "a.yaml", "--profile", "b.yaml", "--", "true"}, 2,
			[]string{"give either --policy or --profile, not both"}},
		{"missing policy file", []string{"enforce", "--policy", "/nonexistent/policy.yaml", "--", "true"}, 1,
			[]string{"/nonexistent/policy.yaml"}},
		{"unknown mode", []string{"enforce", "--policy", write("ok.yaml", policy("mode: Audit")), "--mode", "strict", "--", "true"}, 0,
			[]string{`--mode "strict"`, "audit", "enforce"}},
		{"unknown capability", []string{"enforce", "--policy", write("cap.yaml", policy("capabilities: {allow: [CAP_FLY]}")), "--", "true"}, 1,
			[]string{"spec.capabilities.allow[0]", "CAP_FLY"}},
		{"malformed CIDR", []string{"enforce", "--policy", write("cidr.yaml", policy("connect: {allow: [{cidr: 10.0.0.300/8, protocol: TCP, port: 80}]}")), "--", "true"}, 1,
			[]string{"spec.connect.allow[0].cidr", "10.0.0.300/8"}},
		{"relative path", []string{"enforce", "--policy", write("path.yaml", policy("files: {allow: [{path: etc/passwd, access: [read]}]}")), "--", "true"}, 1,
			[]string{"spec.files.allow[0].path", "etc/passwd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failsClearly(t, runBinary(t, nil, nil, tc.args...), tc.code, tc.wants...)
		})
	}
}
