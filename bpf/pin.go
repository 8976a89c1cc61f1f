package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Pinning keeps the kernel side alive without its process: maps pinned in
// the BPF filesystem keep what was recorded and the policies being
// enforced, and pinned links keep the programs attached, so a node agent
// that is killed (or upgraded) loses no entry and enforcement holds until
// its successor takes over. The successor re-opens the maps by name and
// replaces each pinned link with its own.

// persistentMaps are the maps whose contents must survive the process:
// what the recorder aggregated (and the file entry ids its two file maps
// are joined by) and the watch list, with the pod directories whose new
// cgroups are watched provisionally; the enforcer's policies and rules, and
// the processes held to a policy outside its cgroups.
var persistentMaps = map[string]bool{
	"watched_cgroups": true, "pod_parents": true, "capabilities_seen": true, "file_paths_seen": true,
	"file_inodes_seen": true, "file_entry_seq": true, "connections_seen": true,
	"executables_seen": true, "lost_sightings": true,
	"sockets_seen": true, "socket_rules": true, "syscall_rules": true,
	"enforced_cgroups": true, "policies": true, "path_rules": true, "connect_rules": true,
	"violations_seen": true, "runtime_tasks": true,
	"held_processes": true, "held_processes_used": true, "enforced_processes": true,
}

const bpffsMagic = 0xcafe4a11

// preparePinPath makes dir, which must be on a BPF filesystem (mounting
// one at /sys/fs/bpf when nothing is mounted there).
func preparePinPath(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/bpf", &st); err == nil && st.Type != bpffsMagic {
		if err := unix.Mount("bpf", "/sys/fs/bpf", "bpf", 0, ""); err != nil {
			return fmt.Errorf("the BPF filesystem is not mounted at /sys/fs/bpf and mounting it failed (%w): mount it with `mount -t bpf bpf /sys/fs/bpf`", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "links"), 0o700); err != nil {
		return fmt.Errorf("pin path: %w", err)
	}
	if err := unix.Statfs(dir, &st); err != nil || st.Type != bpffsMagic {
		return fmt.Errorf("pin path %s is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)", dir)
	}
	return nil
}

// pinnable marks the persistent maps of spec to be pinned by name.
func pinnable(spec *ebpf.CollectionSpec, pinPath string) {
	if pinPath == "" {
		return
	}
	for name, m := range spec.Maps {
		if persistentMaps[name] {
			m.Pinning = ebpf.PinByName
		}
	}
}

// newSharedMap creates (or, pinned, re-opens) one of the maps every object
// shares.
func newSharedMap(spec *ebpf.MapSpec, pinPath string, pins *pinLog) (*ebpf.Map, error) {
	if pinPath == "" || !persistentMaps[spec.Name] {
		return ebpf.NewMap(spec)
	}
	s := spec.Copy()
	s.Pinning = ebpf.PinByName
	if err := migratePin(s, pinPath, pins); err != nil {
		return nil, err
	}
	return ebpf.NewMapWithOptions(s, ebpf.MapOptions{PinPath: pinPath})
}

// PinReplacement is a map a predecessor pinned that this process could not
// reuse as it was: another footprint version changed its type, key or value
// size, size or flags, or (where the pin has BTF) its key or value layout. What it held was copied into its replacement where
// the layout allows (a map that only grew or shrank); the rest is lost, and
// an agent says so loudly.
type PinReplacement struct {
	// Path is where the map is pinned.
	Path string
	// Change says what differs, e.g. "MaxEntries: 65536 changed to 131072".
	Change string
	// Migrated is how many entries were copied into the new map.
	Migrated int
	// Dropped is how many were not: they did not fit, or the layout
	// changed and no entry could be copied.
	Dropped int
}

func (r PinReplacement) String() string {
	return fmt.Sprintf("pinned map %s replaced (%s): %d entries migrated, %d dropped", r.Path, r.Change, r.Migrated, r.Dropped)
}

// PinJudgedBySize is a map a predecessor pinned that this process reused
// on its type, sizes and flags alone: there was no BTF to compare its key
// and value layouts with, so a version that laid them out differently in
// the same sizes would go unnoticed.
type PinJudgedBySize struct {
	// Path is where the map is pinned.
	Path string
	// Reason says why the layouts were not compared, e.g. "the pinned
	// map has no BTF".
	Reason string
}

