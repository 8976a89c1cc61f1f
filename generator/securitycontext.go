package generator

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/workloads"
)

// SecurityContextOptions choose the container a securityContext patch is for.
type SecurityContextOptions struct {
	Target
	// InitContainer patches the pod template's initContainers rather than
	// its containers.
	InitContainer bool
	// SeccompLocalhost, when set, is the Localhost seccomp profile the node
	// agents install for the profile's system calls
	// (SeccompLocalhostProfile): the patch names it instead of the
	// runtime's default filter.
	SeccompLocalhost string
}

// SecurityContextAdvice is the least-privilege securityContext for one
// container, with the evidence for each field.
type SecurityContextAdvice struct {
	// SecurityContext holds the recommended fields.
	SecurityContext corev1.SecurityContext

	// Added are the capabilities the container was granted and used, in
	// Kubernetes' spelling, with how often each was used.
	Added []CapabilityUse
	// Probes are capabilities checked without auditing: not added.
	Probes []CapabilityUse
	// Denied are capabilities the container tried to use without holding
	// them, and coped: not added.
	Denied []CapabilityUse
	// InUserNamespace are capabilities used in a user namespace the
	// container created, which that namespace grants: not added.
	InUserNamespace []CapabilityUse
	// Unnamed are capabilities newer than footprint's table, which it cannot
	// spell for Kubernetes: not added.
	Unnamed []CapabilityUse

	// RootFilesystemWrites are the entries that wrote to the root
	// filesystem and so prevent readOnlyRootFilesystem.
	RootFilesystemWrites []v1alpha1.FileEntry
	// VolumeWrites are the entries that wrote elsewhere (volumes, tmpfs).
	VolumeWrites []v1alpha1.FileEntry
	// WritableDirs are where a volume would make the root filesystem's
	// writes possible read-only, and which kind each needs.
	WritableDirs []WritableDir

	// PrivilegeGains are the programs whose execution raised privileges,
	// which allowPrivilegeEscalation: false would prevent.
	PrivilegeGains []v1alpha1.ExecutableEntry
	// SetIDWithoutGain are set-ID programs that ran without gaining anything
	// (already running as their owner).
	SetIDWithoutGain []v1alpha1.ExecutableEntry

	// UIDs are the user IDs programs ran with; RootPrograms those that ran
	// as uid 0.
	UIDs         []int64
	RootPrograms []string

	// syscallsRecorded is true when the profile holds its system calls.
	syscallsRecorded bool
}

// CapabilityUse is one capability and how often it was checked.
type CapabilityUse struct {
	Name  string // Kubernetes spelling: NET_BIND_SERVICE
	Count int64
}

