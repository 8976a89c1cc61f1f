package bpf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// backend is one way of hooking a kind of event: a set of programs in one
// object, loaded and attached together.
type backend struct {
	// name is what `footprint probe` shows, e.g. "tp_btf/cap_capable".
	name string
	// object names the bpf2go object holding the programs.
	object string
	// programs are the program names in the object.
	programs []string
	// optional programs may be missing from the kernel (a syscall
	// tracepoint that does not exist on this architecture or version)
	// without failing the backend.
	optional map[string]bool
	// note explains a limit of this backend to the user.
	note string
	// effect is, for enforcement backends, what the hook does to a
	// violation.
	effect Effect
	// lazy backends are attached only while a cgroup needs them (see
	// lazyAttachment): their mere attachment slows every task down.
	lazy bool
	// iterators are programs of the object loaded with the others but run
	// on demand (BPF iterators), not attached.
	iterators []string
	// changes are the programs for file changes made without an open of
	// the path (truncate, unlink, rename, link, chmod, chown, symlink,
	// mknod: c/objects.h). Each is loaded where this kernel has its hook
	// and left out where it does not, which the choice's note says: the
	// backend still covers opens.
	changes []string
	// canary, when set, is the self-test canary's operations that prove
	// this backend, instead of its kind's (canaryOps): a kind whose
	// backends cover different routes proves each route it claims.
	canary []string
}

// kindBackends are the backends of one kind, best first.
type kindBackends struct {
	kind Kind
	// required kinds fail the load when no backend of theirs works.
	required bool
	choices  []backend
}

// recorderBackends lists each recorded kind's backends, best first. Exec
// comes first: its hook is what opens a watched cgroup for recording.
var recorderBackends = []kindBackends{
	{KindExec, true, []backend{
		{name: "tp_btf/sched_process_exec", object: "exec", programs: []string{"fp_exec_tp_btf"}},
		{name: "tracepoint/sched/sched_process_exec", object: "exec", programs: []string{"fp_exec_tp"},
			note: "scripts are recorded as their interpreter only"},
	}},
	{KindCapability, false, []backend{
		{name: "fexit/cap_capable", object: "capability", programs: []string{"fp_capable_fexit"}},
		{name: "tp_btf/cap_capable", object: "capability", programs: []string{"fp_capable_tp_btf"},
			note: "no-audit probes recognised by their caller's address"},
	}},
	{KindFile, false, []backend{
		{name: "lsm/file_open", object: "file", programs: []string{"fp_file_open_lsm"}, changes: changeHooks("fp_file_lsm", recordTimesHooks...)},
		{name: "fentry/security_file_open", object: "file", programs: []string{"fp_file_open_fentry"}, changes: changeHooks("fp_file_fentry", recordTimesHooks...)},
		{name: "tracepoint/syscalls/sys_exit_open*", object: "file",
			programs: []string{"fp_file_exit_openat", "fp_file_exit_open", "fp_file_exit_openat2", "fp_file_exit_creat"},
			optional: map[string]bool{"fp_file_exit_open": true, "fp_file_exit_openat2": true, "fp_file_exit_creat": true},
			note:     "open syscalls only: execve's and the kernel's own opens are not seen; attached only while a cgroup is recorded for files",
			lazy:     true, changes: changeTracepoints("fp_file")},
	}},
	{KindConnect, false, []backend{
		{name: "cgroup/connect4+connect6+sendmsg4+sendmsg6", object: "connect",
			programs: []string{"fp_connect4", "fp_connect6", "fp_sendmsg4", "fp_sendmsg6"}},
	}},
	// ---- sockets (sockets.go) ----
	{KindSocket, false, []backend{
		{name: "fentry/security_socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create", object: "socket",
			programs: []string{"fp_socket_connect_fentry", "fp_socket_sendmsg_fentry", "fp_socket_create_fentry", "fp_socket_listen_fentry",
				"fp_socket_bind4", "fp_socket_bind6", "fp_socket_create"},
			canary: socketCanaryAll},
		{name: "cgroup/connect_unix+sendmsg_unix+bind4+bind6+sock_create", object: "socket",
			programs: []string{"fp_socket_connect_unix", "fp_socket_sendmsg_unix", "fp_socket_bind4", "fp_socket_bind6", "fp_socket_create"},
			note:     "AF_PACKET sockets and listen() without bind() are not seen",
			canary:   socketCanaryCgroup},
		{name: "cgroup/bind4+bind6+sock_create", object: "socket",
			programs: []string{"fp_socket_bind4", "fp_socket_bind6", "fp_socket_create"},
			note:     "AF_UNIX destinations (cgroup connect_unix needs Linux 6.7+), AF_PACKET sockets and listen() without bind() are not seen",
			canary:   socketCanaryInet},
	}},
	{KindSyscall, false, []backend{
		{name: "tp_btf/sys_enter", object: "syscall", programs: []string{"fp_syscall_tp_btf"},
			note: "attached only while a cgroup is recorded for system calls", lazy: true},
		{name: "tracepoint/raw_syscalls/sys_enter", object: "syscall", programs: []string{"fp_syscall_tp"},
			note: "attached only while a cgroup is recorded for system calls", lazy: true},
	}},
}

