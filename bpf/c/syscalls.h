/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the system call recorder (syscall.bpf.c) and the reporter of calls
 * outside a policy (enforce_syscall.bpf.c) both know of x86's system calls:
 * which ABI a call is of, and which calls take an address family first.
 */
#ifndef FOOTPRINT_SYSCALLS_H
#define FOOTPRINT_SYSCALLS_H

/* x86's "a 32-bit system call is running" (asm/thread_info.h): set at
 * entry, still set at sys_exit, cleared on the way back to user space. */
#define TS_COMPAT 0x0002

/* socket(2) and socketpair(2) of each ABI (syscall_64.tbl, syscall_32.tbl),
 * whose first argument is the address family. */
#define NR_SOCKET_X86_64 41
#define NR_SOCKETPAIR_X86_64 53
#define NR_SOCKET_I386 359
#define NR_SOCKETPAIR_I386 360

/* compat_syscall says whether the current task's call is a 32-bit one. */
static __always_inline bool compat_syscall(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return task->thread_info.status & TS_COMPAT;
}

/* socket_call says whether call id of an ABI takes an address family. */
static __always_inline bool socket_call(long id, bool compat)
{
	if (compat)
		return id == NR_SOCKET_I386 || id == NR_SOCKETPAIR_I386;
	return id == NR_SOCKET_X86_64 || id == NR_SOCKETPAIR_X86_64;
}

#endif /* FOOTPRINT_SYSCALLS_H */
