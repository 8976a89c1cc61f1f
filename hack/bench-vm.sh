#!/usr/bin/env bash
# bench-vm.sh runs make bench's loops (test/bench) in the test VM with Debian's kernel, once
# per family of backends this host cannot load: BPF-LSM (bpf an active LSM), fmod_ret and
# fentry (bpf built in, not active: Ubuntu's default), and the syscall tracepoints (asked
# for by name). Each run reports its ratios against a baseline measured in the same VM
# run. The VM emulates its CPU (TCG): the ratios are indicative and gate nothing; the
# programs' own run times (kernel.bpf_stats_enabled) compare better across the families.
#
#   usage: hack/bench-vm.sh [FAMILY...]    FAMILY: lsm fmod_ret tracepoint (default all)
#   env:   BENCHROUNDS (default 7), VM_BENCHTIME (default 200ms), VM_STATS_TIME (1s),
#          VM_BENCH (the loops, a -test.bench pattern; default all, e.g. Chmod)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCHROUNDS:-7}
benchtime=${VM_BENCHTIME:-200ms}
stats_time=${VM_STATS_TIME:-1s}
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(lsm fmod_ret tracepoint)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go test -c -o "$work/bench.test" ./test/bench

with_bpf="lsm=lockdown,capability,landlock,yama,bpf"
without_bpf="lsm=lockdown,capability,landlock,yama"
tracepoint="files=tracepoint/syscalls/sys_exit_open*"

for family in "${families[@]}"; do
	args=(-test.run '^$' -test.bench "${VM_BENCH:-.}" -test.benchtime "$benchtime" -rounds "$rounds" -stats-time "$stats_time")
	case $family in
	lsm) append=$with_bpf ;;
	fmod_ret) append=$without_bpf ;;
	tracepoint)
		append=$with_bpf
		args+=(-record-backends "$tracepoint" -enforce-backends "$tracepoint,executables=tp_btf/sched_process_exec")
		;;
	*)
		echo "bench-vm.sh: unknown family $family (lsm, fmod_ret, tracepoint)" >&2
		exit 2
		;;
	esac
	echo "=== $family backends, Debian's kernel in the VM (boot: $append)"
	if ! FOOTPRINT_VM_APPEND=$append FOOTPRINT_VM_TIMEOUT=${FOOTPRINT_VM_TIMEOUT:-3600} \
		bash test/vm/vmtest.sh -e CI=true "$work/bench.test" "${args[@]}" >"$work/$family.log" 2>&1; then
		cat "$work/$family.log"
		echo "bench-vm.sh: the $family run failed" >&2
		exit 1
	fi
	# The tables and what the VM booted; not the kernel's log or every sub-benchmark.
	grep -vE '^(\[ *[0-9.]+\]|Benchmark.*ns/op$|vmtest: (booting|set-up)|--- BENCH|    bench_test)' "$work/$family.log"
done
