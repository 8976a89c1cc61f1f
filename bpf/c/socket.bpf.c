// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sockets beyond an inet connect: AF_UNIX destinations (a local daemon's
 * socket is a peer like any address), explicit inet binds, raw inet and
 * packet sockets, and listen() on a port the kernel picks. Recorded when
 * connections are (the loader watches both kinds together).
 *
 * Backends, best first:
 *  - cgroup hooks at the cgroup v2 root: connect_unix and sendmsg_unix
 *    (Linux 6.7+), bind4/bind6 and sock_create (every cgroup-v2 kernel).
 *    They do not see AF_PACKET sockets nor a listen() without bind().
 *  - fentry on security_socket_connect/sendmsg/create/listen: every route,
 *    on kernels that allow trampolines (not this project's host).
 *  - the inet cgroup hooks alone: AF_UNIX destinations are not recorded.
 */
#include "common.h"
#include "socket.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One entry per (cgroup, operation, address). A workload talks to a few
 * local sockets and binds a few ports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_socket_key);
	__type(value, struct fp_seen);
} sockets_seen SEC(".maps");

/* The key is 144 bytes: built in a per-CPU slot, not on the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_socket_key);
} socket_scratch SEC(".maps");

/* new_key returns a zeroed key for the current cgroup when it is recorded
 * for sockets, else NULL. */
static __always_inline struct fp_socket_key *new_key(void)
{
	struct fp_socket_key *key;
	__u32 zero = 0;
	__u64 cgid;

	if (!recording(FP_KIND_SOCKET, &cgid))
		return NULL;
	key = bpf_map_lookup_elem(&socket_scratch, &zero);
	if (!key)
		return NULL;
	__builtin_memset(key, 0, sizeof(*key));
	key->cgroup_id = cgid;
	return key;
}

static __always_inline void record(struct fp_socket_key *key)
{
	enum fp_sighting sighting = seen(&sockets_seen, key, FP_KIND_SOCKET);
	struct fp_socket_event *ev;

	if (sighting == FP_SIGHTING_REPEAT)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		not_sent(FP_KIND_SOCKET, key->cgroup_id, sighting);
		return;
	}
	fill_header(&ev->hdr, FP_KIND_SOCKET, sighting);
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	bpf_ringbuf_submit(ev, 0);
}

/* Returning 1 lets the operation proceed: recording never denies. */

/* ---- cgroup hooks ---- */

static __always_inline void record_unix(struct bpf_sock_addr *ctx, __u8 op)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	struct fp_socket_key *key = new_key();

	if (!key)
		return;
	key->op = op;
	unix_key(key, sa->uaddr, sa->uaddrlen);
	record(key);
}

SEC("cgroup/connect_unix")
int fp_socket_connect_unix(struct bpf_sock_addr *ctx)
{
	record_unix(ctx, FP_SOCKET_UNIX_CONNECT);
	return 1;
}

SEC("cgroup/sendmsg_unix")
int fp_socket_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	record_unix(ctx, FP_SOCKET_UNIX_SENDMSG);
	return 1;
}

SEC("cgroup/bind4")
int fp_socket_bind4(struct bpf_sock_addr *ctx)
{
	struct fp_socket_key *key = new_key();

	if (key) {
		key->op = FP_SOCKET_BIND;
		inet4_key(key, ctx->user_ip4, ctx->user_port, ctx->protocol);
		record(key);
	}
	return 1;
}

SEC("cgroup/bind6")
int fp_socket_bind6(struct bpf_sock_addr *ctx)
{
	struct fp_socket_key *key = new_key();

	if (key) {
		__u32 ip6[4];

		key->op = FP_SOCKET_BIND;
		key->family = AF_INET6;
		key->protocol = ctx->protocol;
		key->port = bpf_ntohs(ctx->user_port);
		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		__builtin_memcpy(key->addr, ip6, 16);
		record(key);
	}
	return 1;
}

SEC("cgroup/sock_create")
int fp_socket_create(struct bpf_sock *ctx)
{
	struct fp_socket_key *key;

	if (!raw_socket(ctx->family, ctx->type))
		return 1;
	key = new_key();
	if (key) {
		raw_key(key, ctx->family, ctx->protocol);
		record(key);
	}
	return 1;
}

/* ---- fentry on the security_socket_* functions: every route ---- */

SEC("fentry/security_socket_connect")
int BPF_PROG(fp_socket_connect_fentry, struct socket *sock, struct sockaddr *address, int addrlen)
{
	struct fp_socket_key *key = new_key();

	if (key && unix_addr_of(key, address, addrlen, FP_SOCKET_UNIX_CONNECT))
		record(key);
	return 0;
}

SEC("fentry/security_socket_sendmsg")
int BPF_PROG(fp_socket_sendmsg_fentry, struct socket *sock, struct msghdr *msg, int size)
{
	struct fp_socket_key *key = new_key();

	if (key && sendmsg_unix_addr(key, msg))
		record(key);
	return 0;
}

SEC("fentry/security_socket_create")
int BPF_PROG(fp_socket_create_fentry, int family, int type, int protocol, int kern)
{
	struct fp_socket_key *key;

	/* Inet raw sockets are left to the sock_create hook, which this
	 * backend attaches too; the kernel's own sockets are not the
	 * workload's. */
	if (kern || family != AF_PACKET)
		return 0;
	key = new_key();
	if (key) {
		raw_key(key, family, protocol);
		record(key);
	}
	return 0;
}

SEC("fentry/security_socket_listen")
int BPF_PROG(fp_socket_listen_fentry, struct socket *sock, int backlog)
{
	struct fp_socket_key *key = new_key();

	if (key && autobound_listen(sock, key))
		record(key);
	return 0;
}
