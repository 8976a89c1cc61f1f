// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Processes outside the policy: a process held to a policy may attach to
 * (ptrace), or read and write the memory of (process_vm_readv/writev,
 * /proc/PID/mem), only processes held to the same policy. Every policy
 * governs it: another process's privileges and files are a way out of the
 * policy like moving cgroup. The kernel asks security_ptrace_access_check
 * for each of these with PTRACE_MODE_ATTACH; the PTRACE_MODE_READ checks
 * (/proc/PID/environ, kcmp) and the kernel's no-audit ones are left alone.
 *
 * Backends, best first: lsm/ptrace_access_check, fmod_ret on
 * security_ptrace_access_check. Without either no hook sees the target
 * before the call (only the seccomp filter of a workload that never called
 * ptrace or process_vm_readv holds it).
 */
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PTRACE_MODE_ATTACH 0x02
#define PTRACE_MODE_NOAUDIT 0x04

/* policy_of returns the policy a task is held to, 0 for none. */
static __always_inline __u32 policy_of(struct task_struct *t, __u64 *cgroup_id)
{
	struct fp_enforced_cgroup *c;
	__u32 tgid = BPF_CORE_READ(t, tgid);

	*cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	if (any_held_process()) {
		struct fp_held_process *h = bpf_map_lookup_elem(&held_processes, &tgid);

		if (h)
			return h->held.policy_id;
	}
	c = bpf_map_lookup_elem(&enforced_cgroups, cgroup_id);
	return c ? c->policy_id : 0;
}

static __always_inline int check_ptrace(struct task_struct *child, unsigned int mode)
{
	struct fp_violation_event *ev;
	struct enforced e;
	__u64 target_cgroup;
	__u32 what, target;

	if (!(mode & PTRACE_MODE_ATTACH) || (mode & PTRACE_MODE_NOAUDIT))
		return 0;
	if (!enforced_policy(&e, FP_KIND_PTRACE, true))
		return 0;
	if (policy_of(child, &target_cgroup) == e.policy_id)
		return 0;
	target = BPF_CORE_READ(child, tgid);
	what = outcome(e.policy, true, true);
	ev = begin_report(&e, FP_KIND_PTRACE, target, target_cgroup, what);
	if (ev) {
		ev->target_pid = target;
		ev->target_cgroup_id = target_cgroup;
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(fp_enforce_ptrace_lsm, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return denied_before(ret);
	return check_ptrace(child, mode);
}

SEC("fmod_ret/security_ptrace_access_check")
int BPF_PROG(fp_enforce_ptrace_fmod_ret, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return denied_before(ret);
	return check_ptrace(child, mode);
}
