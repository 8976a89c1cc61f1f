package bpf

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// Outcome is what enforcement did about a violation.
type Outcome uint32

// Values of enum fp_violation_outcome.
const (
	// Audited: Audit mode; the operation was allowed and reported.
	Audited = Outcome(typesFpViolationOutcomeFP_OUTCOME_AUDITED)
	// Denied: the operation failed with EPERM.
	Denied = Outcome(typesFpViolationOutcomeFP_OUTCOME_DENIED)
	// Killed: the process was killed after the operation.
	Killed = Outcome(typesFpViolationOutcomeFP_OUTCOME_KILLED)
	// DeniedKilled: the operation failed and the process was killed.
	DeniedKilled = Outcome(typesFpViolationOutcomeFP_OUTCOME_DENIED_KILLED)
	// Followed: a process left its policy's cgroups (no hook can refuse
	// that) and the policy holds it, and what it starts, where it went.
	Followed = Outcome(typesFpViolationOutcomeFP_OUTCOME_FOLLOWED)
	// Unfiltered: a system call outside an Enforce policy went through,
	// as the process runs without the policy's seccomp filter (a pod that
	// does not name its Localhost profile).
	Unfiltered = Outcome(typesFpViolationOutcomeFP_OUTCOME_UNFILTERED)
)

func (o Outcome) String() string {
	switch o {
	case Audited:
		return "audited"
	case Denied:
		return "denied"
	case Killed:
		return "killed"
	case DeniedKilled:
		return "denied and killed"
	case Followed:
		return "still held to its policy"
	case Unfiltered:
		return "not refused"
	}
	return fmt.Sprintf("outcome(%d)", uint32(o))
}

// Violation is one distinct operation outside a policy. Repeats of it are
// counted in the kernel, not reported again.
type Violation struct {
	Kind     Kind
	Time     time.Time
	PID      uint32
	UID      uint32
	Comm     string
	Exe      string // the program that did it; empty for connects
	CgroupID uint64
	PolicyID uint32
	Outcome  Outcome

	Capability    int  // KindCapability
	UserNamespace bool // KindCapability: checked in a child user namespace
	// Syscall is, for KindCapability, the x86-64 number of the system call
	// that made the check, -1 when not known; Path then holds the path it
	// was given, as given, if it takes one. For KindFile, the system call
	// of a change made without an open (unlinkat), -1 for opens. For
	// KindSyscall, the call outside the policy, numbered in its ABI.
	Syscall int
	// KindSyscall: Compat is a 32-bit (i386) call; NoSeccomp says the
	// process ran without any seccomp filter; SocketFamily is, where
	// HasSocketFamily, the address family of a socket(2) or socketpair(2)
	// call the policy allows with other families only.
	Compat, NoSeccomp, HasSocketFamily bool
	SocketFamily                       int

	Path      string // KindFile and KindExec
	Truncated bool   // the path did not fit and matched no rule
	Access    Access // KindFile: the access asked for
	Addr      netip.Addr
	Port      uint16
	Protocol  uint8 // KindConnect, KindSocket
	// Socket is, for KindSocket, the operation (Path, Addr, Port and
	// Protocol repeat its fields).
	Socket *Socket
	// KindCgroup: the process that went (the reporter, or a child it
	// cloned there) and the cgroup it went to. KindPtrace: the process
	// traced, and its cgroup.
	TargetPID      uint32
	TargetCgroupID uint64
	// TargetCgroup is that cgroup's path below the cgroup v2 mount, when
	// it still exists.
	TargetCgroup string
}

// ViolationReader reads violations from the kernel.
type ViolationReader struct {
	rb *ringbuf.Reader
	// cgroupRoot is the cgroup v2 mount cgroup ids are resolved below.
	cgroupRoot string
	clock      bootClock
	rec        ringbuf.Record
}

// NewViolationReader opens the violations ring buffer. One reader at a
// time.
func (e *Enforcer) NewViolationReader() (*ViolationReader, error) {
	rb, err := ringbuf.NewReader(e.maps["violations"])
	if err != nil {
		return nil, fmt.Errorf("open violations ring buffer: %w", err)
	}
	return &ViolationReader{rb: rb, clock: newBootClock(), cgroupRoot: e.cgroupRoot}, nil
}

// SetDeadline makes Read return os.ErrDeadlineExceeded once t has passed
// with nothing to read; the zero time blocks again.
func (rd *ViolationReader) SetDeadline(t time.Time) { rd.rb.SetDeadline(t) }

