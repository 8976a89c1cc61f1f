package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// LifecycleOptions configures LoadLifecycle.
type LifecycleOptions struct {
	// CgroupRoot is the cgroup v2 mount.
	CgroupRoot string
	// PinPath, when set, is a directory on the BPF filesystem where the
	// watch list, the enforced cgroups, the runtime's tasks and the
	// programs' links are pinned, and re-opened with their entries by the
	// next LoadLifecycle.
	PinPath string
	// AdoptPins names, per map, a directory where an earlier footprint
	// version pinned it (before the lifecycle had a directory of its
	// own): such a pin is moved here, entries and all.
	AdoptPins map[string]string
}

// Lifecycle is the kernel side the recorder and the enforcer share: the
// maps of watched and enforced cgroups and of the container runtime's tasks,
// and the programs that keep them up to date as cgroups are created and
// tasks fork, exec and exit (bpf/c/lifecycle.bpf.c). One per process: every
// fork, exec and exit on the node then runs one such program, not one per
// part.
type Lifecycle struct {
	cgroupRoot string
	pinPath    string
	// pins are the predecessor's pinned maps this one replaced.
	pins     pinLog
	maps     map[string]*ebpf.Map
	attached *attachment

	mu sync.Mutex
	// users are the Recorder and Enforcer using it; the last to close
	// closes it when it was loaded for them.
	users int
	owned bool
}

// lifecycleMapNames are the maps the lifecycle object declares and shares.
var lifecycleMapNames = []string{"watched_cgroups", "pod_parents", "enforced_cgroups", "runtime_tasks", "lifecycle_counters"}

var lifecycleBackend = backend{
	name:     "tp_btf/cgroup_mkdir+sched_process_fork+exec+exit",
	object:   "lifecycle",
	programs: []string{"fp_cgroup_mkdir", "fp_cgroup_rmdir", "fp_runtime_attach", "fp_runtime_fork", "fp_runtime_exec", "fp_runtime_exit"},
}

// ErrNoBTF means the kernel does not describe its own types (no
// CONFIG_DEBUG_INFO_BTF), which CO-RE programs need.
var ErrNoBTF = errors.New("kernel BTF not found at /sys/kernel/btf/vmlinux: footprint needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels are)")

// checkKernel refuses, with the fix, what no part of footprint can run on.
func checkKernel(cgroupRoot string) error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return ErrNoBTF
	}
	if cgroupRoot == "" {
		return errors.New("load BPF programs: no cgroup v2 mount given")
	}
	// Where the memlock rlimit still applies (kernels before 5.11), lift
	// it; elsewhere BPF memory is charged to the memory cgroup and this is
	// a no-op.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("lift memlock rlimit: %w", err)
	}
	return nil
}

// LoadLifecycle loads and attaches the lifecycle programs and checks, with
// a cgroup made for the purpose, that they propagate watches and holds to a
// new cgroup and drop them when it goes.
func LoadLifecycle(opts LifecycleOptions) (*Lifecycle, error) {
	if err := checkKernel(opts.CgroupRoot); err != nil {
		return nil, err
	}
	if opts.PinPath != "" {
		if err := preparePinPath(opts.PinPath); err != nil {
			return nil, err
		}
		if err := adoptPins(opts.PinPath, opts.AdoptPins); err != nil {
			return nil, err
		}
	}
	spec, err := loadLifecycle()
	if err != nil {
		return nil, fmt.Errorf("parse embedded lifecycle object: %w", err)
	}
	pinnable(spec, opts.PinPath)
	l := &Lifecycle{cgroupRoot: opts.CgroupRoot, pinPath: opts.PinPath, maps: map[string]*ebpf.Map{}}
	for _, name := range lifecycleMapNames {
		m, err := newSharedMap(spec.Maps[name], opts.PinPath, &l.pins)
		if err != nil {
			l.closeMaps()
			return nil, mapError(name, err)
		}
		l.maps[name] = m
	}
	a, rj := loadBackend(spec, lifecycleBackend, l.maps, opts.CgroupRoot, opts.PinPath, &l.pins)
	if rj != nil {
		l.closeMaps()
		return nil, fmt.Errorf("the cgroup and task lifecycle programs (%s) do not work on this kernel: %s", lifecycleBackend.name, rj.Reason)
	}
	l.attached = a
	if err := unpinOtherLinks(opts.PinPath, programsOf(map[Kind]*attachment{0: a})); err != nil {
		l.close()
		return nil, err
	}
	if err := l.selfTest(); err != nil {
		l.close()
		return nil, fmt.Errorf("the cgroup lifecycle programs (%s) attached but do not work: %w", lifecycleBackend.name, err)
	}
	return l, nil
}

