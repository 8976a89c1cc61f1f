package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Profile is what one workload container was observed doing: the capability
// checks the kernel made for it, the files it opened, the addresses it
// connected to and the programs it executed. Profiles from every replica and
// node of a workload are merged into one. Generate a securityContext patch or
// an EnforcementPolicy from it with `footprint export`.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName={prof,fpp},categories=footprint
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workload.name`,description="The Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod that owns the container"
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.workload.kind`,priority=1,description="The workload's kind"
// +kubebuilder:printcolumn:name="Container",type=string,JSONPath=`.spec.container`
// +kubebuilder:printcolumn:name="Caps",type=integer,JSONPath=`.status.summary.capabilities`,description="Capabilities checked"
// +kubebuilder:printcolumn:name="Files",type=integer,JSONPath=`.status.summary.files`,description="File entries"
// +kubebuilder:printcolumn:name="Conns",type=integer,JSONPath=`.status.summary.connections`,description="Connection destinations"
// +kubebuilder:printcolumn:name="Execs",type=integer,JSONPath=`.status.summary.executables`,description="Programs executed"
// +kubebuilder:printcolumn:name="Syscalls",type=integer,JSONPath=`.status.summary.syscalls`,description="System calls made (all ABIs)"
// +kubebuilder:printcolumn:name="Recording",type=string,JSONPath=`.status.summary.recording`,description="The ProfileRecording that last wrote the profile"
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.summary.pods`,priority=1,description="Pods (replicas) observed"
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.summary.nodes`,priority=1,description="Nodes observed"
// +kubebuilder:printcolumn:name="Images",type=integer,JSONPath=`.status.summary.images`,priority=1,description="Container images observed"
// +kubebuilder:printcolumn:name="Last Seen",type=date,JSONPath=`.status.summary.lastSeen`,priority=1,description="When behaviour was last observed"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Profile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the observed behaviour.
	Spec ProfileSpec `json:"spec,omitempty"`
	// Status reports conditions about the profile (for example that entries
	// were collapsed to stay under the size limit) and a summary of the spec
	// for `kubectl get profiles`.
	// +optional
	Status ProfileStatus `json:"status,omitempty"`
}

// ProfileSpec is the observed behaviour of one workload container. Entries
// are kept sorted so that two profiles of the same behaviour are identical.
type ProfileSpec struct {
	// Workload is the object that owns the recorded container: a Deployment,
	// StatefulSet, DaemonSet, Job, CronJob, or a bare Pod. Empty for a profile
	// recorded from a local command.
	// +optional
	Workload *WorkloadReference `json:"workload,omitempty"`

	// Container is the container's name in the pod template.
	// +optional
	Container string `json:"container,omitempty"`

	// Command is the command line that a local `footprint record` ran.
	// Empty for profiles recorded in a cluster.
	// +optional
	Command []string `json:"command,omitempty"`

	// Capabilities are the capability checks the kernel made, one entry per
	// capability, verdict and kind of check.
	// +optional
	// +listType=atomic
	Capabilities []CapabilityEntry `json:"capabilities,omitempty"`

	// Files are the files opened, one entry per path with every kind of access
	// seen.
	// +optional
	// +listType=atomic
	Files []FileEntry `json:"files,omitempty"`

	// Connections are the outbound connections and datagrams, one entry per
	// protocol, address and port.
	// +optional
	// +listType=atomic
	Connections []ConnectionEntry `json:"connections,omitempty"`

	// Executables are the programs executed, one entry per resolved path.
	// +optional
	// +listType=atomic
	Executables []ExecutableEntry `json:"executables,omitempty"`

	// Sockets are what was done with sockets beyond an inet connect: AF_UNIX
	// destinations (a local daemon's socket is a peer too), explicit binds
	// of inet sockets, raw inet and packet sockets, and listen() on a port
	// the kernel picked. Recorded with connections.
	// +optional
	// +listType=atomic
	Sockets []SocketEntry `json:"sockets,omitempty"`

	// Syscalls are the system calls made, one set per ABI: the native one
	// and, apart, 32-bit calls into a 64-bit kernel (int 0x80, sysenter,
	// 32-bit programs), which are numbered apart and a seccomp profile
	// allows apart.
	// +optional
	// +listType=map
	// +listMapKey=arch
	// +kubebuilder:validation:MaxItems=2
	Syscalls []SyscallSet `json:"syscalls,omitempty"`

	// Collapsed lists where entries were folded into a glob to keep the
	// profile under its size bound, so a reader knows the profile is wider
	// than what was observed there.
	// +optional
	// +listType=atomic
	Collapsed []Collapse `json:"collapsed,omitempty"`

	// Sources says where and when the entries were observed: one per
	// node and pod (replica), or one per local run.
	// +optional
	// +listType=atomic
	Sources []Source `json:"sources,omitempty"`
}