// enforcerBackends lists each kind's enforcement backends, best first. Exec
// is required: the exec hook is what makes an enforced cgroup live.
var enforcerBackends = []kindBackends{
	{KindExec, true, []backend{
		{name: "lsm/bprm_check_security", object: "enforceexec", programs: []string{"fp_enforce_bprm_lsm"}, effect: Prevented},
		{name: "fmod_ret/security_bprm_check", object: "enforceexec", programs: []string{"fp_enforce_bprm_fmod_ret"}, effect: Prevented},
		{name: "tp_btf/sched_process_exec", object: "enforceexec", programs: []string{"fp_enforce_exec_tp_btf"},
			note: "before the new program runs", effect: KilledAfter},
	}},
	{KindCapability, false, []backend{
		{name: "lsm/capable", object: "enforcecapability", programs: []string{"fp_enforce_capable_lsm"}, effect: Prevented},
		{name: "fmod_ret/security_capable", object: "enforcecapability", programs: []string{"fp_enforce_capable_fmod_ret"}, effect: Prevented},
		{name: "tp_btf/cap_capable", object: "enforcecapability", programs: []string{"fp_enforce_capable_tp_btf"},
			note: "after the privileged operation", effect: KilledAfter},
	}},
	{KindFile, false, []backend{
		{name: "lsm/file_open", object: "enforcefile", programs: []string{"fp_enforce_file_open_lsm"}, effect: Prevented,
			changes: changeHooks("fp_enforce_lsm", enforceTimesHooks...)},
		{name: "fmod_ret/security_file_open", object: "enforcefile", programs: []string{"fp_enforce_file_open_fmod_ret"}, effect: Prevented,
			changes: changeHooks("fp_enforce_fmod_ret", enforceTimesHooks...)},
		{name: "tracepoint/syscalls/sys_exit_open*", object: "enforcefile",
			programs: []string{"fp_enforce_exit_openat", "fp_enforce_exit_open", "fp_enforce_exit_openat2", "fp_enforce_exit_creat"},
			optional: map[string]bool{"fp_enforce_exit_open": true, "fp_enforce_exit_openat2": true, "fp_enforce_exit_creat": true},
			note:     "before it reads; O_CREAT, O_TRUNC have taken effect; attached only while a cgroup is held to file rules",
			effect:   KilledAfter, lazy: true, changes: changeTracepoints("fp_enforce")},
	}},
	{KindConnect, false, []backend{
		{name: "cgroup/connect4+connect6+sendmsg4+sendmsg6", object: "enforceconnect",
			programs: []string{"fp_enforce_connect4", "fp_enforce_connect6", "fp_enforce_sendmsg4", "fp_enforce_sendmsg6"},
			note:     "the Kill action denies: no signals here", effect: Prevented},
	}},
	// ---- sockets (sockets.go) ----
	{KindSocket, false, []backend{
		{name: "lsm/socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create", object: "enforcesocket",
			programs: []string{"fp_enforce_socket_connect_lsm", "fp_enforce_socket_sendmsg_lsm", "fp_enforce_socket_create_lsm", "fp_enforce_socket_listen_lsm",
				"fp_enforce_bind4", "fp_enforce_bind6", "fp_enforce_sock_create"},
			note: "the Kill action denies binds and raw inet sockets (cgroup hooks: no signals)", effect: Prevented, canary: socketCanaryAll},
		{name: "fmod_ret/security_socket_connect+sendmsg+create+listen+cgroup/bind4+bind6+sock_create", object: "enforcesocket",
			programs: []string{"fp_enforce_socket_connect_fmod_ret", "fp_enforce_socket_sendmsg_fmod_ret", "fp_enforce_socket_create_fmod_ret", "fp_enforce_socket_listen_fmod_ret",
				"fp_enforce_bind4", "fp_enforce_bind6", "fp_enforce_sock_create"},
			note: "the Kill action denies binds and raw inet sockets (cgroup hooks: no signals)", effect: Prevented, canary: socketCanaryAll},
		{name: "cgroup/connect_unix+sendmsg_unix+bind4+bind6+sock_create", object: "enforcesocket",
			programs: []string{"fp_enforce_connect_unix", "fp_enforce_sendmsg_unix", "fp_enforce_bind4", "fp_enforce_bind6", "fp_enforce_sock_create"},
			note:     "AF_PACKET sockets and listen() without bind() are not covered (no hook here; the seccomp filter refuses them to a workload that never made them); the Kill action denies: no signals here",
			effect:   Prevented, canary: socketCanaryCgroup},
		{name: "cgroup/bind4+bind6+sock_create", object: "enforcesocket",
			programs: []string{"fp_enforce_bind4", "fp_enforce_bind6", "fp_enforce_sock_create"},
			note:     "AF_UNIX destinations (cgroup connect_unix needs Linux 6.7+), AF_PACKET sockets and listen() without bind() are not covered; the Kill action denies: no signals here",
			effect:   Prevented, canary: socketCanaryInet},
	}},
	// ---- ptrace of processes outside the policy ----
	{KindPtrace, false, []backend{
		{name: "lsm/ptrace_access_check", object: "enforceptrace", programs: []string{"fp_enforce_ptrace_lsm"}, effect: Prevented},
		{name: "fmod_ret/security_ptrace_access_check", object: "enforceptrace", programs: []string{"fp_enforce_ptrace_fmod_ret"}, effect: Prevented},
	}},
	// ---- system calls: seccomp refuses, this reports (enforcesyscall) ----
	{KindSyscall, false, []backend{
		{name: "tp_btf/sys_exit", object: "enforcesyscall", programs: []string{"fp_enforce_sys_exit"},
			note:   "the policy's seccomp filter refuses; this reports, attached only while a cgroup is held to a policy with system calls",
			effect: ReportedSeccomp, lazy: true},
	}},
	{KindCgroup, false, []backend{
		{name: "tp_btf/cgroup_attach_task+sched_process_fork", object: "enforcecgroup",
			programs:  []string{"fp_enforce_cgroup_attach", "fp_enforce_cgroup_fork", "fp_enforce_cgroup_exit"},
			iterators: []string{"fp_enforce_track_processes"},
			note:      "no hook refuses a move: the policy holds the process where it went", effect: FollowsProcess},
	}},
}

