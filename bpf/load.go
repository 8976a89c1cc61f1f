package bpf

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Options configures Load.
type Options struct {
	// CgroupRoot is the cgroup v2 mount the connect hooks attach to.
	CgroupRoot string
	// RingBufferBytes sizes the ring buffer of first sightings: a power
	// of two, at least one page. 0 keeps the default, 256 KiB.
	RingBufferBytes int
	// Backends pins kinds to one backend each, by the name `footprint
	// probe` shows; the other backends of that kind are not tried.
	Backends map[Kind]string
	// Kallsyms is the kernel symbol table to find no-audit callers in.
	// Empty means /proc/kallsyms.
	Kallsyms string
	// FileEntries sizes the map of distinct file opens (per path and
	// access) for the whole node; 0 keeps the default, 65,536. Once it is
	// full, new entries reach user space only as ring-buffer records.
	FileEntries int
	// PinPath, when set, is a directory on the BPF filesystem where the
	// aggregation maps are pinned (and re-opened, with their entries, by
	// the next Load) and the programs' links are pinned, so that recording
	// goes on while no process holds them. Close leaves the pins; Unpin
	// removes them.
	PinPath string
	// Lifecycle is the lifecycle programs and maps to share with an
	// Enforcer; nil loads them for this Recorder alone (pinned under
	// PinPath/lifecycle).
	Lifecycle *Lifecycle
}

// Recorder is footprint's loaded kernel side: attached programs, the watch
// map that selects what they record, and the maps they aggregate into.
type Recorder struct {
	lifecycle *Lifecycle
	// watched, podParents and runtime are the lifecycle's.
	watched    *ebpf.Map
	podParents *ebpf.Map
	runtime    *ebpf.Map
	events     *ebpf.Map
	counters   *ebpf.Map
	// lost counts, per cgroup and kind, sightings that reached neither a
	// map nor user space.
	lost *ebpf.Map
	// pins are the predecessor's pinned maps this one replaced.
	pins pinLog
	// collections holds the loaded object of each kind's chosen backend.
	collections map[Kind]*ebpf.Collection
	attached    map[Kind]*attachment
	choices     []BackendChoice
	noAudit     noAuditStatus
	pinPath     string
	// counterBase is what the counters held after the self-test, which
	// Counters discounts.
	counterBase map[Kind]KindCounters
	// files and syscalls attach the file and system call backends only
	// while a cgroup is recorded for them, where the backend slows every
	// task down.
	files, syscalls *lazyAttachment
}

