package profiles

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestSocketRulesAreValidatedWithTheFieldNamed(t *testing.T) {
	long := strings.Repeat("a", 109)
	for _, tc := range []struct {
		rule v1alpha1.SocketRule
		want string // "" valid, else a substring of the error
	}{
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/run/x.sock"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "@name"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix}, "spec.sockets[0].path"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: long}, "1 to 108 bytes"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/x", Port: 80}, "spec.sockets[0].port: Forbidden"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: "TCP", Address: "0.0.0.0", Port: 80}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv6, Protocol: "UDP", Address: "::", Port: 53}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: "TCP", Address: "::1", Port: 80}, "not an IPv4 address"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: "TCP", Address: "x", Port: 80}, "not an IP address"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyPacket, Protocol: "TCP", Address: "0.0.0.0"}, "spec.sockets[0].family: Unsupported"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyIPv4, Protocol: "ICMP"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyIPv6, Protocol: "255"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyPacket, Protocol: "0x0003"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyPacket, Protocol: "3"}, "hexadecimal"},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyIPv4, Protocol: "icmpx"}, "protocol \"icmpx\""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketListen, Family: v1alpha1.FamilyIPv4, Protocol: "TCP"}, ""},
		{v1alpha1.SocketRule{Operation: v1alpha1.SocketListen, Family: v1alpha1.FamilyPacket, Protocol: "0x0003"}, "family"},
		{v1alpha1.SocketRule{Operation: "Ptrace"}, "spec.sockets[0].operation: Unsupported"},
	} {
		errs := ValidateSocketRule(tc.rule, field.NewPath("spec", "sockets").Index(0))
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%+v: %v, want valid", tc.rule, errs)
		case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
			t.Errorf("%+v: %v, want an error with %q", tc.rule, errs, tc.want)
		}
	}
}

func TestSocketEntriesFoldAndMerge(t *testing.T) {
	bind := func(addr string, n int64) v1alpha1.SocketEntry {
		return v1alpha1.SocketEntry{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv6, Protocol: "TCP", Address: addr, Port: 80}, Count: n}
	}
	unixEntry := v1alpha1.SocketEntry{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/run/a"}, Count: 2}
	spec := NormalizeSpec(v1alpha1.ProfileSpec{Sockets: []v1alpha1.SocketEntry{bind("::ffff:10.0.0.1", 1), unixEntry, bind("10.0.0.1", 2)}})
	if len(spec.Sockets) != 2 || spec.Sockets[0].Operation != v1alpha1.SocketBind || spec.Sockets[0].Count != 3 || spec.Sockets[0].Address != "10.0.0.1" {
		t.Errorf("normalised = %+v, want the two spellings of one bind folded (count 3) before the unix entry", spec.Sockets)
	}
	merged, err := MergeSpec(spec, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Sockets) != 2 || merged.Sockets[0].Count != 3 {
		t.Errorf("merged with itself = %+v, want the same entries and counts", merged.Sockets)
	}
	changes := Diff(&v1alpha1.Profile{Spec: spec}, &v1alpha1.Profile{})
	if len(changes) != 2 || changes[0].Kind != KindSocket || changes[0].Op != Removed {
		t.Errorf("diff = %+v, want two removed socket entries", changes)
	}
}