// Read blocks until the next violation, or returns ErrClosed after Close.
func (rd *ViolationReader) Read() (Violation, error) {
	if err := rd.rb.ReadInto(&rd.rec); err != nil {
		return Violation{}, err
	}
	var e typesFpViolationEvent
	if err := binary.Read(bytes.NewReader(rd.rec.RawSample), binary.NativeEndian, &e); err != nil {
		return Violation{}, fmt.Errorf("decode violation record of %d bytes: %w", len(rd.rec.RawSample), err)
	}
	v := Violation{
		Kind:     Kind(e.Hdr.Kind),
		Time:     rd.clock.wall(e.Hdr.TimestampNs),
		PID:      e.Hdr.Pid,
		UID:      e.Uid,
		Comm:     commString(e.Hdr.Comm),
		CgroupID: e.CgroupId,
		PolicyID: e.PolicyId,
		Outcome:  Outcome(e.Outcome),
		Syscall:  -1,
	}
	v.Exe, _ = pathString(e.Exe, 0)
	if v.Exe == "" {
		// Hooks that cannot see the task (connect) leave it to us; the
		// process is alive, since it was denied rather than killed.
		v.Exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", v.PID))
	}
	switch v.Kind {
	case KindCapability:
		v.Capability = int(e.Cap)
		v.UserNamespace = e.Flags&flagCapUserNS != 0
		v.Syscall = int(e.Syscall) - 1
		v.Path, _ = pathString(e.Path, 0)
	case KindFile, KindExec:
		v.Path, v.Truncated = pathString(e.Path, e.Flags)
		v.Access = Access(e.Access)
		if v.Kind == KindFile {
			// Changes made without an open say by which call.
			v.Syscall = int(e.Syscall) - 1
		}
	case KindConnect:
		v.Addr = netip.AddrFrom16(e.Addr).Unmap()
		v.Port = e.Port
		v.Protocol = e.Protocol
	case KindSocket:
		socketViolation(&v, &e)
	case KindSyscall:
		v.Syscall = int(e.Syscall) - 1
		v.Compat = e.Flags&uint32(typesFpSyscallFlagFP_SYSCALL_COMPAT) != 0
		v.NoSeccomp = e.Flags&uint32(typesFpSyscallFlagFP_SYSCALL_NO_FILTER) != 0
		if e.Flags&uint32(typesFpSyscallFlagFP_SYSCALL_FAMILY) != 0 {
			v.HasSocketFamily, v.SocketFamily = true, int(e.Family)
		}
	case KindPtrace:
		v.TargetPID = e.TargetPid
		v.TargetCgroupID = e.TargetCgroupId
		if path, err := cgroupfs.PathByID(rd.cgroupRoot, v.TargetCgroupID); err == nil {
			if rel, err := filepath.Rel(rd.cgroupRoot, path); err == nil {
				v.TargetCgroup = filepath.Join("/", rel)
			}
		}
	case KindCgroup:
		v.TargetPID = e.TargetPid
		v.TargetCgroupID = e.TargetCgroupId
		if path, err := cgroupfs.PathByID(rd.cgroupRoot, v.TargetCgroupID); err == nil {
			if rel, err := filepath.Rel(rd.cgroupRoot, path); err == nil {
				v.TargetCgroup = filepath.Join("/", rel)
			}
		}
	}
	return v, nil
}

// Drain waits until every record in the ring buffer has been read by Read
// (called from another goroutine), or until ctx is done.
func (rd *ViolationReader) Drain(ctx context.Context) error {
	for rd.rb.AvailableBytes() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// Close unblocks Read.
func (rd *ViolationReader) Close() error { return rd.rb.Close() }

// EnforcementCounters are the kernel's enforcement counters for one kind.
type EnforcementCounters struct {
	// Checked is operations checked against a policy.
	Checked uint64
	// Violations is operations outside a policy, repeats included.
	Violations uint64
	// Reported is distinct violations sent to user space.
	Reported uint64
	// Suppressed is distinct violations over the report rate (200 per
	// CPU per second); they were still acted on.
	Suppressed uint64
	// RingBufferLost is reports the ring buffer had no room for.
	RingBufferLost uint64
	// CacheHits is opens decided by the verdict cache.
	CacheHits uint64
	// Unheld is processes that left their policy's cgroups and could not
	// be held to it there: the table of such processes was full.
	Unheld uint64
}

// Counters sums the per-CPU enforcement counters of every kind, less what
// the self-tests' canaries caused.
func (e *Enforcer) Counters() (map[Kind]EnforcementCounters, error) {
	raw, err := e.rawCounters()
	if err != nil {
		return nil, err
	}
	for k, c := range raw {
		b := e.counterBase[k]
		raw[k] = EnforcementCounters{Checked: c.Checked - b.Checked, Violations: c.Violations - b.Violations,
			Reported: c.Reported - b.Reported, Suppressed: c.Suppressed - b.Suppressed,
			RingBufferLost: c.RingBufferLost - b.RingBufferLost, CacheHits: c.CacheHits - b.CacheHits,
			Unheld: c.Unheld - b.Unheld}
	}
	return raw, nil
}

func (e *Enforcer) rawCounters() (map[Kind]EnforcementCounters, error) {
	sums, err := sumCounters(e.maps["enforce_counters"], EnforcedKinds, 8)
	if err != nil {
		return nil, fmt.Errorf("read enforcement counters: %w", err)
	}
	out := map[Kind]EnforcementCounters{}
	for k, c := range sums {
		out[k] = EnforcementCounters{
			Checked:        c[typesFpEnforceCounterWhatFP_ECOUNT_CHECKED],
			Violations:     c[typesFpEnforceCounterWhatFP_ECOUNT_VIOLATIONS],
			Reported:       c[typesFpEnforceCounterWhatFP_ECOUNT_REPORTED],
			Suppressed:     c[typesFpEnforceCounterWhatFP_ECOUNT_SUPPRESSED],
			RingBufferLost: c[typesFpEnforceCounterWhatFP_ECOUNT_RINGBUF_LOST],
			CacheHits:      c[typesFpEnforceCounterWhatFP_ECOUNT_CACHE_HITS],
			Unheld:         c[typesFpEnforceCounterWhatFP_ECOUNT_MAP_FULL],
		}
	}
	return out, nil
}
