/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Resolving a (dentry, vfsmount) to the path the process sees, for hooks
 * where bpf_d_path is not allowed (tracepoints). The walk goes from the file
 * up to the process's root (its chroot or the root of its mount namespace),
 * crossing mount points, and stops there: a container sees /etc/hosts, not
 * the host's overlay directory.
 */
#ifndef FOOTPRINT_PATH_H
#define FOOTPRINT_PATH_H

#include "kernel.h"

#define FP_PATH_MASK (FP_PATH_MAX - 1)
/* comp_start entries: a power of two above FP_PATH_DEPTH, for masking. */
#define FP_PATH_COMPONENTS 64

/*
 * The path is built backwards from the end of the first half; the second
 * half stays zero forever, so copying FP_PATH_MAX bytes from the path's start
 * yields the path followed by NULs, and the verifier can bound every access
 * with a mask instead of a branch.
 */
struct path_scratch {
	char buf[2 * FP_PATH_MAX];
	/* Loop state lives here rather than in registers: the verifier does
	 * not track map memory, so every iteration of the walk looks the
	 * same to it and its states merge instead of multiplying. */
	__u32 off;
	/* Where each component's "/name" starts, leaf first, and how many:
	 * the enforcer matches rules from the root down. */
	__u32 ncomp;
	__u32 end; /* where the path ends */
	__u32 _pad;
	__u16 comp_start[FP_PATH_COMPONENTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

static __always_inline struct path_scratch *get_path_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&path_scratch, &zero);
}

/*
 * walk_path writes the path of (dentry, vfsmnt), relative to root, so that it
 * ends at offset end of buf (whatever is already at [end, FP_PATH_MAX) is a
 * suffix that stays), and returns the offset where it starts. Sets
 * FP_PATH_TRUNCATED in *flags when the path did not fit or was too deep.
 */
static __always_inline __u32 walk_path_below(struct path_scratch *s, struct dentry *dentry,
					     struct vfsmount *vfsmnt, const struct path *root,
					     __u32 end, __u32 *flags, __u32 first_comp);

static __always_inline __u32 walk_path(struct path_scratch *s, struct dentry *dentry,
				       struct vfsmount *vfsmnt, const struct path *root,
				       __u32 end, __u32 *flags)
{
	return walk_path_below(s, dentry, vfsmnt, root, end, flags, 0);
}

/*
 * walk_path_below is walk_path for a path whose last first_comp components
 * the caller has already written at [end, FP_PATH_MAX) and entered in
 * comp_start (leaf first): the walk's components are numbered after them.
 */
static __always_inline __u32 walk_path_below(struct path_scratch *s, struct dentry *dentry,
					     struct vfsmount *vfsmnt, const struct path *root,
					     __u32 end, __u32 *flags, __u32 first_comp)
{
	struct dentry *root_dentry = BPF_CORE_READ(root, dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(root, mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	bool reached_root = false;
	__u32 off;

	s->off = end > FP_PATH_MAX ? FP_PATH_MAX : end;
	s->end = s->off;
	s->ncomp = first_comp;

	for (int i = 0; i < FP_PATH_DEPTH; i++) {
		struct dentry *mnt_root, *parent;
		struct qstr name;
		__u32 len, start;

		if (dentry == root_dentry && vfsmnt == root_mnt) {
			reached_root = true;
			break;
		}
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent;

			if (dentry != mnt_root)
				break; /* not reachable from a mount root */
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt) {
				/* Top of the mount tree without meeting the
				 * process's root: the file is outside it, and
				 * its path is relative to the namespace root. */
				reached_root = true;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = &mnt->mnt;
			continue;
		}
		name = BPF_CORE_READ(dentry, d_name);
		len = name.len & FP_PATH_MASK;
		off = s->off;
		if (len + 1 > off) {
			*flags |= FP_PATH_TRUNCATED;
			break;
		}
		start = off - len - 1;
		/* "/name" at [start, off) */
		bpf_probe_read_kernel(&s->buf[(start + 1) & FP_PATH_MASK], len, name.name);
		s->buf[start & FP_PATH_MASK] = '/';
		s->off = start;
		s->comp_start[s->ncomp & (FP_PATH_COMPONENTS - 1)] = start;
		s->ncomp++;
		dentry = parent;
	}
	if (!reached_root && !(*flags & FP_PATH_TRUNCATED)) {
		/* Deeper than FP_PATH_DEPTH, or unreachable: either way the
		 * leading components are missing. */
		*flags |= FP_PATH_TRUNCATED;
	}
	off = s->off;
	if (off >= FP_PATH_MAX) {
		/* Nothing written: the root itself. */
		off = FP_PATH_MAX - 1;
		s->buf[off & FP_PATH_MASK] = '/';
	}
	return off & FP_PATH_MASK;
}

/* copy_path copies the path starting at off into dst (FP_PATH_MAX bytes,
 * NUL-padded). */
static __always_inline void copy_path(char *dst, struct path_scratch *s, __u32 off)
{
	bpf_probe_read_kernel(dst, FP_PATH_MAX, &s->buf[off & FP_PATH_MASK]);
}

#endif /* FOOTPRINT_PATH_H */
