package generator

import (
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
