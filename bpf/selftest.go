package bpf

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// Self-tests prove that each backend footprint relies on fires: a canary
// process (canary.go) does each operation under test in a cgroup of its
// own, watched or held, and the backend must be seen to record it, or to
// refuse it with EPERM (backends that prevent) or kill the canary (backends
// that kill after the fact), and to report the violation. What the canary
// leaves in the maps, counters and ring buffers is removed or discounted
// before anyone reads them.

// The ids the self-tests use, which callers must leave to them: policy ids
// and rule (path node and connect set) ids from these up.
const (
	FirstReservedPolicyID = ^uint32(0) - 16
	FirstReservedRuleID   = ^uint32(0) - 4096
)

// selfTestRecordingID, selfTestPolicyID and selfTestRuleID mark the
// self-tests' entries.
const (
	selfTestRecordingID = ^uint64(0)
	selfTestPolicyID    = FirstReservedPolicyID
	selfTestRuleID      = FirstReservedRuleID
)

// canaryOps are the canary's operations that exercise each kind; exec is
// exercised by starting the canary.
var canaryOps = map[Kind]string{KindFile: canaryOpen, KindCapability: canaryCapability, KindConnect: canaryConnect, KindPtrace: canaryPtrace}

// enforcerCanaryOps are the enforcer's self-test operations of kinds the
// recorder proves with other ones.
var enforcerCanaryOps = map[Kind]string{KindSyscall: canarySeccomp}

// What the enforcer's canary does, where it differs from the recorder's.
var enforcerCanaryDoes = map[Kind]string{KindSyscall: "io_uring_setup"}

// What the canary does, for the proofs and reasons a self-test gives.
var canaryDoes = map[Kind]string{
	KindExec:       "exec",
	KindSyscall:    "system calls",
	KindFile:       "open of /proc/self/comm",
	KindCapability: "CAP_SETGID check (setgroups)",
	KindConnect:    "UDP connect to 127.0.0.1:9",
	KindCgroup:     "move to another cgroup",
	KindPtrace:     "process_vm_readv of its parent",
}

