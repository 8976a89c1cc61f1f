// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * File rules: an open is allowed when the policy's file tree grants every
 * access it asks for (read, write, create, truncate). Execve's own open of
 * the program (FMODE_EXEC) is left to the executable rules.
 *
 * Backends, best first: lsm/file_open makes the open fail with EPERM before
 * it happens, where bpf is an active LSM; fmod_ret/security_file_open does
 * the same where BPF-LSM is not active but trampolines load (Linux 5.7+,
 * no boot parameter); the sys_exit_open* tracepoints see the open after the
 * fact and can only SIGKILL the process, which dies before it returns to
 * user space (it never reads the file, but an O_CREAT or O_TRUNC has already
 * taken effect).
 *
 * Verdicts are cached per (dentry, mount, policy version, access): a repeat
 * open costs one lookup, a new file one lookup per path component.
 */
#include "enforce.h"
#include "file.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct file_verdict_key {
	__u64 dentry;
	__u64 mnt;
	/* A freed dentry's memory may come back as another file's: with the
	 * inode's too, a stale hit is practically impossible. (A hard link
	 * is another dentry, so another key.) */
	__u64 inode;
	__u32 rules; /* id of the file tree's root: new with every version */
	__u32 access;
};

/* Recent verdicts. LRU: an evicted verdict is recomputed. 65536 entries
 * cover the working set of many containers. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct file_verdict_key);
	__type(value, __u8);
} file_verdicts SEC(".maps");

/*
 * fd_file_btf is fd_file with the walk to the descriptor table done by
 * plain loads through the task's BTF pointer (one helper call instead of
 * four): the hottest path of enforcement.
 */
static __always_inline struct file *fd_file_btf(struct task_struct *task, long fd)
{
	struct file **fds = task->files->fdt->fd;
	struct file *file = NULL;

	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* check_open decides an open by a process held to e's policy. */
static __always_inline int check_open(struct enforced *e, struct file *file,
				      const struct file_fields *ff, __u32 open_flags, bool can_deny)
{
	struct file_verdict_key vkey = {};
	struct fp_violation_event *ev;
	struct path_scratch *s;
	__u32 access, flags = 0, off, what;
	__u8 allowed, *cached;

	access = access_from(ff, open_flags);
	if (!access || (access & FP_ACCESS_EXEC))
		return 0;

	vkey.dentry = ff->dentry;
	vkey.mnt = ff->mnt;
	vkey.inode = ff->inode;
	vkey.rules = e->policy->files.id;
	vkey.access = access;

	cached = bpf_map_lookup_elem(&file_verdicts, &vkey);
	if (cached && *cached) {
		ecount(FP_KIND_FILE, FP_ECOUNT_CACHE_HITS);
		return 0;
	}
	s = get_path_scratch();
	if (!s)
		return 0;
	if (cached) {
		ecount(FP_KIND_FILE, FP_ECOUNT_CACHE_HITS);
		off = walk_file(s, file, &flags);
	} else {
		off = walk_file(s, file, &flags);
		allowed = !(access & ~match_path(s, &e->policy->files, flags));
		bpf_map_update_elem(&file_verdicts, &vkey, &allowed, BPF_ANY);
		if (allowed)
			return 0;
	}

	what = outcome(e->policy, can_deny, true);
	ev = begin_report(e, FP_KIND_FILE, vkey.dentry, vkey.inode ^ access, what);
	if (ev) {
		ev->access = access;
		ev->flags = flags;
		bpf_probe_read_kernel(ev->path, FP_PATH_MAX, &s->buf[off & FP_PATH_MASK]);
		report_exe(ev, s);
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

static __always_inline int open_exit(long ret, int flags_arg)
{
	struct task_struct *task;
	struct file_fields ff;
	struct enforced e;
	struct file *file;
	__u32 flags = 0;

	if (ret < 0)
		return 0;
	/* First the one lookup every process pays, then the rest. */
	if (!enforced_policy(&e, FP_KIND_FILE, true))
		return 0;
	task = bpf_get_current_task_btf();
	file = fd_file_btf(task, ret);
	if (!file)
		return 0;
	read_file_fields(file, &ff);
	/* Only a write can truncate: read-only opens skip the registers. */
	if (ff.mode & FMODE_WRITE)
		flags = open_flags_at_exit(task, flags_arg);
	check_open(&e, file, &ff, flags, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int fp_enforce_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 2);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int fp_enforce_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 3);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int fp_enforce_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 4);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int fp_enforce_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, 1);
}

/* file_open_hook decides an open before it happens: ret is what the hooks
 * before this one decided. */
