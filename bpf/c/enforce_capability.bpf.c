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
 * granted); fmod_ret/security_capable fails it the same way where bpf is
 * not an active LSM (it runs before every module, so it works out the
 * capability module's verdict itself); tp_btf/cap_capable (6.14+) sees the
 * verdict after the fact and SIGKILLs the process: the privileged operation
 * has then happened.
 */
#include "enforce.h"
#include "noaudit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * syscall_path_arg is the argument of x86-64 system call nr holding the path
 * it acts on: 0 or 1, or -1 when it takes none. The calls that check
 * capabilities on a path (ownership, modes, creation, mounts, execution).
 */
static __always_inline int syscall_path_arg(long nr)
{
	switch (nr) {
	case 2: /* open */
	case 76: /* truncate */
	case 82: /* rename */
	case 83: /* mkdir */
	case 84: /* rmdir */
	case 85: /* creat */
	case 86: /* link */
	case 87: /* unlink */
	case 88: /* symlink (the target) */
	case 90: /* chmod */
	case 92: /* chown */
	case 94: /* lchown */
	case 133: /* mknod */
	case 161: /* chroot */
	case 188: /* setxattr */
	case 189: /* lsetxattr */
	case 59: /* execve */
		return 0;
	case 165: /* mount (the target) */
	case 257: /* openat */
	case 258: /* mkdirat */
	case 259: /* mknodat */
	case 260: /* fchownat */
	case 263: /* unlinkat */
	case 264: /* renameat */
	case 265: /* linkat */
	case 268: /* fchmodat */
	case 280: /* utimensat */
	case 316: /* renameat2 */
	case 322: /* execveat */
	case 437: /* openat2 */
	case 452: /* fchmodat2 */
		return 1;
	}
	return -1;
}

/*
 * report_syscall adds to a capability violation the system call that made
 * the check and the path it was given: "used CAP_CHOWN" alone does not say
 * what to allow or fix.
 */
static __always_inline void report_syscall(struct fp_violation_event *ev)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	const char *path = NULL;
	long nr;

	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr < 0 || nr > 1023)
		return;
	ev->syscall = nr + 1;
	switch (syscall_path_arg(nr)) {
	case 0:
		path = (const char *)BPF_CORE_READ(regs, di);
		break;
	case 1:
		path = (const char *)BPF_CORE_READ(regs, si);
		break;
	}
	if (path && bpf_probe_read_user_str(ev->path, sizeof(ev->path), path) < 0)
		ev->path[0] = 0;
}

/* check_capability decides a check the kernel would grant, made by a
 * process held to e's policy. */
static __always_inline int check_capability(struct enforced *e, const struct cred *cred, int cap,
					    const struct user_namespace *ns, bool can_deny)
{
	struct fp_violation_event *ev;
	__u32 level, what;
	__u64 bit;

	if (cap < 0 || cap > 63)
		return 0;
	bit = 1ULL << cap;
	if (e->policy->caps_allowed & bit)
		return 0;
	level = BPF_CORE_READ(ns, level);
	if (level > 0 && (e->policy->caps_allowed_userns & bit))
		return 0;
	/* Last: only would-be violations pay for it. */
	if (borrowed_credentials(cred))
		return 0;

	what = outcome(e->policy, can_deny, true);
	ev = begin_report(e, FP_KIND_CAPABILITY, cap, level, what);
	if (ev) {
		struct path_scratch *s = get_path_scratch();

		ev->cap = cap;
		if (level > 0)
			ev->flags = FP_CAP_USERNS;
		if (s)
			report_exe(ev, s);
		report_syscall(ev);
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

SEC("lsm/capable")
int BPF_PROG(fp_enforce_capable_lsm, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts, int ret)
{
	struct enforced e;

	if (ret)
		return denied_before(ret);
	if (opts & CAP_OPT_NOAUDIT)
		return 0;
	if (!enforced_policy(&e, FP_KIND_CAPABILITY, true))
		return 0;
	return check_capability(&e, cred, cap, ns, true);
}

/* User namespaces nest 32 deep at most. */
#define USERNS_MAX_DEPTH 33

/*
 * cap_would_grant is the capability module's verdict (cap_capable): the
 * capability is granted when the credentials' user namespace is ns, or an
 * ancestor of it, and the capability is effective there, or when the
 * credentials own a user namespace between the two. A check the kernel
 * would deny anyway is no violation: reporting it would be noise, and the
 * Kill action would kill a process for a request that fails by itself.
 */
static __always_inline bool cap_would_grant(const struct cred *cred, struct user_namespace *ns,
					    int cap)
{
	struct user_namespace *cred_ns = BPF_CORE_READ(cred, user_ns), *parent;
	__u32 cred_level = BPF_CORE_READ(cred_ns, level);
	__u32 euid = BPF_CORE_READ(cred, euid.val);
	__u64 effective = 0;

	for (int i = 0; i < USERNS_MAX_DEPTH; i++) {
		if (ns == cred_ns) {
			/* kernel_cap_t is a u64 (6.3+) or two u32s, low
			 * word first: the same 8 bytes on little-endian. */
			bpf_core_read(&effective, sizeof(effective), &cred->cap_effective);
			return effective & (1ULL << cap);
		}
		if (BPF_CORE_READ(ns, level) <= cred_level)
			return false;
		parent = BPF_CORE_READ(ns, parent);
		if (parent == cred_ns && BPF_CORE_READ(ns, owner.val) == euid)
			return true;
		ns = parent;
	}
	return false;
}

SEC("fmod_ret/security_capable")
int BPF_PROG(fp_enforce_capable_fmod_ret, const struct cred *cred, struct user_namespace *ns,
	     int cap, unsigned int opts, int ret)
{
	struct enforced e;

	if (ret)
		return denied_before(ret);
	if (opts & CAP_OPT_NOAUDIT)
		return 0;
	/* The cheap test first: the verdict and the namespace walk only for
	 * checks that would otherwise be violations. */
	if (!enforced_policy(&e, FP_KIND_CAPABILITY, true))
		return 0;
	if (cap < 0 || cap > 63 || (e.policy->caps_allowed & (1ULL << cap)))
		return 0;
	if (!cap_would_grant(cred, ns, cap))
		return 0;
	return check_capability(&e, cred, cap, ns, true);
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
	check_capability(&e, cred, cap, target_ns, false);
	return 0;
}
