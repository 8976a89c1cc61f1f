/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every footprint program includes: kernel types, libbpf's helpers and
 * the structures shared with user space. No maps: objects declare only the
 * maps they use. */
#ifndef FOOTPRINT_KERNEL_H
#define FOOTPRINT_KERNEL_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "footprint.h"

#ifndef E2BIG
#define E2BIG 7
#endif
#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef EPERM
#define EPERM 1
#endif
#define SIGKILL 9
#define PF_EXITING 0x00000004
#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000

/* on_default_hierarchy says whether a cgroup is cgroup v2's: cgroup ids are
 * per hierarchy, and only v2's are the ones the hooks see. */
static __always_inline bool on_default_hierarchy(struct cgroup *cgrp)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(cgrp, root) == BPF_CORE_READ(task, cgroups, dfl_cgrp, root);
}

/*
 * borrowed_credentials says whether a capability check is made with
 * credentials other than the task's own: the kernel acting for someone else
 * under override_creds (overlayfs reading its trusted.* xattrs with the
 * mounter's credentials on the workload's lookups), or a check against the
 * credentials a file was opened with. Neither is the task's need, and
 * neither is the task's to be held to.
 *
 * Except in io_uring: it runs a task's requests under credentials it
 * registered earlier (a personality) or snapshotted, which are the task's
 * own doing. A task that has used io_uring (task->io_uring) and io_uring's
 * own workers are always held to their checks, borrowed or not.
 */
static __always_inline bool borrowed_credentials(const struct cred *cred)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (cred == BPF_CORE_READ(task, real_cred))
		return false;
	if (BPF_CORE_READ(task, flags) & PF_IO_WORKER)
		return false;
	if (bpf_core_field_exists(task->io_uring) && BPF_CORE_READ(task, io_uring))
		return false;
	return true;
}

#endif /* FOOTPRINT_KERNEL_H */