func backendNames(table []kindBackends, k Kind) []string {
	for _, b := range table {
		if b.kind == k {
			names := make([]string, len(b.choices))
			for i, c := range b.choices {
				names[i] = c.name
			}
			return names
		}
	}
	return nil
}

// BackendNames lists the recording backends footprint knows for a kind,
// best first.
func BackendNames(k Kind) []string { return backendNames(recorderBackends, k) }

// EnforcerBackendNames lists the enforcement backends footprint knows for a
// kind, best first.
func EnforcerBackendNames(k Kind) []string { return backendNames(enforcerBackends, k) }

// Stage is how far a refused backend got.
type Stage string

// The stages at which a backend is refused.
const (
	// StageNotTried: another backend was asked for (--backend).
	StageNotTried Stage = "not tried"
	// StageLSMInactive: a BPF-LSM backend where bpf is not an active LSM;
	// its programs would attach and never run.
	StageLSMInactive Stage = "lsm inactive"
	// StageLoad: the kernel refused to load the programs.
	StageLoad Stage = "load"
	// StageAttach: the kernel refused to attach them.
	StageAttach Stage = "attach"
	// StageSelfTest: attached, but the self-test did not see them work.
	StageSelfTest Stage = "self-test"
)

// Rejection is a backend footprint does not use, and why.
type Rejection struct {
	Backend string `json:"backend"`
	Stage   Stage  `json:"stage"`
	Reason  string `json:"reason"`
}

