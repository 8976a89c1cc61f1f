// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * System calls: which ones each recorded cgroup makes, per ABI (native and
 * 32-bit compat apart), as one bit each in a 128-byte value per cgroup. No
 * event per call and no ring-buffer record: user space sweeps the bits.
 *
 * The hook runs on every system call of every task while attached (and its
 * attachment alone puts every system call on the slow path), so the loader
 * attaches it only while some cgroup is recorded for system calls. A repeat
 * costs the watch lookup, one lookup here and a bit test.
 *
 * Backends, best first: tp_btf/sys_enter, tracepoint/raw_syscalls/sys_enter.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86's "a 32-bit system call is running" (asm/thread_info.h). */
#define TS_COMPAT 0x0002

/* One entry per recorded cgroup that made a system call: 128 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct fp_syscalls);
} syscalls_seen SEC(".maps");

static __always_inline void record_syscall(long id)
{
	struct fp_syscalls *s, none = {};
	struct task_struct *task;
	__u64 cgid, bit, *word;
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
	task = bpf_get_current_task_btf();
	idx = ((__u32)id / 64) & (FP_SYSCALL_WORDS - 1);
	bit = 1ULL << (id & 63);
	if (task->thread_info.status & TS_COMPAT)
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
	record_syscall(id);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int fp_syscall_tp(struct trace_event_raw_sys_enter *ctx)
{
	record_syscall(ctx->id);
	return 0;
}
