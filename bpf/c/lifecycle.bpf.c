// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The lifecycle of cgroups and tasks, for the recorder and the enforcer at
 * once: one object the loader loads once per process and whose maps every
 * other object shares, so that every fork, exec and exit on the node runs
 * one program, not one per part.
 *
 * - A cgroup created under a watched or enforced cgroup is watched or
 *   enforced from the moment it exists, before any process can enter it:
 *   a container started under a recorded or held pod is covered from its
 *   first instruction, and a command's own sub-cgroups stay covered.
 * - A cgroup created in a directory kubelet puts pods in (pod_parents)
 *   while something is recorded on the node is watched at once,
 *   provisionally: a pod is covered before user space has looked it up
 *   (which took seconds on a node starting hundreds of pods, while its
 *   containers already ran), and user space keeps or drops the watch once
 *   it knows whether a recording selects the pod.
 * - Container runtime tasks (runtime.h) are marked when they enter a
 *   container cgroup from outside and unmarked at the exec that starts the
 *   workload, or at exit.
 */
#include "kernel.h"
#include "watched.h"
#include "enforced.h"
#include "runtime.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Per-CPU counters, indexed by enum fp_lifecycle_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_LC_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} lifecycle_counters SEC(".maps");

static __always_inline void lc_count(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&lifecycle_counters, &what);

	if (c)
		*c += 1;
}

/*
 * The directories kubelet puts pods in (kubepods and its QoS class
 * directories, per kubepods cgroup), by cgroup id, while some recording is
 * active on the node; the value is the watch a pod cgroup made there
 * starts with (the kinds every active recording records). User space
 * writes it. A node has one kubepods cgroup with three such directories,
 * two when kubelet runs nested or is reconfigured: 64 is plenty.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, struct fp_watch);
} pod_parents SEC(".maps");

/* container_cgroup says whether a cgroup is a pod's or a container's, for
 * the recorder or for the enforcer. */
static __always_inline bool container_cgroup(__u64 id)
{
	struct fp_watch *w = bpf_map_lookup_elem(&watched_cgroups, &id);
	struct fp_enforced_cgroup *ec;

	if (w && (w->flags & FP_WATCH_CONTAINERS))
		return true;
	ec = bpf_map_lookup_elem(&enforced_cgroups, &id);
	return ec && (ec->flags & FP_ENFORCE_CONTAINERS);
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


SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(fp_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct fp_enforced_cgroup *enforced, enforced_child;
	struct fp_watch *watch, watch_child;
	struct cgroup *parent;
	__u64 id, parent_id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	/* The css is the cgroup's first member: its parent css is the parent
	 * cgroup. */
	parent = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);
	parent_id = BPF_CORE_READ(parent, kn, id);
	id = BPF_CORE_READ(cgrp, kn, id);

	watch = bpf_map_lookup_elem(&watched_cgroups, &parent_id);
	if (watch) {
		/* Below a provisional watch, provisional too: kernel-added,
		 * and the pod's to keep or drop. */
		watch_child = *watch;
		watch_child.flags |= FP_WATCH_INHERITED;
		if (bpf_map_update_elem(&watched_cgroups, &id, &watch_child, BPF_NOEXIST) == -E2BIG)
			lc_count(FP_LC_WATCHED_FULL);
	} else {
		/* A pod's cgroup (or a QoS class directory, which user space
		 * drops at once). rmdir removes it like any inherited watch. */
		watch = bpf_map_lookup_elem(&pod_parents, &parent_id);
		if (watch) {
			watch_child = *watch;
			watch_child.flags |= FP_WATCH_INHERITED | FP_WATCH_PROVISIONAL;
			watch_child.flags &= ~FP_WATCH_LIVE;
			if (bpf_map_update_elem(&watched_cgroups, &id, &watch_child, BPF_NOEXIST) == -E2BIG)
				lc_count(FP_LC_WATCHED_FULL);
		}
	}
	enforced = bpf_map_lookup_elem(&enforced_cgroups, &parent_id);
	if (enforced) {
		enforced_child = *enforced;
		enforced_child.flags |= FP_ENFORCE_INHERITED;
		/* A full map leaves a cgroup under a held one unheld: counted,
		 * and reported by the agent. */
		if (bpf_map_update_elem(&enforced_cgroups, &id, &enforced_child, BPF_NOEXIST) == -E2BIG)
			lc_count(FP_LC_ENFORCED_FULL);
	}
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(fp_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	struct fp_enforced_cgroup *ec;
	struct fp_watch *w;
	__u64 id;

	if (!on_default_hierarchy(cgrp))
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	/* Entries user space added are user space's to remove. */
	w = bpf_map_lookup_elem(&watched_cgroups, &id);
	if (w && (w->flags & FP_WATCH_INHERITED))
		bpf_map_delete_elem(&watched_cgroups, &id);
	ec = bpf_map_lookup_elem(&enforced_cgroups, &id);
	if (ec && (ec->flags & FP_ENFORCE_INHERITED))
		bpf_map_delete_elem(&enforced_cgroups, &id);
	return 0;
}

/* A full runtime map leaves a runtime task recorded or held, which can fail
 * a container's start under a policy: counted, and reported by the agent. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(fp_runtime_attach, struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	if (!runtime_attach(dst_cgrp, task))
		lc_count(FP_LC_RUNTIME_FULL);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fp_runtime_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!runtime_fork(parent, child))
		lc_count(FP_LC_RUNTIME_FULL);
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