// AdviseSecurityContext works out the least-privilege securityContext a
// profile supports. Only capabilities that were granted and needed (audited
// checks against the container's own user namespace) are added; probes and
// denied attempts never are.
func AdviseSecurityContext(p *v1alpha1.Profile) SecurityContextAdvice {
	spec := profiles.NormalizeSpec(p.Spec)
	var a SecurityContextAdvice

	for _, c := range spec.Capabilities {
		use := CapabilityUse{Name: profiles.KubernetesCapability(c.Name), Count: c.Count}
		_, known := profiles.ParseCapability(c.Name)
		switch {
		case c.Probe:
			// Granted or not, a probe is the kernel asking, not the
			// workload needing.
			a.Probes = addUse(a.Probes, use)
		case c.Verdict == v1alpha1.VerdictDenied:
			a.Denied = addUse(a.Denied, use)
		case c.UserNamespace:
			a.InUserNamespace = addUse(a.InUserNamespace, use)
		case known != nil:
			a.Unnamed = addUse(a.Unnamed, use)
		default:
			a.Added = addUse(a.Added, use)
		}
	}
	// A capability both granted and probed is added; list it once.
	a.Probes = withoutUses(a.Probes, a.Added)
	a.Denied = withoutUses(a.Denied, a.Added)

	for _, f := range spec.Files {
		if !writes(f) {
			continue
		}
		if f.RootFilesystem {
			a.RootFilesystemWrites = append(a.RootFilesystemWrites, f)
		} else {
			a.VolumeWrites = append(a.VolumeWrites, f)
		}
	}

	a.WritableDirs = writableDirs(a.RootFilesystemWrites, spec.Files)

	uids := map[int64]bool{}
	uidKnown := len(spec.Executables) > 0
	for _, e := range spec.Executables {
		switch {
		case e.PrivilegeGain:
			a.PrivilegeGains = append(a.PrivilegeGains, e)
		case e.Setuid || e.Setgid:
			a.SetIDWithoutGain = append(a.SetIDWithoutGain, e)
		}
		if len(e.UIDs) == 0 {
			uidKnown = false
		}
		for _, uid := range e.UIDs {
			uids[uid] = true
			if uid == 0 && !slices.Contains(a.RootPrograms, e.Path) {
				a.RootPrograms = append(a.RootPrograms, e.Path)
			}
		}
	}
	for uid := range uids {
		a.UIDs = append(a.UIDs, uid)
	}
	slices.Sort(a.UIDs)

	sc := &a.SecurityContext
	sc.Privileged = ptr(false)
	sc.AllowPrivilegeEscalation = ptr(len(a.PrivilegeGains) > 0)
	sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{}}
	for _, c := range a.Added {
		sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(c.Name))
	}
	sc.ReadOnlyRootFilesystem = ptr(len(a.RootFilesystemWrites) == 0)
	if uidKnown && len(a.RootPrograms) == 0 {
		sc.RunAsNonRoot = ptr(true)
		if len(a.UIDs) == 1 {
			sc.RunAsUser = ptr(a.UIDs[0])
		}
	}
	sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	return a
}

func ptr[T any](v T) *T { return &v }

func addUse(uses []CapabilityUse, use CapabilityUse) []CapabilityUse {
	for i := range uses {
		if uses[i].Name == use.Name {
			uses[i].Count += use.Count
			return uses
		}
	}
	return append(uses, use)
}

func withoutUses(uses, remove []CapabilityUse) []CapabilityUse {
	return slices.DeleteFunc(uses, func(u CapabilityUse) bool {
		return slices.ContainsFunc(remove, func(r CapabilityUse) bool { return r.Name == u.Name })
	})
}

func writes(f v1alpha1.FileEntry) bool {
	return slices.ContainsFunc(f.Access, v1alpha1.FileAccessMode.Modifies)
}

// SecurityContextPatch returns a strategic-merge patch that sets the
// least-privilege securityContext on one container of its workload, for
// `kubectl patch KIND NAME --patch-file FILE`, with the evidence for each
// field as a comment. For a bare Pod, whose containers' securityContext
// cannot be changed in place, it returns the same fields as a fragment of the
// Pod's manifest and says so.
func SecurityContextPatch(p *v1alpha1.Profile, opts SecurityContextOptions) ([]byte, error) {
	t := resolveTarget(p, opts.Target)
	if t.Workload == nil {
		return nil, errNoWorkload
	}
	if t.Container == "" {
		return nil, errNoContainer
	}
	kind, ok := workloads.ByName(t.Workload.Kind)
	if !ok {
		return nil, fmt.Errorf("workload kind %q: footprint patches %s", t.Workload.Kind, workloads.List(false, "and"))
	}
	fieldPath := kind.PodSpecPath
	a := AdviseSecurityContext(p)
	if opts.SeccompLocalhost != "" {
		a.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr(opts.SeccompLocalhost)}
	}
	a.syscallsRecorded = kindRecorded(p, "syscalls") && len(p.Spec.Syscalls) > 0
	containersKey := "containers"
	if opts.InitContainer {
		containersKey = "initContainers"
	}
	container := mapping(
		pair{key: "name", value: str(t.Container)},
		pair{key: "securityContext", value: securityContextNode(a)},
	)
	containersNote := "merged by name: only this container's securityContext changes"
	if t.Workload.Kind == workloads.Pod {
		containersNote = "this container's entry in the Pod's manifest"
	}
	node := mapping(pair{key: containersKey, value: sequence(container), line: containersNote})
	for i := len(fieldPath) - 1; i >= 0; i-- {
		node = mapping(pair{key: fieldPath[i], value: node})
	}
	return encodeYAML(document(securityContextHeader(p, t, opts.InitContainer), node))
}

