package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnforcementPolicy holds the selected containers to what their profile shows:
// the capabilities they may use, the files they may open and how, the
// destinations they may connect to and the programs they may execute. The
// footprint agent compiles it into kernel maps and applies it before a
// selected container's first instruction. Generate one from a Profile with
// `footprint export policy`, start in Audit mode, and switch to Enforce once
// a quiet period shows no violations.
//
// Each kind of allow-list is optional: a kind that is absent is not enforced,
// while a kind that is present but empty denies every operation of that kind.
//
// Paths in files and executables use a language the kernel can match with a
// bounded number of hash lookups per open (one per path component): literal
// components, `*` standing for exactly one whole component (`/proc/*/status`),
// and a trailing `/**` standing for the directory itself and everything below
// it. There are no partial-component globs (`app-*.log`), no `?` and no
// character classes: a profile entry that holds one is widened to `*` for the
// whole component when a policy is generated, and the generated YAML says so.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName={epol,fpe},categories=footprint
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`,description="Audit reports, Enforce acts"
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`,description="What Enforce does to an operation outside the policy: Deny or Kill"
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`,description="The Profile the policy was generated from"
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.selector.workload.name`,description="The workload whose pods the policy selects"
// +kubebuilder:printcolumn:name="Unknown Images",type=string,JSONPath=`.spec.unknownImages`,priority=1,description="The mode for pods running an image the policy was not recorded from"
// +kubebuilder:printcolumn:name="Routes",type=integer,JSONPath=`.spec.routes`,priority=1,description="The generation of routes the policy was exported for (empty: 1); an agent leaves the routes added since alone"
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.spec.selector.containers`,priority=1,description="The containers the policy applies to; empty: all"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,description="Compiled and loaded on every node running a selected container"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EnforcementPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which containers the policy applies to, what they may do, and
	// what happens when they try something else.
	Spec EnforcementPolicySpec `json:"spec"`
	// Status reports whether the policy is loaded and, per node, how each kind
	// of operation is enforced there.
	// +optional
	Status EnforcementPolicyStatus `json:"status,omitempty"`
}

// EnforcementPolicySpec is what the selected containers may do.
//
// +kubebuilder:validation:XValidation:rule="!has(self.selector) || has(self.selector.workload) || has(self.selector.podSelector)",message="selector needs a workload or a podSelector: a selector with neither would select every pod in the namespace",fieldPath=".selector"
type EnforcementPolicySpec struct {
	// Selector picks the containers the policy applies to, in the policy's
	// namespace. In a cluster a policy without a selector applies to nothing.
	// It is left out of a policy used locally with
	// `footprint enforce --policy FILE -- CMD`, where the policy applies to the
	// command and every process it starts.
	// +optional
	Selector *PolicySelector `json:"selector,omitempty"`

	// Mode is Audit (report each operation the policy would deny, and allow
	// it) or Enforce (apply Action to it).
	// +kubebuilder:default=Audit
	// +optional
	Mode EnforcementMode `json:"mode,omitempty"`

	// Action is what happens to an operation outside the policy in Enforce
	// mode: Deny makes it fail with EPERM where the kernel can refuse it
	// before it happens; Kill sends SIGKILL to the process. Where the kernel
	// cannot refuse an operation, Unpreventable decides.
	// +kubebuilder:default=Deny
	// +optional
	Action EnforcementAction `json:"action,omitempty"`

	// Unpreventable is what Enforce mode does, on a node whose kernel
	// cannot refuse an operation of some kind (no BPF LSM and no fmod_ret:
	// footprint could only kill the process once the operation has
	// happened, its effect remaining): Audit (the default) reports it and
	// allows it there, Kill kills the process after the fact. The status
	// shows, per node and kind, the mode in force and why.
	// +kubebuilder:default=Audit
	// +optional
	Unpreventable UnpreventableAction `json:"unpreventable,omitempty"`

	// Capabilities the containers may use. Absent: capability checks are not
	// enforced. Only checks the kernel would grant are subject to the policy:
	// a check that fails anyway is left alone, and so is a check made without
	// auditing (CAP_OPT_NOAUDIT), which asks whether the process happens to
	// hold a capability (memory accounting does this on every allocation)
	// rather than requesting the privilege.
	// +optional
	Capabilities *CapabilityRules `json:"capabilities,omitempty"`

	// Files the containers may open, and how. Absent: file opens are not
	// enforced. An open is allowed when every way it opens the file (read,
	// write, exec, create, truncate) is granted by some rule matching its
	// path; so is a change made without an open (delete, rename-from,
	// rename-to, link, link-target, chmod, setid, chown, symlink, mknod), and
	// so is a descriptor received from another process (receive). Files without a path in the filesystem (pipes, sockets and
	// anonymous inodes, which the kernel names like `pipe:[1234]`) are not
	// subject to the policy: they can only be reopened through a descriptor
	// the process already holds.
	// +optional
	Files *FileRules `json:"files,omitempty"`

	// Connect lists the destinations the containers may connect or send
	// datagrams to. Absent: connections are not enforced. An IPv4-mapped IPv6
	// destination (::ffff:10.0.0.1) is matched as its IPv4 address.
	// +optional
	Connect *ConnectRules `json:"connect,omitempty"`

	// Sockets lists what the containers may do with sockets beyond an inet
	// connect: connect or send to AF_UNIX addresses, bind inet sockets,
	// open raw inet or packet sockets, listen without a bind. Each rule
	// matches one operation exactly. Absent: socket operations are not
	// enforced. Which of them a node can hold depends on its kernel (the
	// status says, per node).
	// +optional
	Sockets *SocketRules `json:"sockets,omitempty"`

	// Executables the containers may run, by the resolved path of the program
	// the kernel executes (for a script, its interpreter is executed too and
	// needs a rule of its own). Absent: executions are not enforced.
	// +optional
	Executables *ExecutableRules `json:"executables,omitempty"`

	// Syscalls hold the containers to a seccomp allow-list of system calls,
	// which the kernel enforces before a call runs, on every kernel: in
	// Enforce mode a call outside it fails with EPERM (clone3, and calls
	// newer than any it names, with ENOSYS, so that libc falls back); in
	// Audit mode it is logged (SCMP_ACT_LOG) and allowed. On a cluster the
	// node agents install it on every node as the Localhost seccomp profile
	// footprint/NAMESPACE/NAME.json, which the workload's securityContext
	// names (footprint export securitycontext writes that); the policy's
	// selector does not apply it. Absent: system calls are not restricted.
	// +optional
	Syscalls *SyscallRules `json:"syscalls,omitempty"`

	// Images are the container images the policy was recorded from: the
	// images of its profile's sources. A selected container that runs
	// another image is handled as UnknownImages says, until a person
	// promotes the policy to that image (kubectl footprint enforce PROFILE
	// --promote). An image is known by its digest; by its name only while
	// kubelet has not reported the digest yet (before the container
	// starts), and then re-checked. Empty: the policy is not bound to
	// images and applies to whatever the selected containers run.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Images []Image `json:"images,omitempty"`

	// UnknownImages is the mode for selected pods with a container that
	// runs an image not in Images: Audit (the default) reports what the
	// policy would deny, allows it, and records the container into the
	// policy's profile as a new source, so that promoting the policy
	// allows what the new image needs; Enforce holds it to the policy as
	// it is. It only matters when Mode is Enforce and Images is not empty.
	// +kubebuilder:default=Audit
	// +optional
	UnknownImages EnforcementMode `json:"unknownImages,omitempty"`

	// Routes is the generation of routes (ways to reach a file, a peer or
	// a privilege) the policy was exported for: the oldest its profile's
	// recording agents knew. An agent of a later release governs the routes
	// added since then for this policy only once this is raised: it leaves
	// them alone, and says so in the status, so that an upgrade refuses
	// nothing the workload did unseen while recorded (generation 2 added
	// mkdir, a create of the directory's path, and setting a file's times,
	// access utimes). Record again with the new agent and export, or raise
	// it by hand once the policy allows what those routes need. Absent: 1,
	// a policy written before generations were counted.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Routes int32 `json:"routes,omitempty"`

	// Profile names the Profile (in the same namespace) the policy was
	// generated from, for reference.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Profile string `json:"profile,omitempty"`
}

// SyscallRules are the system calls allowed, per ABI.
type SyscallRules struct {
	// Allow lists the allowed system calls of each ABI: X86_64, and X86
	// for 32-bit calls, which are refused when it has no set.
	// +listType=map
	// +listMapKey=arch
	// +kubebuilder:validation:MaxItems=2
	Allow []SyscallSet `json:"allow"`
}

// PolicySelector picks containers in the policy's namespace. Workload and
// PodSelector, when both are given, must both match.
type PolicySelector struct {
	// Workload selects the pods owned by one workload: a Deployment,
	// StatefulSet, DaemonSet, Job, CronJob, or a bare Pod by name.
	// +optional
	Workload *WorkloadReference `json:"workload,omitempty"`

	// PodSelector selects pods by their labels.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// Containers are the names of the containers, in the selected pods, that
	// the policy applies to. Empty: every container of the selected pods,
	// init containers included.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Containers []string `json:"containers,omitempty"`
}

// EnforcementMode says whether a policy only reports or also acts.
// +kubebuilder:validation:Enum=Audit;Enforce
type EnforcementMode string

const (
	// ModeAudit reports each operation the policy would deny, and allows it.
	ModeAudit EnforcementMode = "Audit"
	// ModeEnforce applies the policy's action to each operation outside it.
	ModeEnforce EnforcementMode = "Enforce"
)

// EnforcementAction is what happens to an operation outside the policy.
// +kubebuilder:validation:Enum=Deny;Kill
type EnforcementAction string

const (
	// ActionDeny makes the operation fail with EPERM.
	ActionDeny EnforcementAction = "Deny"
	// ActionKill sends SIGKILL to the process that attempted the operation.
	ActionKill EnforcementAction = "Kill"
)

// UnpreventableAction is what Enforce mode does about an operation a node
// cannot refuse.
// +kubebuilder:validation:Enum=Audit;Kill
type UnpreventableAction string

const (
	// UnpreventableAudit reports the operation and allows it.
	UnpreventableAudit UnpreventableAction = "Audit"
	// UnpreventableKill kills the process once the operation has happened.
	UnpreventableKill UnpreventableAction = "Kill"
)

// CapabilityRules lists the capabilities the containers may use.
type CapabilityRules struct {
	// Allow lists the capabilities, in the kernel's spelling
	// (CAP_NET_BIND_SERVICE), that may be used against the container's own
	// user namespace (the initial one, unless the pod uses user namespaces).
	// Empty: every such capability check the kernel would grant is refused.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="self in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE']",messageExpression="(self.upperAscii() in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE'] || ('CAP_' + self.upperAscii()) in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE']) ? 'capability ' + self + ' must be written the way the kernel spells it: ' + (self.upperAscii().startsWith('CAP_') ? self.upperAscii() : 'CAP_' + self.upperAscii()) : 'unknown capability ' + self + ': use a name from capabilities(7), e.g. CAP_NET_BIND_SERVICE'"
	Allow []string `json:"allow,omitempty"`

	// AllowInUserNamespace lists the capabilities that may be used against a
	// user namespace the container created itself (for example a sandbox
	// that calls unshare(CLONE_NEWUSER) and then mounts inside it).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="self in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE']",messageExpression="(self.upperAscii() in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE'] || ('CAP_' + self.upperAscii()) in ['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_DAC_READ_SEARCH','CAP_FOWNER','CAP_FSETID','CAP_KILL','CAP_SETGID','CAP_SETUID','CAP_SETPCAP','CAP_LINUX_IMMUTABLE','CAP_NET_BIND_SERVICE','CAP_NET_BROADCAST','CAP_NET_ADMIN','CAP_NET_RAW','CAP_IPC_LOCK','CAP_IPC_OWNER','CAP_SYS_MODULE','CAP_SYS_RAWIO','CAP_SYS_CHROOT','CAP_SYS_PTRACE','CAP_SYS_PACCT','CAP_SYS_ADMIN','CAP_SYS_BOOT','CAP_SYS_NICE','CAP_SYS_RESOURCE','CAP_SYS_TIME','CAP_SYS_TTY_CONFIG','CAP_MKNOD','CAP_LEASE','CAP_AUDIT_WRITE','CAP_AUDIT_CONTROL','CAP_SETFCAP','CAP_MAC_OVERRIDE','CAP_MAC_ADMIN','CAP_SYSLOG','CAP_WAKE_ALARM','CAP_BLOCK_SUSPEND','CAP_AUDIT_READ','CAP_PERFMON','CAP_BPF','CAP_CHECKPOINT_RESTORE']) ? 'capability ' + self + ' must be written the way the kernel spells it: ' + (self.upperAscii().startsWith('CAP_') ? self.upperAscii() : 'CAP_' + self.upperAscii()) : 'unknown capability ' + self + ': use a name from capabilities(7), e.g. CAP_NET_BIND_SERVICE'"
	AllowInUserNamespace []string `json:"allowInUserNamespace,omitempty"`
}

// FileRules lists the files the containers may open.
type FileRules struct {
	// Allow lists paths and how they may be opened. Rules add up: an open is
	// allowed when each of its access modes is granted by some matching rule.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4096
	Allow []FileRule `json:"allow,omitempty"`
}

// FileRule allows some ways of opening the paths a pattern matches.
type FileRule struct {
	// Path is an absolute path pattern: literal components, `*` for exactly
	// one whole component, and an optional trailing `/**` for the directory
	// itself and everything below it. `.` and `..` components, empty
	// components and partial-component globs are refused. At most 1024
	// characters (the kernel side reads at most 511 bytes of a path).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// The Pattern is the grammar (it costs nothing to evaluate); the rules
	// above it say what is wrong in words. They use only cheap string
	// functions, so that their cost fits the API server's budget.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",messageExpression="'relative path ' + self + ': write it from the root, e.g. /' + self"
	// +kubebuilder:validation:XValidation:rule="self == '/' || !self.endsWith('/')",messageExpression="'path ' + self + ' ends with a slash: leave the slash out for the directory itself, or end it with /** for everything below it'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//')",messageExpression="'path ' + self + ' has an empty component (//)'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/./') && !self.endsWith('/.') && !self.contains('/../') && !self.endsWith('/..')",messageExpression="'path ' + self + ' has a . or .. component: write the path the kernel resolves to'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('**/')",messageExpression="'path ' + self + ' has ** before its end: ** may only end a path (dir/**), because the kernel matches prefixes, not patterns in the middle'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[^/*][*]|[*][^/*]')",messageExpression="'path ' + self + ' has a partial-component glob: the kernel matches whole components, so write * for the whole component'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('***')",messageExpression="'path ' + self + ' has a partial-component glob: the kernel matches whole components, so write * for the whole component'"
	// +kubebuilder:validation:Pattern=`^(/|/\*\*|(/([^/*.][^/*]*|\.[^/*.][^/*]*|\.\.[^/*]+|\*))+(/\*\*)?)$`
	Path string `json:"path"`

	// Access lists the ways the paths may be opened: read, write, exec
	// (executed or mapped as a program), create (the open creates the file;
	// mkdir makes a directory at the path)
	// and truncate (O_TRUNC, truncate(2)); and changed without an open:
	// delete (unlink, rmdir), rename-from and rename-to (the old and the new
	// name of a rename), link (a hard link made at the path) and link-target
	// (the file it links to), chmod, setid (a mode with the set-user-ID or
	// set-group-ID bit), chown, utimes (its times set: utimensat, touch),
	// symlink (a symbolic link made at the path)
	// and mknod (a device node or FIFO made at the path); and receive (a
	// descriptor of the file or directory received from another process:
	// SCM_RIGHTS, pidfd_getfd).
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	Access []FileAccessMode `json:"access"`
}

// ConnectRules lists the destinations the containers may reach.
type ConnectRules struct {
	// Allow lists destinations as address ranges, protocol and ports.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Allow []ConnectRule `json:"allow,omitempty"`
}

// ConnectRule allows connects to, and datagrams sent to, one address range
// on one port or range of ports.
//
// +kubebuilder:validation:XValidation:rule="!has(self.endPort) || self.endPort >= self.port",message="endPort must not be lower than port",fieldPath=".endPort"
type ConnectRule struct {
	// CIDR is the destination address range, e.g. 10.96.0.10/32 or
	// fd00::/64. Host bits must be zero.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",messageExpression="self.startsWith('::ffff:') ? 'cidr ' + self + ': IPv4-mapped ranges are matched as IPv4, so write the IPv4 range, e.g. 10.0.0.0/8' : (isIP(self) ? 'cidr ' + self + ' is a single address: write it as ' + self + (ip(self).family() == 4 ? '/32' : '/128') : 'cidr ' + self + ' is not an address range: write one such as 10.0.0.0/24 or fd00::/64')"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",messageExpression="'cidr ' + self + ' has host bits set: write the range from its first address, e.g. 10.0.0.0/24 rather than 10.0.0.1/24'"
	CIDR string `json:"cidr"`

	// Protocol is TCP or UDP.
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	// +kubebuilder:validation:XValidation:rule="self == 'TCP' || self == 'UDP'",messageExpression="'protocol ' + self + ' is not enforced: footprint governs TCP and UDP'"
	Protocol Protocol `json:"protocol"`

	// Port is the destination port. A UDP connect to port 0, which resolvers
	// use to pick a source address without sending anything, needs a rule
	// with port 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// EndPort, when set, makes the rule cover every port from Port to EndPort
	// inclusive.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	EndPort *int32 `json:"endPort,omitempty"`
}

// SocketRules lists the socket operations the containers may do.
type SocketRules struct {
	// Allow lists socket operations.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Allow []SocketRule `json:"allow,omitempty"`
}

// SocketOperation is something done with a socket.
// +kubebuilder:validation:Enum=Unix;Bind;Raw;Listen
type SocketOperation string

const (
	// SocketUnix is a connect to, or a datagram sent to, an AF_UNIX
	// address.
	SocketUnix SocketOperation = "Unix"
	// SocketBind is an explicit bind of an inet socket.
	SocketBind SocketOperation = "Bind"
	// SocketRaw is the creation of a raw inet socket or a packet socket.
	SocketRaw SocketOperation = "Raw"
	// SocketListen is a listen() on an inet socket never bound, on a
	// port the kernel picks.
	SocketListen SocketOperation = "Listen"
)

// SocketFamily is a socket's address family.
// +kubebuilder:validation:Enum=IPv4;IPv6;Packet
type SocketFamily string

const (
	// FamilyIPv4 is AF_INET.
	FamilyIPv4 SocketFamily = "IPv4"
	// FamilyIPv6 is AF_INET6.
	FamilyIPv6 SocketFamily = "IPv6"
	// FamilyPacket is AF_PACKET (Raw only).
	FamilyPacket SocketFamily = "Packet"
)

// SocketRule is one socket operation, matched exactly: every field that
// applies to its operation must be equal.
type SocketRule struct {
	// Operation is Unix, Bind, Raw or Listen.
	Operation SocketOperation `json:"operation"`
	// Path is, for Unix, the address as the program gives it: a socket
	// path (as written, not resolved: a relative path stays relative), or
	// @ followed by an abstract name. At most 108 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=108
	Path string `json:"path,omitempty"`
	// Family is, for Bind, Raw and Listen, IPv4 or IPv6; Packet for a
	// packet socket (Raw).
	// +optional
	Family SocketFamily `json:"family,omitempty"`
	// Protocol is, for Bind and Listen, TCP, UDP or SCTP; for Raw, the IP
	// protocol (ICMP, ICMPv6, or a number such as 255), or for a packet
	// socket its ethertype in hexadecimal (0x0003 for every protocol).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(TCP|UDP|SCTP|ICMP|ICMPv6|[0-9]{1,3}|0x[0-9a-f]{4})$`
	Protocol Protocol `json:"protocol,omitempty"`
	// Address is, for Bind, the local address bound (0.0.0.0 and :: are
	// any address).
	// +optional
	Address string `json:"address,omitempty"`
	// Port is, for Bind, the local port bound; 0 lets the kernel pick one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// ExecutableRules lists the programs the containers may run.
type ExecutableRules struct {
	// Allow lists program paths.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Allow []ExecutableRule `json:"allow,omitempty"`
}

// ExecutableRule allows executing the programs a path pattern matches.
type ExecutableRule struct {
	// Path is an absolute path pattern in the same language as file rules:
	// literal components, `*` for one whole component, an optional trailing
	// `/**`. At most 1024 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// The Pattern is the grammar (it costs nothing to evaluate); the rules
	// above it say what is wrong in words. They use only cheap string
	// functions, so that their cost fits the API server's budget.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",messageExpression="'relative path ' + self + ': write it from the root, e.g. /' + self"
	// +kubebuilder:validation:XValidation:rule="self == '/' || !self.endsWith('/')",messageExpression="'path ' + self + ' ends with a slash: leave the slash out for the directory itself, or end it with /** for everything below it'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//')",messageExpression="'path ' + self + ' has an empty component (//)'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/./') && !self.endsWith('/.') && !self.contains('/../') && !self.endsWith('/..')",messageExpression="'path ' + self + ' has a . or .. component: write the path the kernel resolves to'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('**/')",messageExpression="'path ' + self + ' has ** before its end: ** may only end a path (dir/**), because the kernel matches prefixes, not patterns in the middle'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[^/*][*]|[*][^/*]')",messageExpression="'path ' + self + ' has a partial-component glob: the kernel matches whole components, so write * for the whole component'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('***')",messageExpression="'path ' + self + ' has a partial-component glob: the kernel matches whole components, so write * for the whole component'"
	// +kubebuilder:validation:Pattern=`^(/|/\*\*|(/([^/*.][^/*]*|\.[^/*.][^/*]*|\.\.[^/*]+|\*))+(/\*\*)?)$`
	Path string `json:"path"`
}

// EnforcementPolicyStatus reports where and how a policy is enforced.
type EnforcementPolicyStatus struct {
	// ObservedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions about the policy, e.g. Ready (compiled and loaded on every
	// node running a selected container) and Invalid (refused, with the
	// offending field in the message).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Nodes reports, for each node running a selected container, how each
	// kind of operation is enforced there, which depends on the node's kernel.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []NodeEnforcement `json:"nodes,omitempty"`
}

// NodeEnforcement is how one node enforces a policy.
type NodeEnforcement struct {
	// Node is the node's name.
	Node string `json:"node"`

	// Kinds says, per kind of operation, which kernel hook enforces it and
	// with what effect.
	// +optional
	// +listType=map
	// +listMapKey=kind
	Kinds []KindEnforcement `json:"kinds,omitempty"`

	// Violations is how many distinct violations the node has reported.
	// +optional
	Violations int64 `json:"violations,omitempty"`

	// RoutesLeftAlone are the routes the node's agent governs but leaves
	// alone for this policy, which was exported for an older generation of
	// routes (spec.routes): record again, or raise spec.routes, to govern
	// them.
	// +optional
	// +listType=atomic
	RoutesLeftAlone []Route `json:"routesLeftAlone,omitempty"`

	// Images are the images the node's selected containers run, each with
	// the mode that applies to them.
	// +optional
	// +listType=atomic
	Images []ImageEnforcement `json:"images,omitempty"`

	// SeccompProfile is, for a policy with system call rules, the
	// Localhost seccomp profile the node installed for them: what a pod's
	// securityContext.seccompProfile.localhostProfile names. The runtime
	// reads it when a container starts: a running container keeps the
	// filter it started with, so a changed policy applies to containers
	// started after it changed.
	// +optional
	SeccompProfile string `json:"seccompProfile,omitempty"`
}

// ImageEnforcement is the mode that applies on one node to the selected
// containers running one image.
type ImageEnforcement struct {
	Image `json:",inline"`
	// Recorded is true when the policy was recorded from the image
	// (spec.images holds it).
	Recorded bool `json:"recorded"`
	// Mode is the mode that applies to pods running the image. A pod with
	// several selected containers is audited as a whole when one of them
	// runs an image held in Audit.
	Mode EnforcementMode `json:"mode"`
	// Reason says why that mode applies.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Pods is how many selected pods on the node run the image.
	// +optional
	Pods int32 `json:"pods,omitempty"`
}

// EnforcedKind is a kind of operation a policy governs.
// +kubebuilder:validation:Enum=capabilities;files;connect;executables;cgroups;sockets;ptrace;syscalls
type EnforcedKind string

const (
	// KindCapabilities is capability checks.
	KindCapabilities EnforcedKind = "capabilities"
	// KindFiles is file opens.
	KindFiles EnforcedKind = "files"
	// KindConnect is connects and unconnected datagram sends.
	KindConnect EnforcedKind = "connect"
	// KindExecutables is program executions.
	KindExecutables EnforcedKind = "executables"
	// KindCgroups is processes leaving the policy's cgroups: every policy
	// governs it, so that moving to another cgroup sheds no rule.
	KindCgroups EnforcedKind = "cgroups"
	// KindSockets is AF_UNIX connects and sends, binds, raw and packet
	// sockets, and listens without a bind.
	KindSockets EnforcedKind = "sockets"
	// KindPtrace is ptrace attaches and memory access (process_vm_readv,
	// /proc/PID/mem) to processes outside the policy: every policy
	// governs it.
	KindPtrace EnforcedKind = "ptrace"
	// KindSyscalls is system calls outside spec.syscalls: the policy's
	// seccomp profile refuses them (where the pod names it), and the
	// backend is footprint's reporter of them.
	KindSyscalls EnforcedKind = "syscalls"
)

// EnforcementEffect is what a node can do about an operation outside a policy.
// +kubebuilder:validation:Enum=Prevented;KilledAfter;FollowsProcess;Unavailable
type EnforcementEffect string

const (
	// EffectPrevented means the operation fails before it happens.
	EffectPrevented EnforcementEffect = "Prevented"
	// EffectKilledAfter means the process is killed once the operation has
	// happened: it cannot be refused on this kernel.
	EffectKilledAfter EnforcementEffect = "KilledAfter"
	// EffectFollowsProcess means the operation (leaving the policy's
	// cgroups) cannot be refused, and the policy holds the process, and
	// what it starts, wherever it went.
	EffectFollowsProcess EnforcementEffect = "FollowsProcess"
	// EffectUnavailable means the node cannot enforce this kind at all.
	EffectUnavailable EnforcementEffect = "Unavailable"
)

// KindEnforcement is how a node enforces one kind of operation.
type KindEnforcement struct {
	// Kind of operation.
	Kind EnforcedKind `json:"kind"`
	// Backend is the kernel hook used, e.g. lsm/file_open or cgroup/connect4.
	// +optional
	Backend string `json:"backend,omitempty"`
	// Effect is what happens to an operation outside the policy.
	Effect EnforcementEffect `json:"effect"`
	// Mode is the mode in force for this kind on this node: the policy's,
	// or Audit where the node can only kill after the fact and
	// spec.unpreventable is Audit.
	// +optional
	Mode EnforcementMode `json:"mode,omitempty"`
	// SelfTest is what the node's self-test saw the backend do before the
	// node relied on it: a canary's operation refused (or the canary
	// killed) and reported.
	// +optional
	SelfTest string `json:"selfTest,omitempty"`
	// Refused are the better backends the node does not use, and why: the
	// kernel refused to load or attach them, bpf is not an active LSM, or
	// they attached and failed their self-test.
	// +optional
	// +listType=atomic
	Refused []RefusedBackend `json:"refused,omitempty"`
}

// RefusedBackend is a kernel hook a node does not use, and why.
type RefusedBackend struct {
	// Backend is the kernel hook, e.g. lsm/file_open.
	Backend string `json:"backend"`
	// Stage is how far it got: "not tried", "lsm inactive", "load",
	// "attach" or "self-test".
	Stage string `json:"stage"`
	// Reason says why it is not used.
	Reason string `json:"reason"`
}

// EnforcementPolicyList is a list of EnforcementPolicies.
//
// +kubebuilder:object:root=true
type EnforcementPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the policies.
	Items []EnforcementPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EnforcementPolicy{}, &EnforcementPolicyList{})
}

// ViolationEventReason is the reason of the Events an agent makes on a pod
// for each distinct violation of its policy; kubectl footprint violations
// lists them by it.
const ViolationEventReason = "PolicyViolation"
