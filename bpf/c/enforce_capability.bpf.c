// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capability rules: a capability the kernel would grant is allowed when the
 * policy allows it (in a child user namespace, also when it allows it
 * there). No-audit probes (the kernel asking whether a process happens to
 * hold a capability) are not governed, nor are checks made with borrowed
 * credentials (kernel.h), and checks the kernel denies anyway need no
 * enforcing.
 *
 * Backends, best first: lsm/capable fails the check with EPERM (the BPF LSM
 * runs after the capability module, so it only sees checks that would be
 * granted); tp_btf/cap_capable (6.14+) sees the verdict after the fact and
 * SIGKILLs the process: the privileged operation has then happened.
 */
#include "enforce.h"
#include "noaudit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int check_capability(const struct cred *cred, int cap,
					    const struct user_namespace *ns, bool can_deny)
{
	struct fp_violation_event *ev;
	struct enforced e;
	__u32 level, what;
	__u64 bit;

	if (!enforced_policy(&e, FP_KIND_CAPABILITY, true))
		return 0;
	if (cap < 0 || cap > 63)
		return 0;
	bit = 1ULL << cap;
	level = BPF_CORE_READ(ns, level);
	if (e.policy->caps_allowed & bit)
		return 0;
	if (level > 0 && (e.policy->caps_allowed_userns & bit))
		return 0;
	/* Last: only would-be violations pay for it. */
	if (borrowed_credentials(cred))
		return 0;

	what = outcome(e.policy, can_deny, true);
	ev = begin_report(&e, FP_KIND_CAPABILITY, cap, level, what);
	if (ev) {
		struct path_scratch *s = get_path_scratch();

		ev->cap = cap;
		if (level > 0)
			ev->flags = FP_CAP_USERNS;
		if (s)
			report_exe(ev, s);
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

SEC("lsm/capable")
int BPF_PROG(fp_enforce_capable_lsm, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts, int ret)
{
	if (ret)
		return ret;
	if (opts & CAP_OPT_NOAUDIT)
		return 0;
	return check_capability(cred, cap, ns, true);
}

SEC("tp_btf/cap_capable")
int BPF_PROG(fp_enforce_capable_tp_btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	struct enforced e;

	if (ret)
		return 0;
	/* The cheap test first: the stack walk of called_without_audit only
	 * for checks that would otherwise be violations. */
	if (!enforced_policy(&e, FP_KIND_CAPABILITY, true))
		return 0;
	if (cap >= 0 && cap < 64 && (e.policy->caps_allowed & (1ULL << cap)))
		return 0;
	if (called_without_audit(ctx, cap))
		return 0;
	check_capability(cred, cap, target_ns, false);
	return 0;
}
