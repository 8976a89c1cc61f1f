/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * File changes made without an open of the path: truncate, unlink and
 * rmdir, rename (from and to), link (the new name and the file it links
 * to), chmod (and set-ID mode bits), chown, times set (utimensat), symlink,
 * mknod and mkdir (a create of the directory's path); and a
 * descriptor of a file received from another process. Shared by the
 * recorder (file.bpf.c) and the enforcer (enforce_file.bpf.c): each defines
 * struct gate, change_gate (is the current process recorded, or held to a
 * policy with file rules?), route_spared (does its policy leave this route
 * alone: fp_policy_flag FP_POLICY_SPARE_*, never for the recorder) and
 * file_change (record, or decide, one access to one path walked into a
 * path_scratch) before including this file.
 *
 * Backends:
 * - BPF-LSM path_* hooks (and fentry/fmod_ret on the security_path_*
 *   functions): the kernel has looked the names up; the path is the
 *   object's, walked from its dentry like an open's.
 * - The syscall tracepoints (sys_enter_*): the path is the name the system
 *   call was given, made absolute against its directory file descriptor or
 *   the working directory, with . and .. resolved the way the kernel does
 *   (.. is the real parent of the directory it is relative to), but with
 *   symbolic links in it not followed, and read from user memory once, at
 *   entry (FP_PATH_LEXICAL). io_uring's unlinkat, renameat, linkat,
 *   symlinkat, mknodat and mkdirat make no system call and are not seen there,
 *   and neither is a received descriptor (only file_receive sees it).
 */
#ifndef FOOTPRINT_OBJECTS_H
#define FOOTPRINT_OBJECTS_H

#include "path.h"
#include "file.h"

#define AT_FDCWD -100
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_ISUID 04000
#define S_ISGID 02000
#define RENAME_EXCHANGE (1 << 1)
/* .. components above the directory a name is relative to, at most. */
#define FP_PATH_UP_MAX 16

/* One access to one path, walked into s from off on. */
struct change {
	struct path_scratch *s;
	__u32 off;
	__u32 flags;  /* enum fp_path_flag */
	__u32 access; /* enum fp_access */
	__u32 fs_magic;
	/* For reports: the system call, plus one (0: none known). */
	__u32 syscall;
	__u32 _pad;
	/* For deduplicating reports: the object (dentry, or a hash of the
	 * name) and a detail (inode, or the directory's dentry). */
	__u64 object;
	__u64 detail;
};

static __always_inline bool change_gate(struct gate *g);
static __always_inline bool route_spared(struct gate *g, __u32 spare);
static __always_inline int file_change(struct gate *g, struct change *c, bool can_deny);

/* A name a system call was given, taken apart into its components. */
struct user_path {
	/* The second half stays unused: room for the verifier's masks. */
	char str[2 * FP_PATH_MAX];
	__u16 start[FP_PATH_DEPTH];
	__u16 len[FP_PATH_DEPTH];
	__u32 n;  /* components kept, after . and .. */
	__u32 up; /* .. components above the directory it is relative to */
	__u32 cstart; /* where the component being read starts */
	__u32 flags;
	__u64 hash;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct user_path);
} user_path_scratch SEC(".maps");

/* current_syscall is the current system call, plus one (0: none). */
static __always_inline __u32 current_syscall(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = BPF_CORE_READ(regs, orig_ax);

	return nr >= 0 && nr < FP_SYSCALL_MAX ? nr + 1 : 0;
}

/* parse_char takes in one character of a name: the components end at '/'
 * and at the NUL. A bpf_loop callback: verified once, not per character. */
