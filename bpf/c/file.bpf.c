// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File opens: the path as the process sees it, how the file was opened, the
 * filesystem it lives on and whether that is the process's root filesystem.
 *
 * Backends, best first: lsm/file_open and fentry/security_file_open see every
 * open (execve's and the kernel's own included) and resolve the path with
 * bpf_d_path; the sys_exit_open* tracepoints see the syscalls and walk the
 * path by hand.
 *
 * A repeat costs one lookup of a 48-byte (cgroup, inode, mount, access,
 * name) key; only a new inode or a new name for one pays for the path walk
 * and the 552-byte path key.
 */
#include "common.h"
#include "path.h"
#include "file.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The truth: one entry per (cgroup, path, access). Sized for a few hundred
 * containers with some hundred files each; entries cost memory only once
 * used (no prealloc). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_file_key);
	__type(value, struct fp_file_seen);
} file_paths_seen SEC(".maps");

/* The fast path: repeats counted by inode and name. Not an LRU: an evicted entry
 * would take its counts with it. When full, opens fall back to the path
 * walk and are counted in file_paths_seen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_inode_key);
	__type(value, struct fp_inode_seen);
} file_inodes_seen SEC(".maps");

/* The key under construction: too big for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_file_key);
} file_key_scratch SEC(".maps");

/* Per-CPU sequence numbers for file entry ids: (cpu << 48) | seq. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} file_entry_seq SEC(".maps");

static __always_inline __u64 next_entry_id(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&file_entry_seq, &zero);

	if (!seq)
		return 0;
	*seq += 1;
	return ((__u64)bpf_get_smp_processor_id() << 48) | *seq;
}

static __always_inline void emit_file(struct fp_file_key *key, enum fp_sighting sighting)
{
	struct fp_file_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		not_sent(FP_KIND_FILE, key->cgroup_id, sighting);
		return;
	}
	fill_header(&ev->hdr, FP_KIND_FILE, sighting);
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	bpf_ringbuf_submit(ev, 0);
}

/*
 * fill_path resolves the file's path into key->path. With use_d_path the
 * kernel's d_path does it (LSM and fentry backends); otherwise it is walked.
 */
static __always_inline int fill_path(struct fp_file_key *key, struct file *file,
				     struct task_struct *task, bool use_d_path)
{
	if (use_d_path) {
		long n = bpf_d_path((struct path *)&file->f_path, key->path, sizeof(key->path));

		if (n < 0) {
			/* ENAMETOOLONG: d_path keeps nothing useful. */
			key->flags |= FP_PATH_TRUNCATED;
			count(FP_KIND_FILE, FP_COUNT_TRUNCATED);
		}
		return 0;
	}

	struct path_scratch *s = get_path_scratch();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 off;

	if (!s || !fs)
		return -1;
	off = walk_path(s, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			&fs->root, FP_PATH_MAX, &key->flags);
	if (key->flags & FP_PATH_TRUNCATED)
		count(FP_KIND_FILE, FP_COUNT_TRUNCATED);
	copy_path(key->path, s, off);
	return 0;
}

/*
 * count_path counts one event under key in file_paths_seen, sending a first
 * sighting to user space, and returns the entry's id: 0 when the entry could
 * not be kept (the ring buffer then carries the only copy).
 */
static __always_inline __u64 count_path(struct fp_file_key *key)
{
	struct fp_file_seen *pseen, path_first = {};
	long err;

	pseen = bpf_map_lookup_elem(&file_paths_seen, key);
	if (pseen) {
		/* A known path through a new inode (the file was replaced):
		 * count it here and remember the inode for next time. */
		__sync_fetch_and_add(&pseen->count, 1);
		return pseen->entry_id;
	}
	path_first.count = 1;
	path_first.first_seen_ns = bpf_ktime_get_ns();
	path_first.entry_id = next_entry_id();
	err = bpf_map_update_elem(&file_paths_seen, key, &path_first, BPF_NOEXIST);
	if (err == -EEXIST) {
		pseen = bpf_map_lookup_elem(&file_paths_seen, key);
		if (!pseen)
			return 0;
		__sync_fetch_and_add(&pseen->count, 1);
		return pseen->entry_id;
	}
	if (err) {
		/* Not remembered: the ring buffer carries the only copy,
		 * and later opens walk again. */
		count(FP_KIND_FILE, FP_COUNT_MAP_FULL);
		emit_file(key, FP_SIGHTING_UNKEPT);
		return 0;
	}
	count(FP_KIND_FILE, FP_COUNT_NEW);
	emit_file(key, FP_SIGHTING_NEW);
	return path_first.entry_id;
}

