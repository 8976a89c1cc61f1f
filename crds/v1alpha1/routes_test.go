package v1alpha1

import (
	"slices"
	"strings"
	"testing"
)

func TestAPolicyLeavesAloneTheRoutesAddedAfterItsGeneration(t *testing.T) {
	files := &FileRules{}
	for _, tc := range []struct {
		name string
		spec EnforcementPolicySpec
		want []Route
	}{
		{"written before generations were counted", EnforcementPolicySpec{Files: files}, []Route{RouteMkdir, RouteUtimes}},
		{"exported for the first generation", EnforcementPolicySpec{Files: files, Routes: 1}, []Route{RouteMkdir, RouteUtimes}},
		{"exported for this release's generation", EnforcementPolicySpec{Files: files, Routes: CurrentRoutes}, nil},
		{"exported by a later release", EnforcementPolicySpec{Files: files, Routes: CurrentRoutes + 1}, nil},
		{"without file rules nothing of files is governed to leave alone", EnforcementPolicySpec{Capabilities: &CapabilityRules{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.spec.RoutesLeftAlone(); !slices.Equal(got, tc.want) {
				t.Errorf("RoutesLeftAlone() = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestEveryGenerationAfterTheFirstAddsRoutes(t *testing.T) {
	if len(routesAdded[FirstRoutes]) != 0 {
		t.Errorf("the first generation is the base, it adds nothing: %v", routesAdded[FirstRoutes])
	}
	seen := map[Route]bool{}
	for g := FirstRoutes + 1; g <= CurrentRoutes; g++ {
		if len(routesAdded[g]) == 0 {
			t.Errorf("generation %d adds no route", g)
		}
		for _, a := range routesAdded[g] {
			if seen[a.route] {
				t.Errorf("route %s added twice", a.route)
			}
			seen[a.route] = true
		}
	}
}

func TestJoinRoutesReadsAsAList(t *testing.T) {
	for routes, want := range map[string]string{"": "", "mkdir": "mkdir", "mkdir utimes": "mkdir and utimes", "a b c": "a, b and c"} {
		var rs []Route
		for _, r := range strings.Fields(routes) {
			rs = append(rs, Route(r))
		}
		if got := JoinRoutes(rs); got != want {
			t.Errorf("JoinRoutes(%q) = %q; want %q", routes, got, want)
		}
	}
}