func (p PinJudgedBySize) String() string {
	return fmt.Sprintf("pinned map %s reused on its sizes alone (%s)", p.Path, p.Reason)
}

// pinLog collects the replacements of one loaded part, and the pins it
// reused without comparing their layouts.
type pinLog struct {
	mu       sync.Mutex
	replaced []PinReplacement
	bySize   []PinJudgedBySize
}

func (l *pinLog) addBySize(p PinJudgedBySize) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bySize = append(l.bySize, p)
}

func (l *pinLog) allBySize() []PinJudgedBySize {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.bySize)
}

func (l *pinLog) add(r PinReplacement) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.replaced = append(l.replaced, r)
}

func (l *pinLog) all() []PinReplacement {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.replaced)
}

// appendedValues are the maps whose values a newer version only extended
// at their end, so that an older version's entries stay valid as the start
// of the new values: syscalls_seen gained the socket families after the
// system call bits.
var appendedValues = map[string]bool{"syscalls_seen": true}

// migratePin makes the map pinned under pinPath by spec's name usable for
// spec: a pin that is compatible stays; one another version made differently
// is replaced by a new map pinned in its place, with the old one's entries
// copied where the key and value layouts are the same. Nothing is removed
// before its replacement exists.
//
// A version that swapped two fields keeps every size, and its entries read
// with the new layout would be garbage: comparePin compares layouts too. A
// pin without BTF (or whose BTF cannot be read) is judged by its sizes
// alone.
func migratePin(spec *ebpf.MapSpec, pinPath string, pins *pinLog) error {
	path := filepath.Join(pinPath, spec.Name)
	old, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open pinned map %s: %w", path, err)
	}
	defer old.Close()
	d := comparePin(spec, old)
	if d.compatible() {
		if d.unjudged != "" {
			pins.addBySize(PinJudgedBySize{Path: path, Reason: d.unjudged})
		}
		return nil
	}
	fresh := spec.Copy()
	fresh.Pinning = ebpf.PinNone
	m, err := ebpf.NewMap(fresh)
	if err != nil {
		return mapError(spec.Name, err)
	}
	defer m.Close()
	r := PinReplacement{Path: path, Change: d.String()}
	r.Migrated, r.Dropped = copyEntries(old, m, appendedValues[spec.Name], d.relaidOut)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("replace pinned map %s: %w", path, err)
	}
	if err := m.Pin(path); err != nil {
		return fmt.Errorf("pin the replacement of %s: %w", path, err)
	}
	pins.add(r)
	return nil
}

// pinDiff is how a pinned map differs from what this version declares.
type pinDiff struct {
	// changes are the differences, none when the pin is compatible.
	changes []string
	// relaidOut: the BTF says the key or the value is laid out anew, so
	// no entry keeps its meaning (a value only appended to, where declared
	// so, keeps it).
	relaidOut bool
	// unjudged says why the layouts could not be compared ("" when they
	// were): the pin is then judged by its sizes alone.
	unjudged string
}

func (d pinDiff) compatible() bool { return len(d.changes) == 0 }

func (d pinDiff) String() string { return strings.Join(d.changes, "; ") }

// comparePin compares the pinned map old with spec. Compatible means the
// same type, sizes and flags and, where both the pin and spec carry BTF,
// the same key and value layouts (layoutChange).
func comparePin(spec *ebpf.MapSpec, old *ebpf.Map) pinDiff {
	var d pinDiff
	if incompatible := spec.Compatible(old); incompatible != nil {
		d.changes = append(d.changes, strings.TrimSuffix(incompatible.Error(), ": "+ebpf.ErrMapIncompatible.Error()))
	}
	// An unreadable BTF leaves the sizes to judge, as for a pin without.
	was, err := pinnedLayout(old)
	switch {
	case err != nil:
		d.unjudged = "its BTF could not be read: " + err.Error()
	case was.key == nil && was.value == nil:
		d.unjudged = "the pinned map has no BTF"
	case spec.Key == nil && spec.Value == nil:
		d.unjudged = "this version's map has no BTF"
	}
	keyChange := layoutChange("key", was.key, spec.Key)
	valueChange := layoutChange("value", was.value, spec.Value)
	for _, c := range []string{keyChange, valueChange} {
		if c != "" {
			d.changes = append(d.changes, c)
		}
	}
	// Entries are copied only where each byte keeps its meaning: the same
	// key layout, and the same value layout or, for a value declared as
	// only appended to, one the new value starts with.
	appended := appendedValues[spec.Name]
	d.relaidOut = keyChange != "" || (valueChange != "" && !(appended && layoutPrefix(was.value, spec.Value)))
	return d
}

