/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps and helpers shared by every recorder program. Each object that
 * includes this header declares the same shared maps; the loader creates them
 * once and hands the same instances to every object (MapReplacements), so the
 * definitions here must stay identical across objects.
 */
#ifndef FOOTPRINT_COMMON_H
#define FOOTPRINT_COMMON_H

#include "kernel.h"
#include "watched.h"
#include "runtime.h"

/*
 * First sightings, to user space. Repeats never come here: they are counted
 * in the aggregation maps. 256 KiB holds ~450 file records; the loader may
 * resize it, and losing records loses no entry (user space sweeps the maps).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Per-CPU counters, indexed kind * FP_COUNTERS_PER_KIND + enum fp_counter_what. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * FP_COUNT_LOST per cgroup and kind. Sized like watched_cgroups: entries are
 * made only for cgroups that lost a sighting, which needs a full
 * aggregation map and a full ring buffer at once. When this map is full
 * too, the per-kind counter still counts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fp_lost_key);
	__type(value, __u64);
} lost_sightings SEC(".maps");

static __always_inline void count(__u32 kind, __u32 what)
{
	__u32 idx = kind * FP_COUNTERS_PER_KIND + what;
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += 1;
}

/*
 * recording returns the watch of the current process's cgroup when events of
 * this kind are being recorded there, and stores the cgroup id in *cgid.
 */
static __always_inline struct fp_watch *recording(__u32 kind, __u64 *cgid)
{
	__u64 id = bpf_get_current_cgroup_id();
	struct fp_watch *w = bpf_map_lookup_elem(&watched_cgroups, &id);

	if (!w)
		return NULL;
	if (!(w->flags & FP_WATCH_LIVE) || !(w->kinds & (1U << kind)))
		return NULL;
	if ((w->flags & FP_WATCH_CONTAINERS) && runtime_task())
		return NULL;
	*cgid = id;
	return w;
}

/* What seen() found. */
enum fp_sighting {
	FP_SIGHTING_REPEAT = 0, /* counted in the map: nothing to send */
	FP_SIGHTING_NEW = 1,    /* a first sighting, now in the map */
	FP_SIGHTING_UNKEPT = 2, /* a sighting the full map could not keep */
};

static __always_inline void fill_header(struct fp_event_header *hdr, __u32 kind,
					enum fp_sighting sighting)
{
	hdr->kind = kind;
	hdr->pid = bpf_get_current_pid_tgid() >> 32;
	hdr->flags = sighting == FP_SIGHTING_UNKEPT ? FP_EVENT_UNKEPT : 0;
	hdr->_pad = 0;
	hdr->timestamp_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

/*
 * not_sent counts a sighting the ring buffer had no room for. A first
 * sighting of an entry the map keeps loses nothing (user space sweeps the
 * map); one the map could not keep is lost, and counted per cgroup.
 */
static __always_inline void not_sent(__u32 kind, __u64 cgid, enum fp_sighting sighting)
{
	struct fp_lost_key key = { .cgroup_id = cgid, .kind = kind };
	__u64 one = 1, *n;

	count(kind, FP_COUNT_RINGBUF_LOST);
	if (sighting != FP_SIGHTING_UNKEPT)
		return;
	count(kind, FP_COUNT_LOST);
	n = bpf_map_lookup_elem(&lost_sightings, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&lost_sightings, &key, &one, BPF_NOEXIST) == -EEXIST) {
		n = bpf_map_lookup_elem(&lost_sightings, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

/*
 * seen counts one event under key in an aggregation map whose values are
 * struct fp_seen, and says whether this is the entry's first sighting (the
 * caller then sends it to user space). When the map is full every sighting
 * is FP_SIGHTING_UNKEPT: the ring buffer is then the only copy, and the
 * MAP_FULL counter says so.
 */
static __always_inline enum fp_sighting seen(void *map, const void *key, __u32 kind)
{
	struct fp_seen *s = bpf_map_lookup_elem(map, key);
	struct fp_seen first = {};
	long err;

	count(kind, FP_COUNT_EVENTS);
	if (s) {
		__sync_fetch_and_add(&s->count, 1);
		return FP_SIGHTING_REPEAT;
	}
	first.count = 1;
	first.first_seen_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(map, key, &first, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU inserted it between our lookup and update. */
		s = bpf_map_lookup_elem(map, key);
		if (s)
			__sync_fetch_and_add(&s->count, 1);
		return FP_SIGHTING_REPEAT;
	}
	if (err) {
		count(kind, FP_COUNT_MAP_FULL);
		return FP_SIGHTING_UNKEPT;
	}
	count(kind, FP_COUNT_NEW);
	return FP_SIGHTING_NEW;
}

#endif /* FOOTPRINT_COMMON_H */
