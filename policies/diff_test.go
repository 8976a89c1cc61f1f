package policies

import (
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestDiff(t *testing.T) {
	v1 := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: digestA}
	v2 := v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: digestB}
	before := &v1alpha1.EnforcementPolicySpec{
		Images:       []v1alpha1.Image{v1},
		Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_CHOWN"}},
		Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{
			{Path: "/etc/app.conf", Access: []v1alpha1.FileAccessMode{"read"}},
			{Path: "/tmp/**", Access: []v1alpha1.FileAccessMode{"read"}},
		}},
		Syscalls: &v1alpha1.SyscallRules{Allow: []v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "write"}}}},
	}
	after := &v1alpha1.EnforcementPolicySpec{
		Images:       []v1alpha1.Image{v1, v2},
		Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}},
		Files: &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{
			{Path: "/tmp/**", Access: []v1alpha1.FileAccessMode{"read", "write"}},
		}},
		Connect:  &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "10.0.0.0/8", Protocol: "TCP", Port: 443}}},
		Syscalls: &v1alpha1.SyscallRules{Allow: []v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "write", "socket"}}}},
		// Re-exported from a recording of this release: the routes the
		// old policy left alone are governed.
		Routes: v1alpha1.CurrentRoutes,
	}
	var got []string
	for _, c := range Diff(before, after) {
		got = append(got, c.String())
	}
	want := []string{
		"+ image docker.io/library/app:v2@sha256:bbbbbbbbbbbb",
		"~ enforcement route mkdir (left alone (spec.routes) -> enforced)",
		"~ enforcement route utimes (left alone (spec.routes) -> enforced)",
		"+ capability CAP_NET_BIND_SERVICE",
		"- file /etc/app.conf (read)",
		"~ file /tmp/** (read -> read+write)",
		"~ enforcement connections (not enforced -> enforced)",
		"+ connection TCP 10.0.0.0/8 port 443",
		"+ syscall socket",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff:\n%q\nwant\n%q", got, want)
	}
	if changes := Diff(after, after); len(changes) != 0 {
		t.Errorf("a policy differs from itself: %v", changes)
	}
}

// A kind that starts being enforced is its own change: its routes are not
// listed besides.
func TestDiffListsRoutesOnlyOfKindsBothPoliciesEnforce(t *testing.T) {
	before := &v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{}}
	after := &v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{}, Files: &v1alpha1.FileRules{}}
	var got []string
	for _, c := range Diff(before, after) {
		got = append(got, c.String())
	}
	if want := []string{"~ enforcement files (not enforced -> enforced)"}; !slices.Equal(got, want) {
		t.Errorf("Diff:\n%q\nwant\n%q", got, want)
	}
}