static __always_inline int file_open_hook(struct file *file, int ret)
{
	struct file_fields ff;
	struct enforced e;

	if (ret)
		return denied_before(ret); /* already denied by another module */
	if (!enforced_policy(&e, FP_KIND_FILE, true))
		return 0;
	read_file_fields(file, &ff);
	/* O_TRUNC is still in f_flags here: do_dentry_open clears it after
	 * security_file_open. */
	return check_open(&e, file, &ff, ff.flags, true);
}

SEC("lsm/file_open")
int BPF_PROG(fp_enforce_file_open_lsm, struct file *file, int ret)
{
	return file_open_hook(file, ret);
}

/* A non-zero return skips security_file_open and fails the open with it. */
SEC("fmod_ret/security_file_open")
int BPF_PROG(fp_enforce_file_open_fmod_ret, struct file *file, int ret)
{
	return file_open_hook(file, ret);
}

/* ---- file changes without an open of the path (objects.h) ---- */

struct gate {
	struct enforced e;
};

#include "objects.h"

static __always_inline bool change_gate(struct gate *g)
{
	return enforced_policy(&g->e, FP_KIND_FILE, true);
}

/* A policy exported before a route was governed leaves it alone: its
 * workload may have taken that route unseen while it was recorded. */
static __always_inline bool route_spared(struct gate *g, __u32 spare)
{
	return g->e.policy->flags & spare;
}

/* file_change decides one access to the path walked into c->s. */
static __always_inline int file_change(struct gate *g, struct change *c, bool can_deny)
{
	struct fp_violation_event *ev;
	struct enforced *e = &g->e;
	__u32 what;

	if (!(c->access & ~match_path(c->s, &e->policy->files, c->flags)))
		return 0;
	what = outcome(e->policy, can_deny, true);
	ev = begin_report(e, FP_KIND_FILE, c->object, c->detail ^ ((__u64)c->access << 32), what);
	if (ev) {
		ev->access = c->access;
		ev->flags = c->flags;
		ev->syscall = c->syscall;
		bpf_probe_read_kernel(ev->path, FP_PATH_MAX, &c->s->buf[c->off & FP_PATH_MASK]);
		/* A hook that can deny leaves the program's path to user
		 * space (/proc/PID/exe of a process that lives on): one walk
		 * less keeps rename and link, which check two paths, within
		 * what Linux 6.1's verifier takes. */
		if (!can_deny)
			report_exe(ev, c->s);
		bpf_ringbuf_submit(ev, 0);
	}
	return act(what);
}

FP_CHANGE_TRACEPOINTS(fp_enforce)

/*
 * Times set (utimensat and its family): no LSM hook sees the path. The one
 * that can refuse, inode_setattr, gets a dentry without the mount it was
 * reached through; vfs_utimes, which every way to set times goes through,
 * has the path but cannot refuse. So the fentry program decides on the
 * path, and a refusal waits here, keyed by thread, for the
 * security_inode_setattr of the same call, which fails with it; the fexit
 * program clears what a call that failed before it left.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* One entry per thread inside a refused vfs_utimes at a time. */
	__uint(max_entries, 4096);
	__type(key, __u32);   /* thread id */
	__type(value, __u64); /* the dentry whose times may not be set */
} utimes_refused SEC(".maps");

static __always_inline void utimes_decide(const struct path *path)
{
	struct gate g;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 dentry = (__u64)BPF_CORE_READ(path, dentry);

	if (!change_gate(&g) || route_spared(&g, FP_POLICY_SPARE_UTIMES))
		return;
	if (hook_path(&g, path, FP_ACCESS_UTIMES, true) < 0)
		bpf_map_update_elem(&utimes_refused, &tid, &dentry, BPF_ANY);
}

static __always_inline int utimes_refuse(struct dentry *dentry, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *refused;

	if (ret)
		return denied_before(ret);
	refused = bpf_map_lookup_elem(&utimes_refused, &tid);
	if (!refused || *refused != (__u64)dentry)
		return 0;
	bpf_map_delete_elem(&utimes_refused, &tid);
	return eperm();
}

/*
 * FP_CHANGE_HOOK defines the program P_NAME on hook NAME of SECTION FN,
 * taking the hook's arguments (...) and deciding by CALL: a change a
 * program before this one refused (ret) stays refused, and one made outside
 * every policy is allowed before any path is walked.
 */
