package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
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
	// PinPath, when set, is a directory on the BPF filesystem where the
	// watch list and the aggregation maps are pinned (and re-opened, with
	// their entries, by the next Load) and the programs' links are pinned,
	// so that recording goes on while no process holds them. Close leaves
	// the pins; Unpin removes them.
	PinPath string
}

// Recorder is footprint's loaded kernel side: attached programs, the watch
// map that selects what they record, and the maps they aggregate into.
type Recorder struct {
	watched  *ebpf.Map
	events   *ebpf.Map
	counters *ebpf.Map
	// runtime holds the container runtime's tasks (bpf/c/runtime.h).
	runtime *ebpf.Map
	// collections holds the loaded object of each kind's chosen backend.
	collections map[Kind]*ebpf.Collection
	links       []link.Link
	choices     []BackendChoice
	noAudit     noAuditStatus
	pinPath     string
}

// ErrNoBTF means the kernel does not describe its own types (no
// CONFIG_DEBUG_INFO_BTF), which CO-RE programs need.
var ErrNoBTF = errors.New("kernel BTF not found at /sys/kernel/btf/vmlinux: footprint needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels are)")

// Load loads and attaches footprint's programs, choosing one backend per kind
// of event. Kinds without any working backend are reported in Choices; Load
// fails only when a required kind (exec, cgroup tracking) cannot be hooked
// or when the process may not use BPF at all.
func Load(opts Options) (*Recorder, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, ErrNoBTF
	}
	if opts.CgroupRoot == "" {
		return nil, errors.New("load BPF programs: no cgroup v2 mount given")
	}
	for k, name := range opts.Backends {
		if !slices.Contains(BackendNames(k), name) {
			return nil, fmt.Errorf("unknown backend %q for %s: choose one of %q", name, k, BackendNames(k))
		}
	}
	// Where the memlock rlimit still applies (kernels before 5.11), lift it;
	// elsewhere BPF memory is charged to the memory cgroup and this is a
	// no-op.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("lift memlock rlimit: %w", err)
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
	for _, spec := range specs {
		pinnable(spec, opts.PinPath)
	}
	r := &Recorder{collections: map[Kind]*ebpf.Collection{}, pinPath: opts.PinPath}
	if err := r.createSharedMaps(specs["capability"], opts); err != nil {
		return nil, err
	}
	r.noAudit = configureNoAudit(specs["capability"], opts.Kallsyms)

	for _, b := range backends {
		choice := BackendChoice{Kind: b.kind}
		pinned := opts.Backends[b.kind]
		for _, c := range b.choices {
			if pinned != "" && c.name != pinned {
				choice.Rejected = append(choice.Rejected, Rejection{c.name, "not tried: another backend was chosen with --backend"})
				continue
			}
			coll, links, reason := r.tryBackend(specs[c.object], c, opts.CgroupRoot, opts.PinPath)
			if reason != "" {
				choice.Rejected = append(choice.Rejected, Rejection{c.name, reason})
				continue
			}
			r.collections[b.kind] = coll
			r.links = append(r.links, links...)
			choice.Chosen, choice.Note = c.name, c.note
			break
		}
		r.choices = append(r.choices, choice)
		if choice.Chosen == "" && b.required {
			r.Close()
			return nil, fmt.Errorf("no backend for %s loads on this kernel: %s", b.kind, rejections(choice))
		}
	}
	return r, nil
}

func rejections(c BackendChoice) string {
	s := ""
	for i, rj := range c.Rejected {
		if i > 0 {
			s += "; "
		}
		s += rj.Backend + ": " + rj.Reason
	}
	return s
}

