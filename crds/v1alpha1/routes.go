package v1alpha1

import "strings"

// A route is one way a process reaches an effect a policy governs (mkdir
// making a directory's name, a time set changing a file). Each footprint
// release that governs a new route raises CurrentRoutes. A Profile's
// sources say which generation of routes their agent recorded, and a
// policy generated from it says which generation it was exported for
// (spec.routes): an agent that governs more leaves the newer routes alone
// for that policy, so an upgrade does not refuse what the workload did
// while recorded, unseen by the agent of the time.

// Route names a route a generation after the first added.
type Route string

const (
	// RouteMkdir: making a directory is a create of its path.
	RouteMkdir Route = "mkdir"
	// RouteUtimes: setting a file's times (utimensat, utimes, utime,
	// futimesat) is access utimes of its path.
	RouteUtimes Route = "utimes"
)

// CurrentRoutes is the generation of routes this release records and
// enforces.
const CurrentRoutes int32 = 2

// FirstRoutes is the generation of policies and profiles written before
// generations were counted: a missing spec.routes or source routes means it.
const FirstRoutes int32 = 1

// addedRoute is a route and the kind of rules that govern it.
type addedRoute struct {
	route Route
	kind  EnforcedKind
}

// routesAdded lists, per generation, the routes it added to the one before.
var routesAdded = [CurrentRoutes + 1][]addedRoute{
	2: {{RouteMkdir, KindFiles}, {RouteUtimes, KindFiles}},
}

// RoutesOrFirst is routes, or FirstRoutes for an unset (zero) field.
func RoutesOrFirst(routes int32) int32 {
	if routes <= 0 {
		return FirstRoutes
	}
	return routes
}

// RoutesLeftAlone is what an agent of this release leaves alone for a
// policy with this spec: the routes added after spec.routes, of the kinds
// the spec has rules for (a kind without rules is not governed at all). A
// generation newer than this release's leaves nothing alone: this agent
// cannot govern what it does not know, whatever the policy says.
func (s *EnforcementPolicySpec) RoutesLeftAlone() []Route {
	var out []Route
	for _, a := range addedAfter(RoutesOrFirst(s.Routes)) {
		if s.hasRules(a.kind) {
			out = append(out, a.route)
		}
	}
	return out
}

// HasRulesFor says whether the spec has rules of the kind that governs r:
// only then does it govern r, or leave it alone.
func (s *EnforcementPolicySpec) HasRulesFor(r Route) bool {
	for _, a := range addedAfter(FirstRoutes) {
		if a.route == r {
			return s.hasRules(a.kind)
		}
	}
	return false
}

// RoutesAddedAfter are the routes every generation after g added, up to
// this release's.
func RoutesAddedAfter(g int32) []Route {
	var out []Route
	for _, a := range addedAfter(g) {
		out = append(out, a.route)
	}
	return out
}

// RouteGeneration is the generation that added r; 0 for a route this
// release does not know.
func RouteGeneration(r Route) int32 {
	for g := FirstRoutes + 1; g <= CurrentRoutes; g++ {
		for _, a := range routesAdded[g] {
			if a.route == r {
				return g
			}
		}
	}
	return 0
}

func addedAfter(g int32) []addedRoute {
	var out []addedRoute
	for g := max(g, 0) + 1; g <= CurrentRoutes; g++ {
		out = append(out, routesAdded[g]...)
	}
	return out
}

// hasRules says whether the spec restricts the kind.
func (s *EnforcementPolicySpec) hasRules(k EnforcedKind) bool {
	switch k {
	case KindCapabilities:
		return s.Capabilities != nil
	case KindFiles:
		return s.Files != nil
	case KindConnect:
		return s.Connect != nil
	case KindExecutables:
		return s.Executables != nil
	case KindSockets:
		return s.Sockets != nil
	case KindSyscalls:
		return s.Syscalls != nil
	}
	return true // cgroups and ptrace: every policy holds them
}

// JoinRoutes names routes for a person: "mkdir and utimes".
func JoinRoutes(routes []Route) string {
	names := make([]string, len(routes))
	for i, r := range routes {
		names[i] = string(r)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