// selfTest runs one canary in a cgroup watched for every kind on trial and
// checks each kind recorded its operation.
func (r *Recorder) selfTest(home *canaryHome, trial map[Kind]*attachment) (failed, proofs map[Kind]string) {
	failed, proofs = map[Kind]string{}, map[Kind]string{}
	failAll := func(err error) (map[Kind]string, map[Kind]string) {
		for k := range trial {
			failed[k] = "self-test could not run: " + err.Error()
		}
		return failed, proofs
	}
	cg, err := home.create("record")
	if err != nil {
		return failAll(err)
	}
	defer removeCanaryCgroup(cg)
	var kinds KindSet
	var ops []string
	for k, a := range trial {
		kinds = kinds.With(k)
		r.collections[k] = a.coll
		if a.backend.canary != nil {
			ops = append(ops, a.backend.canary...)
		} else if op := canaryOps[k]; op != "" {
			ops = append(ops, op)
		}
		if k == KindFile && len(a.backend.changes) > 0 {
			ops = append(ops, canaryChown)
		}
		if k == KindFile && a.timesAttached() {
			ops = append(ops, canaryUtimes)
		}
	}
	defer func() {
		for k := range failed {
			delete(r.collections, k)
		}
	}()
	slices.Sort(ops)
	if err := r.Watch(cg.ID, Watch{RecordingID: selfTestRecordingID, Kinds: kinds, Live: true}); err != nil {
		return failAll(err)
	}
	defer r.Unwatch(cg.ID)
	outcome, err := runCanaryIn(cg, ops)
	if err != nil {
		return failAll(err)
	}
	own := func(id uint64) bool { return id == cg.ID }
	entries, err := r.Sweep(own)
	if err != nil {
		return failAll(err)
	}
	defer r.Forget(own)
	seen := map[Kind]int{}
	changeSeen, timesSeen := false, false
	for _, e := range entries {
		changeSeen = changeSeen || (e.File != nil && e.File.Access&AccessChown != 0)
		timesSeen = timesSeen || (e.File != nil && e.File.Access&AccessUtimes != 0)
		// A file backend is proven by its open alone: its change
		// programs are another route, and the times one is an fentry
		// program that fires where the backend's LSM hooks never run.
		if e.File == nil || e.File.Access&AccessChanges == 0 {
			seen[e.Kind]++
		}
	}
	if a := trial[KindFile]; a != nil && len(a.backend.changes) > 0 && !changeSeen {
		// Opens are covered all the same; changes are said not to be.
		a.changesFailed(fmt.Sprintf("attached, but recorded nothing of the self-test canary's chown of %s (%s)", canaryFile, outcome))
	} else if a != nil && a.timesAttached() && !timesSeen {
		a.timesFailed(fmt.Sprintf("attached, but recorded nothing of the self-test canary's time set on %s (%s)", canaryFile, outcome))
	}
	for k, a := range trial {
		if a.backend.canary != nil {
			does := describeSocketCanary(a.backend.canary)
			if missing := socketCanaryRecorded(entries, a.backend.canary); len(missing) > 0 {
				failed[k] = fmt.Sprintf("attached, but recorded nothing of the self-test canary's %s (%s)", strings.Join(missing, ", "), outcome)
				continue
			}
			proofs[k] = fmt.Sprintf("recorded the self-test canary's %s", does)
			continue
		}
		if seen[k] == 0 {
			failed[k] = fmt.Sprintf("attached, but recorded nothing of the self-test canary's %s (%s)", canaryDoes[k], outcome)
			continue
		}
		proofs[k] = fmt.Sprintf("recorded the self-test canary's %s", canaryDoes[k])
		if k == KindFile && changeSeen {
			proofs[k] += " and its chown"
			if timesSeen {
				proofs[k] += " and time set"
			}
		}
	}
	return failed, proofs
}

// drainRingBuffer discards what the self-tests left in a ring buffer; its
// reader has not started yet.
func drainRingBuffer(m *ebpf.Map) error {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return fmt.Errorf("drain ring buffer: %w", err)
	}
	defer rd.Close()
	rd.SetDeadline(time.Now())
	var rec ringbuf.Record
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("drain ring buffer: %w", err)
		}
	}
}

// selfTest holds one canary per kind on trial to a policy that forbids its
// operation, and checks the backend refused it (or killed the canary, where
// that is all the backend can do) and reported the violation.
func (e *Enforcer) selfTest(home *canaryHome, trial map[Kind]*attachment) (failed, proofs map[Kind]string) {
	failed, proofs = map[Kind]string{}, map[Kind]string{}
	for k, a := range trial {
		proof, err := e.selfTestKind(home, k, a)
		if err != nil {
			failed[k] = err.Error()
			continue
		}
		proofs[k] = proof
	}
	return failed, proofs
}

