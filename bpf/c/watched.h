/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cgroups whose processes are recorded, by cgroup v2 id: the one lookup
 * an unwatched process pays in every recorder program. The lifecycle object
 * adds the cgroups created under a watched one; user space adds the rest.
 * 16384 covers hundreds of pods with a few nested cgroups each.
 */
#ifndef FOOTPRINT_WATCHED_H
#define FOOTPRINT_WATCHED_H

#include "kernel.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct fp_watch);
} watched_cgroups SEC(".maps");

#endif /* FOOTPRINT_WATCHED_H */
