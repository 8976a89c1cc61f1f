package profiles

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// WorkloadKinds are the kinds of object a profile's workload may be.
var WorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}

// numberedCapability matches the name the recorder gives a capability newer
// than footprint's table (CAP_41).
var numberedCapability = regexp.MustCompile(`^CAP_[0-9]+$`)

// ValidateProfile checks what the API server's schema cannot: that
// capability names exist, addresses parse, enumerations hold known values and
// counts are not negative. Each error names its field.
func ValidateProfile(p *v1alpha1.Profile) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if w := p.Spec.Workload; w != nil {
		errs = append(errs, validateWorkload(w, spec.Child("workload"))...)
	}
	for i, c := range p.Spec.Capabilities {
		path := spec.Child("capabilities").Index(i)
		if _, err := ParseCapability(c.Name); err != nil && !numberedCapability.MatchString(c.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), c.Name, err.Error()))
		}
		if c.Verdict != v1alpha1.VerdictGranted && c.Verdict != v1alpha1.VerdictDenied {
			errs = append(errs, field.NotSupported(path.Child("verdict"), c.Verdict, []string{string(v1alpha1.VerdictGranted), string(v1alpha1.VerdictDenied)}))
		}
		errs = append(errs, validateCount(c.Count, path.Child("count"))...)
	}
	for i, f := range p.Spec.Files {
		path := spec.Child("files").Index(i)
		if f.Path == "" {
			errs = append(errs, field.Required(path.Child("path"), "the path the process opened"))
		}
		errs = append(errs, validateAccess(f.Access, path.Child("access"))...)
		errs = append(errs, validateCount(f.Count, path.Child("count"))...)
	}
	for i, c := range p.Spec.Connections {
		path := spec.Child("connections").Index(i)
		errs = append(errs, validateProtocol(c.Protocol, path.Child("protocol"))...)
		if _, err := netip.ParseAddr(c.Address); err != nil {
			errs = append(errs, field.Invalid(path.Child("address"), c.Address, "not an IP address: write an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1"))
		}
		errs = append(errs, validatePort(c.Port, path.Child("port"))...)
		errs = append(errs, validateCount(c.Count, path.Child("count"))...)
	}
	for i, s := range p.Spec.Sockets {
		path := spec.Child("sockets").Index(i)
		errs = append(errs, ValidateSocketRule(s.SocketRule, path)...)
		errs = append(errs, validateCount(s.Count, path.Child("count"))...)
	}
	for i, e := range p.Spec.Executables {
		path := spec.Child("executables").Index(i)
		if e.Path == "" {
			errs = append(errs, field.Required(path.Child("path"), "the program's path"))
		}
		for j, id := range e.UIDs {
			if id < 0 {
				errs = append(errs, field.Invalid(path.Child("uids").Index(j), id, "user IDs are not negative"))
			}
		}
		for j, id := range e.GIDs {
			if id < 0 {
				errs = append(errs, field.Invalid(path.Child("gids").Index(j), id, "group IDs are not negative"))
			}
		}
		errs = append(errs, validateCount(e.Count, path.Child("count"))...)
	}
	errs = append(errs, ValidateSyscalls(p.Spec.Syscalls, spec.Child("syscalls"))...)
	for i, src := range p.Spec.Sources {
		errs = append(errs, validateImages(src.Images, spec.Child("sources").Index(i).Child("images"))...)
	}
	for i, c := range p.Spec.Collapsed {
		if c.Glob == "" {
			errs = append(errs, field.Required(spec.Child("collapsed").Index(i).Child("glob"), "the glob that replaced the entries"))
		}
	}
	return errs
}

func validateWorkload(w *v1alpha1.WorkloadReference, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !isWorkloadKind(w.Kind) {
		errs = append(errs, field.NotSupported(path.Child("kind"), w.Kind, WorkloadKinds))
	}
	if w.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the workload's name"))
	}
	return errs
}

func isWorkloadKind(kind string) bool {
	for _, k := range WorkloadKinds {
		if k == kind {
			return true
		}
	}
	return false
}

