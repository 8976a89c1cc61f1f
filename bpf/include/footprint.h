/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by footprint's kernel programs and its Go loader.
 * bpf2go turns every struct here into a Go type, so the layout is the
 * contract: fixed-width fields only, explicit padding, no holes.
 */
#ifndef FOOTPRINT_H
#define FOOTPRINT_H

/* Bytes of path kept in a file or exec entry, NUL included. Longer paths
 * keep their last components and are flagged FP_PATH_TRUNCATED. A power of
 * two: the path walker masks offsets with it. */
#define FP_PATH_MAX 512
/* Path components walked before giving up (and flagging truncation). */
#define FP_PATH_DEPTH 48
#define FP_COMM_LEN 16
/* Kernel stack frames inspected to tell no-audit capability probes apart. */
#define FP_STACK_DEPTH 8
/* Address ranges of kernel functions that only make no-audit checks. */
#define FP_NOAUDIT_RANGES 16

enum fp_kind {
	FP_KIND_CAPABILITY = 1,
	FP_KIND_FILE = 2,
	FP_KIND_CONNECT = 3,
	FP_KIND_EXEC = 4,
	FP_KIND_SYSCALL = 5,
	/* Enforcement only: a process held to a policy went to a cgroup
	 * outside it (moved there, or cloned into it). */
	FP_KIND_CGROUP = 6,
	/* Sockets beyond an inet connect (see "sockets" below). */
	FP_KIND_SOCKET = 7,
	/* Enforcement only: a process held to a policy attached to (ptrace),
	 * or reached the memory of, a process outside the policy. */
	FP_KIND_PTRACE = 8,
};

/* fp_watch.flags */
enum fp_watch_flag {
	/* Events count only after the cgroup's first exec: what runs before it
	 * is the container runtime's or footprint's own set-up. */
	FP_WATCH_LIVE = 1 << 0,
	/* Added by the kernel because its parent was watched. */
	FP_WATCH_INHERITED = 1 << 1,
	/* A pod's cgroup or a container's: tasks a container runtime puts
	 * here are the runtime's until they exec in a mount namespace of
	 * their own (runtime.h). */
	FP_WATCH_CONTAINERS = 1 << 2,
	/* Added by the kernel, with FP_WATCH_INHERITED, because it was made
	 * in a directory kubelet puts pods in (pod_parents) while something
	 * is recorded on the node: user space has not said yet whether a
	 * recording selects the pod. It keeps the watch of a pod it selects
	 * and drops (entries and all) the watch of one it does not. */
	FP_WATCH_PROVISIONAL = 1 << 3,
};

/* Value of watched_cgroups: what to record for processes in a cgroup. */
struct fp_watch {
	__u64 recording_id; /* user space's id for the recording */
	__u32 kinds;        /* (1 << enum fp_kind) per recorded kind */
	__u32 flags;        /* enum fp_watch_flag */
};

/* fp_capability_key.flags */
enum fp_capability_flag {
	FP_CAP_DENIED = 1 << 0,
	/* CAP_OPT_NOAUDIT: a probe, not a need. */
	FP_CAP_NOAUDIT = 1 << 1,
	/* Checked against a user namespace other than the initial one. */
	FP_CAP_USERNS = 1 << 2,
};

struct fp_capability_key {
	__u64 cgroup_id;
	__u32 cap;
	__u32 flags; /* enum fp_capability_flag */
};

/* Access bits of a file open. */
enum fp_access {
	FP_ACCESS_READ = 1 << 0,
	FP_ACCESS_WRITE = 1 << 1,
	FP_ACCESS_EXEC = 1 << 2,
	/* The open created the file; mkdir(2) made a directory at the path
	 * (objects.h), and mknod(2) a regular file. */
	FP_ACCESS_CREATE = 1 << 3,
	FP_ACCESS_TRUNCATE = 1 << 4,