func loadSpecs() (map[string]*ebpf.CollectionSpec, error) {
	loaders := map[string]func() (*ebpf.CollectionSpec, error){
		"capability": loadCapability,
		"file":       loadFile,
		"connect":    loadConnect,
		"exec":       loadExec,
		"cgroup":     loadCgroup,
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

func (r *Recorder) createSharedMaps(spec *ebpf.CollectionSpec, opts Options) error {
	events := spec.Maps["events"].Copy()
	if opts.RingBufferBytes != 0 {
		n := opts.RingBufferBytes
		if n < os.Getpagesize() || n&(n-1) != 0 {
			return fmt.Errorf("ring buffer size %d: must be a power of two of at least %d bytes", n, os.Getpagesize())
		}
		events.MaxEntries = uint32(n)
	}
	var err error
	if r.watched, err = newSharedMap(spec.Maps["watched_cgroups"], opts.PinPath); err != nil {
		return mapError("watched_cgroups", err)
	}
	if r.events, err = ebpf.NewMap(events); err != nil {
		r.Close()
		return mapError("events", err)
	}
	if r.counters, err = ebpf.NewMap(spec.Maps["counters"]); err != nil {
		r.Close()
		return mapError("counters", err)
	}
	if r.runtime, err = newSharedMap(spec.Maps["runtime_tasks"], opts.PinPath); err != nil {
		r.Close()
		return mapError("runtime_tasks", err)
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

// tryBackend loads the backend's programs with the recorder's shared maps.
func (r *Recorder) tryBackend(spec *ebpf.CollectionSpec, c backend, cgroupRoot, pinPath string) (*ebpf.Collection, []link.Link, string) {
	shared := map[string]*ebpf.Map{"watched_cgroups": r.watched, "events": r.events, "counters": r.counters, "runtime_tasks": r.runtime}
	return loadBackend(spec, c, shared, cgroupRoot, pinPath)
}

// loadBackend loads the backend's programs (and only them) from the object,
// with the maps in shared standing in for the object's maps of the same
// name, and attaches them. It returns the reason when the kernel refuses.
func loadBackend(spec *ebpf.CollectionSpec, c backend, shared map[string]*ebpf.Map, cgroupRoot, pinPath string) (*ebpf.Collection, []link.Link, string) {
	s := spec.Copy()
	for name := range s.Programs {
		if !slices.Contains(c.programs, name) {
			delete(s.Programs, name)
		}
	}
	replacements := map[string]*ebpf.Map{}
	for name, m := range shared {
		if ms, ok := s.Maps[name]; ok {
			replacements[name] = m
			// A ring buffer's size is part of its spec and must
			// match the shared map's.
			if ms.Type == ebpf.RingBuf {
				ms.MaxEntries = m.MaxEntries()
			}
		}
	}
	for name := range replacements {
		// The shared instance stands in for it: no pinning by the object.
		s.Maps[name].Pinning = ebpf.PinNone
	}
	coll, err := ebpf.NewCollectionWithOptions(s, ebpf.CollectionOptions{MapReplacements: replacements, Maps: ebpf.MapOptions{PinPath: pinPath}})
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// Pinned maps of another footprint version: start afresh.
		for name, m := range s.Maps {
			if m.Pinning == ebpf.PinByName {
				os.Remove(filepath.Join(pinPath, name))
			}
		}
		coll, err = ebpf.NewCollectionWithOptions(s, ebpf.CollectionOptions{MapReplacements: replacements, Maps: ebpf.MapOptions{PinPath: pinPath}})
	}
	if err != nil {
		return nil, nil, describe("load", err)
	}
	var links []link.Link
	for _, name := range c.programs {
		l, err := attach(coll.Programs[name], s.Programs[name], cgroupRoot)
		if err != nil {
			if c.optional[name] && errors.Is(err, os.ErrNotExist) {
				continue
			}
			for _, l := range links {
				l.Close()
			}
			coll.Close()
			return nil, nil, describe("attach", err)
		}
		if err := pinLink(l, pinPath, name); err != nil {
			l.Close()
			for _, l := range links {
				l.Close()
			}
			coll.Close()
			return nil, nil, err.Error()
		}
		links = append(links, l)
	}
	return coll, links, ""
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
	var errs []error
	for _, l := range r.links {
		errs = append(errs, l.Close())
	}
	r.links = nil
	for _, c := range r.collections {
		c.Close()
	}
	r.collections = map[Kind]*ebpf.Collection{}
	for _, m := range []*ebpf.Map{r.watched, r.events, r.counters, r.runtime} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	r.watched, r.events, r.counters, r.runtime = nil, nil, nil, nil
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
