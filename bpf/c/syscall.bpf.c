// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * System calls: which ones each recorded cgroup makes, per ABI (native and
 * 32-bit compat apart), as one bit each in a 144-byte value per cgroup, with
 * the address families its socket(2) and socketpair(2) calls pass, one bit
 * each (what a seccomp filter can hold them to). No event per call and no
 * ring-buffer record: user space sweeps the bits.
 *
 * The hook runs on every system call of every task while attached (and its
 * attachment alone puts every system call on the slow path), so the loader
 * attaches it only while some cgroup is recorded for system calls. A repeat
 * costs the watch lookup, one lookup here and a bit test.
 *
 * Backends, best first: tp_btf/sys_enter, tracepoint/raw_syscalls/sys_enter.
 */
#include "common.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One entry per recorded cgroup that made a system call: 144 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct fp_syscalls);
} syscalls_seen SEC(".maps");

/* record_family sets the family bit of a socket(2) or socketpair(2) call. */
static __always_inline void record_family(__u64 *families, __u64 family)
{
	__u64 bit;

	if (family >= FP_SOCKET_FAMILY_MAX) {
		/* refused by the kernel (EAFNOSUPPORT) or newer than the table */
		count(FP_KIND_SYSCALL, FP_COUNT_TRUNCATED);
		return;
	}
	bit = 1ULL << family;
	if (*families & bit)
		return;
	__sync_fetch_and_or(families, bit);
	count(FP_KIND_SYSCALL, FP_COUNT_NEW);
}

/*
 * arg0 is a call's first argument: from the registers regs (tp_btf), where
 * it is in rdi for a native call and in ebx for a 32-bit one, or else from
 * the tracepoint's args (the kernel took them from the ABI's registers).
 */
static __always_inline __u64 arg0(struct pt_regs *regs, struct trace_event_raw_sys_enter *tp, bool compat)
{
	if (tp)
		return BPF_CORE_READ(tp, args[0]);
	return compat ? BPF_CORE_READ(regs, bx) : BPF_CORE_READ(regs, di);
}

/*
 * record_syscall records call id, and the family of a socket(2) or
 * socketpair(2) call: an int, so the argument's low 32 bits, as the kernel
 * reads it. Arguments are read only for those calls.
 */
static __always_inline void record_syscall(long id, struct pt_regs *regs, struct trace_event_raw_sys_enter *tp)
{
	struct fp_syscalls *s, none = {};
	__u64 cgid, bit, *word;
	bool compat;
	__u32 idx;

	if (!recording(FP_KIND_SYSCALL, &cgid))
		return;
	if (id < 0 || id >= FP_SYSCALL_MAX) {
		/* x32 (bit 30) or a number no table has yet. */
		count(FP_KIND_SYSCALL, FP_COUNT_TRUNCATED);
		return;
	}
	s = bpf_map_lookup_elem(&syscalls_seen, &cgid);
	if (!s) {
		if (bpf_map_update_elem(&syscalls_seen, &cgid, &none, BPF_NOEXIST) == -E2BIG) {
			count(FP_KIND_SYSCALL, FP_COUNT_MAP_FULL);
			return;
		}
		s = bpf_map_lookup_elem(&syscalls_seen, &cgid);
		if (!s)
			return;
	}
	compat = compat_syscall();
	if (socket_call(id, compat))
		record_family(compat ? &s->compat_families : &s->native_families, (__u32)arg0(regs, tp, compat));
	idx = ((__u32)id / 64) & (FP_SYSCALL_WORDS - 1);
	bit = 1ULL << (id & 63);
	if (compat)
		word = &s->compat[idx];
	else
		word = &s->native[idx];
	if (*word & bit)
		return;
	__sync_fetch_and_or(word, bit);
	count(FP_KIND_SYSCALL, FP_COUNT_NEW);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fp_syscall_tp_btf, struct pt_regs *regs, long id)
{
	record_syscall(id, regs, NULL);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int fp_syscall_tp(struct trace_event_raw_sys_enter *ctx)
{
	record_syscall(ctx->id, NULL, ctx);
	return 0;
}