static long parse_char(__u64 index, void *ctx)
{
	struct user_path *u = *(struct user_path **)ctx;
	__u32 i = index & FP_PATH_MASK, start, len, idx;
	char c = u->str[i];

	u->hash = u->hash * 31 + c;
	if (c != '/' && c != 0)
		return 0;
	start = u->cstart & FP_PATH_MASK;
	len = i - start;
	u->cstart = i + 1;
	if (len == 0 || (len == 1 && u->str[start] == '.')) {
		/* "//" and "." name the directory itself */
	} else if (len == 2 && u->str[start] == '.' && u->str[(start + 1) & FP_PATH_MASK] == '.') {
		if (u->n > 0)
			u->n--;
		else
			u->up++;
	} else {
		idx = u->n;
		if (idx < FP_PATH_DEPTH) {
			u->start[idx] = start;
			u->len[idx] = len;
			u->n = idx + 1;
		} else {
			u->flags |= FP_PATH_TRUNCATED;
		}
	}
	return c == 0;
}

/* parse_user_path reads name from user memory and takes it apart. */
static __always_inline int parse_user_path(struct user_path *u, const char *name)
{
	long n = bpf_probe_read_user_str(u->str, FP_PATH_MAX, name);

	if (n <= 0)
		return -1;
	u->n = 0;
	u->up = 0;
	u->cstart = 0;
	u->flags = 0;
	u->hash = 0;
	if (n >= FP_PATH_MAX)
		u->flags |= FP_PATH_TRUNCATED;
	bpf_loop(n, parse_char, &u, 0);
	return 0;
}

/*
 * up_dirs moves (d, m) up by up directories, the way .. does: to the real
 * parent, across mount points, never above the process's root.
 */
static __always_inline void up_dirs(struct dentry **d, struct vfsmount **m, const struct path *root,
				    __u32 up, __u32 *flags)
{
	struct dentry *root_dentry = BPF_CORE_READ(root, dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(root, mnt);

	if (up > FP_PATH_UP_MAX)
		*flags |= FP_PATH_TRUNCATED;
	for (int i = 0; i < FP_PATH_UP_MAX; i++) {
		struct mount *mnt = container_of(*m, struct mount, mnt);

		if (i >= up || (*d == root_dentry && *m == root_mnt))
			return;
		/* At the root of a mount, .. goes on from its mount point. */
		for (int k = 0; k < 4; k++) {
			struct mount *parent;

			if (*d != BPF_CORE_READ(*m, mnt_root) || (*d == root_dentry && *m == root_mnt))
				break;
			parent = BPF_CORE_READ(mnt, mnt_parent);
			if (parent == mnt)
				return;
			*d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = parent;
			*m = &mnt->mnt;
		}
		if (*d == root_dentry && *m == root_mnt)
			return;
		*d = BPF_CORE_READ(*d, d_parent);
	}
}

/*
 * resolve_user_path walks into s the path a system call names with name,
 * relative to dfd (AT_FDCWD: the working directory) unless it is absolute,
 * and fills c (off, flags, object, detail). Returns 0, or -1 when the name
 * or the directory cannot be read.
 */
static __always_inline int resolve_user_path(struct change *c, int dfd, const char *name)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct path_scratch *s = c->s;
	struct dentry *dentry;
	struct vfsmount *mnt;
	struct user_path *u;
	__u32 zero = 0, pos = FP_PATH_MAX, nsfx = 0;

	u = bpf_map_lookup_elem(&user_path_scratch, &zero);
	if (!u || !fs || parse_user_path(u, name) < 0)
		return -1;
	c->flags = u->flags | FP_PATH_LEXICAL;
	if (u->str[0] == '/') {
		dentry = BPF_CORE_READ(fs, root.dentry);
		mnt = BPF_CORE_READ(fs, root.mnt);
	} else if (dfd == AT_FDCWD) {
		dentry = BPF_CORE_READ(fs, pwd.dentry);
		mnt = BPF_CORE_READ(fs, pwd.mnt);
	} else {
		struct file *dir = fd_file(task, dfd);

		if (!dir)
			return -1;
		dentry = BPF_CORE_READ(dir, f_path.dentry);
		mnt = BPF_CORE_READ(dir, f_path.mnt);
	}
	up_dirs(&dentry, &mnt, &fs->root, u->up, &c->flags);
	/* The file may be on a mount below: which one is not known. On the
	 * root mount's side of that doubt, readOnlyRootFilesystem is not
	 * proposed for a workload that changes files there. */
	if (mnt == BPF_CORE_READ(fs, root.mnt))
		c->flags |= FP_PATH_ROOTFS;
	c->object = u->hash;
	c->detail = (__u64)dentry;

	/* The name's components at the end of the buffer, leaf first. */
	for (__u32 j = 0; j < FP_PATH_DEPTH; j++) {
		__u32 idx, len, start;

		if (j >= u->n)
			break;
		idx = u->n - 1 - j;
		if (idx >= FP_PATH_DEPTH)
			break;
		len = u->len[idx] & FP_PATH_MASK;
		start = u->start[idx];
		if (len + 1 >= pos) {
			c->flags |= FP_PATH_TRUNCATED;
			break;
		}
		pos -= len + 1;
		bpf_probe_read_kernel(&s->buf[(pos + 1) & FP_PATH_MASK], len,
				      &u->str[start & FP_PATH_MASK]);
		s->buf[pos & FP_PATH_MASK] = '/';
		s->comp_start[j & (FP_PATH_COMPONENTS - 1)] = pos;
		nsfx = j + 1;
	}
	c->off = walk_path_below(s, dentry, mnt, &fs->root, pos, &c->flags, nsfx);
	s->end = FP_PATH_MAX;
	if (s->ncomp > FP_PATH_DEPTH)
		c->flags |= FP_PATH_TRUNCATED;
	return 0;
}

