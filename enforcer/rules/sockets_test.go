package rules

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestSocketRulesCompileToExactKernelKeys(t *testing.T) {
	c, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{Sockets: &v1alpha1.SocketRules{Allow: []v1alpha1.SocketRule{
		{Operation: v1alpha1.SocketUnix, Path: "@bus"},
		{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: "UDP", Address: "::ffff:127.0.0.1", Port: 53},
		{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyPacket, Protocol: "0x0800"},
		{Operation: v1alpha1.SocketListen, Family: v1alpha1.FamilyIPv6, Protocol: "TCP"},
		{Operation: v1alpha1.SocketUnix, Path: "@bus"}, // a duplicate compiles once
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []SocketRule{
		{Op: SocketUnix, Family: FamilyUnix, Path: "@bus"},
		{Op: SocketBind, Family: FamilyInet, Protocol: ProtocolUDP, Addr: netip.MustParseAddr("127.0.0.1"), Port: 53},
		{Op: SocketRaw, Family: FamilyPacket, Port: 0x0800},
		{Op: SocketListen, Family: FamilyInet6, Protocol: ProtocolTCP},
	}
	if !c.SocketsGoverned || len(c.Sockets) != len(want) {
		t.Fatalf("compiled %+v (governed %v), want %+v", c.Sockets, c.SocketsGoverned, want)
	}
	for i := range want {
		if c.Sockets[i] != want[i] {
			t.Errorf("rule %d = %+v, want %+v", i, c.Sockets[i], want[i])
		}
		if !c.SocketAllowed(want[i]) {
			t.Errorf("%s not allowed", want[i])
		}
	}
	if c.SocketAllowed(SocketRule{Op: SocketUnix, Family: FamilyUnix, Path: "/bus"}) {
		t.Error("a path allowed by an abstract name's rule")
	}
	none, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{})
	if err != nil || none.SocketsGoverned || !none.SocketAllowed(SocketRule{Op: SocketRaw, Family: FamilyPacket}) {
		t.Errorf("a policy without sockets governs them (%v)", err)
	}
}

func TestAnInvalidSocketRuleIsRefusedWithItsField(t *testing.T) {
	_, err := CompileSpec(&v1alpha1.EnforcementPolicySpec{Sockets: &v1alpha1.SocketRules{Allow: []v1alpha1.SocketRule{
		{Operation: v1alpha1.SocketUnix, Path: "/ok"},
		{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: "TCP", Address: "localhost", Port: 80},
	}}})
	var invalid *InvalidPolicyError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "spec.sockets.allow[1].address") {
		t.Errorf("got %v, want an invalid policy naming spec.sockets.allow[1].address", err)
	}
}
