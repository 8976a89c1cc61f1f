package rules

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

// Compiled is an EnforcementPolicy in the form the kernel programs enforce.
// See the package documentation for the exact semantics of each part.
type Compiled struct {
	// Mode is the policy's mode, Audit when the policy leaves it empty.
	Mode v1alpha1.EnforcementMode
	// Action is the policy's action, Deny when the policy leaves it empty.
	Action v1alpha1.EnforcementAction
	// Unpreventable is what Enforce mode does where the kernel cannot
	// refuse an operation, Audit when the policy leaves it empty.
	Unpreventable v1alpha1.UnpreventableAction
	// RoutesLeftAlone are the routes added after the generation the
	// policy was exported for (spec.routes): its workload may have taken
	// them unseen while recorded.
	RoutesLeftAlone []v1alpha1.Route

	// Capabilities are the allowed capabilities; nil when the policy does
	// not govern capability checks (spec.capabilities absent).
	Capabilities *Capabilities
	// Files is the tree file opens are matched against; nil when the policy
	// does not govern file opens (spec.files absent).
	Files *PathTree
	// Executables is the tree executed programs are matched against (every
	// rule grants AccessExec); nil when the policy does not govern
	// executions (spec.executables absent).
	Executables *PathTree
	// Seccomp is the system call allow-list, compiled into a seccomp
	// filter that also allows what a command's start needs after it is
	// installed (profiles.RuntimeSyscalls); nil when the policy does not
	// restrict system calls.
	Seccomp SeccompFilter
	// Syscalls is what Seccomp allows, per ABI, for footprint's reporter
	// of the calls outside it; nil when Seccomp is.
	Syscalls SyscallAllowList
	// Connect are the allowed destinations, sorted; they apply only when
	// ConnectGoverned.
	Connect []ConnectRule
	// ConnectGoverned is true when the policy governs connects
	// (spec.connect present), even with no rule.
	ConnectGoverned bool
	// Sockets are the allowed socket operations; they apply only when
	// SocketsGoverned (spec.sockets present), even with no rule.
	Sockets         []SocketRule
	SocketsGoverned bool

	// Widened lists, one readable note each, every place where the compiled
	// rules allow more than the policy text, naming the field. Empty when
	// the compiled rules allow exactly what the policy allows.
	Widened []string
}

// Capabilities are capability masks: bit n stands for capability number n
// (CAP_CHOWN is bit 0, CAP_NET_BIND_SERVICE bit 10).
type Capabilities struct {
	// Allowed is the capabilities that may be used against the container's
	// own user namespace (spec.capabilities.allow).
	Allowed uint64
	// AllowedInUserNamespace is the capabilities that may be used against a
	// user namespace the container created (spec.capabilities.allowInUserNamespace).
	AllowedInUserNamespace uint64
}

// InvalidPolicyError is a policy Compile refuses, with every problem named by
// its field (for example
// `spec.files.allow[3].path: Invalid value: "etc/x": relative path ...`).
type InvalidPolicyError struct {
	Errors field.ErrorList
}