func securityContextHeader(p *v1alpha1.Profile, t Target, init bool) string {
	var b strings.Builder
	kind := "container"
	if init {
		kind = "init container"
	}
	fmt.Fprintf(&b, "securityContext for %s %q of %s %s,\nfrom the %s.\n", kind, t.Container, t.Workload.Kind, t.Workload.Name, describeProfile(p))
	if !kindRecorded(p, "capabilities") || !kindRecorded(p, "files") || !kindRecorded(p, "executables") {
		b.WriteString("WARNING: the recording did not cover every kind of event; the fields below that depend on\nthe missing kinds rest on no evidence. Record capabilities, files and executables.\n")
	}
	ns := ""
	if t.Namespace != "" {
		ns = " --namespace " + t.Namespace
	}
	if t.Workload.Kind == workloads.Pod {
		fmt.Fprintf(&b, "A running Pod's container securityContext cannot be changed in place: the API server\n"+
			"refuses such a patch. This is a fragment of the Pod's manifest: copy the securityContext\n"+
			"into the manifest you create %s from, then recreate it:\n"+
			"  kubectl delete pod %s%s && kubectl apply -f POD_MANIFEST.yaml\n"+
			"(Better: run it from a Deployment, which `kubectl patch` can update with a rollout.)", t.Workload.Name, t.Workload.Name, ns)
	} else {
		fmt.Fprintf(&b, "Apply with:\n  kubectl patch %s %s%s --patch-file THIS_FILE", strings.ToLower(t.Workload.Kind), t.Workload.Name, ns)
	}
	return b.String()
}

// securityContextNode writes the advice's securityContext with a comment on
// every field.
func securityContextNode(a SecurityContextAdvice) *yaml.Node {
	sc := a.SecurityContext
	return mapping(
		pair{key: "allowPrivilegeEscalation", value: boolean(*sc.AllowPrivilegeEscalation), line: privilegeEscalationEvidence(a)},
		pair{key: "capabilities", value: capabilitiesNode(a), head: capabilityNotes(a)},
		pair{key: "privileged", value: boolean(false), line: "capabilities only restrict an unprivileged container"},
		pair{key: "readOnlyRootFilesystem", value: boolean(*sc.ReadOnlyRootFilesystem), line: rootFilesystemEvidence(a)},
		pair{key: "runAsNonRoot", value: optionalBool(sc.RunAsNonRoot), line: runAsNonRootEvidence(a)},
		pair{key: "runAsUser", value: optionalInt(sc.RunAsUser), line: "the only user id any program ran with"},
		pair{key: "seccompProfile", value: seccompNode(sc.SeccompProfile), head: runAsNonRootOmitted(a), line: seccompEvidence(a)},
	)
}

func seccompNode(p *corev1.SeccompProfile) *yaml.Node {
	if p.Type == corev1.SeccompProfileTypeLocalhost {
		return mapping(pair{key: "type", value: str(string(p.Type))}, pair{key: "localhostProfile", value: str(*p.LocalhostProfile)})
	}
	return mapping(pair{key: "type", value: str(string(p.Type))})
}