// Load loads and attaches footprint's recording programs, choosing one
// backend per kind of event: the best one whose self-test shows it records
// (see choose). Kinds without any working backend are reported in Choices;
// Load fails only when exec cannot be hooked or when the process may not use
// BPF at all.
func Load(opts Options) (*Recorder, error) {
	if err := checkKernel(opts.CgroupRoot); err != nil {
		return nil, err
	}
	if opts.PinPath != "" {
		if err := preparePinPath(opts.PinPath); err != nil {
			return nil, err
		}
	}
	specs, err := loadSpecs()
	if err != nil {
		return nil, err
	}
	if opts.FileEntries < 0 {
		return nil, fmt.Errorf("file entries %d: must be positive (0 keeps the default)", opts.FileEntries)
	}
	if opts.FileEntries > 0 {
		specs["file"].Maps["file_paths_seen"].MaxEntries = uint32(opts.FileEntries)
	}
	for _, spec := range specs {
		pinnable(spec, opts.PinPath)
	}
	lc, err := lifecycleFor(opts.Lifecycle, opts.CgroupRoot, opts.PinPath)
	if err != nil {
		return nil, err
	}
	r := &Recorder{lifecycle: lc, watched: lc.maps["watched_cgroups"], podParents: lc.maps["pod_parents"], runtime: lc.maps["runtime_tasks"],
		collections: map[Kind]*ebpf.Collection{}, pinPath: opts.PinPath}
	if err := r.createMaps(specs["capability"], opts); err != nil {
		r.Close()
		return nil, err
	}
	r.noAudit = configureNoAudit(specs["capability"], opts.Kallsyms)

	home, err := newCanaryHome()
	if err != nil {
		r.Close()
		return nil, err
	}
	defer home.close()
	shared := map[string]*ebpf.Map{"watched_cgroups": r.watched, "events": r.events, "counters": r.counters, "runtime_tasks": r.runtime, "lost_sightings": r.lost}
	load := func(b backend) (*attachment, *Rejection) {
		return loadBackend(specs[b.object], b, shared, opts.CgroupRoot, opts.PinPath, &r.pins)
	}
	test := func(trial map[Kind]*attachment) (map[Kind]string, map[Kind]string) { return r.selfTest(home, trial) }
	chosen, choices, err := choose(recorderBackends, opts.Backends, opts.PinPath, lsmListFor(), load, test)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.attached, r.choices = chosen, choices
	for k, a := range chosen {
		r.collections[k] = a.coll
	}
	r.files = newLazyAttachment(chosen[KindFile], func() (bool, error) { return r.recordingKind(KindFile) })
	r.syscalls = newLazyAttachment(chosen[KindSyscall], func() (bool, error) { return r.recordingKind(KindSyscall) })
	r.files.Settle()
	r.syscalls.Settle()
	// What the self-test's canary left behind is nobody's.
	if err := drainRingBuffer(r.events); err != nil {
		r.Close()
		return nil, err
	}
	if r.counterBase, err = r.rawCounters(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func loadSpecs() (map[string]*ebpf.CollectionSpec, error) {
	loaders := map[string]func() (*ebpf.CollectionSpec, error){
		"capability": loadCapability,
		"file":       loadFile,
		"connect":    loadConnect,
		"exec":       loadExec,
		"syscall":    loadSyscall,
		"socket":     loadSocket,
	}
	specs := map[string]*ebpf.CollectionSpec{}
	for name, load := range loaders {
		spec, err := load()
		if err != nil {
			return nil, fmt.Errorf("parse embedded %s object: %w", name, err)
		}
		specs[name] = spec
	}
	return specs, nil
}

// createMaps creates the ring buffer and counters every recorder object
// shares.
func (r *Recorder) createMaps(spec *ebpf.CollectionSpec, opts Options) error {
	events := spec.Maps["events"].Copy()
	if opts.RingBufferBytes != 0 {
		n := opts.RingBufferBytes
		if n < os.Getpagesize() || n&(n-1) != 0 {
			return fmt.Errorf("ring buffer size %d: must be a power of two of at least %d bytes", n, os.Getpagesize())
		}
		events.MaxEntries = uint32(n)
	}
	var err error
	if r.events, err = ebpf.NewMap(events); err != nil {
		return mapError("events", err)
	}
	if r.counters, err = ebpf.NewMap(spec.Maps["counters"]); err != nil {
		return mapError("counters", err)
	}
	if r.lost, err = newSharedMap(spec.Maps["lost_sightings"], r.pinPath, &r.pins); err != nil {
		return mapError("lost_sightings", err)
	}
	return nil
}

// ErrPermission means the kernel refused BPF to this process. The error
// Load returns wraps it and says which capabilities the process lacks.
var ErrPermission = errors.New("the kernel refused to load eBPF")

func mapError(name string, err error) error {
	if errors.Is(err, unix.EPERM) {
		return &permissionError{op: "create map " + name, err: err}
	}
	return fmt.Errorf("create map %s: %w", name, err)
}

// permissionError is an EPERM from bpf(2), explained: which of the
// capabilities footprint needs the process lacks, or, when it has them all,
// that something else (seccomp, an LSM) blocks bpf(2).
type permissionError struct {
	op  string
	err error
}

func (e *permissionError) Error() string {
	// cilium/ebpf's own hint on EPERM (MEMLOCK) is beside the point here.
	missing := missingCapabilities()
	if len(missing) == 0 {
		return fmt.Sprintf("%v (%s: operation not permitted) although this process has CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN: "+
			"a seccomp filter or an LSM policy blocks bpf(2); run footprint unconfined (in a container: --privileged)", ErrPermission, e.op)
	}
	list := strings.Join(missing, ", ")
	if n := len(missing); n > 1 {
		list = strings.Join(missing[:n-1], ", ") + " and " + missing[n-1]
	}
	return fmt.Sprintf("%v (%s: operation not permitted): this process lacks %s; "+
		"run footprint as root with its full capabilities (sudo; in a container: --privileged)", ErrPermission, e.op, list)
}

func (e *permissionError) Unwrap() []error { return []error{ErrPermission, e.err} }

// missingCapabilities lists which of CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN
// are not in this process's effective set (CAP_BPF and CAP_PERFMON only on
// kernels that have them: 5.8+).
func missingCapabilities() []string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil
	}
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	var missing []string
	for _, c := range []struct {
		name string
		bit  int
	}{{"CAP_BPF", unix.CAP_BPF}, {"CAP_PERFMON", unix.CAP_PERFMON}, {"CAP_SYS_ADMIN", unix.CAP_SYS_ADMIN}} {
		if c.bit > last {
			continue
		}
		if data[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			missing = append(missing, c.name)
		}
	}
	return missing
}

// Choices reports, per kind, the backend in use and the ones refused.
func (r *Recorder) Choices() []BackendChoice { return slices.Clone(r.choices) }

// Backend returns the backend in use for a kind, or "" when none loaded.
func (r *Recorder) Backend(k Kind) string {
	for _, c := range r.choices {
		if c.Kind == k {
			return c.Chosen
		}
	}
	return ""
}

// Close detaches every program and frees the maps.
func (r *Recorder) Close() error {
	for _, a := range r.attached {
		for _, l := range a.links {
			l.Close()
		}
		a.coll.Close()
	}
	r.attached = nil
	r.collections = map[Kind]*ebpf.Collection{}
	var errs []error
	for _, m := range []*ebpf.Map{r.events, r.counters, r.lost} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	r.watched, r.podParents, r.runtime, r.events, r.counters, r.lost = nil, nil, nil, nil, nil, nil
	if r.lifecycle != nil {
		r.lifecycle.release()
		r.lifecycle = nil
	}
	return errors.Join(errs...)
}

// NoAuditDetection says how this kernel's capability backend tells no-audit
// probes from needs.
func (r *Recorder) NoAuditDetection() string {
	switch r.Backend(KindCapability) {
	case "fexit/cap_capable":
		return "from the check's CAP_OPT_NOAUDIT option"
	case "tp_btf/cap_capable":
		if r.noAudit.err != nil {
			return "not possible: " + r.noAudit.err.Error()
		}
		return fmt.Sprintf("by the calling kernel function (%d no-audit callers found in kallsyms)", r.noAudit.ranges)
	}
	return "no capability backend"
}
