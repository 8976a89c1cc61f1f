// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket rules: an AF_UNIX connect or send, an inet bind, a raw inet or
 * packet socket, and a listen() on a port the kernel picks are allowed when
 * the policy's socket rules (socket_rules, under the policy's connect_set
 * id) hold the operation exactly: one lookup.
 *
 * Backends, best first:
 *  - BPF-LSM (socket_connect, socket_sendmsg, socket_create,
 *    socket_listen) with the cgroup bind4/bind6/sock_create hooks: every
 *    route, prevented.
 *  - fmod_ret on the same security_socket_* functions: the same, without a
 *    boot parameter.
 *  - cgroup connect_unix/sendmsg_unix (Linux 6.7+) with bind4/bind6 and
 *    sock_create: AF_UNIX, binds and raw inet sockets prevented; AF_PACKET
 *    sockets and autobound listens not seen.
 *  - cgroup bind4/bind6/sock_create alone.
 * The cgroup hooks cannot send signals: the Kill action denies there.
 */
#include "enforce.h"
#include "socket.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Allowed socket operations of every policy, exactly (see struct
 * fp_socket_rule_key); a policy's are under its connect_set id. A workload
 * uses a handful; 16384 holds hundreds of policies' worth. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_socket_rule_key);
	__type(value, __u8);
} socket_rules SEC(".maps");

/* The operation under check and its rule key: 280 bytes, per CPU rather
 * than on the stack. */
struct socket_check {
	struct fp_socket_key key;
	struct fp_socket_rule_key rule;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct socket_check);
} socket_scratch SEC(".maps");

static __always_inline struct socket_check *new_check(void)
{
	__u32 zero = 0;
	struct socket_check *c = bpf_map_lookup_elem(&socket_scratch, &zero);

	if (c)
		__builtin_memset(c, 0, sizeof(*c));
	return c;
}

/*
 * check returns the outcome of the operation in c->key for the current
 * process, held to e: 0 when it is allowed, else the violation's outcome,
 * reported. can_kill says whether the hook may send a signal. Callers find
 * the policy first: most sockets on a node are no policy's, and building a
 * key costs a 108-byte read.
 */
static __always_inline __u32 check(struct socket_check *c, struct enforced *e, bool can_kill)
{
	struct fp_socket_key *k = &c->key;
	struct fp_socket_rule_key *r = &c->rule;
	struct fp_violation_event *ev;
	__u32 what;

	r->set = e->policy->connect_set;
	r->op = k->op == FP_SOCKET_UNIX_SENDMSG ? FP_SOCKET_RULE_UNIX : k->op;
	r->protocol = k->protocol;
	r->family = k->family;
	r->port = k->port;
	r->len = k->len;
	if (k->op == FP_SOCKET_BIND && k->family == AF_INET) {
		r->addr[10] = 0xff;
		r->addr[11] = 0xff;
		__builtin_memcpy(&r->addr[12], k->addr, 4);
	} else {
		__builtin_memcpy(r->addr, k->addr, 16);
	}
	__builtin_memcpy(r->path, k->path, sizeof(r->path));
	if (bpf_map_lookup_elem(&socket_rules, r))
		return 0;

	what = outcome(e->policy, true, can_kill);
	ev = begin_report(e, FP_KIND_SOCKET, socket_hash(k), k->op, what);
	if (ev) {
		__builtin_memcpy(ev->addr, r->addr, 16);
		ev->port = k->port;
		ev->protocol = k->protocol;
		ev->socket_op = k->op;
		ev->family = k->family;
		ev->path_len = k->len;
		bpf_probe_read_kernel(ev->path, FP_UNIX_PATH_MAX, k->path);
		bpf_ringbuf_submit(ev, 0);
	}
	return what;
}

/* ---- cgroup hooks: 1 allows, 0 fails the call with EPERM ---- */

static __always_inline int cgroup_verdict(struct socket_check *c, struct enforced *e)
{
	__u32 what = check(c, e, false);

	return what == 0 || what == FP_OUTCOME_AUDITED ? 1 : 0;
}

/* governed returns a zeroed check when the current process is held to a
 * policy that governs sockets, else NULL. */
static __always_inline struct socket_check *governed(struct enforced *e)
{
	if (!enforced_policy(e, FP_KIND_SOCKET, true))
		return NULL;
	return new_check();
}

static __always_inline int check_unix(struct bpf_sock_addr *ctx, __u8 op)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	struct enforced e;
	struct socket_check *c = governed(&e);

	if (!c)
		return 1;
	c->key.op = op;
	unix_key(&c->key, sa->uaddr, sa->uaddrlen);
	return cgroup_verdict(c, &e);
}

