package bpf

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSocketRulesRoundTripThroughTheKernelsKey(t *testing.T) {
	for _, r := range []SocketRule{
		{Set: 3, Op: SocketRuleUnix, Family: 1, Path: "/run/a.sock"},
		{Set: 3, Op: SocketRuleUnix, Family: 1, Path: "@abstract\x00with a NUL"},
		{Set: 3, Op: SocketRuleBind, Family: 2, Protocol: 6, Addr: netip.MustParseAddr("127.0.0.1"), Port: 80},
		{Set: 3, Op: SocketRuleBind, Family: 10, Protocol: 17, Addr: netip.MustParseAddr("::1"), Port: 53},
		{Set: 3, Op: SocketRuleRaw, Family: 17, Port: 3},
		{Set: 3, Op: SocketRuleListen, Family: 2, Protocol: 6},
	} {
		v, err := r.value()
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if back := socketRuleOf(v); back != r {
			t.Errorf("%+v came back as %+v", r, back)
		}
	}
	if v, _ := (SocketRule{Op: SocketRuleUnix, Path: "@x"}).value(); v.Len != 2 || v.Path[0] != 0 || v.Path[1] != 'x' {
		t.Errorf("abstract name @x = len %d %v, want a NUL byte then x", v.Len, v.Path[:2])
	}
	for _, bad := range []SocketRule{
		{Op: SocketRuleUnix},
		{Op: SocketRuleUnix, Path: "/" + strings.Repeat("a", 108)},
		{Op: SocketRuleBind},
	} {
		if _, err := bad.value(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
