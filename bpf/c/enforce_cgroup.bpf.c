// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Leaving the policy: a process held to a policy because of its cgroup
 * could otherwise shed it by going to another cgroup, writing a pid to
 * another cgroup's cgroup.procs or cloning a child into another cgroup
 * (clone3 with CLONE_INTO_CGROUP). Neither has a hook that can refuse it, so
 * the policy follows the process instead: it, and every process it starts
 * from then on, is entered in held_processes with its policy and the cgroup
 * it left, and enforced_policy finds it there before looking at its cgroup.
 * The departure itself is a violation. Moves between cgroups held to the
 * same policy (a workload's own sub-cgroups) are not.
 *
 * What a process under a policy gains by leaving is then only the other
 * cgroup's resource limits; its rules, seccomp filter included, stay.
 */
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* same_policy says whether cgroup id is held to policy_id. */
static __always_inline bool same_policy(__u64 id, __u32 policy_id)
{
	struct fp_enforced_cgroup *ec = bpf_map_lookup_elem(&enforced_cgroups, &id);

	return ec && ec->policy_id == policy_id;
}

/* hold enters process tgid in held_processes under e's policy. */
static __always_inline void hold(__u32 tgid, const struct enforced *e)
{
	struct fp_held_process h = {
		.held = {.policy_id = e->policy_id, .flags = FP_ENFORCE_LIVE},
		.cgroup_id = e->cgroup_id,
	};
	__u32 zero = 0, one = 1;

	/* First the flag, then the entry: enforced_policy reads them in the
	 * other order. */
	bpf_map_update_elem(&held_processes_used, &zero, &one, BPF_ANY);
	if (bpf_map_update_elem(&held_processes, &tgid, &h, BPF_ANY))
		ecount(FP_KIND_CGROUP, FP_ECOUNT_MAP_FULL);
}

/*
 * report_departure reports that process tgid went to cgroup dst. Neither
 * hook can refuse it or should kill anything: the process is held to the
 * policy where it went.
 */
static __always_inline void report_departure(const struct enforced *e, __u32 tgid, __u64 dst)
{
	struct fp_violation_event *ev;
	__u32 what = e->policy->mode == FP_MODE_ENFORCE ? FP_OUTCOME_FOLLOWED : FP_OUTCOME_AUDITED;

	ev = begin_report(e, FP_KIND_CGROUP, dst, 0, what);
	if (!ev)
		return;
	ev->target_cgroup_id = dst;
	ev->target_pid = tgid;
	bpf_ringbuf_submit(ev, 0);
}

/*
 * track keeps enforced_processes: process tgid is now in cgroup id. A
 * process in no enforced cgroup has no entry; a new one (fresh) has none
 * to delete.
 */
static __always_inline void track(__u32 tgid, __u64 id, bool fresh)
{
	if (bpf_map_lookup_elem(&enforced_cgroups, &id)) {
		if (bpf_map_update_elem(&enforced_processes, &tgid, &id, BPF_ANY))
			ecount(FP_KIND_CGROUP, FP_ECOUNT_MAP_FULL);
	} else if (!fresh) {
		bpf_map_delete_elem(&enforced_processes, &tgid);
	}
}

/*
 * A task was moved to dst_cgrp (a write to its cgroup.procs or
 * cgroup.threads; the kernel has moved it when this runs). The mover's
 * policy decides: a process under a policy moving itself or another
 * process out of the policy's cgroups takes the policy along. A process
 * moving itself is already in dst_cgrp: the cgroup it left is the one
 * enforced_processes has. Moves by processes under no policy (the container
 * runtime, the administrator) are not footprint's to judge.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(fp_enforce_cgroup_attach, struct cgroup *dst_cgrp, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	struct enforced e;
	__u32 tgid = task->tgid;
	__u64 dst, *left;
	bool under_policy;

	if (!on_default_hierarchy(dst_cgrp))
		return 0;
	dst = BPF_CORE_READ(dst_cgrp, kn, id);
	if (tgid == bpf_get_current_pid_tgid() >> 32) {
		left = bpf_map_lookup_elem(&enforced_processes, &tgid);
		under_policy = left && enforced_policy_in(&e, *left, FP_KIND_CGROUP, true);
		/* Or a process that left already, moving on. */
		under_policy = under_policy || (!left && enforced_policy(&e, FP_KIND_CGROUP, true) && e.left);
	} else {
		under_policy = enforced_policy(&e, FP_KIND_CGROUP, true);
	}
	track(tgid, dst, false);
	if (!under_policy || same_policy(dst, e.policy_id))
		return 0;
	hold(tgid, &e);
	report_departure(&e, tgid, dst);
	return 0;
}

/*
 * A process was forked. The child of a process that left is held like its
 * parent; a child a held process cloned straight into a cgroup outside its
 * policy (CLONE_INTO_CGROUP) is a departure. Threads share their process's
 * entry.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(fp_enforce_cgroup_fork, struct task_struct *parent, struct task_struct *child)
{
	struct enforced e;
	__u32 tgid = child->tgid;
	__u64 dst;

	if (tgid == parent->tgid)
		return 0;
	dst = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	track(tgid, dst, true);
	if (!enforced_policy(&e, FP_KIND_CGROUP, true))
		return 0;
	if (e.left) {
		hold(tgid, &e);
		return 0;
	}
	if (dst == e.cgroup_id || same_policy(dst, e.policy_id))
		return 0;
	hold(tgid, &e);
	report_departure(&e, tgid, dst);
	return 0;
}

/* The last thread of a process exits: its entries go, before the process
 * id can be handed out again. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(fp_enforce_cgroup_exit, struct task_struct *task)
{
	__u32 tgid;

	/* do_exit has counted this thread out of signal->live. */
	if (BPF_CORE_READ(task, signal, live.counter))
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&enforced_processes, &tgid);
	if (any_held_process())
		bpf_map_delete_elem(&held_processes, &tgid);
	return 0;
}

/*
 * Enters the processes already in enforced cgroups in enforced_processes:
 * run by user space after it holds a cgroup, since the fork and move hooks
 * see only processes that arrive afterwards.
 */
SEC("iter/task")
int fp_enforce_track_processes(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task || task->pid != task->tgid)
		return 0;
	track(task->tgid, BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id), false);
	return 0;
}
