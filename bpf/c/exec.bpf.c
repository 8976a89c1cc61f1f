// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Executions: the resolved path of the program the kernel ran, whether it is
 * set-user-ID or set-group-ID, whether the exec raised privileges
 * (AT_SECURE), and the effective uid and gid it ran with. For a script, a
 * second entry names the script itself.
 *
 * The exec hook also opens each watched cgroup for recording: events count
 * only from the cgroup's first exec on (in a container's cgroup, its first
 * exec that is not the runtime's: runtime.h), so the container runtime's
 * set-up (runc init) and footprint's own fork of the command never reach a
 * profile.
 *
 * Backends, best first: tp_btf/sched_process_exec (has the linux_binprm),
 * tracepoint/sched/sched_process_exec (the new mm's exe_file and auxv).
 */
#include "common.h"
#include "path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_ISUID 04000
#define S_ISGID 02000
#define S_IXGRP 00010
#define AT_SECURE 23

/* One entry per (cgroup, path, uid, gid, flags). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fp_exec_key);
	__type(value, struct fp_seen);
} executables_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fp_exec_key);
} exec_key_scratch SEC(".maps");

/*
 * watch_at_exec returns the watch of the current cgroup if executions are
 * recorded there, after marking the cgroup live.
 */
static __always_inline struct fp_watch *watch_at_exec(__u64 *cgid, __u32 old_tid)
{
	__u64 id = bpf_get_current_cgroup_id();
	struct fp_watch *w = bpf_map_lookup_elem(&watched_cgroups, &id);

	if (!w)
		return NULL;
	if ((w->flags & FP_WATCH_CONTAINERS) && runtime_exec(old_tid))
		return NULL;
	/* A plain store: every writer sets the same bit, and only user space
	 * changes the other fields. */
	if (!(w->flags & FP_WATCH_LIVE))
		w->flags |= FP_WATCH_LIVE;
	if (!(w->kinds & (1U << FP_KIND_EXEC)))
		return NULL;
	*cgid = id;
	return w;
}

static __always_inline struct fp_exec_key *exec_key(__u64 cgid, struct task_struct *task)
{
	__u32 zero = 0;
	struct fp_exec_key *key = bpf_map_lookup_elem(&exec_key_scratch, &zero);

	if (!key)
		return NULL;
	key->cgroup_id = cgid;
	key->uid = BPF_CORE_READ(task, cred, euid.val);
	key->gid = BPF_CORE_READ(task, cred, egid.val);
	key->flags = 0;
	key->_pad = 0;
	return key;
}

static __always_inline void file_mode_flags(struct fp_exec_key *key, struct file *file)
{
	__u16 mode = BPF_CORE_READ(file, f_inode, i_mode);

	if (mode & S_ISUID)
		key->flags |= FP_EXEC_SETUID;
	/* Set-group-ID without group execute is mandatory locking, not set-ID. */
	if ((mode & S_ISGID) && (mode & S_IXGRP))
		key->flags |= FP_EXEC_SETGID;
}

static __always_inline void record_exec(struct fp_exec_key *key)
{
	struct fp_exec_event *ev;
	enum fp_sighting sighting;

	sighting = seen(&executables_seen, key, FP_KIND_EXEC);
	if (sighting == FP_SIGHTING_REPEAT)
		return;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		not_sent(FP_KIND_EXEC, key->cgroup_id, sighting);
		return;
	}
	fill_header(&ev->hdr, FP_KIND_EXEC, sighting);
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	bpf_ringbuf_submit(ev, 0);
}

/* record_file_path fills key->path with the path of file and records it. */
static __always_inline void record_exec_file(struct fp_exec_key *key, struct file *file,
					     struct task_struct *task)
{
	struct path_scratch *s = get_path_scratch();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 off;

	if (!s || !fs || !file) {
		count(FP_KIND_EXEC, FP_COUNT_READ_ERROR);
		return;
	}
	off = walk_path(s, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			&fs->root, FP_PATH_MAX, &key->flags);
	if (key->flags & FP_PATH_TRUNCATED)
		count(FP_KIND_EXEC, FP_COUNT_TRUNCATED);
	copy_path(key->path, s, off);
	record_exec(key);
}

/*
 * record_script records the script an interpreter was started for, by the
 * name the caller gave to execve: absolute as given, relative joined to the
 * working directory (user space cleans "." and ".." lexically).
 */
static __always_inline void record_script(__u64 cgid, struct task_struct *task,
					  const char *filename)
{
	struct path_scratch *s = get_path_scratch();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct fp_exec_key *key = exec_key(cgid, task);
	char first = 0;
	__u32 off, len;
	long n;

	if (!s || !fs || !key)
		return;
	key->flags |= FP_EXEC_SCRIPT;
	bpf_probe_read_kernel(&first, 1, filename);
	if (first == '/') {
		n = bpf_probe_read_kernel_str(key->path, sizeof(key->path), filename);
		if (n < 0)
			return;
		/* Clear what an earlier, longer path left behind. */
		for (int i = 0; i < FP_PATH_MAX; i++) {
			if (i >= n)
				key->path[i] = 0;
		}
		record_exec(key);
		return;
	}
	/* "cwd" + "/" + filename: put "/filename" at the end of the scratch
	 * buffer (staged in key->path, which is rewritten below), then walk
	 * the working directory in front of it. */
	n = bpf_probe_read_kernel_str(key->path, FP_PATH_MAX / 2, filename);
	if (n <= 1)
		return;
	len = (n - 1) & (FP_PATH_MAX / 2 - 1);
	off = FP_PATH_MAX - len;
	bpf_probe_read_kernel(&s->buf[off & FP_PATH_MASK], len, key->path);
	off -= 1;
	s->buf[off & FP_PATH_MASK] = '/';
	off = walk_path(s, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &fs->root,
			off, &key->flags);
	copy_path(key->path, s, off);
	record_exec(key);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fp_exec_tp_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct fp_exec_key *key;
	const char *filename, *interp;
	struct file *file;
	__u64 cgid;

	if (!watch_at_exec(&cgid, old_pid))
		return 0;
	key = exec_key(cgid, task);
	if (!key)
		return 0;
	file = BPF_CORE_READ(bprm, file);
	file_mode_flags(key, file);
	if (BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec))
		key->flags |= FP_EXEC_SECURE;
	record_exec_file(key, file, task);

	filename = BPF_CORE_READ(bprm, filename);
	interp = BPF_CORE_READ(bprm, interp);
	if (interp != filename)
		record_script(cgid, task, filename);
	return 0;
}

/* at_secure reads AT_SECURE from the auxiliary vector the exec just built. */
static __always_inline bool at_secure(struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long auxv[2];

	for (int i = 0; i < 28; i++) {
		if (bpf_probe_read_kernel(auxv, sizeof(auxv), &mm->saved_auxv[2 * i]) < 0)
			return false;
		if (auxv[0] == 0)
			return false; /* AT_NULL */
		if (auxv[0] == AT_SECURE)
			return auxv[1] != 0;
	}
	return false;
}

SEC("tracepoint/sched/sched_process_exec")
int fp_exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fp_exec_key *key;
	struct file *file;
	__u64 cgid;

	if (!watch_at_exec(&cgid, ctx->old_pid))
		return 0;
	key = exec_key(cgid, task);
	if (!key)
		return 0;
	file = BPF_CORE_READ(task, mm, exe_file);
	file_mode_flags(key, file);
	if (at_secure(task))
		key->flags |= FP_EXEC_SECURE;
	record_exec_file(key, file, task);
	return 0;
}