/* walk_child walks into s the path of child, a name in directory (dir,
 * mnt), and fills c. */
static __always_inline int walk_child(struct change *c, struct dentry *dir, struct vfsmount *mnt,
				      struct dentry *child)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct path_scratch *s = c->s;
	struct qstr name = BPF_CORE_READ(child, d_name);
	__u32 len = name.len & FP_PATH_MASK, pos;

	if (!fs)
		return -1;
	c->flags = 0;
	c->object = (__u64)child;
	c->detail = (__u64)BPF_CORE_READ(child, d_inode);
	c->fs_magic = BPF_CORE_READ(mnt, mnt_sb, s_magic);
	if (mnt == BPF_CORE_READ(fs, root.mnt))
		c->flags |= FP_PATH_ROOTFS;
	if (len + 2 >= FP_PATH_MAX)
		return -1; /* a name is at most 255 bytes */
	pos = FP_PATH_MAX - len - 1;
	bpf_probe_read_kernel(&s->buf[(pos + 1) & FP_PATH_MASK], len, name.name);
	s->buf[pos & FP_PATH_MASK] = '/';
	s->comp_start[0] = pos;
	c->off = walk_path_below(s, dir, mnt, &fs->root, pos, &c->flags, 1);
	s->end = FP_PATH_MAX;
	if (s->ncomp > FP_PATH_DEPTH)
		c->flags |= FP_PATH_TRUNCATED;
	return 0;
}

/* walk_dentry walks into s the path of (dentry, mnt) and fills c. */
static __always_inline int walk_dentry(struct change *c, struct dentry *dentry, struct vfsmount *mnt)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);

	if (!fs)
		return -1;
	c->flags = 0;
	c->object = (__u64)dentry;
	c->detail = (__u64)BPF_CORE_READ(dentry, d_inode);
	c->fs_magic = BPF_CORE_READ(mnt, mnt_sb, s_magic);
	if (mnt == BPF_CORE_READ(fs, root.mnt))
		c->flags |= FP_PATH_ROOTFS;
	c->off = walk_path(c->s, dentry, mnt, &fs->root, FP_PATH_MAX, &c->flags);
	return 0;
}

static __always_inline __u32 chmod_access(__u32 mode)
{
	return FP_ACCESS_CHMOD | (mode & (S_ISUID | S_ISGID) ? FP_ACCESS_SETID : 0);
}

