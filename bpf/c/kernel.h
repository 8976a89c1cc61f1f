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

/* on_default_hierarchy says whether a cgroup is cgroup v2's: cgroup ids are
 * per hierarchy, and only v2's are the ones the hooks see. */
static __always_inline bool on_default_hierarchy(struct cgroup *cgrp)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(cgrp, root) == BPF_CORE_READ(task, cgroups, dfl_cgrp, root);
}

#endif /* FOOTPRINT_KERNEL_H */
