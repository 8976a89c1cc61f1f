package policies

import (
	"slices"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// KindImage is an image a policy is bound to, in a policy diff.
const KindImage profiles.EntryKind = "image"

// KindEnforcement is whether a kind of operation is enforced at all, in a
// policy diff.
const KindEnforcement profiles.EntryKind = "enforcement"

// Diff lists what changes from policy spec a to b: the images it
// is bound to, the routes it leaves alone, and each rule, in the order images, routes, capabilities, files,
// connections, executables, system calls; a kind that becomes enforced or
// stops being enforced is one change of kind KindEnforcement, its rules
// listed after it. It is what promoting a policy to a new image shows
// before it is applied.
func Diff(a, b *v1alpha1.EnforcementPolicySpec) []profiles.Change {
	var changes []profiles.Change
	changes = append(changes, profiles.DiffEntries(KindImage, profiles.NormalizeImages(a.Images), profiles.NormalizeImages(b.Images), profiles.ImageString, func(v1alpha1.Image) string { return "" })...)
	changes = append(changes, routeChanges(a, b)...)
	changes = append(changes, enforcementChange("capabilities", a.Capabilities != nil, b.Capabilities != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindCapability, capabilityRuleNames(a.Capabilities), capabilityRuleNames(b.Capabilities), same, none)...)
	changes = append(changes, enforcementChange("files", a.Files != nil, b.Files != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindFile, fileRules(a.Files), fileRules(b.Files), func(r v1alpha1.FileRule) string { return r.Path }, func(r v1alpha1.FileRule) string { return profiles.JoinAccess(r.Access) })...)
	changes = append(changes, enforcementChange("connections", a.Connect != nil, b.Connect != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindConnection, connectRules(a.Connect), connectRules(b.Connect), describeConnectRule, func(v1alpha1.ConnectRule) string { return "" })...)
	changes = append(changes, enforcementChange("sockets", a.Sockets != nil, b.Sockets != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindSocket, socketRules(a.Sockets), socketRules(b.Sockets), profiles.SocketName, func(v1alpha1.SocketRule) string { return "" })...)
	changes = append(changes, enforcementChange("executables", a.Executables != nil, b.Executables != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindExecutable, executableRules(a.Executables), executableRules(b.Executables), func(r v1alpha1.ExecutableRule) string { return r.Path }, func(v1alpha1.ExecutableRule) string { return "" })...)
	changes = append(changes, enforcementChange("syscalls", a.Syscalls != nil, b.Syscalls != nil)...)
	changes = append(changes, profiles.DiffEntries(profiles.KindSyscall, syscallRuleNames(a.Syscalls), syscallRuleNames(b.Syscalls), same, none)...)
	return changes
}

// routeChanges lists the routes one spec governs and the other leaves alone
// (spec.routes), of kinds both have rules for: a kind that starts or stops
// being enforced is its own change.
func routeChanges(a, b *v1alpha1.EnforcementPolicySpec) []profiles.Change {
	word := map[bool]string{false: "enforced", true: "left alone (spec.routes)"}
	var changes []profiles.Change
	before, after := a.RoutesLeftAlone(), b.RoutesLeftAlone()
	for _, r := range v1alpha1.RoutesAddedAfter(v1alpha1.FirstRoutes) {
		if !a.HasRulesFor(r) || !b.HasRulesFor(r) {
			continue
		}
		if was, is := slices.Contains(before, r), slices.Contains(after, r); was != is {
			changes = append(changes, profiles.Change{Op: profiles.Changed, Kind: KindEnforcement, Entry: "route " + string(r), Before: word[was], After: word[is]})
		}
	}
	return changes
}

func same(s string) string { return s }
func none(string) string   { return "" }

func enforcementChange(kind string, before, after bool) []profiles.Change {
	word := map[bool]string{false: "not enforced", true: "enforced"}
	if before == after {
		return nil
	}
	return []profiles.Change{{Op: profiles.Changed, Kind: KindEnforcement, Entry: kind, Before: word[before], After: word[after]}}
}

func capabilityRuleNames(r *v1alpha1.CapabilityRules) []string {
	if r == nil {
		return nil
	}
	out := append([]string(nil), r.Allow...)
	for _, c := range r.AllowInUserNamespace {
		out = append(out, c+" in a user namespace")
	}
	return out
}

func fileRules(r *v1alpha1.FileRules) []v1alpha1.FileRule {
	if r == nil {
		return nil
	}
	return r.Allow
}

func connectRules(r *v1alpha1.ConnectRules) []v1alpha1.ConnectRule {
	if r == nil {
		return nil
	}
	return r.Allow
}

func executableRules(r *v1alpha1.ExecutableRules) []v1alpha1.ExecutableRule {
	if r == nil {
		return nil
	}
	return r.Allow
}

func syscallRuleNames(r *v1alpha1.SyscallRules) []string {
	if r == nil {
		return nil
	}
	return profiles.SyscallEntries(v1alpha1.ProfileSpec{Syscalls: r.Allow})
}

// socketRules returns the rules of a policy's socket section, nil when it
// has none.
func socketRules(r *v1alpha1.SocketRules) []v1alpha1.SocketRule {
	if r == nil {
		return nil
	}
	return r.Allow
}