// adoptPins moves maps an earlier version pinned elsewhere into pinPath.
func adoptPins(pinPath string, from map[string]string) error {
	for name, dir := range from {
		old, to := filepath.Join(dir, name), filepath.Join(pinPath, name)
		if _, err := os.Stat(to); err == nil {
			os.Remove(old)
			continue
		}
		if err := os.Rename(old, to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("adopt pinned map %s: %w", old, err)
		}
	}
	return nil
}

// selfTest creates a cgroup below a watched and held one and checks that
// both were passed down to it, and one in a pod directory and checks it is
// watched provisionally, then removes them and checks they are gone.
func (l *Lifecycle) selfTest() error {
	home, err := newCanaryHome()
	if err != nil {
		return err
	}
	defer home.close()
	parent, err := home.create("lifecycle")
	if err != nil {
		return err
	}
	defer parent.Remove()
	if err := l.maps["watched_cgroups"].Put(parent.ID, typesFpWatch{RecordingId: selfTestRecordingID}); err != nil {
		return fmt.Errorf("watch %s: %w", parent.Path, err)
	}
	defer l.maps["watched_cgroups"].Delete(parent.ID)
	if err := l.maps["enforced_cgroups"].Put(parent.ID, typesFpEnforcedCgroup{PolicyId: selfTestPolicyID}); err != nil {
		return fmt.Errorf("hold %s: %w", parent.Path, err)
	}
	defer l.maps["enforced_cgroups"].Delete(parent.ID)
	pods, err := home.create("lifecycle-pods")
	if err != nil {
		return err
	}
	defer pods.Remove()
	if err := l.maps["pod_parents"].Put(pods.ID, typesFpWatch{RecordingId: selfTestRecordingID}); err != nil {
		return fmt.Errorf("watch new cgroups in %s: %w", pods.Path, err)
	}
	defer l.maps["pod_parents"].Delete(pods.ID)

	child, err := cgroupfs.Create(filepath.Join(parent.Path, "child"))
	if err != nil {
		return err
	}
	var w, pw typesFpWatch
	var ec typesFpEnforcedCgroup
	watchErr := l.maps["watched_cgroups"].Lookup(child.ID, &w)
	holdErr := l.maps["enforced_cgroups"].Lookup(child.ID, &ec)
	if err := os.Remove(child.Path); err != nil {
		return err
	}
	pod, err := cgroupfs.Create(filepath.Join(pods.Path, "pod"))
	if err != nil {
		return err
	}
	podErr := l.maps["watched_cgroups"].Lookup(pod.ID, &pw)
	if err := os.Remove(pod.Path); err != nil {
		return err
	}
	switch {
	case watchErr != nil || w.RecordingId != selfTestRecordingID || w.Flags&watchInherited == 0:
		return fmt.Errorf("a cgroup created below a watched one was not watched (%v)", watchErr)
	case holdErr != nil || ec.PolicyId != selfTestPolicyID || ec.Flags&enforceInherited == 0:
		return fmt.Errorf("a cgroup created below a held one was not held (%v)", holdErr)
	case podErr != nil || pw.RecordingId != selfTestRecordingID || pw.Flags&(watchInherited|watchProvisional) != watchInherited|watchProvisional:
		return fmt.Errorf("a cgroup created in a pod directory was not watched provisionally (%v, flags %#x)", podErr, pw.Flags)
	}
	// rmdir's tracepoint fires as the directory goes; give a slow kernel
	// (the test VM) a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		watched := l.maps["watched_cgroups"].Lookup(child.ID, &w) == nil || l.maps["watched_cgroups"].Lookup(pod.ID, &pw) == nil
		held := l.maps["enforced_cgroups"].Lookup(child.ID, &ec) == nil
		if !watched && !held {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a removed cgroup is still watched (%v) or held (%v)", watched, held)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// use registers a Recorder or Enforcer as a user of the lifecycle.
func (l *Lifecycle) use() {
	l.mu.Lock()
	l.users++
	l.mu.Unlock()
}

// release ends a use; an owned lifecycle closes with its last user.
func (l *Lifecycle) release() {
	l.mu.Lock()
	l.users--
	last := l.users == 0 && l.owned
	l.mu.Unlock()
	if last {
		l.close()
	}
}

// Close detaches the lifecycle programs and frees its maps. Close the
// Recorder and Enforcer using it first.
func (l *Lifecycle) Close() error {
	l.close()
	return nil
}

func (l *Lifecycle) close() {
	if l.attached != nil {
		for _, lk := range l.attached.links {
			lk.Close()
		}
		l.attached.coll.Close()
		l.attached = nil
	}
	l.closeMaps()
}

func (l *Lifecycle) closeMaps() {
	for name, m := range l.maps {
		m.Close()
		delete(l.maps, name)
	}
}

// Unpin removes the lifecycle's pins. What is still attached stays until
// this process closes it.
func (l *Lifecycle) Unpin() error {
	if l.pinPath == "" {
		return nil
	}
	return os.RemoveAll(l.pinPath)
}

// LifecycleCounters are what the lifecycle programs could not do.
type LifecycleCounters struct {
	// WatchedFull is cgroups created below a watched one that the full
	// watch map could not take: they are not recorded.
	WatchedFull uint64
	// EnforcedFull is cgroups created below a held one that the full map
	// could not take: they are not held.
	EnforcedFull uint64
	// RuntimeFull is container runtime tasks the full map could not mark:
	// their set-up may be recorded or held.
	RuntimeFull uint64
}

// Counters sums the lifecycle's per-CPU counters.
func (l *Lifecycle) Counters() (LifecycleCounters, error) {
	var c [3]uint64
	for what := range c {
		var perCPU []uint64
		if err := l.maps["lifecycle_counters"].Lookup(uint32(what), &perCPU); err != nil {
			return LifecycleCounters{}, fmt.Errorf("read lifecycle counters: %w", err)
		}
		for _, v := range perCPU {
			c[what] += v
		}
	}
	return LifecycleCounters{WatchedFull: c[typesFpLifecycleCounterFP_LC_WATCHED_FULL],
		EnforcedFull: c[typesFpLifecycleCounterFP_LC_ENFORCED_FULL], RuntimeFull: c[typesFpLifecycleCounterFP_LC_RUNTIME_FULL]}, nil
}

// ProgramStats returns the run-time statistics of the lifecycle programs.
func (l *Lifecycle) ProgramStats() map[string]ProgramStat {
	out := map[string]ProgramStat{}
	if l.attached != nil {
		addProgramStats(out, l.attached.coll)
	}
	return out
}

// lifecycleFor returns the lifecycle to use: the one given, or one loaded
// for this user alone (pinned under pinPath/lifecycle when pinning), which
// closes with it.
func lifecycleFor(given *Lifecycle, cgroupRoot, pinPath string) (*Lifecycle, error) {
	if given != nil {
		given.use()
		return given, nil
	}
	opts := LifecycleOptions{CgroupRoot: cgroupRoot}
	if pinPath != "" {
		opts.PinPath = filepath.Join(pinPath, "lifecycle")
	}
	l, err := LoadLifecycle(opts)
	if err != nil {
		return nil, err
	}
	l.owned = true
	l.use()
	return l, nil
}