/* mknod_access: a regular file is a create, a socket file is bind(2)'s. */
static __always_inline __u32 mknod_access(__u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		return 0;
	case 0:
	case S_IFREG:
		return FP_ACCESS_CREATE;
	}
	return FP_ACCESS_MKNOD;
}

static __always_inline bool new_change(struct change *c)
{
	c->s = get_path_scratch();
	c->fs_magic = 0;
	c->_pad = 0;
	c->syscall = current_syscall();
	return c->s != NULL;
}

/* ---- the syscall tracepoints ---- */

/* name_change handles one name a system call was given. */
static __always_inline int name_change(struct gate *g, int dfd, const char *name, __u32 access)
{
	struct change c;

	if (!access || !new_change(&c) || resolve_user_path(&c, dfd, name) < 0)
		return 0;
	c.access = access;
	return file_change(g, &c, false);
}

/* tp_spared_name handles a system call with one name, on a route that a
 * policy with the flag spare leaves alone (0: none does). */
static __always_inline int tp_spared_name(__u32 spare, int dfd, const char *name, __u32 access)
{
	struct gate g;

	if (!access || !change_gate(&g) || route_spared(&g, spare))
		return 0;
	name_change(&g, dfd, name, access);
	return 0;
}

static __always_inline int tp_name(int dfd, const char *name, __u32 access)
{
	return tp_spared_name(0, dfd, name, access);
}

/* tp_names handles a system call with two names (rename, link). */
static __always_inline int tp_names(int dfd1, const char *name1, __u32 access1, int dfd2,
				    const char *name2, __u32 access2)
{
	struct gate g;

	if (!change_gate(&g))
		return 0;
	name_change(&g, dfd1, name1, access1);
	name_change(&g, dfd2, name2, access2);
	return 0;
}

/* tp_spared_fd handles a system call on a file descriptor (fchmod, fchown,
 * ftruncate): the path is the open file's. */
static __always_inline int tp_spared_fd(__u32 spare, long fd, __u32 access)
{
	struct task_struct *task;
	struct file *file;
	struct change c;
	struct gate g;

	if (!change_gate(&g) || route_spared(&g, spare) || !new_change(&c))
		return 0;
	task = bpf_get_current_task_btf();
	file = fd_file(task, fd);
	if (!file || walk_dentry(&c, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt)) < 0)
		return 0;
	c.access = access;
	file_change(&g, &c, false);
	return 0;
}

static __always_inline int tp_fd(long fd, __u32 access)
{
	return tp_spared_fd(0, fd, access);
}

/* tp_times handles a time set that names a file relative to dfd, or, given
 * no name, means dfd's file itself (utimensat, futimesat). */
static __always_inline int tp_times(long dfd, const char *name)
{
	if (!name)
		return tp_spared_fd(FP_POLICY_SPARE_UTIMES, dfd, FP_ACCESS_UTIMES);
	return tp_spared_name(FP_POLICY_SPARE_UTIMES, dfd, name, FP_ACCESS_UTIMES);
}

static __always_inline __u32 rename_access(__u64 flags, __u32 access)
{
	return flags & RENAME_EXCHANGE ? FP_ACCESS_RENAME_FROM | FP_ACCESS_RENAME_TO : access;
}

#define TP(name) SEC("tracepoint/syscalls/sys_enter_" #name)
#define ARG(n) (ctx->args[n])
#define NAME(n) ((const char *)ctx->args[n])

/*
 * FP_CHANGE_TRACEPOINTS defines the tracepoint programs, named
 * PREFIX_enter_SYSCALL, of the object that includes this file.
 */
