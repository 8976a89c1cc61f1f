// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Outbound connections: TCP and UDP connect, and unconnected UDP sends (so
 * DNS over an unconnected socket shows up). The cgroup sock_addr hooks are
 * attached once at the cgroup v2 root and work on any cgroup-v2 kernel; the
 * same hooks are where enforcement denies a connect with EPERM.
 */
#include "common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

/* One entry per (cgroup, destination, protocol, operation). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_connect_key);
	__type(value, struct fp_seen);
} connections_seen SEC(".maps");

/* family is a constant in every caller: a connect4 program may not even read
 * user_ip6, so the branch must be resolved at compile time. */
static __always_inline void record_sockaddr(struct bpf_sock_addr *ctx, __u8 op, __u16 family)
{
	struct fp_connect_key key = {};
	struct fp_connect_event *ev;
	enum fp_sighting sighting;
	__u64 cgid;

	if (!recording(FP_KIND_CONNECT, &cgid))
		return;
	key.cgroup_id = cgid;
	key.family = family;
	key.port = bpf_ntohs(ctx->user_port);
	key.protocol = ctx->protocol;
	key.op = op;
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;

		__builtin_memcpy(key.addr, &ip4, 4);
	} else {
		__u32 ip6[4];

		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		__builtin_memcpy(key.addr, ip6, 16);
	}
	sighting = seen(&connections_seen, &key, FP_KIND_CONNECT);
	if (sighting == FP_SIGHTING_REPEAT)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		not_sent(FP_KIND_CONNECT, key.cgroup_id, sighting);
		return;
	}
	fill_header(&ev->hdr, FP_KIND_CONNECT, sighting);
	ev->key = key;
	bpf_ringbuf_submit(ev, 0);
}

/* Returning 1 lets the operation proceed: recording never denies. */

SEC("cgroup/connect4")
int fp_connect4(struct bpf_sock_addr *ctx)
{
	record_sockaddr(ctx, FP_CONNECT, AF_INET);
	return 1;
}

SEC("cgroup/connect6")
int fp_connect6(struct bpf_sock_addr *ctx)
{
	record_sockaddr(ctx, FP_CONNECT, AF_INET6);
	return 1;
}

SEC("cgroup/sendmsg4")
int fp_sendmsg4(struct bpf_sock_addr *ctx)
{
	record_sockaddr(ctx, FP_SENDMSG, AF_INET);
	return 1;
}

SEC("cgroup/sendmsg6")
int fp_sendmsg6(struct bpf_sock_addr *ctx)
{
	record_sockaddr(ctx, FP_SENDMSG, AF_INET6);
	return 1;
}
