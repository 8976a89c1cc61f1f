/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cgroups held to a policy, by cgroup v2 id: the one lookup an
 * unenforced process pays in every enforcer program. The lifecycle object
 * adds the cgroups created under an enforced one; user space adds the rest.
 * Sized like watched_cgroups.
 */
#ifndef FOOTPRINT_ENFORCED_H
#define FOOTPRINT_ENFORCED_H

#include "kernel.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct fp_enforced_cgroup);
} enforced_cgroups SEC(".maps");

#endif /* FOOTPRINT_ENFORCED_H */