func seccompEvidence(a SecurityContextAdvice) string {
	switch {
	case a.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeLocalhost:
		return "the recorded system calls only: the footprint agents install this profile on every node " +
			"for the EnforcementPolicy; a call outside it fails with EPERM"
	case a.syscallsRecorded:
		return "the runtime's default system-call filter; for one of the recorded calls only, create an EnforcementPolicy " +
			"(kubectl footprint enforce) and export again, or install footprint export seccomp's profile yourself"
	}
	return "the runtime's default system-call filter; the recording did not cover system calls, so test it"
}

func optionalBool(b *bool) *yaml.Node {
	if b == nil {
		return nil
	}
	return boolean(*b)
}

func optionalInt(n *int64) *yaml.Node {
	if n == nil {
		return nil
	}
	return integer(*n)
}

func capabilitiesNode(a SecurityContextAdvice) *yaml.Node {
	var add []*yaml.Node
	for _, c := range a.Added {
		add = append(add, withLine(str(c.Name), "granted and used "+times(c.Count)))
	}
	addLine := ""
	if len(add) == 0 {
		addLine = "none was needed: an empty list replaces any capabilities added today"
	}
	return mapping(
		pair{key: "drop", value: sequence(str("ALL")), line: "start from none; add only what was used"},
		pair{key: "add", value: sequence(add...), line: addLine},
	)
}

// capabilityNotes lists the capabilities that were seen but not added, and
// why, above the capabilities field.
func capabilityNotes(a SecurityContextAdvice) string {
	var lines []string
	describe := func(uses []CapabilityUse) string {
		s := make([]string, len(uses))
		for i, u := range uses {
			s[i] = fmt.Sprintf("%s (%s)", u.Name, times(u.Count))
		}
		return strings.Join(s, ", ")
	}
	if len(a.Denied) > 0 {
		lines = append(lines, "Not added, denied: the workload tried "+describe(a.Denied)+" without holding it and coped.")
	}
	if len(a.Probes) > 0 {
		lines = append(lines, "Not added, probes: "+describe(a.Probes)+" checked without auditing (the kernel asking\nwhether the process happens to hold it, e.g. memory accounting), not needed for any operation.")
	}
	if len(a.InUserNamespace) > 0 {
		lines = append(lines, "Not added, user namespace: "+describe(a.InUserNamespace)+" used inside a user namespace the\nworkload created, which grants them there whatever this list says.")
	}
	if len(a.Unnamed) > 0 {
		lines = append(lines, "Not added, unknown to footprint: "+describe(a.Unnamed)+"; add it by hand if the workload needs it.")
	}
	return strings.Join(lines, "\n")
}

func privilegeEscalationEvidence(a SecurityContextAdvice) string {
	if len(a.PrivilegeGains) > 0 {
		var names []string
		for _, e := range a.PrivilegeGains {
			names = append(names, e.Path+" ("+setIDKind(e)+")")
		}
		return "needed: executing " + listAtMost(names, 3) + " raised privileges"
	}
	if len(a.SetIDWithoutGain) > 0 {
		var names []string
		for _, e := range a.SetIDWithoutGain {
			names = append(names, e.Path)
		}
		return "no program gained privileges; set-ID " + listAtMost(names, 3) + " ran as its owner already"
	}
	return "no program gained privileges when executed (no set-ID bit or file capability took effect)"
}

func setIDKind(e v1alpha1.ExecutableEntry) string {
	switch {
	case e.Setuid && e.Setgid:
		return "set-user-ID and set-group-ID"
	case e.Setuid:
		return "set-user-ID"
	case e.Setgid:
		return "set-group-ID"
	}
	return "file capabilities"
}

// WritableDir is a directory of the root filesystem the workload wrote in,
// and the volume that would take those writes.
type WritableDir struct {
	Path string
	// Persistent is true when the workload read files there that it did
	// not create (configuration from the image, existing data): an
	// emptyDir would hide them, so the directory needs a volume that
	// holds them (a persistent volume, or one an init container fills).
	Persistent bool
	// Existing is one such file.
	Existing string
}

