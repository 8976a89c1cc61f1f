/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Container runtime tasks: the processes a runtime puts into a container's
 * cgroup to set the container up (runc init, crun, the init of `runc exec`
 * behind `kubectl exec` and exec probes), and their children. Until such a
 * task executes a program in a mount namespace other than the runtime's own
 * (the container's entrypoint or the exec'd command, after pivot_root or
 * setns), what it does is the runtime's: mounts (CAP_SYS_ADMIN), dropping
 * capabilities (CAP_SETPCAP), /proc, libseccomp, re-executing itself from a
 * memfd. None of it is the workload's, so none of it is recorded into a
 * profile or held to a policy.
 *
 * A task is the runtime's when it enters a container cgroup from outside
 * (moved in by a process outside any container cgroup, or cloned into it by
 * one): a workload process cannot make itself one, because it is already
 * inside. (A privileged container of the same pod that is not held, with a
 * writable cgroupfs, could move a process into a held one and have it count
 * as the runtime's; such a container can do anything a profile could forbid.)
 * Only cgroups flagged as holding containers (pods) are treated so;
 * `footprint record -- CMD` starts its command with clone3 into the cgroup,
 * and the command is the workload from its first instruction.
 *
 * The including header declares the map of watched cgroups and defines
 * container_cgroup(id), which says whether a cgroup holds containers.
 */
#ifndef FOOTPRINT_RUNTIME_H
#define FOOTPRINT_RUNTIME_H

#include "kernel.h"

/* Thread id -> inode number of the runtime's mount namespace. Entries live
 * from a container start or exec until the exec that ends the runtime's
 * part (well under a second) or the task's exit; 4096 covers a node starting
 * and exec'ing into hundreds of containers at once, a few threads each. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} runtime_tasks SEC(".maps");

static __always_inline __u32 task_mnt_ns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* runtime_task says whether the current task is a runtime's. */
static __always_inline bool runtime_task(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	return bpf_map_lookup_elem(&runtime_tasks, &tid) != NULL;
}

/*
 * runtime_exec says whether the exec the current task is making is the
 * runtime's own (a runtime task still in the runtime's mount namespace).
 * It only reads: runtime_exec_done, in one program per map after every
 * exec, moves or ends the mark.
 *
 * old_tid is the thread id before the exec: a thread other than the leader
 * that executes a program takes the leader's id after the point of no
 * return (runc init is a Go program and may exec from any thread).
 */
static __always_inline bool runtime_exec(__u32 old_tid)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *ns = bpf_map_lookup_elem(&runtime_tasks, &tid);

	if (!ns && old_tid != tid)
		ns = bpf_map_lookup_elem(&runtime_tasks, &old_tid);
	return ns && *ns == task_mnt_ns(bpf_get_current_task_btf());
}

/*
 * runtime_exec_done runs after every exec (sched_process_exec, old_tid the
 * thread's id before it): an exec in another mount namespace ends the
 * task's runtime part, from it on the task is the workload; an exec in the
 * runtime's own keeps the mark, moved to the id the task has now. Either
 * way no mark stays on the old id, which never sees an exit of its own and
 * which the kernel will hand to another task.
 */
static __always_inline void runtime_exec_done(__u32 old_tid)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *ns = bpf_map_lookup_elem(&runtime_tasks, &tid);
	__u32 runtime_ns;

	if (!ns && old_tid != tid)
		ns = bpf_map_lookup_elem(&runtime_tasks, &old_tid);
	if (!ns)
		return;
	runtime_ns = *ns;
	if (old_tid != tid)
		bpf_map_delete_elem(&runtime_tasks, &old_tid);
	if (runtime_ns == task_mnt_ns(bpf_get_current_task_btf()))
		bpf_map_update_elem(&runtime_tasks, &tid, &runtime_ns, BPF_ANY);
	else
		bpf_map_delete_elem(&runtime_tasks, &tid);
}

/* mark_runtime makes task a runtime task of the runtime whose mount
 * namespace is ns. It returns false when the map is full. */
static __always_inline bool mark_runtime(struct task_struct *task, __u32 ns)
{
	__u32 tid = BPF_CORE_READ(task, pid);

	return bpf_map_update_elem(&runtime_tasks, &tid, &ns, BPF_ANY) != -E2BIG;
}

static __always_inline bool container_cgroup(__u64 id);

/*
 * runtime_attach marks a task moved into a container cgroup by a process
 * outside every container cgroup (runc writing cgroup.procs). With
 * threadgroup, only the leader is marked: runtimes move their init before
 * it starts threads.
 */
static __always_inline bool runtime_attach(struct cgroup *dst, struct task_struct *task)
{
	/* The migration skips an exiting task; a mark would outlive it. */
	if ((BPF_CORE_READ(task, flags) & PF_EXITING) || BPF_CORE_READ(task, exit_state))
		return true;
	if (!on_default_hierarchy(dst))
		return true;
	if (!container_cgroup(BPF_CORE_READ(dst, kn, id)))
		return true;
	if (container_cgroup(bpf_get_current_cgroup_id()))
		return true;
	return mark_runtime(task, task_mnt_ns(bpf_get_current_task_btf()));
}

/*
 * runtime_fork marks the children of runtime tasks (runc's nsexec stages,
 * the Go runtime's threads), and a task a process outside every container
 * cgroup cloned straight into one (clone3 with CLONE_INTO_CGROUP).
 */
static __always_inline bool runtime_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptid = BPF_CORE_READ(parent, pid);
	__u32 ctid = BPF_CORE_READ(child, pid);
	__u32 *ns = bpf_map_lookup_elem(&runtime_tasks, &ptid);

	if (ns)
		return mark_runtime(child, *ns);
	if (container_cgroup(BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id)) &&
	    !container_cgroup(BPF_CORE_READ(parent, cgroups, dfl_cgrp, kn, id)))
		return mark_runtime(child, task_mnt_ns(parent));
	/* Belt and braces: a new task never inherits a mark left on its id. */
	bpf_map_delete_elem(&runtime_tasks, &ctid);
	return true;
}

static __always_inline void runtime_exit(struct task_struct *task)
{
	__u32 tid = BPF_CORE_READ(task, pid);

	bpf_map_delete_elem(&runtime_tasks, &tid);
}

#endif /* FOOTPRINT_RUNTIME_H */