#define FP_CHANGE_TRACEPOINTS(P)                                                                    \
	TP(truncate) int P##_enter_truncate(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), FP_ACCESS_TRUNCATE);                              \
	}                                                                                           \
	TP(ftruncate) int P##_enter_ftruncate(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_fd(ARG(0), FP_ACCESS_TRUNCATE);                                           \
	}                                                                                           \
	TP(unlink) int P##_enter_unlink(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), FP_ACCESS_DELETE);                                \
	}                                                                                           \
	TP(unlinkat) int P##_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                                           \
		return tp_name(ARG(0), NAME(1), FP_ACCESS_DELETE);                                  \
	}                                                                                           \
	TP(rmdir) int P##_enter_rmdir(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), FP_ACCESS_DELETE);                                \
	}                                                                                           \
	TP(rename) int P##_enter_rename(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_names(AT_FDCWD, NAME(0), FP_ACCESS_RENAME_FROM, AT_FDCWD, NAME(1),        \
				FP_ACCESS_RENAME_TO);                                               \
	}                                                                                           \
	TP(renameat) int P##_enter_renameat(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                                           \
		return tp_names(ARG(0), NAME(1), FP_ACCESS_RENAME_FROM, ARG(2), NAME(3),            \
				FP_ACCESS_RENAME_TO);                                               \
	}                                                                                           \
	TP(renameat2) int P##_enter_renameat2(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_names(ARG(0), NAME(1), rename_access(ARG(4), FP_ACCESS_RENAME_FROM),      \
				ARG(2), NAME(3), rename_access(ARG(4), FP_ACCESS_RENAME_TO));       \
	}                                                                                           \
	TP(link) int P##_enter_link(struct trace_event_raw_sys_enter *ctx)                          \
	{                                                                                           \
		return tp_names(AT_FDCWD, NAME(0), FP_ACCESS_LINK_TARGET, AT_FDCWD, NAME(1),        \
				FP_ACCESS_LINK);                                                    \
	}                                                                                           \
	TP(linkat) int P##_enter_linkat(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_names(ARG(0), NAME(1), FP_ACCESS_LINK_TARGET, ARG(2), NAME(3),            \
				FP_ACCESS_LINK);                                                    \
	}                                                                                           \
	TP(symlink) int P##_enter_symlink(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(1), FP_ACCESS_SYMLINK);                               \
	}                                                                                           \
	TP(symlinkat) int P##_enter_symlinkat(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_name(ARG(1), NAME(2), FP_ACCESS_SYMLINK);                                 \
	}                                                                                           \
	TP(mknod) int P##_enter_mknod(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), mknod_access(ARG(1)));                            \
	}                                                                                           \
	TP(mknodat) int P##_enter_mknodat(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                                           \
		return tp_name(ARG(0), NAME(1), mknod_access(ARG(2)));                              \
	}                                                                                           \
	TP(mkdir) int P##_enter_mkdir(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_spared_name(FP_POLICY_SPARE_MKDIR, AT_FDCWD, NAME(0), FP_ACCESS_CREATE);  \
	}                                                                                           \
	TP(mkdirat) int P##_enter_mkdirat(struct trace_event_raw_sys_enter *ctx)                    \
	{                                                                                           \
		return tp_spared_name(FP_POLICY_SPARE_MKDIR, ARG(0), NAME(1), FP_ACCESS_CREATE);    \
	}                                                                                           \
	TP(chmod) int P##_enter_chmod(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), chmod_access(ARG(1)));                            \
	}                                                                                           \
	TP(fchmod) int P##_enter_fchmod(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_fd(ARG(0), chmod_access(ARG(1)));                                         \
	}                                                                                           \
	TP(fchmodat) int P##_enter_fchmodat(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                                           \
		return tp_name(ARG(0), NAME(1), chmod_access(ARG(2)));                              \
	}                                                                                           \
	TP(fchmodat2) int P##_enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_name(ARG(0), NAME(1), chmod_access(ARG(2)));                              \
	}                                                                                           \
	TP(utime) int P##_enter_utime(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_spared_name(FP_POLICY_SPARE_UTIMES, AT_FDCWD, NAME(0), FP_ACCESS_UTIMES); \
	}                                                                                           \
	TP(utimes) int P##_enter_utimes(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_spared_name(FP_POLICY_SPARE_UTIMES, AT_FDCWD, NAME(0), FP_ACCESS_UTIMES); \
	}                                                                                           \
	TP(futimesat) int P##_enter_futimesat(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_times(ARG(0), NAME(1));                                                   \
	}                                                                                           \
	TP(utimensat) int P##_enter_utimensat(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                                           \
		return tp_times(ARG(0), NAME(1));                                                   \
	}                                                                                           \
	TP(chown) int P##_enter_chown(struct trace_event_raw_sys_enter *ctx)                        \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), FP_ACCESS_CHOWN);                                 \
	}                                                                                           \
	TP(lchown) int P##_enter_lchown(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_name(AT_FDCWD, NAME(0), FP_ACCESS_CHOWN);                                 \
	}                                                                                           \
	TP(fchown) int P##_enter_fchown(struct trace_event_raw_sys_enter *ctx)                      \
	{                                                                                           \
		return tp_fd(ARG(0), FP_ACCESS_CHOWN);                                              \
	}                                                                                           \
	TP(fchownat) int P##_enter_fchownat(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                                           \
		return tp_name(ARG(0), NAME(1), FP_ACCESS_CHOWN);                                   \
	}

