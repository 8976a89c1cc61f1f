// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Not a program: it puts every structure and enum of footprint.h into one
 * object's BTF so that bpf2go generates the Go types and constants once, for
 * all objects. The Go code uses the generated constants, never copies.
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
ANCHOR(fp_text_range);
ANCHOR(fp_enforced_cgroup);
ANCHOR(fp_held_process);
ANCHOR(fp_path_node);
ANCHOR(fp_path_key);
ANCHOR(fp_policy);
ANCHOR(fp_connect_rule_key);
ANCHOR(fp_violation_key);
ANCHOR(fp_violation_event);
ANCHOR(fp_syscalls);
ANCHOR(fp_lost_key);

#define ENUM_ANCHOR(t) const enum t *anchor_enum_##t __attribute__((unused))
ENUM_ANCHOR(fp_kind);
ENUM_ANCHOR(fp_watch_flag);
ENUM_ANCHOR(fp_capability_flag);
ENUM_ANCHOR(fp_access);
ENUM_ANCHOR(fp_path_flag);
ENUM_ANCHOR(fp_connect_op);
ENUM_ANCHOR(fp_counter_what);
ENUM_ANCHOR(fp_lifecycle_counter);
ENUM_ANCHOR(fp_path_key_len);
ENUM_ANCHOR(fp_enforce_mode);
ENUM_ANCHOR(fp_enforce_action);
ENUM_ANCHOR(fp_enforce_flag);
ENUM_ANCHOR(fp_policy_flag);
ENUM_ANCHOR(fp_violation_outcome);
ENUM_ANCHOR(fp_enforce_counter_what);
ENUM_ANCHOR(fp_event_flag);

/* ---- sockets ---- */
ANCHOR(fp_socket_key);
ANCHOR(fp_socket_event);
ANCHOR(fp_socket_rule_key);
ENUM_ANCHOR(fp_socket_op);
ENUM_ANCHOR(fp_socket_rule_op);

/* ---- system calls outside a policy ---- */
ANCHOR(fp_syscall_rule_key);
ENUM_ANCHOR(fp_syscall_flag);
