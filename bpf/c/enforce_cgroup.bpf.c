// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A cgroup created under an enforced cgroup is enforced from the moment it
 * exists, before any process can enter it: a container started under an
 * enforced pod cgroup is held to the policy from its first instruction.
 */
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(fp_enforce_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct fp_enforced_cgroup *parent, child;
	struct cgroup *parent_cgrp;
	__u64 id, parent_id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	/* The css is the cgroup's first member: its parent css is the parent
	 * cgroup. */
	parent_cgrp = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);
	parent_id = BPF_CORE_READ(parent_cgrp, kn, id);
	parent = bpf_map_lookup_elem(&enforced_cgroups, &parent_id);
	if (!parent)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	child = *parent;
	child.flags |= FP_ENFORCE_INHERITED;
	bpf_map_update_elem(&enforced_cgroups, &id, &child, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(fp_enforce_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	struct fp_enforced_cgroup *ec;
	__u64 id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	ec = bpf_map_lookup_elem(&enforced_cgroups, &id);
	/* Entries user space added are user space's to remove. */
	if (ec && (ec->flags & FP_ENFORCE_INHERITED))
		bpf_map_delete_elem(&enforced_cgroups, &id);
	return 0;
}

/* Container runtime tasks (runtime.h): they are not held to the policy. A
 * full map leaves a runtime task held, which can fail a container start:
 * it is counted as a read error. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(fp_enforce_runtime_attach, struct cgroup *dst_cgrp, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	if (!runtime_attach(dst_cgrp, task))
		ecount(FP_KIND_CGROUP, FP_ECOUNT_READ_ERROR);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fp_enforce_runtime_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!runtime_fork(parent, child))
		ecount(FP_KIND_CGROUP, FP_ECOUNT_READ_ERROR);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fp_enforce_runtime_exit, struct task_struct *task)
{
	runtime_exit(task);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fp_enforce_runtime_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	runtime_exec_done(old_pid);
	return 0;
}
