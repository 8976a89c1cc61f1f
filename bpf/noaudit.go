package bpf

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// noAuditCallers are kernel functions whose capability checks are all
// CAP_OPT_NOAUDIT probes. Where the capability hook has no opts argument
// (tp_btf/cap_capable), a check is a probe when one of these is on the
// kernel stack. Functions inlined on a given kernel are simply not found.
var noAuditCallers = []string{
	"cap_vm_enough_memory", // every accountable mmap: CAP_SYS_ADMIN
	// ... which 6.x kernels inline into the LSM wrapper; the wrapper makes
	// no other capability check.
	"security_vm_enough_memory_mm",
	"ns_capable_noaudit",        // e.g. seccomp without no_new_privs
	"has_ns_capability_noaudit", // e.g. the OOM killer's scoring
	"has_capability_noaudit",
}

// maxNoAuditRanges is FP_NOAUDIT_RANGES in include/footprint.h.
const maxNoAuditRanges = 16

// noAuditStatus says how no-audit probes are told apart on this kernel.
type noAuditStatus struct {
	ranges int
	err    error
}

// configureNoAudit writes the text ranges of noAuditCallers into the
// capability object's read-only data.
func configureNoAudit(spec *ebpf.CollectionSpec, kallsyms string) noAuditStatus {
	if kallsyms == "" {
		kallsyms = "/proc/kallsyms"
	}
	ranges, err := textRanges(kallsyms, noAuditCallers)
	if err != nil {
		return noAuditStatus{err: err}
	}
	var fixed [maxNoAuditRanges]typesFpTextRange
	n := copy(fixed[:], ranges)
	if err := spec.Variables["noaudit_callers"].Set(fixed); err != nil {
		return noAuditStatus{err: fmt.Errorf("set noaudit_callers: %w", err)}
	}
	if err := spec.Variables["noaudit_caller_count"].Set(uint32(n)); err != nil {
		return noAuditStatus{err: fmt.Errorf("set noaudit_caller_count: %w", err)}
	}
	return noAuditStatus{ranges: n}
}

// textRanges finds each named function's [start, end) in a kallsyms file:
// its address up to the next symbol's. Names not found are skipped.
func textRanges(path string, names []string) ([]typesFpTextRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	defer f.Close()
	var addrs []uint64
	starts := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || addr == 0 {
			continue
		}
		addrs = append(addrs, addr)
		if len(fields) == 3 && slices.Contains(names, fields[2]) {
			if _, dup := starts[fields[2]]; !dup {
				starts[fields[2]] = addr
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s shows no addresses (kernel.kptr_restrict hides them from this process)", path)
	}
	slices.Sort(addrs)
	var ranges []typesFpTextRange
	for _, name := range names {
		start, ok := starts[name]
		if !ok {
			continue
		}
		i, _ := slices.BinarySearch(addrs, start+1)
		if i == len(addrs) {
			continue
		}
		ranges = append(ranges, typesFpTextRange{Start: start, End: addrs[i]})
	}
	return ranges, nil
}
