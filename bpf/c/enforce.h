/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps and helpers shared by every enforcer program. Like the recorder's
 * common.h, each object declares the same maps and the loader hands one
 * instance of each to all of them.
 *
 * A policy is found in two lookups (cgroup -> policy id -> policy); rules are
 * matched in a bounded number of lookups: one per path component (from the
 * root down, a literal child first, then the wildcard), two for a connect
 * (the destination's port, then any port), none for a capability (a bit).
 */
#ifndef FOOTPRINT_ENFORCE_H
#define FOOTPRINT_ENFORCE_H

#include "kernel.h"
#include "path.h"
#include "enforced.h"
#include "runtime.h"

/* Compiled policies by id. A node runs a few dozen policies; 1024 leaves
 * room for many versions in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct fp_policy);
} policies SEC(".maps");

/* The nodes of every policy's file and executable trees, keyed by (parent,
 * name). 65536 nodes hold hundreds of policies of a few hundred paths. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_path_key);
	__type(value, struct fp_path_node);
} path_rules SEC(".maps");

/* Allowed destinations of every policy (see struct fp_connect_rule_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_connect_rule_key);
	__type(value, __u8);
} connect_rules SEC(".maps");

/* Distinct violations, to user space: 256 KiB holds ~230 records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} violations SEC(".maps");

/* Repeats of a violation are counted here and not reported again. LRU: a
 * forgotten violation is reported once more, which is harmless. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fp_violation_key);
	__type(value, __u64);
} violations_seen SEC(".maps");

/* Distinct violations reported per CPU per second, at most, for each policy
 * and kind: a loop over ever-new paths cannot flood user space, and a flood
 * of one kind (or under one policy) cannot hide a violation of another. The
 * rest are counted per kind (FP_ECOUNT_SUPPRESSED). */
#define FP_REPORTS_PER_SECOND 200

struct report_budget_key {
	__u32 policy_id;
	__u32 kind;
};

struct report_budget {
	__u64 window_start_ns;
	__u64 used;
};

/* One budget per (policy, kind) in use; LRU: a forgotten budget starts
 * afresh, which only lets a few more reports through. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct report_budget_key);
	__type(value, struct report_budget);
} report_budget SEC(".maps");

/* Per-CPU counters, indexed kind * FP_COUNTERS_PER_KIND + enum
 * fp_enforce_counter_what. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} enforce_counters SEC(".maps");

static __always_inline void ecount(__u32 kind, __u32 what)
{
	__u32 idx = kind * FP_COUNTERS_PER_KIND + what;
	__u64 *c = bpf_map_lookup_elem(&enforce_counters, &idx);

	if (c)
		*c += 1;
}

/*
 * Processes held to a policy outside its cgroups, by thread-group id: the
 * ones that left (moved, or were cloned, into another cgroup) and their
 * descendants (enforce_cgroup.bpf.c). Each departure is a violation, so
 * there are few; 4096 is many nodes' worth of attacks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fp_held_process);
} held_processes SEC(".maps");

/* Element 0 is non-zero once held_processes has had an entry: until then
 * every process is spared the lookup (an array load is inlined). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} held_processes_used SEC(".maps");

static __always_inline bool any_held_process(void)
{
	__u32 zero = 0, *used = bpf_map_lookup_elem(&held_processes_used, &zero);

	return used && *used;
}

/*
 * The processes in enforced cgroups, by thread-group id, with the enforced
 * cgroup each is in: the cgroup a process moving itself leaves, which the
 * kernel no longer tells once it has moved it (enforce_cgroup.bpf.c keeps
 * it). Sized for a busy node's workload processes; allocated as used.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} enforced_processes SEC(".maps");

/* left_policy_cgroups says whether the current process is held by itself
 * (it, or an ancestor, left its policy's cgroups). */
static __always_inline bool left_policy_cgroups(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return any_held_process() && bpf_map_lookup_elem(&held_processes, &tgid);
}

/* Where a violation happened and under which policy. */
struct enforced {
	struct fp_policy *policy;
	struct fp_enforced_cgroup *cgroup;
	__u64 cgroup_id;
	__u32 policy_id;
	/* The process left its policy's cgroups: cgroup_id is the one it
	 * left. */
	bool left;
};

/*
 * enforced_policy_in finds the policy the current process, in cgroup
 * cgroup_id, is held to for this kind of operation. A process that left its
 * policy's cgroups is held by itself, before (and over) any policy of the
 * cgroup it is in now: moving into another workload's cgroup must not trade
 * one policy for another. Otherwise the cgroup decides: live_only skips
 * cgroups before their first exec (the container runtime's set-up); the
 * runtime's tasks are never held.
 */
static __always_inline bool enforced_policy_in(struct enforced *e, __u64 cgroup_id, __u32 kind,
					       bool live_only)
{
	struct fp_held_process *h = NULL;

	if (any_held_process()) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		h = bpf_map_lookup_elem(&held_processes, &tgid);
	}
	e->left = h != NULL;
	if (h) {
		e->cgroup_id = h->cgroup_id;
		e->cgroup = &h->held;
	} else {
		e->cgroup_id = cgroup_id;
		e->cgroup = bpf_map_lookup_elem(&enforced_cgroups, &e->cgroup_id);
		if (!e->cgroup)
			return false;
		if (live_only && !(e->cgroup->flags & FP_ENFORCE_LIVE))
			return false;
		if ((e->cgroup->flags & FP_ENFORCE_CONTAINERS) && runtime_task())
			return false;
	}
	e->policy_id = e->cgroup->policy_id;
	e->policy = bpf_map_lookup_elem(&policies, &e->policy_id);
	if (!e->policy || !(e->policy->governs & (1U << kind)))
		return false;
	ecount(kind, FP_ECOUNT_CHECKED);
	return true;
}