func validateCount(n int64, path *field.Path) field.ErrorList {
	if n < 0 {
		return field.ErrorList{field.Invalid(path, n, "counts are not negative")}
	}
	return nil
}

func validatePort(port int32, path *field.Path) field.ErrorList {
	if port < 0 || port > 65535 {
		return field.ErrorList{field.Invalid(path, port, "ports are 0 to 65535")}
	}
	return nil
}

func validateProtocol(p v1alpha1.Protocol, path *field.Path) field.ErrorList {
	if p != v1alpha1.ProtocolTCP && p != v1alpha1.ProtocolUDP {
		return field.ErrorList{field.NotSupported(path, p, []string{string(v1alpha1.ProtocolTCP), string(v1alpha1.ProtocolUDP)})}
	}
	return nil
}

func validateAccess(access []v1alpha1.FileAccessMode, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(access) == 0 {
		errs = append(errs, field.Required(path, "at least one of read, write, exec, create, truncate"))
	}
	seen := map[v1alpha1.FileAccessMode]bool{}
	for i, a := range access {
		switch {
		case !isAccessMode(a):
			errs = append(errs, field.NotSupported(path.Index(i), a, accessNames()))
		case seen[a]:
			errs = append(errs, field.Duplicate(path.Index(i), a))
		}
		seen[a] = true
	}
	return errs
}

func accessNames() []string {
	names := make([]string, len(accessOrder))
	for i, m := range accessOrder {
		names[i] = string(m)
	}
	return names
}

func isAccessMode(a v1alpha1.FileAccessMode) bool {
	for _, m := range accessOrder {
		if m == a {
			return true
		}
	}
	return false
}

// ValidatePolicy checks a policy the way the API server's schema does, and
// what the schema cannot (capability names exist, CIDRs are network
// addresses), so that `footprint enforce` refuses a bad local policy before
// anything is loaded, with the same messages a cluster would give.
func ValidatePolicy(p *v1alpha1.EnforcementPolicy) field.ErrorList {
	return validatePolicySpec(&p.Spec, field.NewPath("spec"))
}

// ValidatePolicySpec is ValidatePolicy for a spec alone.
func ValidatePolicySpec(spec *v1alpha1.EnforcementPolicySpec) field.ErrorList {
	return validatePolicySpec(spec, field.NewPath("spec"))
}