	/* ---- file changes without an open of the path (objects.h) ---- */
	/* unlink(2), rmdir(2): the name is removed. */
	FP_ACCESS_DELETE = 1 << 5,
	/* rename(2): the name the file had, and the name it gets (a file
	 * already there is replaced). RENAME_EXCHANGE sets both on both. */
	FP_ACCESS_RENAME_FROM = 1 << 6,
	FP_ACCESS_RENAME_TO = 1 << 7,
	/* link(2): a hard link made at the path, and the file it links to
	 * (ln TARGET LINK_NAME). */
	FP_ACCESS_LINK = 1 << 8,
	FP_ACCESS_LINK_TARGET = 1 << 9,
	/* chmod(2) family; FP_ACCESS_SETID as well when the new mode has the
	 * set-user-ID or set-group-ID bit. */
	FP_ACCESS_CHMOD = 1 << 10,
	FP_ACCESS_SETID = 1 << 11,
	/* chown(2) family. */
	FP_ACCESS_CHOWN = 1 << 12,
	/* symlink(2): a symbolic link made at the path. */
	FP_ACCESS_SYMLINK = 1 << 13,
	/* mknod(2) of a device node or a FIFO (a regular file is "create";
	 * socket files are made by bind(2), not recorded here). */
	FP_ACCESS_MKNOD = 1 << 14,
	/* A descriptor of the file was received from another process
	 * (SCM_RIGHTS, pidfd_getfd, binder): regular files and directories
	 * only, which have a path to govern. */
	FP_ACCESS_RECEIVE = 1 << 15,
	/* utimensat(2) family: the file's access or modification time was
	 * set, to given times or to now. */
	FP_ACCESS_UTIMES = 1 << 16,
};

/* Flags of file and exec entries. */
enum fp_path_flag {
	/* The path did not fit: the entry keeps its last components. */
	FP_PATH_TRUNCATED = 1 << 0,
	/* The file lives on the process's root mount. */
	FP_PATH_ROOTFS = 1 << 1,
	FP_EXEC_SETUID = 1 << 2,
	FP_EXEC_SETGID = 1 << 3,
	/* The exec raised privileges (AT_SECURE). */
	FP_EXEC_SECURE = 1 << 4,
	/* The path is a script handed to an interpreter. */
	FP_EXEC_SCRIPT = 1 << 5,
	/* The exec backend could not tell setuid/setgid/AT_SECURE. */
	FP_EXEC_NO_CREDS = 1 << 6,
	/* File changes seen by the syscall tracepoints: the path is the one
	 * the system call named, made absolute against the directory it is
	 * relative to, with . and .. removed, but its symbolic links not
	 * followed; the filesystem it lives on is not known. */
	FP_PATH_LEXICAL = 1 << 7,
};

/* Key of file_paths_seen: one open, as the process saw it. */
struct fp_file_key {
	__u64 cgroup_id;
	__u32 access;   /* enum fp_access */
	__u32 fs_magic; /* super_block.s_magic of the file's filesystem */
	__u32 flags;    /* enum fp_path_flag */
	__u32 _pad;
	char path[FP_PATH_MAX];
};

struct fp_file_seen {
	__u64 count;
	__u64 first_seen_ns;
	/* Joins this entry with its file_inodes_seen entries. */
	__u64 entry_id;
};

/*
 * Key of file_inodes_seen: the cheap key looked up before walking a path.
 * A repeat open of the same inode through the same mount with the same
 * access costs one lookup of this 32-byte key instead of a path walk.
 */
struct fp_inode_key {
	__u64 cgroup_id;
	__u64 ino;
	__u32 mnt_id;
	__u32 access;
	__u64 sb; /* super_block address: inode numbers are per filesystem */
	/* The name the file was opened by. An inode number is no name: a
	 * filesystem hands a freed number to the next file it creates
	 * (ext4 does at once), a rename gives an inode another name and a
	 * hard link a second one. Keyed by inode alone, the new name's
	 * opens were counted as the old name's and never reached the
	 * profile (issue 13: redis' temp-rewriteaof-<pid>.aof). The
	 * dentry's address tells names apart; its hash (salted with the
	 * parent's address) changes with a rename, which keeps the dentry. */
	__u64 dentry;
	__u64 name_hash_len;
};

struct fp_inode_seen {
	__u64 count;    /* opens counted here, not in file_paths_seen */
	__u64 entry_id; /* the file_paths_seen entry these opens belong to */
};

