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
 * This header is the read side every recorder and enforcer program uses;
 * the lifecycle object (lifecycle.bpf.c) marks and unmarks the tasks.
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
 * It only reads: runtime_exec_done, in the lifecycle object's program after
 * every exec, moves or ends the mark.
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

#endif /* FOOTPRINT_RUNTIME_H */