SEC("cgroup/connect_unix")
int fp_enforce_connect_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx, FP_SOCKET_UNIX_CONNECT);
}

SEC("cgroup/sendmsg_unix")
int fp_enforce_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx, FP_SOCKET_UNIX_SENDMSG);
}

SEC("cgroup/bind4")
int fp_enforce_bind4(struct bpf_sock_addr *ctx)
{
	struct enforced e;
	struct socket_check *c = governed(&e);

	if (!c)
		return 1;
	c->key.op = FP_SOCKET_BIND;
	inet4_key(&c->key, ctx->user_ip4, ctx->user_port, ctx->protocol);
	return cgroup_verdict(c, &e);
}

SEC("cgroup/bind6")
int fp_enforce_bind6(struct bpf_sock_addr *ctx)
{
	struct enforced e;
	struct socket_check *c = governed(&e);
	__u32 ip6[4];

	if (!c)
		return 1;
	c->key.op = FP_SOCKET_BIND;
	c->key.family = AF_INET6;
	c->key.protocol = ctx->protocol;
	c->key.port = bpf_ntohs(ctx->user_port);
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	__builtin_memcpy(c->key.addr, ip6, 16);
	return cgroup_verdict(c, &e);
}

SEC("cgroup/sock_create")
int fp_enforce_sock_create(struct bpf_sock *ctx)
{
	struct socket_check *c;
	struct enforced e;

	if (!raw_socket(ctx->family, ctx->type))
		return 1;
	c = governed(&e);
	if (!c)
		return 1;
	raw_key(&c->key, ctx->family, ctx->protocol);
	return cgroup_verdict(c, &e);
}

/* ---- BPF-LSM and fmod_ret: 0 allows, -EPERM refuses ---- */

static __always_inline int lsm_connect(struct sockaddr *address, int addrlen)
{
	struct socket_check *c;
	struct enforced e;

	/* Inet destinations are the connect4/6 hooks' (enforce_connect.bpf.c). */
	if (!address || BPF_CORE_READ(address, sa_family) != AF_UNIX)
		return 0;
	c = governed(&e);
	if (!c || !unix_addr_of(&c->key, address, addrlen, FP_SOCKET_UNIX_CONNECT))
		return 0;
	return act(check(c, &e, true));
}

static __always_inline int lsm_sendmsg(struct msghdr *msg)
{
	struct socket_check *c;
	struct enforced e;

	/* Every send on the node comes here: a send without an address (a
	 * connected socket's) costs one read. */
	if (!BPF_CORE_READ(msg, msg_name))
		return 0;
	c = governed(&e);
	if (!c || !sendmsg_unix_addr(&c->key, msg))
		return 0;
	return act(check(c, &e, true));
}

static __always_inline int lsm_create(int family, int type, int protocol, int kern)
{
	struct socket_check *c;

	/* Raw inet sockets are the sock_create hook's, attached with these;
	 * the kernel's own sockets are not the workload's. */
	struct enforced e;

	if (kern || family != AF_PACKET)
		return 0;
	c = governed(&e);
	if (!c)
		return 0;
	raw_key(&c->key, family, protocol);
	return act(check(c, &e, true));
}

static __always_inline int lsm_listen(struct socket *sock)
{
	struct enforced e;
	struct socket_check *c = governed(&e);

	if (!c || !autobound_listen(sock, &c->key))
		return 0;
	return act(check(c, &e, true));
}

SEC("lsm/socket_connect")
int BPF_PROG(fp_enforce_socket_connect_lsm, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_connect(address, addrlen);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(fp_enforce_socket_sendmsg_lsm, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_sendmsg(msg);
}

SEC("lsm/socket_create")
int BPF_PROG(fp_enforce_socket_create_lsm, int family, int type, int protocol, int kern, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_create(family, type, protocol, kern);
}

SEC("lsm/socket_listen")
int BPF_PROG(fp_enforce_socket_listen_lsm, struct socket *sock, int backlog, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_listen(sock);
}

SEC("fmod_ret/security_socket_connect")
int BPF_PROG(fp_enforce_socket_connect_fmod_ret, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_connect(address, addrlen);
}

SEC("fmod_ret/security_socket_sendmsg")
int BPF_PROG(fp_enforce_socket_sendmsg_fmod_ret, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_sendmsg(msg);
}

SEC("fmod_ret/security_socket_create")
int BPF_PROG(fp_enforce_socket_create_fmod_ret, int family, int type, int protocol, int kern, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_create(family, type, protocol, kern);
}

SEC("fmod_ret/security_socket_listen")
int BPF_PROG(fp_enforce_socket_listen_fmod_ret, struct socket *sock, int backlog, int ret)
{
	if (ret)
		return denied_before(ret);
	return lsm_listen(sock);
}