/* enforced_policy is enforced_policy_in the current process's cgroup. */
static __always_inline bool enforced_policy(struct enforced *e, __u32 kind, bool live_only)
{
	return enforced_policy_in(e, bpf_get_current_cgroup_id(), kind, live_only);
}

/*
 * match_path returns the access the tree rooted at root grants to the path
 * walked into s. From the root down, each component moves to the literal
 * child of that name, else to the wildcard child; where neither exists the
 * walk stops and only the descendants grants met so far apply. A node's
 * descendants grant applies to every path strictly below it; its access
 * grant to the path ending at it. A truncated path matches nothing.
 */
static __always_inline __u32 match_path(struct path_scratch *s, const struct fp_path_node *root,
				       __u32 path_flags)
{
	struct fp_path_key key = {};
	struct fp_path_node *node;
	__u32 id = root->id, n = s->ncomp;
	__u32 granted = 0, access = root->access, descendants = root->descendants;

	if (path_flags & FP_PATH_TRUNCATED)
		return 0;
	for (int i = 0; i < FP_PATH_DEPTH; i++) {
		__u32 idx, start, next, len;

		if (i >= n)
			break;
		idx = n - 1 - i;
		start = s->comp_start[idx & (FP_PATH_COMPONENTS - 1)];
		next = idx == 0 ? s->end : s->comp_start[(idx - 1) & (FP_PATH_COMPONENTS - 1)];
		len = next - start - 1;
		granted |= descendants;
		key.parent = id;
		node = NULL;
		if (len > 0 && len < FP_NAME_MAX) {
			__builtin_memset(key.name, 0, sizeof(key.name));
			key.len = len;
			/* Keep the mask: the compiler knows len < FP_NAME_MAX
			 * and would drop it, the verifier does not. */
			barrier_var(len);
			bpf_probe_read_kernel(key.name, len & (FP_NAME_MAX - 1),
					      &s->buf[(start + 1) & FP_PATH_MASK]);
			node = bpf_map_lookup_elem(&path_rules, &key);
		}
		if (!node) {
			__builtin_memset(key.name, 0, sizeof(key.name));
			key.len = FP_WILDCARD_LEN;
			node = bpf_map_lookup_elem(&path_rules, &key);
		}
		if (!node)
			return granted;
		id = node->id;
		access = node->access;
		descendants = node->descendants;
	}
	return granted | access;
}

/* outcome decides what happens to a violation: can_deny says whether the
 * hook can make the operation fail, can_kill whether it can signal. */
static __always_inline __u32 outcome(const struct fp_policy *p, bool can_deny, bool can_kill)
{
	if (p->mode != FP_MODE_ENFORCE)
		return FP_OUTCOME_AUDITED;
	if (!can_deny && (p->flags & FP_POLICY_AUDIT_UNPREVENTABLE))
		return FP_OUTCOME_AUDITED;
	if (p->action == FP_ACTION_KILL && can_kill)
		return can_deny ? FP_OUTCOME_DENIED_KILLED : FP_OUTCOME_KILLED;
	if (can_deny)
		return FP_OUTCOME_DENIED;
	return FP_OUTCOME_KILLED;
}

/*
 * eperm is -EPERM in a way the compiler cannot fold into arithmetic: the
 * verifier refuses an LSM program whose return value it cannot bound to
 * [-4095, 0] (Linux 6.10+), and loses the bound of a value clang computes
 * branch-free, e.g. by negating a comparison.
 */