/* fp_connect_key.op */
enum fp_connect_op {
	FP_CONNECT = 1,
	FP_SENDMSG = 2,
};

struct fp_connect_key {
	__u64 cgroup_id;
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u16 family;  /* AF_INET or AF_INET6 */
	__u16 port;    /* host byte order */
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 op;       /* enum fp_connect_op */
	__u8 _pad[2];
};

struct fp_exec_key {
	__u64 cgroup_id;
	__u32 uid;   /* effective uid after the exec */
	__u32 gid;   /* effective gid after the exec */
	__u32 flags; /* enum fp_path_flag */
	__u32 _pad;
	char path[FP_PATH_MAX];
};

/* Value of capabilities_seen, connections_seen and executables_seen. */
struct fp_seen {
	__u64 count;
	__u64 first_seen_ns;
};

/* System call numbers are recorded below FP_SYSCALL_MAX, per ABI: x86-64's
 * and i386's are all below 512 (x32's carry bit 30 and are not recorded). */
#define FP_SYSCALL_MAX 512
#define FP_SYSCALL_WORDS (FP_SYSCALL_MAX / 64)

/* Address families are recorded below FP_SOCKET_FAMILY_MAX: the kernel's
 * AF_MAX is 46 (Linux 6.18). */
#define FP_SOCKET_FAMILY_MAX 64

/* Value of syscalls_seen: the system calls a cgroup made, one bit each. */
struct fp_syscalls {
	__u64 native[FP_SYSCALL_WORDS];
	/* 32-bit calls of a 64-bit kernel (int 0x80, sysenter, and 32-bit
	 * processes): a numbering of their own. */
	__u64 compat[FP_SYSCALL_WORDS];
	/* The address families passed to socket(2) and socketpair(2), one
	 * bit each, per ABI (a seccomp filter allows them per ABI). The
	 * i386 socketcall(2) multiplexer passes them in memory: not here. */
	__u64 native_families;
	__u64 compat_families;
};

/* fp_event_header.flags */
enum fp_event_flag {
	/* The entry's aggregation map was full: this record is its only
	 * copy, and the same entry is sent again at its next sighting. */
	FP_EVENT_UNKEPT = 1 << 0,
};

/* Header of every ring-buffer record: the first sighting of an entry. */
struct fp_event_header {
	__u32 kind;  /* enum fp_kind */
	__u32 pid;   /* thread group id */
	__u32 flags; /* enum fp_event_flag */
	__u32 _pad;
	__u64 timestamp_ns;
	char comm[FP_COMM_LEN];
};

struct fp_capability_event {
	struct fp_event_header hdr;
	struct fp_capability_key key;
};

struct fp_file_event {
	struct fp_event_header hdr;
	struct fp_file_key key;
};

struct fp_connect_event {
	struct fp_event_header hdr;
	struct fp_connect_key key;
};

struct fp_exec_event {
	struct fp_event_header hdr;
	struct fp_exec_key key;
};

/* Index into the per-CPU counters array: kind * FP_COUNTERS_PER_KIND + what. */
enum fp_counter_what {
	FP_COUNT_EVENTS = 0,       /* events in live watched cgroups, repeats included */
	FP_COUNT_NEW = 1,          /* first sightings */
	FP_COUNT_RINGBUF_LOST = 2, /* first sightings the ring buffer had no room for */
	FP_COUNT_MAP_FULL = 3,     /* entries an aggregation map had no room for */
	FP_COUNT_TRUNCATED = 4,    /* paths that did not fit */
	FP_COUNT_READ_ERROR = 5,   /* kernel data that could not be read */
	/* Sightings of an entry its map could not keep that the ring buffer
	 * had no room for either: the entry is missing from the profile
	 * unless it is seen again. */
	FP_COUNT_LOST = 6,
	FP_COUNTERS_PER_KIND = 8,
};
#define FP_COUNTERS (16 * FP_COUNTERS_PER_KIND)

/* Key of lost_sightings: FP_COUNT_LOST per cgroup, so that each
 * container's profile says what it is missing. */
struct fp_lost_key {
	__u64 cgroup_id;
	__u32 kind; /* enum fp_kind */
	__u32 _pad;
};