static __always_inline void record_open(__u64 cgid, struct file *file, __u32 open_flags,
					bool use_d_path)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct fp_inode_key ikey = {};
	struct fp_inode_seen *iseen, inode_first = {};
	struct fp_file_key *key;
	__u32 zero = 0;

	if (BPF_CORE_READ(file, f_mode) & FMODE_PATH)
		return; /* O_PATH: a handle, not an access */

	ikey.cgroup_id = cgid;
	ikey.ino = BPF_CORE_READ(inode, i_ino);
	ikey.sb = (__u64)BPF_CORE_READ(inode, i_sb);
	ikey.mnt_id = BPF_CORE_READ(container_of(vfsmnt, struct mount, mnt), mnt_id);
	ikey.access = access_of(file, open_flags);
	ikey.dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
	ikey.name_hash_len = BPF_CORE_READ(file, f_path.dentry, d_name.hash_len);

	count(FP_KIND_FILE, FP_COUNT_EVENTS);
	iseen = bpf_map_lookup_elem(&file_inodes_seen, &ikey);
	if (iseen) {
		__sync_fetch_and_add(&iseen->count, 1);
		return;
	}

	key = bpf_map_lookup_elem(&file_key_scratch, &zero);
	if (!key)
		return;
	key->cgroup_id = cgid;
	key->access = ikey.access;
	key->fs_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	key->flags = 0;
	key->_pad = 0;
	if (vfsmnt == BPF_CORE_READ(task, fs, root.mnt))
		key->flags |= FP_PATH_ROOTFS;
	if (fill_path(key, file, task, use_d_path) < 0) {
		count(FP_KIND_FILE, FP_COUNT_READ_ERROR);
		return;
	}

	inode_first.entry_id = count_path(key);
	if (!inode_first.entry_id)
		return;
	if (bpf_map_update_elem(&file_inodes_seen, &ikey, &inode_first, BPF_NOEXIST) == -E2BIG)
		count(FP_KIND_FILE, FP_COUNT_MAP_FULL);
}

/* ---- tracepoint backend: sys_exit_open* ---- */

/* open_exit handles the return of an open-family syscall; no sys_enter
 * program is needed (see open_flags_at_exit). */
static __always_inline int open_exit(long ret, int flags_arg)
{
	struct task_struct *task;
	struct file *file;
	__u32 flags;
	__u64 cgid;

	if (ret < 0)
		return 0;
	if (!recording(FP_KIND_FILE, &cgid))
		return 0;
	task = bpf_get_current_task_btf();
	file = fd_file(task, ret);
	if (!file) {
		count(FP_KIND_FILE, FP_COUNT_READ_ERROR);
		return 0;
	}
	flags = open_flags_at_exit(task, flags_arg);
	record_open(cgid, file, flags, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int fp_file_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 2);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int fp_file_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 3);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int fp_file_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 4);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int fp_file_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 1);
}

/* ---- LSM and fentry backends: every open, path by bpf_d_path ---- */

static __always_inline void file_open_hook(struct file *file)
{
	__u64 cgid;

	if (!recording(FP_KIND_FILE, &cgid))
		return;
	/* O_TRUNC is still in f_flags here: do_dentry_open clears it after
	 * the LSM hook. */
	record_open(cgid, file, BPF_CORE_READ(file, f_flags), true);
}

SEC("lsm/file_open")
int BPF_PROG(fp_file_open_lsm, struct file *file)
{
	file_open_hook(file);
	return 0;
}

SEC("fentry/security_file_open")
int BPF_PROG(fp_file_open_fentry, struct file *file)
{
	file_open_hook(file);
	return 0;
}

/* ---- file changes without an open of the path (objects.h) ---- */

struct gate {
	__u64 cgid;
};

#include "objects.h"

static __always_inline bool change_gate(struct gate *g)
{
	return recording(FP_KIND_FILE, &g->cgid) != NULL;
}

/* A recording sees every route: a policy decides which it governs. */
static __always_inline bool route_spared(struct gate *g, __u32 spare)
{
	return false;
}

