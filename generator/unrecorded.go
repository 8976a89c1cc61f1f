package generator

import (
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// A profile says per source which kernel hook recorded each kind (package
// bpf names each backend after its hooks). Some backends cannot see every
// route of their kind; a policy from such a profile refuses those routes
// wherever a kernel can hold them, even if the workload used them, and its
// comments say so.

// fileRoutesUnrecorded names the file routes that some source's recording
// backend could not see: the syscall tracepoints see no descriptor
// received from another process.
func fileRoutesUnrecorded(p *v1alpha1.Profile) []string {
	for _, s := range p.Spec.Sources {
		if strings.HasPrefix(s.Backends["files"], "tracepoint/") {
			return []string{"descriptors received from another process (receive)"}
		}
	}
	return nil
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

// recordedRoutes is the generation of routes the profile was recorded
// with: its oldest source's, as a source an older agent recorded did not see
// the routes added since. A profile without sources (written by hand) is
// taken to say all its workload does.
func recordedRoutes(p *v1alpha1.Profile) int32 {
	routes := v1alpha1.CurrentRoutes
	for _, s := range p.Spec.Sources {
		routes = min(routes, v1alpha1.RoutesOrFirst(s.Routes))
	}
	return routes
}