/* ---- the LSM hooks and the security_path_* functions ---- */

/* hook_child handles a name in a directory: the dentry may be negative (a
 * name about to be made). */
static __always_inline int hook_child(struct gate *g, const struct path *dir, struct dentry *child,
				      __u32 access, bool can_deny)
{
	struct change c;

	if (!access || !new_change(&c) ||
	    walk_child(&c, BPF_CORE_READ(dir, dentry), BPF_CORE_READ(dir, mnt), child) < 0)
		return 0;
	c.access = access;
	return file_change(g, &c, can_deny);
}

static __always_inline int hook_path(struct gate *g, const struct path *path, __u32 access, bool can_deny)
{
	struct change c;

	if (!new_change(&c) || walk_dentry(&c, BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt)) < 0)
		return 0;
	c.access = access;
	return file_change(g, &c, can_deny);
}

/*
 * hook_receive: a received descriptor is governed when it names a regular
 * file or a directory; a socket, pipe or anonymous inode has no path a rule
 * could name (the connect and socket rules hold what a socket reaches).
 */
static __always_inline int hook_receive(struct gate *g, struct file *file, bool can_deny)
{
	__u32 type = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;

	if (type != S_IFREG && type != S_IFDIR)
		return 0;
	return hook_path(g, &file->f_path, FP_ACCESS_RECEIVE, can_deny);
}

static __always_inline int hook_rename(struct gate *g, const struct path *old_dir, struct dentry *old,
				       const struct path *new_dir, struct dentry *new, __u32 flags,
				       bool can_deny)
{
	int ret = hook_child(g, old_dir, old, rename_access(flags, FP_ACCESS_RENAME_FROM), can_deny);

	if (ret)
		return ret;
	return hook_child(g, new_dir, new, rename_access(flags, FP_ACCESS_RENAME_TO), can_deny);
}

/* hook_link: the file linked to is on the new name's mount (links do not
 * cross mounts). */
static __always_inline int hook_link(struct gate *g, struct dentry *old, const struct path *new_dir,
				     struct dentry *new, bool can_deny)
{
	struct change c;
	int ret;

	if (!new_change(&c) || walk_dentry(&c, old, BPF_CORE_READ(new_dir, mnt)) < 0)
		return 0;
	c.access = FP_ACCESS_LINK_TARGET;
	ret = file_change(g, &c, can_deny);
	if (ret)
		return ret;
	return hook_child(g, new_dir, new, FP_ACCESS_LINK, can_deny);
}

#endif /* FOOTPRINT_OBJECTS_H */