func (e *Enforcer) selfTestKind(home *canaryHome, k Kind, a *attachment) (string, error) {
	b := a.backend
	if k == KindCgroup {
		return e.selfTestCgroups(home)
	}
	cg, err := home.create("enforce-" + k.String())
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer removeCanaryCgroup(cg)
	policyID := selfTestPolicyID + uint32(k)
	policy := KernelPolicy{Mode: ModeEnforce, Action: ActionDeny, Governs: KindSet(0).With(k)}
	var rules []PathKey
	defer func() {
		for _, key := range rules {
			e.DeletePathRule(key)
		}
	}()
	switch k {
	case KindFile:
		// Everything is allowed but /proc/*/comm: the Go runtime and the
		// dynamic loader open what they need.
		var err error
		if policy.Files, rules, err = e.putCanaryFileTree(selfTestRuleID); err != nil {
			return "", fmt.Errorf("self-test could not run: %w", err)
		}
	case KindExec:
		policy.Executables = PathNode{ID: selfTestRuleID} // nothing may be executed
	case KindConnect, KindSocket:
		policy.ConnectSet = selfTestRuleID // no destination or socket operation is allowed
	case KindSyscall:
		// Every call but the canary's, which its own filter refuses.
		key := SyscallRuleKey{PolicyID: policyID, Version: policy.Version}
		if err := e.PutSyscallRules(key, allSyscallsBut(canarySyscall)); err != nil {
			return "", fmt.Errorf("self-test could not run: %w", err)
		}
		defer e.DeleteSyscallRules(key)
	}
	if err := e.PutPolicy(policyID, policy); err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer e.DeletePolicy(policyID)
	if err := e.EnforceCgroup(cg.ID, policyID, Hold{Live: true}); err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer e.ReleaseCgroup(cg.ID)
	var ops []string
	if b.canary != nil {
		ops = b.canary
	} else if op := enforcerCanaryOps[k]; op != "" {
		ops = []string{op}
	} else if op := canaryOps[k]; op != "" {
		ops = []string{op}
	}
	outcome, err := runCanaryIn(cg, ops)
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	reported, err := e.forgetViolations(cg.ID, k)
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}

	does := canaryDoes[k]
	if d := enforcerCanaryDoes[k]; d != "" {
		does = d
	}
	var refused bool
	switch {
	case k == KindSyscall:
		refused = outcome.results[canarySeccomp] == "EPERM"
		if refused && reported {
			// The report must tell the filter refused it: the
			// program read the task's seccomp mode and the errno.
			got, err := e.reportedOutcome(cg.ID, k)
			if err != nil {
				return "", fmt.Errorf("self-test could not run: %w", err)
			}
			if got != Denied {
				return "", fmt.Errorf("attached, but reported the self-test canary's %s as %q, not as refused", enforcerCanaryDoes[k], got)
			}
		}
	case k == KindExec:
		refused = errors.Is(outcome.execErr, unix.EPERM)
	case b.canary != nil:
		// Every route the backend claims.
		does = describeSocketCanary(b.canary)
		refused = true
		var let []string
		for _, op := range b.canary {
			if outcome.results[op] != "EPERM" {
				refused = false
				let = append(let, fmt.Sprintf("%s: %s", socketCanaryDoes[op], outcome.results[op]))
			}
		}
		if !refused && len(let) < len(b.canary) {
			return "", fmt.Errorf("attached, but did not refuse all of the self-test canary's %s with EPERM (%s)", does, strings.Join(let, "; "))
		}
	default:
		refused = outcome.results[canaryOps[k]] == "EPERM"
	}
	if k == KindFile && refused != outcome.killed && reported && len(b.changes) > 0 {
		// The open is proven; the change hooks are tested on their own.
		if err := e.selfTestChanges(cg, b, canaryChown); err != nil {
			a.changesFailed(err.Error())
		} else {
			does += " and its chown"
			// The times hooks are a route of their own (fentry and
			// fmod_ret beside an LSM backend's path hooks).
			if a.timesAttached() {
				if err := e.selfTestChanges(cg, b, canaryUtimes); err != nil {
					a.timesFailed(err.Error())
				} else {
					does += " and time set"
				}
			}
		}
	}
	switch {
	case b.effect == ReportedSeccomp && refused && reported:
		return fmt.Sprintf("reported the self-test canary's %s, which its seccomp filter refused with EPERM", does), nil
	case b.effect == ReportedSeccomp && !refused:
		return "", fmt.Errorf("self-test could not run: the canary's %s was not refused with EPERM (%s; result %q)", does, outcome, outcome.results[canarySeccomp])
	case b.effect == ReportedSeccomp:
		return "", fmt.Errorf("attached, but did not report the self-test canary's %s (%s)", does, outcome)
	case b.effect == Prevented && refused && reported:
		return fmt.Sprintf("refused the self-test canary's %s with EPERM and reported it", does), nil
	case b.effect == KilledAfter && outcome.killed && reported:
		return fmt.Sprintf("killed the self-test canary at its %s and reported it", does), nil
	case !reported && !refused && !outcome.killed:
		return "", fmt.Errorf("attached, but let the self-test canary's %s through unseen (%s)", does, outcome)
	case b.effect == Prevented && !refused:
		return "", fmt.Errorf("attached, but did not refuse the self-test canary's %s with EPERM (%s; reported: %v)", does, outcome, reported)
	case b.effect == KilledAfter && !outcome.killed:
		return "", fmt.Errorf("attached, but did not kill the self-test canary at its %s (%s; reported: %v)", does, outcome, reported)
	}
	return "", fmt.Errorf("attached, but did not report the self-test canary's %s (%s)", does, outcome)
}

