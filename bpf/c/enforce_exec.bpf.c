// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Executable rules: a program may be executed when the policy's executable
 * tree grants it exec. A script needs its own rule and its interpreter's.
 *
 * The exec hook also makes an enforced cgroup live: file, capability and
 * connect rules apply from its first exec on, so the container runtime's
 * set-up is not held to the workload's policy. Exec rules apply from the
 * first instruction: that first exec is itself checked, except in a cgroup
 * the kernel added under a held one (a container under a held pod), where
 * the first exec is the runtime starting the entrypoint or the sandbox.
 *
 * Backends, best first: lsm/bprm_check_security fails the execve with EPERM
 * where bpf is an active LSM; fmod_ret/security_bprm_check does the same
 * where it is not; tp_btf/sched_process_exec runs after the point of no
 * return and SIGKILLs the process before the new program's first
 * instruction.
 */
#include "enforce.h"

#define SIGSTOP 19

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * held_from_here says whether rules apply to an exec in the enforced cgroup
 * ec, and keeps the cgroup's lifecycle: the runtime's execs are not held,
 * a container not classified yet stops, the first exec makes the cgroup
 * live.
 */
static __always_inline bool held_from_here(struct fp_enforced_cgroup *ec, __u32 old_tid)
{
	if ((ec->flags & FP_ENFORCE_CONTAINERS) && runtime_exec(old_tid))
		return false;
	if ((ec->flags & FP_ENFORCE_PENDING) && (ec->flags & FP_ENFORCE_INHERITED)) {
		/* A container not classified yet: hold it before its first
		 * instruction until user space decides which policy, if any,
		 * applies. The new program has not run; nothing is lost. */
		bpf_send_signal(SIGSTOP);
		return false;
	}
	if (!(ec->flags & FP_ENFORCE_LIVE)) {
		/* A plain store: every writer sets the same bit. */
		ec->flags |= FP_ENFORCE_LIVE;
		/* The first exec in a cgroup the kernel added under a held
		 * pod is the runtime starting the container's entrypoint (or
		 * the pod sandbox's pause): it is the pod spec's, not the
		 * workload's doing, and the sandbox is no workload container.
		 * Everything after it is held. */
		if (ec->flags & FP_ENFORCE_INHERITED)
			return false;
	}
	return true;
}

static __always_inline int check_exec(struct file *file, __u32 old_tid, bool can_deny)
{
	struct fp_violation_event *ev;
	struct path_scratch *s;
	struct enforced e;
	__u32 flags = 0, off, what;

	/* A process that left its policy's cgroups is held by itself: the
	 * lifecycle of the cgroup it is in now is another workload's. */
	if (!left_policy_cgroups()) {
		__u64 id = bpf_get_current_cgroup_id();
		struct fp_enforced_cgroup *ec = bpf_map_lookup_elem(&enforced_cgroups, &id);

		if (!ec || !held_from_here(ec, old_tid))
			return 0;
	}
	if (!enforced_policy(&e, FP_KIND_EXEC, false))
		return 0;
	s = get_path_scratch();
	if (!s || !file)
		return 0;
	off = walk_file(s, file, &flags);
	if (match_path(s, &e.policy->executables, flags) & FP_ACCESS_EXEC)
		return 0;

	what = outcome(e.policy, can_deny, true);
	ev = begin_report(&e, FP_KIND_EXEC, (__u64)BPF_CORE_READ(file, f_path.dentry),
			  BPF_CORE_READ(file, f_inode, i_ino), what);
	if (ev) {
		ev->flags = flags;
		bpf_probe_read_kernel(ev->path, FP_PATH_MAX, &s->buf[off & FP_PATH_MASK]);
		/* Before the exec completes, mm is still the caller's. */
		report_exe(ev, s);
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(fp_enforce_bprm_lsm, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return denied_before(ret);
	/* Before the point of no return: the thread has its own id still. */
	return check_exec(BPF_CORE_READ(bprm, file), (__u32)bpf_get_current_pid_tgid(), true);
}

SEC("fmod_ret/security_bprm_check")
int BPF_PROG(fp_enforce_bprm_fmod_ret, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return denied_before(ret);
	return check_exec(BPF_CORE_READ(bprm, file), (__u32)bpf_get_current_pid_tgid(), true);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fp_enforce_exec_tp_btf, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	check_exec(BPF_CORE_READ(bprm, file), old_pid, false);
	return 0;
}
