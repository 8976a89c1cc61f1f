package profiles

import (
	"net/netip"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
)

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
		errs = append(errs, ValidateWorkload(w, spec.Child("workload"))...)
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
		errs = append(errs, ValidateAccess(f.Access, path.Child("access"))...)
		errs = append(errs, validateCount(f.Count, path.Child("count"))...)
	}
	for i, c := range p.Spec.Connections {
		path := spec.Child("connections").Index(i)
		errs = append(errs, ValidateProtocol(c.Protocol, path.Child("protocol"))...)
		if _, err := netip.ParseAddr(c.Address); err != nil {
			errs = append(errs, field.Invalid(path.Child("address"), c.Address, "not an IP address: write an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1"))
		}
		errs = append(errs, ValidatePort(c.Port, path.Child("port"))...)
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
		errs = append(errs, ValidateImages(src.Images, spec.Child("sources").Index(i).Child("images"))...)
	}
	for i, c := range p.Spec.Collapsed {
		if c.Glob == "" {
			errs = append(errs, field.Required(spec.Child("collapsed").Index(i).Child("glob"), "the glob that replaced the entries"))
		}
	}
	return errs
}

// ValidateWorkload checks a reference to a workload: a kind footprint
// knows and a name.
func ValidateWorkload(w *v1alpha1.WorkloadReference, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, ok := workloads.ByName(w.Kind); !ok {
		errs = append(errs, field.NotSupported(path.Child("kind"), w.Kind, workloads.Kinds))
	}
	if w.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the workload's name"))
	}
	return errs
}

func validateCount(n int64, path *field.Path) field.ErrorList {
	if n < 0 {
		return field.ErrorList{field.Invalid(path, n, "counts are not negative")}
	}
	return nil
}

// ValidatePort checks that a port is 0 to 65535.
func ValidatePort(port int32, path *field.Path) field.ErrorList {
	if port < 0 || port > 65535 {
		return field.ErrorList{field.Invalid(path, port, "ports are 0 to 65535")}
	}
	return nil
}

// ValidateProtocol checks that a connection's protocol is TCP or UDP.
func ValidateProtocol(p v1alpha1.Protocol, path *field.Path) field.ErrorList {
	if p != v1alpha1.ProtocolTCP && p != v1alpha1.ProtocolUDP {
		return field.ErrorList{field.NotSupported(path, p, []string{string(v1alpha1.ProtocolTCP), string(v1alpha1.ProtocolUDP)})}
	}
	return nil
}

// ValidateAccess checks a list of file access modes: at least one, each
// known, none twice.
func ValidateAccess(access []v1alpha1.FileAccessMode, path *field.Path) field.ErrorList {
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