/* Index into lifecycle_counters: what the lifecycle object could not do. */
enum fp_lifecycle_counter {
	FP_LC_WATCHED_FULL = 0,  /* cgroups under a watched one left unwatched */
	FP_LC_ENFORCED_FULL = 1, /* cgroups under an enforced one left unheld */
	FP_LC_RUNTIME_FULL = 2,  /* container runtime tasks left unmarked */
	FP_LC_COUNTERS = 3,
};

/* An address range [start, end) of kernel text. */
struct fp_text_range {
	__u64 start;
	__u64 end;
};


/* ---- enforcement ---- */

/* Bytes of one path component in a rule key. Longer names are matched only
 * by wildcard rules. */
#define FP_NAME_MAX 64
enum fp_path_key_len {
	/* fp_path_key.len of a wildcard child: matches any one component
	 * that has no literal rule. */
	FP_WILDCARD_LEN = 0xffff,
};

enum fp_enforce_mode {
	FP_MODE_AUDIT = 1,   /* report what would be denied, allow it */
	FP_MODE_ENFORCE = 2, /* apply the action */
};

enum fp_enforce_action {
	FP_ACTION_DENY = 1, /* fail with EPERM where the hook can; kill where it cannot */
	FP_ACTION_KILL = 2, /* SIGKILL the process (and deny where the hook can) */
};

/* fp_enforced_cgroup.flags */
enum fp_enforce_flag {
	/* Set at the cgroup's first exec: file, capability and connect rules
	 * apply from then on, so the container runtime's set-up (runc init)
	 * is not held to the workload's policy. Exec rules apply always. */
	FP_ENFORCE_LIVE = 1 << 0,
	/* Added by the kernel because its parent cgroup was enforced. */
	FP_ENFORCE_INHERITED = 1 << 1,
	/* A pod held for a policy of named containers: a container cgroup
	 * created below it is not classified yet, and its first exec stops
	 * (SIGSTOP) until user space keeps or releases it and continues it. */
	FP_ENFORCE_PENDING = 1 << 2,
	/* A pod's cgroup or a container's: the runtime's tasks are not held
	 * (runtime.h). */
	FP_ENFORCE_CONTAINERS = 1 << 3,
};

/* Value of enforced_cgroups. */
struct fp_enforced_cgroup {
	__u32 policy_id;
	__u32 flags; /* enum fp_enforce_flag */
};

/*
 * Value of held_processes: a process that left the cgroups its policy holds
 * (moved, or cloned, into another cgroup), or a descendant of one. The
 * policy follows it: enforcer programs look it up before its cgroup.
 */
struct fp_held_process {
	struct fp_enforced_cgroup held;
	/* The cgroup it left: violations are reported as that cgroup's, so
	 * they reach the workload the process came from. */
	__u64 cgroup_id;
};

/* A node of a path rule tree, and the value of path_rules. */
struct fp_path_node {
	__u32 id;          /* this node's id: the parent of its children's keys */
	__u32 access;      /* enum fp_access granted when the path ends here */
	__u32 descendants; /* enum fp_access granted to every path strictly below */
};

/* Key of path_rules: a child of node parent named name (or the wildcard). */
struct fp_path_key {
	__u32 parent;
	__u32 len; /* bytes of name, or FP_WILDCARD_LEN */
	char name[FP_NAME_MAX];
};

/* Value of policies: one compiled EnforcementPolicy. User space replaces it
 * in one update; rules live under ids that change with every version, so
 * the swap is atomic. */
struct fp_policy {
	__u64 caps_allowed;        /* bit n: capability n */
	__u64 caps_allowed_userns; /* ... when checked in a child user namespace */
	struct fp_path_node files; /* root of the file rules */
	struct fp_path_node executables;
	/* connect_rules id of this version's destinations, and socket_rules
	 * id of its socket operations. */
	__u32 connect_set;
	__u32 governs;     /* (1 << enum fp_kind) per kind the policy restricts */
	__u8 mode;         /* enum fp_enforce_mode */
	__u8 action;       /* enum fp_enforce_action */
	__u8 flags;        /* enum fp_policy_flag */
	__u8 _pad;
	/* New with every installed version (audit to enforce, new rules):
	 * a violation is reported once per version. */
	__u32 version;
};

