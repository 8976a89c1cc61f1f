package bpf

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind is a kind of recorded event.
type Kind uint32

// The kinds: enum fp_kind in include/footprint.h.
const (
	KindCapability = Kind(typesFpKindFP_KIND_CAPABILITY)
	KindFile       = Kind(typesFpKindFP_KIND_FILE)
	KindConnect    = Kind(typesFpKindFP_KIND_CONNECT)
	KindExec       = Kind(typesFpKindFP_KIND_EXEC)
	KindSyscall    = Kind(typesFpKindFP_KIND_SYSCALL)
	// KindCgroup is enforced, never recorded: a process held to a policy
	// went to a cgroup outside it, and the policy went along.
	KindCgroup = Kind(typesFpKindFP_KIND_CGROUP)
	// KindSocket is sockets beyond an inet connect (sockets.go): recorded
	// wherever connections are.
	KindSocket = Kind(typesFpKindFP_KIND_SOCKET)
	// KindPtrace is enforced, never recorded: a process held to a policy
	// attached to, or reached the memory of, a process outside it.
	KindPtrace = Kind(typesFpKindFP_KIND_PTRACE)
)

// RecordedKinds are the kinds that become profile entries.
var RecordedKinds = []Kind{KindCapability, KindFile, KindConnect, KindExec, KindSyscall, KindSocket}

// EnforcedKinds are the kinds a policy governs: the recorded ones, the
// cgroups a process may go to and the processes it may reach. System calls
// are refused by the policy's seccomp filter; footprint's program for them
// reports what the filter refuses (or would).
var EnforcedKinds = []Kind{KindCapability, KindFile, KindConnect, KindExec, KindCgroup, KindSocket, KindPtrace, KindSyscall}

