package bpf

// The kernel programs, one object per concern, compiled with CO-RE against
// include/vmlinux.h. The objects and their Go bindings are committed; `make
// generate` reproduces them and CI checks they are not stale.
//
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -type fp_watch -type fp_seen -type fp_event_header -type fp_capability_key -type fp_file_key -type fp_connect_key -type fp_exec_key -type fp_capability_event -type fp_file_event -type fp_file_seen -type fp_inode_key -type fp_inode_seen -type fp_connect_event -type fp_exec_event -type fp_text_range -type fp_enforced_cgroup -type fp_held_process -type fp_path_node -type fp_path_key -type fp_policy -type fp_connect_rule_key -type fp_violation_key -type fp_violation_event -type fp_syscalls -type fp_lost_key -type fp_kind -type fp_watch_flag -type fp_capability_flag -type fp_access -type fp_path_flag -type fp_connect_op -type fp_counter_what -type fp_lifecycle_counter -type fp_path_key_len -type fp_enforce_mode -type fp_enforce_action -type fp_enforce_flag -type fp_policy_flag -type fp_violation_outcome -type fp_enforce_counter_what -type fp_event_flag -type fp_socket_key -type fp_socket_event -type fp_socket_rule_key -type fp_socket_op -type fp_socket_rule_op -type fp_syscall_rule_key -type fp_syscall_flag types c/types.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types capability c/capability.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types file c/file.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types connect c/connect.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types exec c/exec.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types syscall c/syscall.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types lifecycle c/lifecycle.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforcefile c/enforce_file.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforceexec c/enforce_exec.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforcecapability c/enforce_capability.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforceconnect c/enforce_connect.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforcecgroup c/enforce_cgroup.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types socket c/socket.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforcesocket c/enforce_socket.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforceptrace c/enforce_ptrace.bpf.c -- -I./include
//go:generate go tool bpf2go -target amd64 -cc clang -cflags "-O2 -g -Wall -Werror" -no-global-types enforcesyscall c/enforce_syscall.bpf.c -- -I./include