static __always_inline int eperm(void)
{
	int err = -EPERM;

	barrier_var(err);
	return err;
}

/*
 * denied_before passes on a denial by the programs before this one on the
 * same hook (an LSM or fmod_ret program sees it as its last argument), as
 * EPERM: what they returned cannot be bounded for the verifier.
 */
static __always_inline int denied_before(int ret)
{
	return ret ? eperm() : 0;
}

/* act carries out an outcome and returns what the hook should return: 0 to
 * allow, -EPERM to deny. */
static __always_inline int act(__u32 what)
{
	if (what == FP_OUTCOME_KILLED || what == FP_OUTCOME_DENIED_KILLED)
		bpf_send_signal(SIGKILL);
	if (what == FP_OUTCOME_DENIED || what == FP_OUTCOME_DENIED_KILLED)
		return eperm();
	return 0;
}

static __always_inline bool within_report_budget(__u32 policy_id, __u32 kind)
{
	struct report_budget_key key = {.policy_id = policy_id, .kind = kind};
	struct report_budget *b = bpf_map_lookup_elem(&report_budget, &key), fresh = {};
	__u64 now = bpf_ktime_get_ns();

	if (!b) {
		bpf_map_update_elem(&report_budget, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&report_budget, &key);
		if (!b)
			return false;
	}
	if (now - b->window_start_ns > 1000000000ULL) {
		b->window_start_ns = now;
		b->used = 0;
	}
	if (b->used >= FP_REPORTS_PER_SECOND)
		return false;
	b->used++;
	return true;
}

/*
 * begin_report counts a violation and, when it is the first of its kind
 * (object, detail) in this cgroup and within the report budget, returns a
 * ring-buffer record with the common fields filled; the caller adds the
 * kind's own and submits it.
 */
static __always_inline struct fp_violation_event *begin_report(const struct enforced *e,
							       __u32 kind, __u64 object,
							       __u64 detail, __u32 what)
{
	struct fp_violation_key key = {};
	struct fp_violation_event *ev;
	__u64 one = 1, *n;

	ecount(kind, FP_ECOUNT_VIOLATIONS);
	key.cgroup_id = e->cgroup_id;
	key.object = object;
	key.detail = detail;
	key.kind = kind;
	key.policy_id = e->policy_id;
	key.version = e->policy->version;
	n = bpf_map_lookup_elem(&violations_seen, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return NULL;
	}
	if (!within_report_budget(e->policy_id, kind)) {
		ecount(kind, FP_ECOUNT_SUPPRESSED);
		return NULL;
	}
	/* Two CPUs may both have missed the lookup: only the one that
	 * enters the key reports, the other counts a repeat. */
	if (bpf_map_update_elem(&violations_seen, &key, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&violations_seen, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&violations, sizeof(*ev), 0);
	if (!ev) {
		ecount(kind, FP_ECOUNT_RINGBUF_LOST);
		return NULL;
	}
	ev->hdr.kind = kind;
	ev->hdr.pid = bpf_get_current_pid_tgid() >> 32;
	ev->hdr.timestamp_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(ev->hdr.comm, sizeof(ev->hdr.comm));
	ev->cgroup_id = e->cgroup_id;
	ev->policy_id = e->policy_id;
	ev->outcome = what;
	ev->uid = bpf_get_current_uid_gid();
	ev->cap = 0;
	ev->access = 0;
	ev->flags = 0;
	ev->port = 0;
	ev->protocol = 0;
	ev->target_cgroup_id = 0;
	ev->target_pid = 0;
	ev->syscall = 0;
	__builtin_memset(ev->addr, 0, sizeof(ev->addr));
	ev->socket_op = 0;
	ev->family = 0;
	ev->path_len = 0;
	ev->path[0] = 0;
	ev->exe[0] = 0;
	ecount(kind, FP_ECOUNT_REPORTED);
	return ev;
}

/* report_exe writes the current program's path into ev->exe. It reuses the
 * path scratch: callers copy their own path out first. */
static __always_inline void report_exe(struct fp_violation_event *ev, struct path_scratch *s)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 flags = 0, off;

	if (!exe || !fs)
		return;
	off = walk_path(s, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt),
			&fs->root, FP_PATH_MAX, &flags);
	bpf_probe_read_kernel(ev->exe, FP_PATH_MAX, &s->buf[off & FP_PATH_MASK]);
}

/* walk_file walks the path of file for the current task into s and returns
 * its start offset. */
static __always_inline __u32 walk_file(struct path_scratch *s, struct file *file, __u32 *flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);

	return walk_path(s, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			 &fs->root, FP_PATH_MAX, flags);
}

#endif /* FOOTPRINT_ENFORCE_H */
