package profiles

import (
	"fmt"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// KindImage is an image a policy is bound to, in a policy diff.
const KindImage EntryKind = "image"

// KindEnforcement is whether a kind of operation is enforced at all, in a
// policy diff.
const KindEnforcement EntryKind = "enforcement"

// DiffPolicies lists what changes from policy spec a to b: the images it
// is bound to and each rule, in the order images, capabilities, files,
// connections, executables, system calls; a kind that becomes enforced or
// stops being enforced is one change of kind KindEnforcement, its rules
// listed after it. It is what promoting a policy to a new image shows
// before it is applied.
func DiffPolicies(a, b *v1alpha1.EnforcementPolicySpec) []Change {
	var changes []Change
	changes = append(changes, diffEntries(KindImage, NormalizeImages(a.Images), NormalizeImages(b.Images), ImageString, func(v1alpha1.Image) string { return "" })...)
	changes = append(changes, enforcementChange("capabilities", a.Capabilities != nil, b.Capabilities != nil)...)
	changes = append(changes, diffEntries(KindCapability, capabilityRuleNames(a.Capabilities), capabilityRuleNames(b.Capabilities), same, none)...)
	changes = append(changes, enforcementChange("files", a.Files != nil, b.Files != nil)...)
	changes = append(changes, diffEntries(KindFile, fileRules(a.Files), fileRules(b.Files), func(r v1alpha1.FileRule) string { return r.Path }, func(r v1alpha1.FileRule) string { return joinAccess(r.Access) })...)
	changes = append(changes, enforcementChange("connections", a.Connect != nil, b.Connect != nil)...)
	changes = append(changes, diffEntries(KindConnection, connectRules(a.Connect), connectRules(b.Connect), describeConnectRule, func(v1alpha1.ConnectRule) string { return "" })...)
	changes = append(changes, enforcementChange("sockets", a.Sockets != nil, b.Sockets != nil)...)
	changes = append(changes, diffEntries(KindSocket, socketRules(a.Sockets), socketRules(b.Sockets), SocketName, func(v1alpha1.SocketRule) string { return "" })...)
	changes = append(changes, enforcementChange("executables", a.Executables != nil, b.Executables != nil)...)
	changes = append(changes, diffEntries(KindExecutable, executableRules(a.Executables), executableRules(b.Executables), func(r v1alpha1.ExecutableRule) string { return r.Path }, func(v1alpha1.ExecutableRule) string { return "" })...)
	changes = append(changes, enforcementChange("syscalls", a.Syscalls != nil, b.Syscalls != nil)...)
	changes = append(changes, diffEntries(KindSyscall, syscallRuleNames(a.Syscalls), syscallRuleNames(b.Syscalls), same, none)...)
	return changes
}

func same(s string) string { return s }
func none(string) string   { return "" }

func enforcementChange(kind string, before, after bool) []Change {
	word := map[bool]string{false: "not enforced", true: "enforced"}
	if before == after {
		return nil
	}
	return []Change{{Op: Changed, Kind: KindEnforcement, Entry: kind, Before: word[before], After: word[after]}}
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
	return syscallEntries(v1alpha1.ProfileSpec{Syscalls: r.Allow})
}

// String writes a change on one line, e.g. "+ file /etc/app.conf (read)"
// or "~ file /tmp/** (read -> read+write)".
func (c Change) String() string {
	sign := map[ChangeOp]string{Added: "+", Removed: "-", Changed: "~"}[c.Op]
	var details string
	switch {
	case c.Op == Changed:
		details = fmt.Sprintf(" (%s -> %s)", c.Before, c.After)
	case c.After != "":
		details = " (" + c.After + ")"
	case c.Before != "":
		details = " (" + c.Before + ")"
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s%s", sign, c.Kind, c.Entry, details))
}
