/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Building a struct fp_socket_key from what each socket hook is given: the
 * cgroup sock_addr hooks (AF_UNIX connect and send on Linux 6.7+, inet
 * bind), the cgroup sock_create hook (inet sockets), and the security_socket_*
 * functions' arguments (BPF-LSM, fentry, fmod_ret). Shared by the recorder
 * (socket.bpf.c) and the enforcer (enforce_socket.bpf.c), so both key an
 * operation the same way.
 */
#ifndef FOOTPRINT_SOCKET_H
#define FOOTPRINT_SOCKET_H

#include "kernel.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_RAW 3
#define SOCK_PACKET 10
/* sockaddr_un.sun_path's offset. */
#define FP_SUN_PATH_OFF 2

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/*
 * unix_key fills the AF_UNIX part of a key from a kernel copy of a
 * sockaddr_un of addrlen bytes. The kernel copies every address into a
 * struct sockaddr_storage (128 bytes) before any hook sees it, so
 * sun_path's 108 bytes can be read whatever addrlen says; the bytes past the
 * address are zeroed so that equal addresses make equal keys. A path ends at
 * its first NUL, as the kernel reads it; an abstract name (a first NUL byte)
 * is all of its addrlen bytes.
 */
static __always_inline void unix_key(struct fp_socket_key *key, const void *sun, __u32 addrlen)
{
	__u32 len = addrlen > FP_SUN_PATH_OFF ? addrlen - FP_SUN_PATH_OFF : 0;
	bool abstract;

	if (len > FP_UNIX_PATH_MAX)
		len = FP_UNIX_PATH_MAX;
	key->family = AF_UNIX;
	if (bpf_probe_read_kernel(key->path, sizeof(key->path), sun + FP_SUN_PATH_OFF))
		len = 0;
	abstract = len > 0 && key->path[0] == 0;
	for (int i = 0; i < FP_UNIX_PATH_MAX; i++) {
		if (i >= len) {
			key->path[i] = 0;
			continue;
		}
		if (!abstract && key->path[i] == 0)
			len = i;
	}
	key->len = len;
}

/* inet_key fills the inet part of a key: family, protocol, the address
 * (IPv4 in the first 4 bytes) and the port in host byte order. */
static __always_inline void inet4_key(struct fp_socket_key *key, __u32 ip4, __u32 port_be, __u8 protocol)
{
	key->family = AF_INET;
	key->protocol = protocol;
	key->port = bpf_ntohs(port_be);
	__builtin_memcpy(key->addr, &ip4, 4);
}

/* raw_socket says whether socket(family, type, protocol) makes a socket that
 * sees or forges traffic beyond the process's own connections: SOCK_RAW of
 * the inet families, and every AF_PACKET socket. */
static __always_inline bool raw_socket(__u32 family, __u32 type)
{
	type &= 0xf; /* SOCK_TYPE_MASK: without SOCK_NONBLOCK, SOCK_CLOEXEC */
	if (family == AF_PACKET)
		return true;
	return (family == AF_INET || family == AF_INET6) && type == SOCK_RAW;
}

static __always_inline void raw_key(struct fp_socket_key *key, __u32 family, __u32 protocol)
{
	key->op = FP_SOCKET_RAW;
	key->family = family;
	if (family == AF_PACKET)
		key->port = bpf_ntohs(protocol); /* the ethertype */
	else
		key->protocol = protocol;
}

/*
 * autobound_listen says whether listen() on sock will make the kernel pick
 * a port: an inet stream socket never bound (inet_num 0). No bind hook sees
 * that port; connected sockets and bound ones are left alone.
 */
static __always_inline bool autobound_listen(struct socket *sock, struct fp_socket_key *key)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family;

	if (!sk)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (BPF_CORE_READ(sk, __sk_common.skc_num) != 0)
		return false;
	key->op = FP_SOCKET_LISTEN;
	key->family = family;
	key->protocol = BPF_CORE_READ(sk, sk_protocol);
	return true;
}

/* unix_connect_key fills a key from a security_socket_connect or
 * security_socket_sendmsg address; false when it is not AF_UNIX. */
static __always_inline bool unix_addr_of(struct fp_socket_key *key, const struct sockaddr *address,
					 int addrlen, __u8 op)
{
	if (!address || BPF_CORE_READ(address, sa_family) != AF_UNIX)
		return false;
	key->op = op;
	unix_key(key, address, addrlen);
	return true;
}

/* sendmsg_unix_addr fills a key from security_socket_sendmsg's message when
 * it names an AF_UNIX destination. */
static __always_inline bool sendmsg_unix_addr(struct fp_socket_key *key, struct msghdr *msg)
{
	const struct sockaddr *name = BPF_CORE_READ(msg, msg_name);

	if (!name)
		return false;
	return unix_addr_of(key, name, BPF_CORE_READ(msg, msg_namelen), FP_SOCKET_UNIX_SENDMSG);
}

/* socket_hash is FNV-1a over a key's identifying bytes: the object a
 * violation is remembered by. */
static __always_inline __u64 socket_hash(const struct fp_socket_key *key)
{
	__u64 h = 0xcbf29ce484222325ULL;
	const __u8 *p = (const __u8 *)&key->op;

	/* op, protocol, family, port, len, addr, path */
	for (int i = 0; i < 8 + 16 + FP_UNIX_PATH_MAX; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif /* FOOTPRINT_SOCKET_H */
