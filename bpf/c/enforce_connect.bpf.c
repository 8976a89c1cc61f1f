// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connect rules: TCP and UDP connect and unconnected UDP sends are allowed
 * when an allowed CIDR contains the destination with its protocol and port,
 * or with its protocol and any port: two lookups. The cgroup sock_addr hooks, attached at the cgroup v2 root,
 * deny with EPERM on any cgroup-v2 kernel. They cannot send signals: the
 * Kill action denies here.
 */
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

/* family is a constant in every caller (see connect.bpf.c). */
static __always_inline int check_sockaddr(struct bpf_sock_addr *ctx, __u16 family)
{
	struct fp_connect_rule_key key = {};
	struct fp_violation_event *ev;
	struct enforced e;
	__u64 object, detail;
	__u32 what;

	if (!enforced_policy(&e, FP_KIND_CONNECT, true))
		return 1;
	key.prefixlen = 8 * (sizeof(key) - sizeof(key.prefixlen));
	key.set = e.policy->connect_set;
	key.protocol = ctx->protocol;
	key.port = bpf_ntohs(ctx->user_port);
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;

		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip4, 4);
	} else {
		__u32 ip6[4];

		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		__builtin_memcpy(key.addr, ip6, 16);
	}
	if (bpf_map_lookup_elem(&connect_rules, &key))
		return 1;
	key.any_port = 1;
	key.port = 0;
	if (bpf_map_lookup_elem(&connect_rules, &key))
		return 1;

	what = outcome(e.policy, true, false);
	__builtin_memcpy(&object, key.addr, 8);
	__builtin_memcpy(&detail, &key.addr[8], 8);
	detail ^= (__u64)bpf_ntohs(ctx->user_port) << 8 | ctx->protocol;
	ev = begin_report(&e, FP_KIND_CONNECT, object, detail, what);
	if (ev) {
		__builtin_memcpy(ev->addr, key.addr, 16);
		ev->port = bpf_ntohs(ctx->user_port);
		ev->protocol = ctx->protocol;
		bpf_ringbuf_submit(ev, 0);
	}
	return what == FP_OUTCOME_AUDITED ? 1 : 0;
}

SEC("cgroup/connect4")
int fp_enforce_connect4(struct bpf_sock_addr *ctx)
{
	return check_sockaddr(ctx, AF_INET);
}

SEC("cgroup/connect6")
int fp_enforce_connect6(struct bpf_sock_addr *ctx)
{
	return check_sockaddr(ctx, AF_INET6);
}

SEC("cgroup/sendmsg4")
int fp_enforce_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check_sockaddr(ctx, AF_INET);
}

SEC("cgroup/sendmsg6")
int fp_enforce_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check_sockaddr(ctx, AF_INET6);
}
