package recorder

import (
	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// routeRows says which row of bpf.FileChanges sees each route a generation
// added (TestEveryRouteIsSeenByAFileChangeRow).
var routeRows = map[v1alpha1.Route]func(bpf.FileChange) bool{
	v1alpha1.RouteMkdir:  func(fc bpf.FileChange) bool { return fc.Operation == "mkdir" },
	v1alpha1.RouteUtimes: func(fc bpf.FileChange) bool { return fc.Access == "utimes" },
}

// recordedRoutes is the generation of routes a recording with these
// backends sees: this release's, unless its file backend lacks a hook of a
// route on this kernel (not attached, or its self-test did not see it);
// then the generation before that route's, so that a policy exported from
// the profile leaves the route alone rather than refuse what the recording
// could not see.
func recordedRoutes(choices []bpf.BackendChoice) int32 {
	routes := v1alpha1.CurrentRoutes
	for _, c := range choices {
		for _, cov := range c.Coverage() { // nil but for a chosen file backend
			if cov.Seen && cov.Note == "" {
				continue
			}
			for r, sees := range routeRows {
				if sees(cov.FileChange) {
					routes = min(routes, v1alpha1.RouteGeneration(r)-1)
				}
			}
		}
	}
	return routes
}