#define FP_CHANGE_HOOK(SECTION, FN, P, NAME, CALL, ...)                                             \
	SEC(SECTION FN #NAME)                                                                       \
	int BPF_PROG(P##_##NAME, __VA_ARGS__, int ret)                                              \
	{                                                                                           \
		struct gate g;                                                                      \
		if (ret)                                                                            \
			return denied_before(ret);                                                  \
		if (!change_gate(&g))                                                               \
			return 0;                                                                   \
		return CALL;                                                                        \
	}

/*
 * FP_CHANGE_HOOKS defines the programs on the LSM hooks (SECTION "lsm/",
 * FN "") or the security_* functions (SECTION "fmod_ret/", FN "security_"):
 * both fail the change with EPERM before it happens.
 */
#define FP_CHANGE_HOOKS(P, S, FN)                                                                   \
	FP_CHANGE_HOOK(S, FN, P, path_truncate, hook_path(&g, path, FP_ACCESS_TRUNCATE, true),      \
		       const struct path *path)                                                     \
	FP_CHANGE_HOOK(S, FN, P, file_truncate,                                                     \
		       hook_path(&g, &file->f_path, FP_ACCESS_TRUNCATE, true), struct file *file)   \
	FP_CHANGE_HOOK(S, FN, P, path_unlink, hook_child(&g, dir, dentry, FP_ACCESS_DELETE, true),  \
		       const struct path *dir, struct dentry *dentry)                               \
	FP_CHANGE_HOOK(S, FN, P, path_rmdir, hook_child(&g, dir, dentry, FP_ACCESS_DELETE, true),   \
		       const struct path *dir, struct dentry *dentry)                               \
	FP_CHANGE_HOOK(S, FN, P, path_rename,                                                       \
		       hook_rename(&g, old_dir, old_dentry, new_dir, new_dentry, flags, true),      \
		       const struct path *old_dir, struct dentry *old_dentry,                       \
		       const struct path *new_dir, struct dentry *new_dentry, unsigned int flags)   \
	FP_CHANGE_HOOK(S, FN, P, path_link, hook_link(&g, old_dentry, new_dir, new_dentry, true),   \
		       struct dentry *old_dentry, const struct path *new_dir,                       \
		       struct dentry *new_dentry)                                                   \
	FP_CHANGE_HOOK(S, FN, P, path_symlink, hook_child(&g, dir, dentry, FP_ACCESS_SYMLINK, true), \
		       const struct path *dir, struct dentry *dentry, const char *old_name)         \
	FP_CHANGE_HOOK(S, FN, P, path_mknod, hook_child(&g, dir, dentry, mknod_access(mode), true), \
		       const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev) \
	FP_CHANGE_HOOK(S, FN, P, path_mkdir,                                                        \
		       route_spared(&g, FP_POLICY_SPARE_MKDIR) ?                                    \
			       0 : hook_child(&g, dir, dentry, FP_ACCESS_CREATE, true),             \
		       const struct path *dir, struct dentry *dentry, umode_t mode)                 \
	FP_CHANGE_HOOK(S, FN, P, path_chmod, hook_path(&g, path, chmod_access(mode), true),         \
		       const struct path *path, umode_t mode)                                       \
	FP_CHANGE_HOOK(S, FN, P, path_chown, hook_path(&g, path, FP_ACCESS_CHOWN, true),            \
		       const struct path *path, unsigned int uid, unsigned int gid)                 \
	FP_CHANGE_HOOK(S, FN, P, file_receive, hook_receive(&g, file, true), struct file *file)        \
	SEC("fentry/vfs_utimes")                                                                    \
	int BPF_PROG(P##_vfs_utimes, const struct path *path, struct timespec64 *times)             \
	{                                                                                           \
		utimes_decide(path);                                                                \
		return 0;                                                                           \
	}                                                                                           \
	SEC("fexit/vfs_utimes")                                                                     \
	int BPF_PROG(P##_vfs_utimes_exit, const struct path *path, struct timespec64 *times, int rc) \
	{                                                                                           \
		__u32 tid = (__u32)bpf_get_current_pid_tgid();                                      \
		bpf_map_delete_elem(&utimes_refused, &tid);                                         \
		return 0;                                                                           \
	}                                                                                           \
	/* security_inode_setattr's arguments are the same on Linux 6.1 and \
	 * 6.12 (the LSM hook's are not): fmod_ret on both backends. */      \
	SEC("fmod_ret/security_inode_setattr")                                                      \
	int BPF_PROG(P##_inode_setattr, void *idmap, struct dentry *dentry, struct iattr *attr,     \
		     int ret)                                                                       \
	{                                                                                           \
		return utimes_refuse(dentry, ret);                                                  \
	}

FP_CHANGE_HOOKS(fp_enforce_lsm, "lsm/", "")
FP_CHANGE_HOOKS(fp_enforce_fmod_ret, "fmod_ret/", "security_")