// selfTestCgroups holds a canary to a policy, has it move itself to a
// cgroup outside the policy, and checks that the move was reported, that
// the policy held the canary where it went, and that the canary's entry
// went with its exit.
func (e *Enforcer) selfTestCgroups(home *canaryHome) (string, error) {
	cg, err := home.create("enforce-cgroups")
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer removeCanaryCgroup(cg)
	outside, err := home.create("outside")
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer removeCanaryCgroup(outside)
	policyID := selfTestPolicyID + uint32(KindCgroup)
	policy := KernelPolicy{Mode: ModeEnforce, Action: ActionDeny, Governs: KindSet(0).With(KindCgroup)}
	if err := e.PutPolicy(policyID, policy); err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer e.DeletePolicy(policyID)
	if err := e.EnforceCgroup(cg.ID, policyID, Hold{Live: true}); err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	defer e.ReleaseCgroup(cg.ID)
	var held *HeldProcess
	var heldErr error
	var pid int
	outcome, err := runCanaryWith(cg, []string{canaryLeave}, canaryRun{outside: outside, away: func(p int) {
		pid = p
		held, heldErr = e.HeldProcess(uint32(p))
	}})
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	reported, err := e.forgetViolations(cg.ID, KindCgroup)
	if err != nil {
		return "", fmt.Errorf("self-test could not run: %w", err)
	}
	does := canaryDoes[KindCgroup]
	switch {
	case outcome.results[canaryLeave] != "ok":
		return "", fmt.Errorf("self-test could not run: the canary's %s failed (%s; result %q)", does, outcome, outcome.results[canaryLeave])
	case heldErr != nil:
		return "", fmt.Errorf("self-test could not run: %w", heldErr)
	case held == nil && !reported:
		return "", fmt.Errorf("attached, but let the self-test canary's %s through unseen (%s)", does, outcome)
	case held == nil || held.PolicyID != policyID || held.LeftCgroupID != cg.ID:
		return "", fmt.Errorf("attached, but did not hold the self-test canary to its policy after its %s (held: %+v)", does, held)
	case !reported:
		return "", fmt.Errorf("attached, but did not report the self-test canary's %s", does)
	}
	if after, err := e.HeldProcess(uint32(pid)); err != nil || after != nil {
		return "", fmt.Errorf("attached, but did not let the self-test canary go at its exit (held: %+v, %v)", after, err)
	}
	return fmt.Sprintf("held the self-test canary to its policy after its %s, reported it, let it go at its exit", does), nil
}

// putCanaryFileTree writes a file tree that grants every access to every
// path but /proc/*/comm (canaryFile, resolved), with node ids from firstID
// on, and returns its root and the keys it wrote. The tree is a literal
// node per component of that path, granting nothing below it, each with a
// wildcard sibling that grants everything.
func (e *Enforcer) putCanaryFileTree(firstID uint32) (PathNode, []PathKey, error) {
	all := AccessRead | AccessWrite | AccessExec | AccessCreate | AccessTruncate | AccessChanges
	root, proc, pid, comm := firstID, firstID+1, firstID+2, firstID+3
	rules := []PathRule{
		{PathKey{Parent: root, Wildcard: true}, PathNode{ID: firstID + 4, Access: all, Descendants: all}},
		{PathKey{Parent: root, Name: "proc"}, PathNode{ID: proc, Access: all}},
		{PathKey{Parent: proc, Wildcard: true}, PathNode{ID: pid, Access: all}},
		{PathKey{Parent: pid, Wildcard: true}, PathNode{ID: firstID + 5, Access: all, Descendants: all}},
		{PathKey{Parent: pid, Name: "comm"}, PathNode{ID: comm}},
	}
	var keys []PathKey
	for _, r := range rules {
		if err := e.PutPathRule(r.Key, r.Node); err != nil {
			return PathNode{}, keys, err
		}
		keys = append(keys, r.Key)
	}
	return PathNode{ID: root, Access: all}, keys, nil
}