func (e *InvalidPolicyError) Error() string {
	if len(e.Errors) == 1 {
		return "invalid policy: " + e.Errors[0].Error()
	}
	lines := make([]string, 0, len(e.Errors)+1)
	lines = append(lines, fmt.Sprintf("invalid policy: %d problems:", len(e.Errors)))
	for _, err := range e.Errors {
		lines = append(lines, "  "+err.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as a *field.Error.
func (e *InvalidPolicyError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, err := range e.Errors {
		out[i] = err
	}
	return out
}

// Compile compiles a policy; it is CompileSpec of the policy's spec.
func Compile(policy *v1alpha1.EnforcementPolicy) (*Compiled, error) {
	if policy == nil {
		return nil, errors.New("no policy to compile")
	}
	return CompileSpec(&policy.Spec)
}

// CompileSpec validates a policy spec with policies.ValidateSpec and
// compiles it. An invalid or uncompilable spec is refused with an
// *InvalidPolicyError naming each offending field; nothing is compiled then.
func CompileSpec(spec *v1alpha1.EnforcementPolicySpec) (*Compiled, error) {
	if spec == nil {
		return nil, errors.New("no policy spec to compile")
	}
	if errs := policies.ValidateSpec(spec); len(errs) > 0 {
		return nil, &InvalidPolicyError{Errors: errs}
	}
	root := field.NewPath("spec")
	c := &Compiled{Mode: spec.Mode, Action: spec.Action, Unpreventable: spec.Unpreventable,
		RoutesLeftAlone: spec.RoutesLeftAlone()}
	if c.Unpreventable == "" {
		c.Unpreventable = v1alpha1.UnpreventableAudit
	}
	if c.Mode == "" {
		c.Mode = v1alpha1.ModeAudit
	}
	if c.Action == "" {
		c.Action = v1alpha1.ActionDeny
	}
	var errs field.ErrorList
	if r := spec.Capabilities; r != nil {
		caps, capErrs := compileCapabilities(r, root.Child("capabilities"))
		c.Capabilities = caps
		errs = append(errs, capErrs...)
	}
	if r := spec.Files; r != nil {
		path := root.Child("files", "allow")
		rules := make([]pathRule, len(r.Allow))
		for i, rule := range r.Allow {
			rules[i] = pathRule{field: path.Index(i).Child("path"), path: rule.Path, access: accessOf(v1alpha1.Granted(rule.Access))}
		}
		tree, widened, treeErrs := compileTree(rules, path)
		c.Files = tree
		c.Widened = append(c.Widened, widened...)
		errs = append(errs, treeErrs...)
	}
	if r := spec.Executables; r != nil {
		path := root.Child("executables", "allow")
		rules := make([]pathRule, len(r.Allow))
		for i, rule := range r.Allow {
			rules[i] = pathRule{field: path.Index(i).Child("path"), path: rule.Path, access: AccessExec}
		}
		tree, widened, treeErrs := compileTree(rules, path)
		c.Executables = tree
		c.Widened = append(c.Widened, widened...)
		errs = append(errs, treeErrs...)
	}
	if r := spec.Connect; r != nil {
		c.ConnectGoverned = true
		connect, connectErrs := compileConnect(r.Allow, root.Child("connect", "allow"))
		c.Connect = connect
		errs = append(errs, connectErrs...)
	}
	if r := spec.Sockets; r != nil {
		c.SocketsGoverned = true
		sockets, socketErrs := compileSockets(r.Allow, root.Child("sockets", "allow"))
		c.Sockets = sockets
		errs = append(errs, socketErrs...)
	}
	if r := spec.Syscalls; r != nil {
		filter, err := CompileSeccomp(r.Allow, profiles.RuntimeSyscalls, c.Mode)
		if err != nil {
			errs = append(errs, field.Invalid(root.Child("syscalls", "allow"), len(r.Allow), err.Error()))
		}
		c.Seccomp = filter
		if err == nil {
			if c.Syscalls, err = CompileSyscallAllowList(r.Allow, profiles.RuntimeSyscalls); err != nil {
				errs = append(errs, field.Invalid(root.Child("syscalls", "allow"), len(r.Allow), err.Error()))
			}
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidPolicyError{Errors: errs}
	}
	return c, nil
}

func compileCapabilities(r *v1alpha1.CapabilityRules, path *field.Path) (*Capabilities, field.ErrorList) {
	var errs field.ErrorList
	mask := func(names []string, path *field.Path) uint64 {
		var m uint64
		for i, name := range names {
			n, err := profiles.ParseCapability(name)
			switch {
			case err != nil:
				errs = append(errs, field.Invalid(path.Index(i), name, err.Error()))
			case n < 0 || n >= 64:
				errs = append(errs, field.Invalid(path.Index(i), name, fmt.Sprintf("capability number %d does not fit the kernel's 64-bit capability mask", n)))
			default:
				m |= 1 << n
			}
		}
		return m
	}
	caps := &Capabilities{
		Allowed:                mask(r.Allow, path.Child("allow")),
		AllowedInUserNamespace: mask(r.AllowInUserNamespace, path.Child("allowInUserNamespace")),
	}
	return caps, errs
}

// CapabilityAllowed reports whether a capability check the kernel would grant
// (and makes with auditing) is allowed: against the container's own user
// namespace, or, with userNamespace, against one the container created.
// Capability checks are allowed when the policy does not govern them.
func (c *Compiled) CapabilityAllowed(capability int, userNamespace bool) bool {
	if c.Capabilities == nil {
		return true
	}
	if capability < 0 || capability >= 64 {
		return false
	}
	mask := c.Capabilities.Allowed
	if userNamespace {
		mask = c.Capabilities.AllowedInUserNamespace
	}
	return mask&(1<<capability) != 0
}

// FileAllowed reports whether an open of path with the requested access is
// allowed: always when the policy does not govern files or the path is not in
// the filesystem (does not start with '/'), otherwise when the files tree
// grants every requested bit.
func (c *Compiled) FileAllowed(path string, requested Access) bool {
	if c.Files == nil || !strings.HasPrefix(path, "/") {
		return true
	}
	return c.Files.Allowed(path).Covers(requested)
}

// ExecAllowed reports whether executing the program at path is allowed:
// always when the policy does not govern executables, otherwise when the
// executables tree grants AccessExec to the path.
func (c *Compiled) ExecAllowed(path string) bool {
	if c.Executables == nil {
		return true
	}
	return c.Executables.Allowed(path).Covers(AccessExec)
}
