/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Telling no-audit capability probes (CAP_OPT_NOAUDIT: the kernel asking
 * whether a process happens to hold a capability, e.g. memory accounting's
 * CAP_SYS_ADMIN) from needs, where the hook has no opts argument
 * (tp_btf/cap_capable): a check is a probe when a known no-audit caller is on
 * the kernel stack. Shared by the recorder and the enforcer.
 */
#ifndef FOOTPRINT_NOAUDIT_H
#define FOOTPRINT_NOAUDIT_H

#include "kernel.h"

#define CAP_OPT_NOAUDIT (1U << 1)

/* Text ranges of kernel functions that only make no-audit checks (e.g.
 * cap_vm_enough_memory, ns_capable_noaudit), filled from /proc/kallsyms by
 * the loader. Empty when kallsyms hides addresses. */
const volatile struct fp_text_range noaudit_callers[FP_NOAUDIT_RANGES] = {};
const volatile __u32 noaudit_caller_count = 0;

/*
 * Walking the stack costs ~2 us; a call site is classified once and
 * remembered by a fingerprint that is cheap to take: the capability, the
 * syscall and the depth of the kernel stack at the hook. The same call path
 * always has the same depth, and two different paths with the same syscall,
 * capability and depth are not expected in practice. 4096 sites is far more
 * than a kernel has capability call paths; LRU so that it never fills.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} noaudit_by_call_site SEC(".maps");

static __always_inline bool stack_has_noaudit_caller(void *ctx)
{
	__u64 ips[FP_STACK_DEPTH] = {};
	long n = bpf_get_stack(ctx, ips, sizeof(ips), 0);

	if (n <= 0)
		return false;
	for (int i = 0; i < FP_STACK_DEPTH; i++) {
		if (i * sizeof(__u64) >= n)
			break;
		for (int j = 0; j < FP_NOAUDIT_RANGES; j++) {
			if (j >= noaudit_caller_count)
				break;
			if (ips[i] >= noaudit_callers[j].start && ips[i] < noaudit_callers[j].end)
				return true;
		}
	}
	return false;
}

static __always_inline __u64 call_site(int cap)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	volatile __u64 anchor = 0;
	void *here = (void *)&anchor;
	__u64 sp = 0, depth;

	/* The address of a local, read back as a number: where this program
	 * runs on the kernel stack. */
	bpf_probe_read_kernel(&sp, sizeof(sp), &here);
	depth = sp - (__u64)BPF_CORE_READ(task, stack);
	return (depth & 0xffffffff) | ((__u64)(cap & 0xff) << 32) |
	       ((__u64)(BPF_CORE_READ(regs, orig_ax) & 0xffffff) << 40);
}

static __always_inline bool called_without_audit(void *ctx, int cap)
{
	__u64 site;
	__u8 *known, noaudit;

	if (noaudit_caller_count == 0)
		return false;
	site = call_site(cap);
	known = bpf_map_lookup_elem(&noaudit_by_call_site, &site);
	if (known)
		return *known;
	noaudit = stack_has_noaudit_caller(ctx);
	bpf_map_update_elem(&noaudit_by_call_site, &site, &noaudit, BPF_ANY);
	return noaudit;
}

#endif /* FOOTPRINT_NOAUDIT_H */