// forgetViolations deletes the violations of kind k recorded in a cgroup
// and says whether there were any.
func (e *Enforcer) forgetViolations(cgroupID uint64, k Kind) (bool, error) {
	m := e.maps["violations_seen"]
	var key typesFpViolationKey
	var count uint64
	var doomed []typesFpViolationKey
	it := m.Iterate()
	for it.Next(&key, &count) {
		if key.CgroupId == cgroupID {
			doomed = append(doomed, key)
		}
	}
	if err := it.Err(); err != nil {
		return false, fmt.Errorf("read violations: %w", err)
	}
	// A canary's entry as a held process goes at its exit; one left by a
	// canary killed on its way must not hold a later process with its id.
	if err := e.releaseHeld(func(h HeldProcess) bool { return h.LeftCgroupID == cgroupID }); err != nil {
		return false, err
	}
	found := false
	for i := range doomed {
		found = found || Kind(doomed[i].Kind) == k
		m.Delete(&doomed[i])
	}
	return found, nil
}

// reportedOutcome reads the violations ring buffer (the self-tests' alone
// until the loader drains it) for the report of a kind in a cgroup and
// returns its outcome, 0 when there is none.
func (e *Enforcer) reportedOutcome(cgroupID uint64, k Kind) (Outcome, error) {
	rd, err := e.NewViolationReader()
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	rd.SetDeadline(time.Now())
	for {
		v, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read the self-test's violations: %w", err)
		}
		if v.Kind == k && v.CgroupID == cgroupID {
			return v.Outcome, nil
		}
	}
}

// allSyscallsBut is system call rules that allow every call of both ABIs
// but native call nr.
func allSyscallsBut(nr int) SyscallRules {
	var r SyscallRules
	for i := range r.Native {
		r.Native[i], r.Compat[i] = ^uint64(0), ^uint64(0)
	}
	r.Native[nr/64] &^= 1 << (nr % 64)
	return r
}

// removeCanaryCgroup removes a canary's cgroup once the kernel has let go of
// the canary (a cgroup stays busy a moment after its last task is reaped).
func removeCanaryCgroup(cg *cgroupfs.Cgroup) {
	for i := 0; i < 100; i++ {
		if err := cg.Remove(); err == nil || !errors.Is(err, unix.EBUSY) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// selfTestChanges has a canary in cg, held to the file self-test's policy,
// make change op (canaryChown, canaryUtimes) to the file it may not open,
// and checks the backend's hooks for it refused it (or killed the canary)
// and reported it.
func (e *Enforcer) selfTestChanges(cg *cgroupfs.Cgroup, b backend, op string) error {
	outcome, err := runCanaryIn(cg, []string{op})
	if err != nil {
		return fmt.Errorf("self-test could not run: %w", err)
	}
	reported, err := e.forgetViolations(cg.ID, KindFile)
	if err != nil {
		return fmt.Errorf("self-test could not run: %w", err)
	}
	refused := outcome.results[op] == "EPERM"
	switch {
	case b.effect == Prevented && refused && reported, b.effect == KilledAfter && outcome.killed && reported:
		return nil
	}
	return fmt.Errorf("attached, but did not stop and report the self-test canary's %s of %s (%s; reported: %v)", op, canaryFile, outcome, reported)
}
