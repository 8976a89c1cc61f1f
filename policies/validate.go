package policies

import (
	"fmt"
	"net/netip"
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Validate checks a policy the way the API server's schema does, and
// what the schema cannot (capability names exist, CIDRs are network
// addresses), so that `footprint enforce` refuses a bad local policy before
// anything is loaded, with the same messages a cluster would give.
func Validate(p *v1alpha1.EnforcementPolicy) field.ErrorList {
	return validateSpec(&p.Spec, field.NewPath("spec"))
}

// ValidateSpec is Validate for a spec alone.
func ValidateSpec(spec *v1alpha1.EnforcementPolicySpec) field.ErrorList {
	return validateSpec(spec, field.NewPath("spec"))
}

func validateSpec(spec *v1alpha1.EnforcementPolicySpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Routes < 0 {
		errs = append(errs, field.Invalid(path.Child("routes"), spec.Routes, fmt.Sprintf("a generation of routes is 1 or more (this release's is %d); leave it out for 1", v1alpha1.CurrentRoutes)))
	}
	if s := spec.Selector; s != nil {
		sp := path.Child("selector")
		if s.Workload == nil && s.PodSelector == nil {
			errs = append(errs, field.Required(sp, "a workload or a podSelector: a selector with neither would select every pod in the namespace"))
		}
		if s.Workload != nil {
			errs = append(errs, profiles.ValidateWorkload(s.Workload, sp.Child("workload"))...)
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
	errs = append(errs, profiles.ValidateImages(spec.Images, path.Child("images"))...)
	switch spec.Action {
	case "", v1alpha1.ActionDeny, v1alpha1.ActionKill:
	default:
		errs = append(errs, field.NotSupported(path.Child("action"), spec.Action, []string{string(v1alpha1.ActionDeny), string(v1alpha1.ActionKill)}))
	}
	if s := spec.Syscalls; s != nil {
		errs = append(errs, profiles.ValidateSyscalls(s.Allow, path.Child("syscalls", "allow"))...)
	}
	if c := spec.Capabilities; c != nil {
		errs = append(errs, validateCapabilityList(c.Allow, path.Child("capabilities", "allow"))...)
		errs = append(errs, validateCapabilityList(c.AllowInUserNamespace, path.Child("capabilities", "allowInUserNamespace"))...)
	}
	if f := spec.Files; f != nil {
		for i, r := range f.Allow {
			rp := path.Child("files", "allow").Index(i)
			if err := ValidatePath(r.Path); err != nil {
				errs = append(errs, field.Invalid(rp.Child("path"), r.Path, err.Error()))
			}
			errs = append(errs, profiles.ValidateAccess(r.Access, rp.Child("access"))...)
		}
	}
	if c := spec.Connect; c != nil {
		for i, r := range c.Allow {
			rp := path.Child("connect", "allow").Index(i)
			errs = append(errs, validateCIDR(r.CIDR, rp.Child("cidr"))...)
			errs = append(errs, profiles.ValidateProtocol(r.Protocol, rp.Child("protocol"))...)
			errs = append(errs, profiles.ValidatePort(r.Port, rp.Child("port"))...)
			if r.EndPort != nil {
				errs = append(errs, profiles.ValidatePort(*r.EndPort, rp.Child("endPort"))...)
				if *r.EndPort < r.Port {
					errs = append(errs, field.Invalid(rp.Child("endPort"), *r.EndPort, fmt.Sprintf("must not be lower than port (%d)", r.Port)))
				}
			}
		}
	}
	if s := spec.Sockets; s != nil {
		for i, r := range s.Allow {
			errs = append(errs, profiles.ValidateSocketRule(r, path.Child("sockets", "allow").Index(i))...)
		}
	}
	if e := spec.Executables; e != nil {
		for i, r := range e.Allow {
			if err := ValidatePath(r.Path); err != nil {
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
		n, err := profiles.ParseCapability(name)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i), name, err.Error()))
		case name != profiles.CapabilityName(n):
			errs = append(errs, field.Invalid(path.Index(i), name, fmt.Sprintf("write capabilities the kernel's way: %s", profiles.CapabilityName(n))))
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