// SyscallArch is a system call ABI, named as seccomp names architectures
// without the SCMP_ARCH_ prefix.
// +kubebuilder:validation:Enum=X86_64;X86
type SyscallArch string

const (
	// ArchX86_64 is x86-64's native ABI.
	ArchX86_64 SyscallArch = "X86_64"
	// ArchX86 is the 32-bit (i386) ABI of a 64-bit x86 kernel.
	ArchX86 SyscallArch = "X86"
)

// SyscallSet is the system calls made through one ABI.
type SyscallSet struct {
	// Arch is the ABI.
	Arch SyscallArch `json:"arch"`
	// Names are the system calls, by their kernel names, sorted.
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=64
	Names []string `json:"names"`
	// SocketFamilies are the address families passed to socket(2) and
	// socketpair(2) through this ABI, by their C names (AF_INET, AF_UNIX,
	// AF_NETLINK...), sorted; not those of the i386 socketcall(2)
	// multiplexer, which is allowed or refused as a whole. A seccomp
	// profile allows socket and socketpair only with these families.
	// Empty while Names has socket or socketpair: recorded by a footprint
	// that did not record families, and allowed with any family.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=32
	SocketFamilies []string `json:"socketFamilies,omitempty"`
}

// WorkloadReference names the object that owns a container.
type WorkloadReference struct {
	// APIVersion of the workload, e.g. apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the workload: Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod.
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Job;CronJob;Pod
	Kind string `json:"kind"`
	// Name of the workload in the profile's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// CapabilityVerdict is the kernel's answer to a capability check.
// +kubebuilder:validation:Enum=Granted;Denied
type CapabilityVerdict string

const (
	// VerdictGranted means the process held the capability.
	VerdictGranted CapabilityVerdict = "Granted"
	// VerdictDenied means the process did not hold it and the check failed.
	VerdictDenied CapabilityVerdict = "Denied"
)

// CapabilityEntry is one kind of capability check.
type CapabilityEntry struct {
	// Name is the capability in the kernel's spelling, e.g. CAP_NET_BIND_SERVICE.
	// A capability newer than footprint's table is named by its number, e.g. CAP_41.
	// +kubebuilder:validation:Pattern=`^CAP_([A-Z_]+|[0-9]+)$`
	Name string `json:"name"`
	// Verdict is the kernel's answer.
	Verdict CapabilityVerdict `json:"verdict"`
	// Probe is true when the kernel asked without auditing (CAP_OPT_NOAUDIT):
	// it was checking whether the process happens to hold the capability (for
	// example memory accounting's CAP_SYS_ADMIN check on every mmap), not
	// whether the operation needs it. Probes never justify adding a capability.
	// +optional
	Probe bool `json:"probe,omitempty"`
	// UserNamespace is true when the check was made against a user namespace
	// other than the initial one.
	// +optional
	UserNamespace bool `json:"userNamespace,omitempty"`
	// Count is how many times the check was made.
	// In a profile merged from several (replicas, nodes, repeated flushes),
	// it is the largest count any of them reported, so that merging the same
	// data twice never inflates it; per-replica totals are in sources.
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count"`
}

// FileAccessMode is one way a file was opened, or changed without an open.
// +kubebuilder:validation:Enum=read;write;exec;create;truncate;delete;rename-from;rename-to;link;link-target;chmod;setid;chown;utimes;symlink;mknod;receive
type FileAccessMode string

const (
	// AccessRead means the file was opened for reading.
	AccessRead FileAccessMode = "read"
	// AccessWrite means the file was opened for writing.
	AccessWrite FileAccessMode = "write"
	// AccessExec means the file was opened to be executed or mapped as a program.
	AccessExec FileAccessMode = "exec"
	// AccessCreate means the open created the file, or a directory (mkdir)
	// or a regular file (mknod) was made at the path.
	AccessCreate FileAccessMode = "create"
	// AccessTruncate means the file was opened with O_TRUNC, or cut by
	// truncate(2) or ftruncate(2).
	AccessTruncate FileAccessMode = "truncate"
)

// Changes to a file made without an open of its path.
const (
	// AccessDelete means the name was removed (unlink, rmdir).
	AccessDelete FileAccessMode = "delete"
	// AccessRenameFrom means the file was renamed away from this path.
	AccessRenameFrom FileAccessMode = "rename-from"
	// AccessRenameTo means a file was renamed to this path (replacing what
	// was there).
	AccessRenameTo FileAccessMode = "rename-to"
	// AccessLink means a hard link was made at this path.
	AccessLink FileAccessMode = "link"
	// AccessLinkTarget means the file got another name by a hard link
	// (ln TARGET LINK_NAME).
	AccessLinkTarget FileAccessMode = "link-target"
	// AccessChmod means the file's mode was changed (chmod).
	AccessChmod FileAccessMode = "chmod"
	// AccessSetID means the new mode had the set-user-ID or set-group-ID
	// bit (with chmod).
	AccessSetID FileAccessMode = "setid"
	// AccessChown means the file's owner or group was changed (chown).
	AccessChown FileAccessMode = "chown"
	// AccessUtimes means the file's access or modification time was set
	// (utimensat, utimes, utime, futimesat; touch), to given times or to now.
	AccessUtimes FileAccessMode = "utimes"
	// AccessSymlink means a symbolic link was made at this path.
	AccessSymlink FileAccessMode = "symlink"
	// AccessMknod means a device node or a FIFO was made at this path.
	AccessMknod FileAccessMode = "mknod"
	// AccessReceive means a descriptor of the file (or directory) was
	// received from another process: SCM_RIGHTS, pidfd_getfd, binder.
	AccessReceive FileAccessMode = "receive"
)

// FileAccessModes are every access mode, in the order profiles and policies
// list them.
var FileAccessModes = []FileAccessMode{AccessRead, AccessWrite, AccessExec, AccessCreate, AccessTruncate,
	AccessDelete, AccessRenameFrom, AccessRenameTo, AccessLink, AccessLinkTarget,
	AccessChmod, AccessSetID, AccessChown, AccessUtimes, AccessSymlink, AccessMknod, AccessReceive}

// Granted is what a rule granting the modes allows: the modes, and utimes
// wherever write is granted. A process that may write a file may set its
// times (a write sets them to now; AppArmor's w allows it too), so a
// daemon that touches a file it writes now and then (PostgreSQL its lock
// files, hourly) is not refused it under a policy recorded in less time.
func Granted(modes []FileAccessMode) []FileAccessMode {
	if slices.Contains(modes, AccessWrite) && !slices.Contains(modes, AccessUtimes) {
		return append(slices.Clip(modes), AccessUtimes)
	}
	return modes
}

// Modifies says whether the mode changes the filesystem (every mode but
// read, exec and receive): a root filesystem that must stay writable for it.
func (m FileAccessMode) Modifies() bool {
	return m != AccessRead && m != AccessExec && m != AccessReceive
}

// FileEntry is one file (or, after normalisation, a glob of files) that was opened.
type FileEntry struct {
	// Path is the path as the process saw it, inside its mount namespace and
	// chroot. After normalisation it may hold globs: `*` matches within one
	// path component, `**` any number of components.
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`
	// Access lists every way the file was opened, in the order read, write,
	// exec, create, truncate, and then changed without an open: delete,
	// rename-from, rename-to, link, link-target, chmod, setid, chown,
	// utimes, symlink, mknod; and receive (a descriptor of it came from another
	// process).
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	Access []FileAccessMode `json:"access"`
	// Filesystem is the type of the filesystem the file lives on, e.g.
	// overlay, tmpfs, ext4, proc.
	// +optional
	Filesystem string `json:"filesystem,omitempty"`
	// RootFilesystem is true when the file lives on the process's root
	// filesystem, as opposed to a volume, a bind mount or a tmpfs mounted
	// elsewhere. Writes there prevent readOnlyRootFilesystem.
	// +optional
	RootFilesystem bool `json:"rootFilesystem,omitempty"`
	// Count is how many opens were observed.
	// In a profile merged from several (replicas, nodes, repeated flushes),
	// it is the largest count any of them reported, so that merging the same
	// data twice never inflates it; per-replica totals are in sources.
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count"`
}

// Protocol is a transport protocol (TCP, UDP, SCTP) or, in a raw socket
// rule, an IP protocol or an ethertype: each field that holds one says
// which.
type Protocol string

const (
	// ProtocolTCP is TCP.
	ProtocolTCP Protocol = "TCP"
	// ProtocolUDP is UDP.
	ProtocolUDP Protocol = "UDP"
	// ProtocolSCTP is SCTP.
	ProtocolSCTP Protocol = "SCTP"
)

// ConnectionEntry is one outbound destination.
type ConnectionEntry struct {
	// Protocol is TCP, UDP or SCTP.
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	Protocol Protocol `json:"protocol"`
	// Address is the destination IP address (IPv4 or IPv6).
	Address string `json:"address"`
	// Port is the destination port.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Count is how many connects or unconnected sends were observed.
	// In a profile merged from several (replicas, nodes, repeated flushes),
	// it is the largest count any of them reported, so that merging the same
	// data twice never inflates it; per-replica totals are in sources.
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count"`
}

// SocketEntry is one socket operation, with how often it was seen.
type SocketEntry struct {
	SocketRule `json:",inline"`
	// Count is how many times it was observed.
	// In a profile merged from several (replicas, nodes, repeated flushes),
	// it is the largest count any of them reported, so that merging the same
	// data twice never inflates it; per-replica totals are in sources.
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count"`
}

// ExecutableEntry is one program that was executed.
type ExecutableEntry struct {
	// Path is the resolved path of the program the kernel ran (for a script,
	// a second entry names its interpreter).
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`
	// Setuid is true when the file has the set-user-ID bit.
	// +optional
	Setuid bool `json:"setuid,omitempty"`
	// Setgid is true when the file has the set-group-ID bit.
	// +optional
	Setgid bool `json:"setgid,omitempty"`
	// PrivilegeGain is true when executing it raised privileges: a set-ID
	// bit or file capabilities took effect (the kernel's AT_SECURE).
	// +optional
	PrivilegeGain bool `json:"privilegeGain,omitempty"`
	// UIDs are the effective user IDs it ran with.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:Minimum=0
	UIDs []int64 `json:"uids,omitempty"`
	// GIDs are the effective group IDs it ran with.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:Minimum=0
	GIDs []int64 `json:"gids,omitempty"`
	// Count is how many times it was executed.
	// In a profile merged from several (replicas, nodes, repeated flushes),
	// it is the largest count any of them reported, so that merging the same
	// data twice never inflates it; per-replica totals are in sources.
	// +kubebuilder:validation:Minimum=0
	Count int64 `json:"count"`
}

// Collapse records that entries were folded into a glob.
type Collapse struct {
	// Glob is the pattern that replaced the entries, e.g. /var/cache/app/**.
	// +kubebuilder:validation:MinLength=1
	Glob string `json:"glob"`
	// Entries is how many entries it replaced.
	Entries int32 `json:"entries"`
	// Reason says why, e.g. "more than 64 entries under one directory".
	Reason string `json:"reason"`
}

// Source is one place and time span in which entries were observed.
type Source struct {
	// Node is the node (or, for a local run, the host) the agent ran on.
	// +optional
	Node string `json:"node,omitempty"`
	// Pod is the pod (replica) the container belonged to.
	// +optional
	Pod string `json:"pod,omitempty"`
	// Recording is the ProfileRecording that produced the entries.
	// +optional
	Recording string `json:"recording,omitempty"`
	// Policy is the EnforcementPolicy that produced the entries: the pod
	// ran an image the policy was not recorded from, so the agent held it
	// in Audit and recorded it, for a person to promote the policy to that
	// image (kubectl footprint enforce --promote).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Policy string `json:"policy,omitempty"`
	// Images are the container images the entries were observed in: one,
	// unless the container was restarted with another image. A policy
	// generated from the profile is bound to them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Images []Image `json:"images,omitempty"`
	// Kernel is the kernel release the entries were recorded on.
	// +optional
	Kernel string `json:"kernel,omitempty"`
	// Backends maps each event kind to the kernel hook that recorded it, e.g.
	// capabilities: tp_btf/cap_capable.
	// +optional
	Backends map[string]string `json:"backends,omitempty"`
	// Routes is the generation of routes the agent saw (see
	// EnforcementPolicySpec.Routes): its release's, or the one before a
	// route whose hook its file backend lacked on this kernel. Absent: 1,
	// an agent from before generations were counted.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Routes int32 `json:"routes,omitempty"`
	// FirstSeen is when recording started.
	FirstSeen metav1.Time `json:"firstSeen"`
	// LastSeen is when recording ended (or was last flushed).
	LastSeen metav1.Time `json:"lastSeen"`
	// Events is how many events the kernel observed, repeats included.
	// +optional
	Events int64 `json:"events,omitempty"`
	// LostRecords is how many sightings of entries the kernel could
	// neither keep (its aggregation map was full) nor hand to the agent
	// (the ring buffer, or the agent's bounded buffer, was full too): at
	// most this many entries are missing from the profile, fewer when the
	// same entry was seen again. 0 means nothing was lost.
	// +optional
	LostRecords int64 `json:"lostRecords,omitempty"`
	// LostByKind splits LostRecords by kind of entry (capabilities,
	// files, connects, executables).
	// +optional
	LostByKind map[string]int64 `json:"lostByKind,omitempty"`
}

// Image identifies a container image. Digest is what identifies its
// content; Name (a tag can be pushed again with other content) stands in
// for it only where the digest is not known yet: before kubelet reports a
// started container's imageID.
//
// +kubebuilder:validation:XValidation:rule="has(self.name) || has(self.digest)",message="an image needs a name or a digest"
type Image struct {
	// Name is the image reference without its digest, written in full
	// (registry, repository and tag), e.g. docker.io/library/nginx:1.27.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Name string `json:"name,omitempty"`
	// Digest is the image's content digest as the pod status' imageID
	// gives it, e.g. sha256:0123...
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`
	Digest string `json:"digest,omitempty"`
}

// ProfileStatus holds conditions about a profile and a summary of it.
type ProfileStatus struct {
	// Conditions about the profile, e.g. Collapsed.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Summary counts the profile's entries, for `kubectl get profiles`. The
	// footprint agent keeps it in step with the spec (Go: Profile.Summarize).
	// +optional
	Summary *ProfileSummary `json:"summary,omitempty"`
}

// ProfileSummary counts a profile's entries and says where they came from.
type ProfileSummary struct {
	// Capabilities is how many distinct capabilities were checked.
	// +kubebuilder:validation:Minimum=0
	Capabilities int32 `json:"capabilities"`
	// Files is how many file entries the profile holds.
	// +kubebuilder:validation:Minimum=0
	Files int32 `json:"files"`
	// Connections is how many destinations the profile holds.
	// +kubebuilder:validation:Minimum=0
	Connections int32 `json:"connections"`
	// Executables is how many programs the profile holds.
	// +kubebuilder:validation:Minimum=0
	Executables int32 `json:"executables"`
	// Syscalls is how many system calls the profile holds, all ABIs
	// together.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Syscalls int32 `json:"syscalls,omitempty"`
	// Recording is the ProfileRecording that most recently added to the
	// profile. Empty for a profile recorded from a local command.
	// +optional
	Recording string `json:"recording,omitempty"`
	// Pods is how many pods (replicas) the entries were observed in.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Pods int32 `json:"pods,omitempty"`
	// Nodes is how many nodes the entries were observed on.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Nodes int32 `json:"nodes,omitempty"`
	// Images is how many distinct container images the entries were
	// observed in.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Images int32 `json:"images,omitempty"`
	// FirstSeen is when observation started, the earliest over all sources.
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// LastSeen is when behaviour was last observed, the latest over all
	// sources.
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
}

// ProfileList is a list of Profiles.
//
// +kubebuilder:object:root=true
type ProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the profiles.
	Items []Profile `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Profile{}, &ProfileList{})
}
