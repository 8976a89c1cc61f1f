package generator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Seccomp actions and architectures, as runc, crun and containerd spell
// them.
const (
	ScmpActAllow = "SCMP_ACT_ALLOW"
	ScmpActErrno = "SCMP_ACT_ERRNO"
	ScmpActLog   = "SCMP_ACT_LOG"
)

// errnoEPERM and errnoENOSYS are the errno values a refused call returns:
// EPERM says "not allowed"; ENOSYS says "no such call", on which libc falls
// back to an older call (clone3 to clone, openat2 to openat).
const (
	errnoEPERM  uint = 1
	errnoENOSYS uint = 38
)

// scmpArch names each profile ABI as seccomp does.
var scmpArch = map[v1alpha1.SyscallArch]string{
	v1alpha1.ArchX86_64: "SCMP_ARCH_X86_64",
	v1alpha1.ArchX86:    "SCMP_ARCH_X86",
}

// SeccompProfile is a seccomp profile in the JSON runc, crun and containerd
// load (the OCI runtime spec's linux.seccomp; what kubelet reads from a
// Localhost profile's file).
type SeccompProfile struct {
	DefaultAction   string           `json:"defaultAction"`
	DefaultErrnoRet *uint            `json:"defaultErrnoRet,omitempty"`
	Architectures   []string         `json:"architectures,omitempty"`
	Syscalls        []SeccompSyscall `json:"syscalls,omitempty"`

	// Notes say what the profile allows more widely than the recording
	// shows, for a person (not in the JSON, which has no comments).
	Notes []string `json:"-"`
}

// SeccompSyscall is one rule: the calls it names get its action, when
// every one of its argument comparisons holds.
type SeccompSyscall struct {
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet,omitempty"`
	Args     []SeccompArg `json:"args,omitempty"`
}

// SeccompArg compares argument Index of a call with Value.
type SeccompArg struct {
	Index uint   `json:"index"`
	Value uint64 `json:"value"`
	Op    string `json:"op"`
}

// ScmpCmpEq is the comparison "the argument equals the value".
const ScmpCmpEq = "SCMP_CMP_EQ"

// SeccompOptions shape a generated seccomp profile.
type SeccompOptions struct {
	// Mode Audit logs what the profile would refuse (SCMP_ACT_LOG) and
	// allows it; Enforce (the default) refuses it with EPERM.
	Mode v1alpha1.EnforcementMode
}

// ErrNoSyscalls means a profile holds no system calls to build a seccomp
// profile from: it was recorded without them.
var ErrNoSyscalls = errors.New("the profile holds no system calls: record them (footprint record records them by default; a ProfileRecording with kinds including syscalls)")

// Seccomp builds a seccomp allow-list from the system calls a profile
// recorded: those calls and the runtime's are allowed, every other call
// fails with EPERM, and clone3, where it was not recorded, with ENOSYS so
// that libc falls back to clone (as runc's and moby's default profiles do;
// runc also answers ENOSYS to calls newer than any the profile names). The
// architectures are those the profile recorded calls for: a 32-bit call
// from a container that made none is refused by the kernel's filter as an
// unknown architecture (runc kills the caller) rather than being allowed
// by a native call's name.
func Seccomp(p *v1alpha1.Profile, opts SeccompOptions) (*SeccompProfile, error) {
	spec := profiles.NormalizeSpec(p.Spec)
	if len(spec.Syscalls) == 0 {
		return nil, ErrNoSyscalls
	}
	return SeccompFor(spec.Syscalls, opts)
}