func (k Kind) String() string {
	switch k {
	case KindCapability:
		return "capabilities"
	case KindFile:
		return "files"
	case KindConnect:
		return "connections"
	case KindExec:
		return "executables"
	case KindSyscall:
		return "syscalls"
	case KindCgroup:
		return "cgroups"
	case KindSocket:
		return "sockets"
	case KindPtrace:
		return "ptrace"
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// ParseKind parses a kind one may ask to record by the name String gives
// it. Sockets are not one: they are recorded with connections.
func ParseKind(s string) (Kind, error) {
	for _, k := range RecordedKinds {
		if k.String() == s && k != KindSocket {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown event kind %q: use one of capabilities, files, connections, executables, syscalls", s)
}

// KindSet is a set of kinds, as the kernel's watch map holds it.
type KindSet uint32

// AllKinds records every kind.
const AllKinds = KindSet(1<<KindCapability | 1<<KindFile | 1<<KindConnect | 1<<KindExec | 1<<KindSyscall | 1<<KindSocket)

// Has reports whether k is in the set.
func (s KindSet) Has(k Kind) bool { return s&(1<<k) != 0 }

// Records says whether watching a cgroup for the set records kind k:
// sockets are recorded with connections.
func (s KindSet) Records(k Kind) bool {
	return s.Has(k) || k == KindSocket && s.Has(KindConnect)
}

// With returns the set with k added.
func (s KindSet) With(k Kind) KindSet { return s | 1<<k }

// Access is how a file was opened, as bits of enum fp_access.
type Access uint32

// Access bits.
const (
	AccessRead     = Access(typesFpAccessFP_ACCESS_READ)
	AccessWrite    = Access(typesFpAccessFP_ACCESS_WRITE)
	AccessExec     = Access(typesFpAccessFP_ACCESS_EXEC)
	AccessCreate   = Access(typesFpAccessFP_ACCESS_CREATE)
	AccessTruncate = Access(typesFpAccessFP_ACCESS_TRUNCATE)
)

// Access bits of file changes made without an open of the path.
const (
	AccessDelete     = Access(typesFpAccessFP_ACCESS_DELETE)
	AccessRenameFrom = Access(typesFpAccessFP_ACCESS_RENAME_FROM)
	AccessRenameTo   = Access(typesFpAccessFP_ACCESS_RENAME_TO)
	AccessLink       = Access(typesFpAccessFP_ACCESS_LINK)
	AccessLinkTarget = Access(typesFpAccessFP_ACCESS_LINK_TARGET)
	AccessChmod      = Access(typesFpAccessFP_ACCESS_CHMOD)
	AccessSetID      = Access(typesFpAccessFP_ACCESS_SETID)
	AccessChown      = Access(typesFpAccessFP_ACCESS_CHOWN)
	AccessSymlink    = Access(typesFpAccessFP_ACCESS_SYMLINK)
	AccessMknod      = Access(typesFpAccessFP_ACCESS_MKNOD)
	AccessReceive    = Access(typesFpAccessFP_ACCESS_RECEIVE)
	AccessUtimes     = Access(typesFpAccessFP_ACCESS_UTIMES)

	// AccessChanges are the bits of changes without an open.
	AccessChanges = AccessDelete | AccessRenameFrom | AccessRenameTo | AccessLink | AccessLinkTarget |
		AccessChmod | AccessSetID | AccessChown | AccessSymlink | AccessMknod | AccessReceive | AccessUtimes
)

var accessNames = []struct {
	bit  Access
	name string
}{
	{AccessRead, "read"}, {AccessWrite, "write"}, {AccessExec, "exec"},
	{AccessCreate, "create"}, {AccessTruncate, "truncate"},
	{AccessDelete, "delete"}, {AccessRenameFrom, "rename-from"}, {AccessRenameTo, "rename-to"},
	{AccessLink, "link"}, {AccessLinkTarget, "link-target"}, {AccessChmod, "chmod"}, {AccessSetID, "setid"},
	{AccessChown, "chown"}, {AccessUtimes, "utimes"}, {AccessSymlink, "symlink"}, {AccessMknod, "mknod"},
	{AccessReceive, "receive"},
}

// Names lists the access kinds set, in a fixed order.
func (a Access) Names() []string {
	var names []string
	for _, n := range accessNames {
		if a&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

func (a Access) String() string { return strings.Join(a.Names(), ",") }

// Flags of file and exec entries (enum fp_path_flag).
const (
	flagPathTruncated = uint32(typesFpPathFlagFP_PATH_TRUNCATED)
	flagRootFS        = uint32(typesFpPathFlagFP_PATH_ROOTFS)
	flagSetuid        = uint32(typesFpPathFlagFP_EXEC_SETUID)
	flagSetgid        = uint32(typesFpPathFlagFP_EXEC_SETGID)
	flagSecureExec    = uint32(typesFpPathFlagFP_EXEC_SECURE)
	flagScript        = uint32(typesFpPathFlagFP_EXEC_SCRIPT)
	flagLexical       = uint32(typesFpPathFlagFP_PATH_LEXICAL)
)

// Flags of capability entries (enum fp_capability_flag).
const (
	flagCapDenied  = uint32(typesFpCapabilityFlagFP_CAP_DENIED)
	flagCapNoAudit = uint32(typesFpCapabilityFlagFP_CAP_NOAUDIT)
	flagCapUserNS  = uint32(typesFpCapabilityFlagFP_CAP_USERNS)
)

// Capability is a capability check.
type Capability struct {
	// Cap is the capability number (CAP_CHOWN is 0).
	Cap int
	// Denied is the kernel's verdict.
	Denied bool
	// NoAudit marks a probe (CAP_OPT_NOAUDIT), not a need.
	NoAudit bool
	// UserNamespace marks a check against a non-initial user namespace.
	UserNamespace bool
}

// FileOpen is an open of a file.
type FileOpen struct {
	// Path is the path as the process saw it.
	Path   string
	Access Access
	// FSMagic is the filesystem's magic number; FilesystemName names it.
	FSMagic uint32
	// RootFS is true when the file is on the process's root mount.
	RootFS bool
	// Truncated is true when the path was too long or too deep to keep
	// whole: Path then holds its last components.
	Truncated bool
	// Lexical is true for a change the syscall tracepoints saw: Path is
	// the name the system call was given, made absolute, with . and ..
	// resolved but symbolic links not followed, and FSMagic and RootFS
	// are not known (RootFS is true when the name starts on the root
	// mount).
	Lexical bool
}

// Connect is an outbound connection or unconnected datagram.
type Connect struct {
	Addr     netip.Addr
	Port     uint16
	Protocol uint8 // IPPROTO_TCP (6) or IPPROTO_UDP (17), or another IP protocol
	// SendMsg is true for an unconnected send (sendmsg/sendto), false for
	// connect.
	SendMsg bool
}

// Exec is an execution of a program.
type Exec struct {
	// Path is the resolved path of the program, or of the script for
	// Script entries.
	Path     string
	UID, GID uint32
	Setuid   bool
	Setgid   bool
	// Secure is the kernel's AT_SECURE: the exec raised privileges.
	Secure bool
	// Script marks the script an interpreter was started for.
	Script    bool
	Truncated bool
}

// Syscalls are the system calls a cgroup made, by number, per ABI.
type Syscalls struct {
	// Native are x86-64's numbers; Compat the 32-bit (i386) numbers of
	// calls made through int 0x80 or sysenter.
	Native, Compat []int
	// NativeFamilies and CompatFamilies are the address families passed
	// to socket(2) and socketpair(2) through each ABI (not through the
	// i386 socketcall(2) multiplexer, which passes them in memory).
	NativeFamilies, CompatFamilies []int
}

// Entry is one unique observation in one cgroup, with how often it was seen.
// Exactly one of Capability, File, Connect, Exec, Syscalls and Socket is set. The
// count of a Syscalls entry is 1: repeats are not counted.
type Entry struct {
	Kind      Kind
	CgroupID  uint64
	Count     uint64
	FirstSeen time.Time

	Capability *Capability
	File       *FileOpen
	Connect    *Connect
	Exec       *Exec
	Syscalls   *Syscalls
	Socket     *Socket
}

// Event is a ring-buffer record: the first sighting of an entry, with the
// process that caused it. Its Count is 1.
type Event struct {
	Entry
	PID  uint32
	Comm string
	// Unkept says the entry's aggregation map was full: this record is
	// the entry's only copy (a later sweep does not return it), and it
	// comes again at the entry's next sighting.
	Unkept bool
}