// copyEntries copies from into to where both lay their keys and values out
// alike, and counts what it copied and what it could not. With appended,
// a shorter old value is copied as the start of the new one, zero-filled
// after. relaidOut (the BTF says the key or value layout changed, sizes
// alike or not) copies nothing.
func copyEntries(from, to *ebpf.Map, appended, relaidOut bool) (copied, dropped int) {
	perCPU := from.Type() == ebpf.PerCPUHash || from.Type() == ebpf.PerCPUArray || from.Type() == ebpf.LRUCPUHash
	same := !relaidOut && from.Type() == to.Type() && from.KeySize() == to.KeySize() && from.ValueSize() == to.ValueSize() && !perCPU
	grown := !relaidOut && appended && from.Type() == to.Type() && from.KeySize() == to.KeySize() && from.ValueSize() < to.ValueSize() && !perCPU
	var key, value []byte
	it := from.Iterate()
	for it.Next(&key, &value) {
		if grown {
			value = append(value, make([]byte, int(to.ValueSize())-len(value))...)
		}
		if (same || grown) && to.Update(key, value, ebpf.UpdateAny) == nil {
			copied++
		} else {
			dropped++
		}
	}
	return copied, dropped
}

// pinLink pins l under the program's name, replacing (and detaching) the
// link a predecessor pinned there: from now on l keeps the program attached
// if this process dies. It returns the pin's path ("" when not pinning).
func pinLink(l link.Link, pinPath, program string) (string, error) {
	if pinPath == "" {
		return "", nil
	}
	path := filepath.Join(pinPath, "links", program)
	if old, err := link.LoadPinnedLink(path, nil); err == nil {
		// The new link is attached already: no moment without one.
		old.Unpin()
		old.Close()
	} else {
		os.Remove(path)
	}
	if err := l.Pin(path); err != nil {
		return "", fmt.Errorf("pin link %s: %w", program, err)
	}
	return path, nil
}

// unpinOtherLinks detaches the links pinned under pinPath/links that are
// not of the given programs: a predecessor's backends this process does not
// use (another version's, or one whose self-test fails now), whose programs
// would otherwise stay attached, or count the self-test's canary as theirs.
func unpinOtherLinks(pinPath string, keep map[string]bool) error {
	if pinPath == "" {
		return nil
	}
	dir := filepath.Join(pinPath, "links")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read pinned links: %w", err)
	}
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("unpin link %s: %w", e.Name(), err)
		}
	}
	return nil
}

// PinReplacements are the pinned maps of a predecessor the recorder replaced
// when it loaded.
func (r *Recorder) PinReplacements() []PinReplacement { return r.pins.all() }

// PinReplacements are the pinned maps of a predecessor the enforcer
// replaced when it loaded.
func (e *Enforcer) PinReplacements() []PinReplacement { return e.pins.all() }

// PinReplacements are the pinned maps of a predecessor the lifecycle
// programs replaced when they loaded.
func (l *Lifecycle) PinReplacements() []PinReplacement { return l.pins.all() }

// PinsJudgedBySize are the pinned maps of a predecessor the recorder reused
// without comparing their layouts (no BTF to compare).
func (r *Recorder) PinsJudgedBySize() []PinJudgedBySize { return r.pins.allBySize() }

// PinsJudgedBySize are the pinned maps of a predecessor the enforcer reused
// without comparing their layouts (no BTF to compare).
func (e *Enforcer) PinsJudgedBySize() []PinJudgedBySize { return e.pins.allBySize() }

// PinsJudgedBySize are the pinned maps of a predecessor the lifecycle
// programs reused without comparing their layouts (no BTF to compare).
func (l *Lifecycle) PinsJudgedBySize() []PinJudgedBySize { return l.pins.allBySize() }