func validatePolicySpec(spec *v1alpha1.EnforcementPolicySpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s := spec.Selector; s != nil {
		sp := path.Child("selector")
		if s.Workload == nil && s.PodSelector == nil {
			errs = append(errs, field.Required(sp, "a workload or a podSelector: a selector with neither would select every pod in the namespace"))
		}
		if s.Workload != nil {
			errs = append(errs, validateWorkload(s.Workload, sp.Child("workload"))...)
		}
		if s.PodSelector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(s.PodSelector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("podSelector"))...)
		}
		seen := map[string]bool{}
		for i, c := range s.Containers {
			for _, msg := range validation.IsDNS1123Label(c) {
				errs = append(errs, field.Invalid(sp.Child("containers").Index(i), c, msg))
			}
			if seen[c] {
				errs = append(errs, field.Duplicate(sp.Child("containers").Index(i), c))
			}
			seen[c] = true
		}
	}
	switch spec.Mode {
	case "", v1alpha1.ModeAudit, v1alpha1.ModeEnforce:
	default:
		errs = append(errs, field.NotSupported(path.Child("mode"), spec.Mode, []string{string(v1alpha1.ModeAudit), string(v1alpha1.ModeEnforce)}))
	}
	switch spec.UnknownImages {
	case "", v1alpha1.ModeAudit, v1alpha1.ModeEnforce:
	default:
		errs = append(errs, field.NotSupported(path.Child("unknownImages"), spec.UnknownImages, []string{string(v1alpha1.ModeAudit), string(v1alpha1.ModeEnforce)}))
	}
	errs = append(errs, validateImages(spec.Images, path.Child("images"))...)
	switch spec.Action {
	case "", v1alpha1.ActionDeny, v1alpha1.ActionKill:
	default:
		errs = append(errs, field.NotSupported(path.Child("action"), spec.Action, []string{string(v1alpha1.ActionDeny), string(v1alpha1.ActionKill)}))
	}
	if s := spec.Syscalls; s != nil {
		errs = append(errs, ValidateSyscalls(s.Allow, path.Child("syscalls", "allow"))...)
	}
	if c := spec.Capabilities; c != nil {
		errs = append(errs, validateCapabilityList(c.Allow, path.Child("capabilities", "allow"))...)
		errs = append(errs, validateCapabilityList(c.AllowInUserNamespace, path.Child("capabilities", "allowInUserNamespace"))...)
	}
	if f := spec.Files; f != nil {
		for i, r := range f.Allow {
			rp := path.Child("files", "allow").Index(i)
			if err := ValidatePolicyPath(r.Path); err != nil {
				errs = append(errs, field.Invalid(rp.Child("path"), r.Path, err.Error()))
			}
			errs = append(errs, validateAccess(r.Access, rp.Child("access"))...)
		}
	}
	if c := spec.Connect; c != nil {
		for i, r := range c.Allow {
			rp := path.Child("connect", "allow").Index(i)
			errs = append(errs, validateCIDR(r.CIDR, rp.Child("cidr"))...)
			errs = append(errs, validateProtocol(r.Protocol, rp.Child("protocol"))...)
			errs = append(errs, validatePort(r.Port, rp.Child("port"))...)
			if r.EndPort != nil {
				errs = append(errs, validatePort(*r.EndPort, rp.Child("endPort"))...)
				if *r.EndPort < r.Port {
					errs = append(errs, field.Invalid(rp.Child("endPort"), *r.EndPort, fmt.Sprintf("must not be lower than port (%d)", r.Port)))
				}
			}
		}
	}
	if s := spec.Sockets; s != nil {
		for i, r := range s.Allow {
			errs = append(errs, ValidateSocketRule(r, path.Child("sockets", "allow").Index(i))...)
		}
	}
	if e := spec.Executables; e != nil {
		for i, r := range e.Allow {
			if err := ValidatePolicyPath(r.Path); err != nil {
				errs = append(errs, field.Invalid(path.Child("executables", "allow").Index(i).Child("path"), r.Path, err.Error()))
			}
		}
	}
	return errs
}

func validateCapabilityList(names []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, name := range names {
		n, err := ParseCapability(name)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i), name, err.Error()))
		case name != CapabilityName(n):
			errs = append(errs, field.Invalid(path.Index(i), name, fmt.Sprintf("write capabilities the kernel's way: %s", CapabilityName(n))))
		case seen[name]:
			errs = append(errs, field.Duplicate(path.Index(i), name))
		}
		seen[name] = true
	}
	return errs
}

func validateCIDR(cidr string, path *field.Path) field.ErrorList {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		hint := "write an address range such as 10.0.0.0/24 or fd00::/64"
		if ip, err := netip.ParseAddr(cidr); err == nil {
			hint = fmt.Sprintf("a single address is written %s/%d", ip, ip.BitLen())
		}
		return field.ErrorList{field.Invalid(path, cidr, "not a CIDR: "+hint)}
	}
	if prefix.Addr().Zone() != "" {
		return field.ErrorList{field.Invalid(path, cidr, "a CIDR has no interface zone")}
	}
	if masked := prefix.Masked(); masked != prefix {
		return field.ErrorList{field.Invalid(path, cidr, fmt.Sprintf("host bits are set: the range is written %s", masked))}
	}
	if prefix.Addr().Is4In6() {
		return field.ErrorList{field.Invalid(path, cidr, fmt.Sprintf("IPv4-mapped ranges are matched as IPv4: write %s", strings.TrimPrefix(netip.PrefixFrom(prefix.Addr().Unmap(), max(prefix.Bits()-96, 0)).String(), "")))}
	}
	return nil
}
