// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cgroup tracking: a cgroup created under a watched cgroup is watched from
 * the moment it exists, before any process can enter it. This is how a
 * container started under a watched pod cgroup is covered from its first
 * instruction, and how a recorded command's own sub-cgroups stay recorded.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(fp_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cgroup *parent;
	struct fp_watch *w, child;
	struct fp_cgroup_event *ev;
	__u64 id, parent_id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	/* The css is the cgroup's first member: its parent css is the parent
	 * cgroup. */
	parent = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);
	parent_id = BPF_CORE_READ(parent, kn, id);
	w = bpf_map_lookup_elem(&watched_cgroups, &parent_id);
	if (!w)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	child = *w;
	child.flags |= FP_WATCH_INHERITED;
	if (bpf_map_update_elem(&watched_cgroups, &id, &child, BPF_NOEXIST) == -E2BIG) {
		count(FP_KIND_CGROUP, FP_COUNT_MAP_FULL);
		return 0;
	}

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(FP_KIND_CGROUP, FP_COUNT_RINGBUF_LOST);
		return 0;
	}
	fill_header(&ev->hdr, FP_KIND_CGROUP);
	ev->cgroup_id = id;
	ev->parent_id = parent_id;
	ev->recording_id = child.recording_id;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(fp_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	struct fp_watch *w;
	__u64 id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	w = bpf_map_lookup_elem(&watched_cgroups, &id);
	/* Entries user space added are user space's to remove. */
	if (w && (w->flags & FP_WATCH_INHERITED))
		bpf_map_delete_elem(&watched_cgroups, &id);
	return 0;
}

/* Container runtime tasks (runtime.h): what they do is not recorded. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(fp_runtime_attach, struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	if (!runtime_attach(dst_cgrp, task))
		count(FP_KIND_CGROUP, FP_COUNT_MAP_FULL);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fp_runtime_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!runtime_fork(parent, child))
		count(FP_KIND_CGROUP, FP_COUNT_MAP_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fp_runtime_exit, struct task_struct *task)
{
	runtime_exit(task);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fp_runtime_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	runtime_exec_done(old_pid);
	return 0;
}
