package enforcer

import (
	"fmt"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Describe is one readable line about a violation: who did what, and what
// happened. The CLI prints it; the agent puts it in the pod's Event.
func Describe(v bpf.Violation) string {
	var what string
	switch v.Kind {
	case bpf.KindFile:
		what = fmt.Sprintf("opened %s for %s", quotePath(v), v.Access)
		// An open's report names no system call; a change's does (a
		// mkdir's access is create, like an open's that makes the file).
		if v.Access&bpf.AccessChanges != 0 || v.Access == bpf.AccessTruncate || v.Syscall >= 0 {
			what = describeChange(v)
		}
	case bpf.KindExec:
		what = "executed " + quotePath(v)
	case bpf.KindCapability:
		what = "used " + profiles.CapabilityName(v.Capability)
		if v.UserNamespace {
			what += " in a child user namespace"
		}
		if name, ok := profiles.SyscallName(v1alpha1.ArchX86_64, v.Syscall); ok {
			what += " in " + name
			if v.Path != "" {
				what += fmt.Sprintf("(%q)", v.Path)
			}
		}
	case bpf.KindConnect:
		what = fmt.Sprintf("connected to %s", formatDestination(v))
	case bpf.KindSocket:
		what = describeSocket(v.Socket)
	case bpf.KindSyscall:
		return describeSyscall(v)
	case bpf.KindPtrace:
		to := v.TargetCgroup
		if to == "" {
			to = fmt.Sprint(v.TargetCgroupID)
		}
		what = fmt.Sprintf("attached to (ptrace) or reached the memory of process %d outside its policy, in cgroup %s", v.TargetPID, to)
	case bpf.KindCgroup:
		to := v.TargetCgroup
		if to == "" {
			to = fmt.Sprintf("%d (gone)", v.TargetCgroupID)
		}
		if v.TargetPID == v.PID {
			what = "left its policy's cgroups for cgroup " + to
		} else {
			what = fmt.Sprintf("moved process %d out of its policy's cgroups to cgroup %s", v.TargetPID, to)
		}
	default:
		what = v.Kind.String()
	}
	return fmt.Sprintf("%s %s: %s", who(v), what, v.Outcome)
}

func who(v bpf.Violation) string {
	s := fmt.Sprintf("%s[%d]", v.Comm, v.PID)
	if v.Exe != "" {
		s += " (" + v.Exe + ")"
	}
	return s
}

// describeSyscall describes a system call outside the policy and what its
// seccomp filter did: "called io_uring_setup: refused by seccomp",
// "called socket(AF_PACKET): would be refused".
func describeSyscall(v bpf.Violation) string {
	return fmt.Sprintf("%s called %s: %s", who(v), syscallCall(v), syscallOutcome(v))
}

// syscallCall names the system call of a KindSyscall violation, with its
// socket family and ABI where they matter: "socket(AF_PACKET)",
// "chmod (i386)".
func syscallCall(v bpf.Violation) string {
	arch := v1alpha1.ArchX86_64
	if v.Compat {
		arch = v1alpha1.ArchX86
	}
	call, ok := profiles.SyscallName(arch, v.Syscall)
	if !ok {
		call = fmt.Sprintf("system call %d", v.Syscall)
	}
	if v.HasSocketFamily {
		family, ok := profiles.SocketFamilyName(v.SocketFamily)
		if !ok {
			family = fmt.Sprintf("family %d", v.SocketFamily)
		}
		call += "(" + family + ")"
	}
	if v.Compat {
		call += " (i386)"
	}
	return call
}

// syscallOutcome says what the seccomp filter did to a KindSyscall
// violation.
func syscallOutcome(v bpf.Violation) string {
	switch v.Outcome {
	case bpf.Denied:
		return "refused by seccomp"
	case bpf.Audited:
		if v.NoSeccomp {
			return "would be refused (the process runs without the policy's seccomp profile)"
		}
		return "would be refused"
	case bpf.Unfiltered:
		return "not refused: the process runs without the policy's seccomp profile"
	}
	return v.Outcome.String()
}

func quotePath(v bpf.Violation) string {
	if v.Truncated {
		return "…" + v.Path + " (path too long to match any rule)"
	}
	return v.Path
}

func formatDestination(v bpf.Violation) string {
	proto := map[uint8]string{6: "TCP", 17: "UDP", 132: "SCTP"}[v.Protocol]
	if proto == "" {
		proto = fmt.Sprintf("protocol %d", v.Protocol)
	}
	if v.Addr.Is6() {
		return fmt.Sprintf("[%s]:%d %s", v.Addr, v.Port, proto)
	}
	return fmt.Sprintf("%s:%d %s", v.Addr, v.Port, proto)
}

// describeChange describes a change made without an open of the path, the
// way the call looked: unlinkat("/etc/passwd") (delete). Where the system
// call is not known (io_uring), the access stands for it.
func describeChange(v bpf.Violation) string {
	call, ok := profiles.SyscallName(v1alpha1.ArchX86_64, v.Syscall)
	if !ok {
		call = v.Access.Names()[0]
	}
	return fmt.Sprintf("%s(%q) (%s)", call, quotePath(v), v.Access)
}