/* fp_policy.flags */
enum fp_policy_flag {
	/* In enforce mode, audit what a hook cannot refuse rather than kill
	 * after the fact: killing once the operation has happened was not
	 * accepted for this policy. */
	FP_POLICY_AUDIT_UNPREVENTABLE = 1,
	/* Routes a policy exported before they were governed leaves alone
	 * (spec.routes): making a directory, and setting a file's times. */
	FP_POLICY_SPARE_MKDIR = 2,
	FP_POLICY_SPARE_UTIMES = 4,
};

/* Key of connect_rules (an LPM trie): prefixlen counts bits from set on;
 * set, protocol, any_port and port are always matched in full (64 bits),
 * addr by the rule's prefix. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
 * Port 0 is a port like any other (glibc connects UDP sockets to port 0 to
 * pick source addresses); any_port 1 with port 0 is the any-port rule. */
struct fp_connect_rule_key {
	__u32 prefixlen;
	__u32 set;
	__u8 protocol;
	__u8 any_port;
	__u16 port; /* host byte order */
	__u8 addr[16];
};

/* What was done about a violation. */
enum fp_violation_outcome {
	FP_OUTCOME_AUDITED = 1, /* Audit mode: allowed and reported */
	FP_OUTCOME_DENIED = 2,  /* the operation failed with EPERM */
	FP_OUTCOME_KILLED = 3,  /* SIGKILL after the operation happened */
	FP_OUTCOME_DENIED_KILLED = 4, /* failed with EPERM, and SIGKILL */
	/* Cgroups: the process moved, and its policy still holds it there. */
	FP_OUTCOME_FOLLOWED = 5,
	/* System calls, Enforce mode: the call was not refused, as the
	 * process runs without the policy's seccomp filter (a pod that does
	 * not name the Localhost profile). */
	FP_OUTCOME_UNFILTERED = 6,
};

/* Key of violations_seen: one distinct violation. */
struct fp_violation_key {
	__u64 cgroup_id;
	__u64 object; /* dentry, capability, or address hash */
	__u64 detail; /* inode, user namespace level, or port/protocol */
	__u32 kind;   /* enum fp_kind */
	__u32 policy_id;
	/* fp_policy.version: a new version (audit to enforce, new rules)
	 * reports afresh. */
	__u32 version;
	__u32 _pad;
};

/* A violation, to user space. Repeats are counted in violations_seen. */
struct fp_violation_event {
	struct fp_event_header hdr; /* hdr.kind: the kind of operation */
	__u64 cgroup_id;
	__u32 policy_id;
	__u32 outcome;  /* enum fp_violation_outcome */
	__u32 cap;      /* capabilities */
	__u32 access;   /* files: the access asked for */
	__u32 flags;    /* enum fp_path_flag of path, FP_CAP_USERNS */
	__u32 uid;
	__u8 addr[16];  /* connect: IPv4-mapped for IPv4 */
	__u16 port;
	__u8 protocol;
	/* Sockets: enum fp_socket_op, the address family, and for AF_UNIX
	 * the bytes of the address in path (an abstract name starts with a
	 * NUL byte). */
	__u8 socket_op;
	__u16 family;
	__u16 path_len;
	/* Cgroups: the process that went (the one reporting, or its child)
	 * and the cgroup it went to. */
	__u64 target_cgroup_id;
	__u32 target_pid;
	/* Capabilities: the system call that made the check, plus one (0:
	 * none known); path then holds the path it was given, if it takes one.
	 * System calls: the call outside the policy, plus one (flags: enum
	 * fp_syscall_flag; family: a socket(2)'s address family). */
	__u32 syscall;
	char path[FP_PATH_MAX]; /* files and exec, and capabilities: the path */
	char exe[FP_PATH_MAX];  /* the program that did it */
};

