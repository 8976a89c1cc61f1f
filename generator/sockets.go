package generator

import (
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// socketRules allows each socket operation the profile shows, exactly.
func (g *GeneratedPolicy) socketRules(entries []v1alpha1.SocketEntry, unrecorded []string) *v1alpha1.SocketRules {
	out := &v1alpha1.SocketRules{}
	g.socketsUnrecorded = unrecorded
	for _, s := range entries {
		out.Allow = append(out.Allow, s.SocketRule)
		note := "used " + times(s.Count)
		if s.Operation == v1alpha1.SocketUnix && strings.HasPrefix(s.Path, "@") {
			note = "an abstract AF_UNIX name, " + note
		}
		g.socketNotes = append(g.socketNotes, note)
	}
	return out
}

// socketRoutesUnrecorded names the socket routes that some source's
// recording backend could not see (sockets.go of package bpf names each
// backend after its hooks): a policy from such a profile refuses them
// wherever a kernel can hold them, even if the workload used them.
func socketRoutesUnrecorded(p *v1alpha1.Profile) []string {
	var out []string
	add := func(route string) {
		if !slices.Contains(out, route) {
			out = append(out, route)
		}
	}
	for _, s := range p.Spec.Sources {
		b, ok := s.Backends["sockets"]
		if !ok {
			continue
		}
		if !strings.Contains(b, "connect_unix") && !strings.Contains(b, "socket_connect") {
			add("AF_UNIX destinations")
		}
		if !strings.Contains(b, "create+listen") {
			add("AF_PACKET sockets")
			add("listen() without bind()")
		}
	}
	return out
}