/* file_change records one access to the path walked into c->s. */
static __always_inline int file_change(struct gate *g, struct change *c, bool can_deny)
{
	struct fp_file_key *key;
	__u32 zero = 0;

	count(FP_KIND_FILE, FP_COUNT_EVENTS);
	key = bpf_map_lookup_elem(&file_key_scratch, &zero);
	if (!key)
		return 0;
	key->cgroup_id = g->cgid;
	key->access = c->access;
	key->fs_magic = c->fs_magic;
	key->flags = c->flags;
	key->_pad = 0;
	if (c->flags & FP_PATH_TRUNCATED)
		count(FP_KIND_FILE, FP_COUNT_TRUNCATED);
	copy_path(key->path, c->s, c->off);
	count_path(key);
	return 0;
}

FP_CHANGE_TRACEPOINTS(fp_file)

#define FP_CHANGE_HOOKS(P, SECTION, FN)                                                             \
	SEC(SECTION FN "path_truncate")                                                             \
	int BPF_PROG(P##_path_truncate, const struct path *path)                                    \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_path(&g, path, FP_ACCESS_TRUNCATE, false);                             \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_unlink")                                                               \
	int BPF_PROG(P##_path_unlink, const struct path *dir, struct dentry *dentry)                \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_child(&g, dir, dentry, FP_ACCESS_DELETE, false);                       \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_rmdir")                                                                \
	int BPF_PROG(P##_path_rmdir, const struct path *dir, struct dentry *dentry)                 \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_child(&g, dir, dentry, FP_ACCESS_DELETE, false);                       \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_rename")                                                               \
	int BPF_PROG(P##_path_rename, const struct path *old_dir, struct dentry *old_dentry,        \
		     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags)     \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_rename(&g, old_dir, old_dentry, new_dir, new_dentry, flags, false);    \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_link")                                                                 \
	int BPF_PROG(P##_path_link, struct dentry *old_dentry, const struct path *new_dir,          \
		     struct dentry *new_dentry)                                                     \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_link(&g, old_dentry, new_dir, new_dentry, false);                      \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_symlink")                                                              \
	int BPF_PROG(P##_path_symlink, const struct path *dir, struct dentry *dentry,               \
		     const char *old_name)                                                          \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_child(&g, dir, dentry, FP_ACCESS_SYMLINK, false);                      \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_mknod")                                                                \
	int BPF_PROG(P##_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode,   \
		     unsigned int dev)                                                              \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_child(&g, dir, dentry, mknod_access(mode), false);                     \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_mkdir")                                                                \
	int BPF_PROG(P##_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode)   \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_child(&g, dir, dentry, FP_ACCESS_CREATE, false);                       \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_chmod")                                                                \
	int BPF_PROG(P##_path_chmod, const struct path *path, umode_t mode)                         \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_path(&g, path, chmod_access(mode), false);                             \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "path_chown")                                                                \
	int BPF_PROG(P##_path_chown, const struct path *path)                                       \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_path(&g, path, FP_ACCESS_CHOWN, false);                                \
		return 0;                                                                           \
	}                                                                                           \
	/* No LSM hook sees the path of a time set (inode_setattr gets a  \
	 * dentry without its mount): vfs_utimes, which every way to set   \
	 * times goes through, does. */                                    \
	SEC("fentry/vfs_utimes")                                                                    \
	int BPF_PROG(P##_vfs_utimes, const struct path *path, struct timespec64 *times)             \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_path(&g, path, FP_ACCESS_UTIMES, false);                               \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "file_truncate")                                                             \
	int BPF_PROG(P##_file_truncate, struct file *file)                                          \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_path(&g, &file->f_path, FP_ACCESS_TRUNCATE, false);                    \
		return 0;                                                                           \
	}                                                                                           \
	SEC(SECTION FN "file_receive")                                                              \
	int BPF_PROG(P##_file_receive, struct file *file)                                           \
	{                                                                                           \
		struct gate g;                                                                      \
		if (change_gate(&g))                                                                \
			hook_receive(&g, file, false);                                              \
		return 0;                                                                           \
	}

FP_CHANGE_HOOKS(fp_file_lsm, "lsm/", "")
FP_CHANGE_HOOKS(fp_file_fentry, "fentry/", "security_")
