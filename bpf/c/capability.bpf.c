// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capability checks: which capability, the kernel's verdict, and whether the
 * check was a no-audit probe (CAP_OPT_NOAUDIT) rather than a need. Checks
 * made with borrowed credentials (kernel.h) are not the workload's.
 *
 * Backends, best first: fexit/cap_capable sees opts directly;
 * tp_btf/cap_capable (6.14+) has no opts, so no-audit callers are recognised
 * by their address on the kernel stack. lsm/capable is not used for
 * recording: the capability module runs first and a denied check never
 * reaches the BPF LSM.
 */
#include "common.h"
#include "noaudit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Aggregation: one entry per (cgroup, capability, flags). 41 capabilities x a
 * few flag combinations x hundreds of containers. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_capability_key);
	__type(value, struct fp_seen);
} capabilities_seen SEC(".maps");

static __always_inline void record_capability(__u64 cgid, int cap, int ret, __u32 flags,
					      const struct user_namespace *ns)
{
	struct fp_capability_key key = {};
	struct fp_capability_event *ev;
	enum fp_sighting sighting;

	key.cgroup_id = cgid;
	key.cap = cap;
	key.flags = flags;
	if (ret)
		key.flags |= FP_CAP_DENIED;
	if (BPF_CORE_READ(ns, level) > 0)
		key.flags |= FP_CAP_USERNS;
	sighting = seen(&capabilities_seen, &key, FP_KIND_CAPABILITY);
	if (sighting == FP_SIGHTING_REPEAT)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		not_sent(FP_KIND_CAPABILITY, key.cgroup_id, sighting);
		return;
	}
	fill_header(&ev->hdr, FP_KIND_CAPABILITY, sighting);
	ev->key = key;
	bpf_ringbuf_submit(ev, 0);
}

SEC("fexit/cap_capable")
int BPF_PROG(fp_capable_fexit, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts, int ret)
{
	__u64 cgid;

	if (!recording(FP_KIND_CAPABILITY, &cgid) || borrowed_credentials(cred))
		return 0;
	record_capability(cgid, cap, ret, (opts & CAP_OPT_NOAUDIT) ? FP_CAP_NOAUDIT : 0, ns);
	return 0;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(fp_capable_tp_btf, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	__u64 cgid;

	if (!recording(FP_KIND_CAPABILITY, &cgid) || borrowed_credentials(cred))
		return 0;
	record_capability(cgid, cap, ret, called_without_audit(ctx, cap) ? FP_CAP_NOAUDIT : 0,
			  target_ns);
	return 0;
}