// writableDirs finds, for the root filesystem's writes, the directories to
// mount volumes at: each write's directory, cut back to its literal part
// (a mountPath is never a glob nor a per-process name), the outermost of
// nested ones kept. A directory where the workload read a file it did not
// create is marked persistent.
func writableDirs(writes, files []v1alpha1.FileEntry) []WritableDir {
	var dirs []string
	for _, f := range writes {
		dir := literalDir(f.Path)
		if dir == "/" || dir == "" {
			continue // the root itself: no volume can take that
		}
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	var outer []string
	for _, d := range dirs {
		if len(outer) > 0 && under(d, outer[len(outer)-1]) {
			continue
		}
		outer = append(outer, d)
	}
	out := make([]WritableDir, len(outer))
	for i, d := range outer {
		out[i] = WritableDir{Path: d}
		for _, f := range files {
			if f.RootFilesystem && under(f.Path, d) && slices.Contains(f.Access, v1alpha1.AccessRead) && !slices.Contains(f.Access, v1alpha1.AccessCreate) {
				out[i].Persistent, out[i].Existing = true, f.Path
				break
			}
		}
	}
	return out
}

// literalDir is the directory a written path lies in, up to its first
// component that is a pattern: "/var/lib/pg/base/*/x" is in "/var/lib/pg/base".
func literalDir(p string) string {
	parts := strings.Split(path.Dir(p), "/")
	for i, part := range parts {
		if strings.ContainsAny(part, "*?[") {
			parts = parts[:i]
			break
		}
	}
	dir := strings.Join(parts, "/")
	if dir == "" {
		return "/"
	}
	return dir
}

// under says whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func rootFilesystemEvidence(a SecurityContextAdvice) string {
	if len(a.RootFilesystemWrites) > 0 {
		var paths, scratch, kept []string
		for _, f := range a.RootFilesystemWrites {
			paths = append(paths, f.Path)
		}
		for _, d := range a.WritableDirs {
			if d.Persistent {
				kept = append(kept, d.Path+" (it read "+d.Existing+", which an emptyDir would hide)")
			} else {
				scratch = append(scratch, d.Path)
			}
		}
		line := "written on the root filesystem: " + listAtMost(paths, 4)
		var fixes []string
		if len(scratch) > 0 {
			fixes = append(fixes, "mount an emptyDir at "+listAtMost(scratch, 4))
		}
		if len(kept) > 0 {
			fixes = append(fixes, "a persistent volume (or one an init container fills) at "+listAtMost(kept, 3))
		}
		if len(fixes) > 0 {
			line += "; " + strings.Join(fixes, ", and ") + " to make it read-only"
		}
		return line
	}
	if len(a.VolumeWrites) > 0 {
		var places []string
		for _, f := range a.VolumeWrites {
			where := f.Path
			if f.Filesystem != "" {
				where += " (" + f.Filesystem + ")"
			}
			places = append(places, where)
		}
		return "nothing was written to the root filesystem; writes went to volumes: " + listAtMost(places, 3)
	}
	return "nothing was written to the root filesystem"
}

// runAsNonRootOmitted explains, where runAsNonRoot would have been, why it
// is not set.
func runAsNonRootOmitted(a SecurityContextAdvice) string {
	switch {
	case a.SecurityContext.RunAsNonRoot != nil:
		return ""
	case len(a.RootPrograms) > 0:
		return "runAsNonRoot is not set: " + listAtMost(a.RootPrograms, 3) + " ran as root (uid 0)"
	}
	return "runAsNonRoot is not set: the profile records no program's user id"
}

func runAsNonRootEvidence(a SecurityContextAdvice) string {
	if a.SecurityContext.RunAsNonRoot == nil {
		return ""
	}
	ids := make([]string, len(a.UIDs))
	for i, id := range a.UIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return "every program ran as a non-root user: uid " + strings.Join(ids, ", ")
}