/* Index into enforce_counters: kind * FP_COUNTERS_PER_KIND + what. */
enum fp_enforce_counter_what {
	FP_ECOUNT_CHECKED = 0,    /* operations checked against a policy */
	FP_ECOUNT_VIOLATIONS = 1, /* ... outside it, repeats included */
	FP_ECOUNT_REPORTED = 2,   /* distinct violations sent to user space */
	FP_ECOUNT_SUPPRESSED = 3, /* distinct violations over the report rate */
	FP_ECOUNT_RINGBUF_LOST = 4,
	FP_ECOUNT_CACHE_HITS = 5, /* opens decided by the verdict cache */
	FP_ECOUNT_READ_ERROR = 6,
	FP_ECOUNT_MAP_FULL = 7, /* held_processes had no room for a process */
};


/* ---- sockets: AF_UNIX destinations, binds, raw and packet sockets ---- */

/* Bytes of an AF_UNIX address: sockaddr_un.sun_path. */
#define FP_UNIX_PATH_MAX 108

/* What was done with a socket (fp_socket_key.op). */
enum fp_socket_op {
	/* connect() to an AF_UNIX address: a path, or an abstract name. */
	FP_SOCKET_UNIX_CONNECT = 1,
	/* sendmsg()/sendto() with an AF_UNIX address. */
	FP_SOCKET_UNIX_SENDMSG = 2,
	/* bind() of an AF_INET or AF_INET6 socket to an address and port. */
	FP_SOCKET_BIND = 3,
	/* socket() of type SOCK_RAW (AF_INET, AF_INET6) or of AF_PACKET:
	 * sees and forges traffic beyond the process's own connections. */
	FP_SOCKET_RAW = 4,
	/* listen() on a socket that was never bound: the kernel picks a port
	 * (autobind), which no bind hook sees. */
	FP_SOCKET_LISTEN = 5,
};

/* Key of sockets_seen: one socket operation of a cgroup. */
struct fp_socket_key {
	__u64 cgroup_id;
	__u8 op;       /* enum fp_socket_op */
	__u8 protocol; /* bind: IPPROTO_TCP/UDP; raw: the IP protocol */
	__u16 family;  /* AF_UNIX, AF_INET, AF_INET6, AF_PACKET */
	__u16 port;    /* bind: host byte order; AF_PACKET: the ethertype, host order */
	__u16 len;     /* AF_UNIX: bytes of path */
	__u8 addr[16]; /* bind: IPv4 in the first 4 bytes */
	/* AF_UNIX: sun_path's first len bytes, as given; an abstract name
	 * starts with a NUL byte. */
	char path[FP_UNIX_PATH_MAX];
	__u8 _pad[4];
};

struct fp_socket_event {
	struct fp_event_header hdr;
	struct fp_socket_key key;
};

/* fp_socket_rule_key.op: a connect and a send to an AF_UNIX address share
 * one rule. */
enum fp_socket_rule_op {
	FP_SOCKET_RULE_UNIX = 1,
	FP_SOCKET_RULE_BIND = 3,
	FP_SOCKET_RULE_RAW = 4,
	FP_SOCKET_RULE_LISTEN = 5,
};

/* Key of socket_rules: one allowed socket operation of a rule set, matched
 * exactly (unused fields zero). IPv4 bind addresses are IPv4-mapped. */
struct fp_socket_rule_key {
	__u32 set;
	__u8 op; /* enum fp_socket_rule_op */
	__u8 protocol;
	__u16 family;
	__u16 port;
	__u16 len;
	__u8 addr[16];
	char path[FP_UNIX_PATH_MAX];
};


/* ---- system calls outside a policy's seccomp allow-list ---- */

/* Key of syscall_rules: one installed policy version. */
struct fp_syscall_rule_key {
	__u32 policy_id;
	__u32 version; /* fp_policy.version */
};

/* fp_violation_event.flags of a system call violation. */
enum fp_syscall_flag {
	/* A 32-bit call (i386 numbering), not an x86-64 one. */
	FP_SYSCALL_COMPAT = 1 << 0,
	/* The process runs without a seccomp filter. */
	FP_SYSCALL_NO_FILTER = 1 << 1,
	/* socket(2) or socketpair(2) allowed for other families:
	 * fp_violation_event.family is the one refused. */
	FP_SYSCALL_FAMILY = 1 << 2,
};

#endif /* FOOTPRINT_H */
