// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Not a program: it puts every structure of footprint.h into one object's
 * BTF so that bpf2go generates the Go types once, for all objects.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "footprint.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ANCHOR(t) const struct t *anchor_##t __attribute__((unused))
ANCHOR(fp_watch);
ANCHOR(fp_event_header);
ANCHOR(fp_capability_key);
ANCHOR(fp_file_key);
ANCHOR(fp_connect_key);
ANCHOR(fp_exec_key);
ANCHOR(fp_seen);
ANCHOR(fp_capability_event);
ANCHOR(fp_file_event);
ANCHOR(fp_file_seen);
ANCHOR(fp_inode_key);
ANCHOR(fp_inode_seen);
ANCHOR(fp_connect_event);
ANCHOR(fp_exec_event);
ANCHOR(fp_cgroup_event);
ANCHOR(fp_text_range);
ANCHOR(fp_enforced_cgroup);
ANCHOR(fp_path_node);
ANCHOR(fp_path_key);
ANCHOR(fp_policy);
ANCHOR(fp_connect_rule_key);
ANCHOR(fp_violation_key);
ANCHOR(fp_violation_event);