// SeccompFor builds the seccomp profile of an allow-list of system calls
// (a profile's, or an EnforcementPolicy's syscalls.allow), as Seccomp does.
// Where the sets hold socket families, socket and socketpair are allowed
// only with one of them as their first argument (one rule per family,
// SCMP_CMP_EQ), and refused with EPERM otherwise, as a call outside the
// list; the families of every ABI are allowed through each (an OCI rule
// is not per ABI). A set that names either call without families (a
// profile recorded before footprint recorded them) allows any family,
// and says so in Notes.
func SeccompFor(sets []v1alpha1.SyscallSet, opts SeccompOptions) (*SeccompProfile, error) {
	if errs := profiles.ValidateSyscalls(sets, field.NewPath("syscalls")); len(errs) > 0 {
		return nil, fmt.Errorf("the system calls: %w", errs.ToAggregate())
	}
	out := &SeccompProfile{DefaultAction: ScmpActErrno, DefaultErrnoRet: ptr(errnoEPERM)}
	if opts.Mode == v1alpha1.ModeAudit {
		out.DefaultAction, out.DefaultErrnoRet = ScmpActLog, nil
	}
	var allowed, families []string
	anyFamily := false
	for _, set := range sets {
		out.Architectures = append(out.Architectures, scmpArch[set.Arch])
		allowed = append(allowed, set.Names...)
		allowed = append(allowed, profiles.SyscallCompanionsOf(set)...)
		families = append(families, set.SocketFamilies...)
		anyFamily = anyFamily || !profiles.FamiliesRestricted(set)
	}
	allowed = append(allowed, profiles.RuntimeSyscalls...)
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	if note := companionsNote(sets); note != "" {
		out.Notes = append(out.Notes, note)
	}
	var familyCalls []string
	if anyFamily {
		out.Notes = append(out.Notes, "socket and socketpair are allowed with any address family: the profile was recorded without socket families (record it again to allow only the families the workload used)")
	} else {
		familyCalls = slices.DeleteFunc(slices.Clone(profiles.SocketFamilyCalls), func(n string) bool { return !slices.Contains(allowed, n) })
		allowed = slices.DeleteFunc(allowed, func(n string) bool { return slices.Contains(familyCalls, n) })
	}
	out.Syscalls = append(out.Syscalls, SeccompSyscall{Names: allowed, Action: ScmpActAllow})
	if len(familyCalls) > 0 {
		numbers := make([]int, 0, len(families))
		for _, f := range families {
			nr, _ := profiles.SocketFamilyNumber(f) // validated above
			numbers = append(numbers, nr)
		}
		slices.Sort(numbers)
		for _, nr := range slices.Compact(numbers) {
			out.Syscalls = append(out.Syscalls, SeccompSyscall{Names: familyCalls, Action: ScmpActAllow,
				Args: []SeccompArg{{Index: 0, Value: uint64(nr), Op: ScmpCmpEq}}})
		}
	}
	if !slices.Contains(allowed, "clone3") && opts.Mode != v1alpha1.ModeAudit {
		out.Syscalls = append(out.Syscalls, SeccompSyscall{Names: []string{"clone3"}, Action: ScmpActErrno, ErrnoRet: ptr(errnoENOSYS)})
	}
	return out, nil
}

// companionsNote says which calls an allow-list gets beyond the recorded
// ones because they reach no more than a recorded call (the companions of
// profiles.SyscallCompanions), per ABI; empty when none.
func companionsNote(sets []v1alpha1.SyscallSet) string {
	var parts []string
	for _, set := range sets {
		if added := profiles.SyscallCompanionsOf(set); len(added) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", set.Arch, strings.Join(added, ", ")))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "also allowed, as they reach no more than a recorded call does and libc picks among them at run time (mremap to grow a block, restart_syscall after a signal): " + strings.Join(parts, "; ")
}

// SeccompLocalhostProfile is where, below kubelet's seccomp directory, the
// node agent installs the seccomp profile of an EnforcementPolicy: what a
// pod's seccompProfile.localhostProfile names.
func SeccompLocalhostProfile(namespace, policy string) string {
	return "footprint/" + namespace + "/" + policy + ".json"
}

// JSON is the profile as the runtimes read it, indented.
func (s *SeccompProfile) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// SPOAPIVersion is the Security Profiles Operator's API version footprint
// writes.
const SPOAPIVersion = "security-profiles-operator.x-k8s.io/v1beta1"

// SPOSeccompProfile is a SeccompProfile of the Security Profiles Operator,
// for clusters that run it: SPO installs it on every node as a Localhost
// profile.
type SPOSeccompProfile struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       SPOSeccompSpec    `json:"spec"`
}

// SPOSeccompSpec is an SPO SeccompProfile's spec: the OCI profile without
// defaultErrnoRet, which SPO's schema lacks (a refused call's errno is
// EPERM there, as it is by default).
type SPOSeccompSpec struct {
	DefaultAction string           `json:"defaultAction"`
	Architectures []string         `json:"architectures,omitempty"`
	Syscalls      []SeccompSyscall `json:"syscalls,omitempty"`
}

// SPOSeccomp wraps a seccomp profile in an SPO SeccompProfile named name in
// namespace.
func SPOSeccomp(s *SeccompProfile, name, namespace string) *SPOSeccompProfile {
	return &SPOSeccompProfile{
		APIVersion: SPOAPIVersion, Kind: "SeccompProfile",
		Metadata: metav1.ObjectMeta{Name: dnsName(name), Namespace: namespace},
		Spec:     SPOSeccompSpec{DefaultAction: s.DefaultAction, Architectures: s.Architectures, Syscalls: s.Syscalls},
	}
}
