// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * System calls outside a policy's allow-list: the reporter. The seccomp
 * filter the policy compiles into refuses them (Enforce) or logs them to
 * the kernel's audit log (Audit), and neither tells footprint; this program
 * sees each call a held process made as it returns and reports the ones the
 * policy does not allow, with what seccomp did about it.
 *
 * sys_exit, not sys_enter: a call seccomp refused never reaches the
 * sys_enter tracepoint (syscall_trace_enter returns before it when the
 * filter says no), and always reaches sys_exit, with the filter's errno as
 * its return value. That is what tells "refused" from "let through by a
 * process that runs without the policy's filter".
 *
 * Its mere attachment puts every system call of every task on the node on
 * the slow path, so the loader attaches it only while some cgroup is held to
 * a policy that governs system calls. A process no policy governs pays the
 * enforced-cgroup lookup; a held one a lookup of its policy's bitmap and a
 * bit test per call.
 *
 * Backend: tp_btf/sys_exit (the registers give the number, the ABI's
 * arguments and the return value).
 */
#include "enforce.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SECCOMP_MODE_FILTER 2
#ifndef ENOSYS
#define ENOSYS 38
#endif

/*
 * The allowed system calls of every installed policy version, one bit per
 * number and ABI, with the address families socket(2) and socketpair(2) are
 * restricted to (0: any family). Written by the installer from the compiled
 * policy, under the version the policy entry names, so that a new version
 * swaps its bitmap with the policy. One per version in flight, like the
 * policies map (1024); 144 bytes each, allocated as used.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_syscall_rule_key);
	__type(value, struct fp_syscalls);
} syscall_rules SEC(".maps");

/*
 * exec_in_progress says whether a thread of the current process is inside
 * execve: it holds the process's cred_guard_mutex from before the exec
 * check (which makes a held cgroup live, in the LSM's bprm_check) until the
 * new program is set up, after de_thread has ended every other thread. The
 * calls the other threads make meanwhile are the old program's (the Go
 * runtime threads of footprint enforce's own shim, say), not the workload's.
 * ptrace attach and seccomp's TSYNC take the mutex too, briefly; a call
 * made then goes unreported, and is still refused by the filter.
 */
static __always_inline bool exec_in_progress(struct task_struct *task)
{
	struct mutex *m = NULL;

	/* PREEMPT_RT's mutex has no owner word: report as before there. */
	if (!bpf_core_field_exists(m->owner))
		return false;
	/* The owner's task pointer; the low 3 bits are flags. */
	return (BPF_CORE_READ(task, signal, cred_guard_mutex.owner.counter) & ~0x07L) != 0;
}

static __always_inline void check_syscall(struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fp_syscall_rule_key key = {};
	struct fp_violation_event *ev;
	struct fp_syscalls *allowed;
	struct path_scratch *s;
	__u64 families, word = 0, object, detail = 0;
	struct enforced e;
	long id = BPF_CORE_READ(regs, orig_ax);
	__u32 what, flags = 0, family = 0;
	bool compat, filtered;

	/* -1: no call (a tracer or syscall user dispatch skipped it). */
	if (id < 0)
		return;
	if (!enforced_policy(&e, FP_KIND_SYSCALL, true))
		return;
	key.policy_id = e.policy_id;
	key.version = e.policy->version;
	allowed = bpf_map_lookup_elem(&syscall_rules, &key);
	if (!allowed)
		return;
	compat = compat_syscall();
	if (compat)
		flags |= FP_SYSCALL_COMPAT;
	/* x32's numbers (bit 30) and numbers beyond every table are in no
	 * allow-list: the filter refuses them. */
	if (id < FP_SYSCALL_MAX) {
		__u32 idx = ((__u32)id / 64) & (FP_SYSCALL_WORDS - 1);

		word = compat ? allowed->compat[idx] : allowed->native[idx];
	}
	if (word & (1ULL << (id & 63))) {
		families = compat ? allowed->compat_families : allowed->native_families;
		if (!families || !socket_call(id, compat))
			return;
		/* An int: the argument's low 32 bits, as the kernel reads it
		 * (rdi for a native call, ebx for a 32-bit one). */
		family = compat ? (__u32)BPF_CORE_READ(regs, bx) : (__u32)BPF_CORE_READ(regs, di);
		if (family < FP_SOCKET_FAMILY_MAX && (families & (1ULL << family)))
			return;
		flags |= FP_SYSCALL_FAMILY;
		detail = (__u64)family + 1;
	}

	if (exec_in_progress(task))
		return;
	filtered = BPF_CORE_READ(task, seccomp.mode) == SECCOMP_MODE_FILTER;
	if (!filtered)
		flags |= FP_SYSCALL_NO_FILTER;
	if (e.policy->mode != FP_MODE_ENFORCE)
		what = FP_OUTCOME_AUDITED;
	else if (filtered && (ret == -EPERM || ret == -ENOSYS))
		/* The policy's filter refuses with EPERM, and with ENOSYS the
		 * numbers above every one it names. */
		what = FP_OUTCOME_DENIED;
	else
		what = FP_OUTCOME_UNFILTERED;
	object = (__u64)(__u32)id | ((__u64)compat << 32);
	ev = begin_report(&e, FP_KIND_SYSCALL, object, detail, what);
	if (!ev)
		return;
	ev->syscall = (__u32)id + 1;
	ev->flags = flags;
	ev->family = family;
	s = get_path_scratch();
	if (s)
		report_exe(ev, s);
	bpf_ringbuf_submit(ev, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fp_enforce_sys_exit, struct pt_regs *regs, long ret)
{
	check_syscall(regs, ret);
	return 0;
}