// BackendChoice is the outcome of probing one kind's backends.
type BackendChoice struct {
	Kind Kind
	// Chosen is the backend in use; empty when none works.
	Chosen string
	// Note explains a limit of the chosen backend, if any.
	Note string
	// Proof is what the self-test saw the chosen backend do.
	Proof string
	// Rejected lists the better backends that do not work here (and,
	// when a backend was asked for, the ones not tried), in order.
	Rejected []Rejection
	// MissingChanges are, for files, the hooks of changes made without
	// an open that the chosen backend lacks here (see Coverage).
	MissingChanges []string
}

// attach attaches one loaded program according to its section.
func attach(prog *ebpf.Program, spec *ebpf.ProgramSpec, cgroupRoot string) (link.Link, error) {
	switch spec.Type {
	case ebpf.Tracing:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	case ebpf.LSM:
		return link.AttachLSM(link.LSMOptions{Program: prog})
	case ebpf.TracePoint:
		parts := strings.SplitN(spec.SectionName, "/", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("tracepoint section %q is not tracepoint/GROUP/NAME", spec.SectionName)
		}
		if err := ensureTracefs(); err != nil {
			return nil, err
		}
		return link.Tracepoint(parts[1], parts[2], prog, nil)
	case ebpf.CGroupSockAddr, ebpf.CGroupSock:
		return link.AttachCgroup(link.CgroupOptions{Path: cgroupRoot, Attach: spec.AttachType, Program: prog})
	}
	return nil, fmt.Errorf("program %s: no attach method for type %s", spec.Name, spec.Type)
}

// describe turns a load or attach error into the short reason `footprint
// probe` prints, e.g. "load refused: operation not permitted".
func describe(stage string, err error) string {
	var verr *ebpf.VerifierError
	switch {
	case errors.As(err, &verr) && len(verr.Log) > 0:
		return stage + " refused by the verifier: " + lastVerifierLine(verr)
	case errors.Is(err, unix.EPERM):
		return stage + " refused: operation not permitted"
	case errors.Is(err, unix.EACCES):
		return stage + " refused: permission denied"
	case errors.Is(err, btf.ErrNotFound):
		return stage + ": hook not present in this kernel"
	case errors.Is(err, ebpf.ErrNotSupported):
		return stage + ": not supported by this kernel"
	case errors.Is(err, os.ErrNotExist):
		return stage + ": hook not present in this kernel"
	}
	return stage + ": " + err.Error()
}

func lastVerifierLine(verr *ebpf.VerifierError) string {
	for i := len(verr.Log) - 1; i >= 0; i-- {
		line := strings.TrimSpace(verr.Log[i])
		if line != "" && !strings.HasPrefix(line, "processed ") && !strings.HasPrefix(line, "verification time") {
			return line
		}
	}
	return verr.Cause.Error()
}

// tracefsDir is where tracefs is mounted when nobody has mounted it.
const tracefsDir = "/sys/kernel/tracing"

// ensureTracefs mounts tracefs when it is not mounted: tracepoints are
// attached through it, and minimal hosts and containers often lack it.
func ensureTracefs() error {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return fmt.Errorf("read mounts: %w", err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 2 && (f[2] == "tracefs" || f[2] == "debugfs") {
			return nil
		}
	}
	if err := unix.Mount("tracefs", tracefsDir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted and mounting it at %s failed (%w): mount it with `mount -t tracefs tracefs %s`", tracefsDir, err, tracefsDir)
	}
	return nil
}
