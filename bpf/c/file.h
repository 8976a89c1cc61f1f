/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* How a file was opened, shared by the recorder and the enforcer. */
#ifndef FOOTPRINT_FILE_H
#define FOOTPRINT_FILE_H

#include "kernel.h"

#define FMODE_READ (1U << 0)
#define FMODE_WRITE (1U << 1)
#define FMODE_EXEC (1U << 5)
#define FMODE_PATH (1U << 14)
#define FMODE_CREATED (1U << 20)
/* In f_flags of files execve opens (kernels where f_mode lacks FMODE_EXEC);
 * the kernel strips it from user-supplied open flags. */
#define __FMODE_EXEC 0x20
#define O_TRUNC 01000

/* access_of returns how file was opened, or 0 for an O_PATH handle (not an
 * access). */
static __always_inline __u32 access_of(struct file *file, __u32 open_flags)
{
	__u32 mode = BPF_CORE_READ(file, f_mode);
	__u32 access = 0;

	if (mode & FMODE_PATH)
		return 0;

	if (mode & FMODE_READ)
		access |= FP_ACCESS_READ;
	if (mode & FMODE_WRITE)
		access |= FP_ACCESS_WRITE;
	if ((mode & FMODE_EXEC) || (BPF_CORE_READ(file, f_flags) & __FMODE_EXEC))
		access |= FP_ACCESS_EXEC;
	if (mode & FMODE_CREATED)
		access |= FP_ACCESS_CREATE;
	if ((open_flags & O_TRUNC) && (mode & FMODE_WRITE))
		access |= FP_ACCESS_TRUNCATE;
	return access;
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *file = NULL;

	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/*
 * open_flags_at_exit returns the flags an open-family syscall was called with
 * (for O_TRUNC; FMODE_CREATED already says whether the file was created),
 * read back from the syscall's saved user registers, which the kernel leaves
 * intact on the way out. flags_arg is the position of the flags argument:
 * 2 open, 3 openat, 4 openat2 (through struct open_how), other creat.
 */
static __always_inline __u32 open_flags_at_exit(struct task_struct *task, int flags_arg)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	switch (flags_arg) {
	case 2: /* open(path, flags, mode) */
		return BPF_CORE_READ(regs, si);
	case 3: /* openat(dirfd, path, flags, mode) */
		return BPF_CORE_READ(regs, dx);
	case 4: { /* openat2(dirfd, path, how, size): how->flags */
		struct open_how *how = (struct open_how *)BPF_CORE_READ(regs, dx);
		__u64 f = 0;

		bpf_probe_read_user(&f, sizeof(f), &how->flags);
		return f;
	}
	}
	/* creat(path, mode) is open(O_CREAT|O_WRONLY|O_TRUNC) */
	return O_TRUNC;
}

/* The fields of a struct file an open is decided by. */
struct file_fields {
	__u32 mode;
	__u32 flags;
	__u64 inode;
	__u64 mnt;
	__u64 dentry;
};

/* Bytes read at once from the start of a struct file: on the kernels
 * footprint runs on, f_mode, f_flags, f_inode and f_path all lie in them. */
#define FILE_HEAD 128

/*
 * read_file_fields reads them in one copy of the struct's head, at the
 * offsets CO-RE relocates for the running kernel, where five reads would
 * cost five helper calls on every open; a layout where they do not fit
 * falls back to reading each.
 */
static __always_inline void read_file_fields(struct file *file, struct file_fields *ff)
{
	__u32 mode_off = bpf_core_field_offset(struct file, f_mode);
	__u32 flags_off = bpf_core_field_offset(struct file, f_flags);
	__u32 inode_off = bpf_core_field_offset(struct file, f_inode);
	__u32 path_off = bpf_core_field_offset(struct file, f_path);
	__u8 head[FILE_HEAD];

	if (mode_off + 4 > FILE_HEAD || flags_off + 4 > FILE_HEAD || inode_off + 8 > FILE_HEAD ||
	    path_off + 16 > FILE_HEAD || bpf_probe_read_kernel(head, sizeof(head), file)) {
		ff->mode = BPF_CORE_READ(file, f_mode);
		ff->flags = BPF_CORE_READ(file, f_flags);
		ff->inode = (__u64)BPF_CORE_READ(file, f_inode);
		ff->mnt = (__u64)BPF_CORE_READ(file, f_path.mnt);
		ff->dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
		return;
	}
	ff->mode = *(__u32 *)&head[mode_off & (FILE_HEAD - 1)];
	ff->flags = *(__u32 *)&head[flags_off & (FILE_HEAD - 1)];
	ff->inode = *(__u64 *)&head[inode_off & (FILE_HEAD - 1)];
	/* struct path is { mnt, dentry } */
	ff->mnt = *(__u64 *)&head[path_off & (FILE_HEAD - 1)];
	ff->dentry = *(__u64 *)&head[(path_off + 8) & (FILE_HEAD - 1)];
}

/* access_from is access_of on fields already read. */
static __always_inline __u32 access_from(const struct file_fields *ff, __u32 open_flags)
{
	__u32 access = 0;

	if (ff->mode & FMODE_PATH)
		return 0;
	if (ff->mode & FMODE_READ)
		access |= FP_ACCESS_READ;
	if (ff->mode & FMODE_WRITE)
		access |= FP_ACCESS_WRITE;
	if ((ff->mode & FMODE_EXEC) || (ff->flags & __FMODE_EXEC))
		access |= FP_ACCESS_EXEC;
	if (ff->mode & FMODE_CREATED)
		access |= FP_ACCESS_CREATE;
	if ((open_flags & O_TRUNC) && (ff->mode & FMODE_WRITE))
		access |= FP_ACCESS_TRUNCATE;
	return access;
}

#endif /* FOOTPRINT_FILE_H */
