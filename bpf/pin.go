package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
// are joined by) and the watch list; the enforcer's policies and rules, and
// the processes held to a policy outside its cgroups.
var persistentMaps = map[string]bool{
	"watched_cgroups": true, "capabilities_seen": true, "file_paths_seen": true,
	"file_inodes_seen": true, "file_entry_seq": true, "connections_seen": true,
	"executables_seen": true, "lost_sightings": true,
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
func newSharedMap(spec *ebpf.MapSpec, pinPath string) (*ebpf.Map, error) {
	if pinPath == "" || !persistentMaps[spec.Name] {
		return ebpf.NewMap(spec)
	}
	s := spec.Copy()
	s.Pinning = ebpf.PinByName
	m, err := ebpf.NewMapWithOptions(s, ebpf.MapOptions{PinPath: pinPath})
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// A map of another footprint version: start afresh.
		os.Remove(filepath.Join(pinPath, spec.Name))
		m, err = ebpf.NewMapWithOptions(s, ebpf.MapOptions{PinPath: pinPath})
	}
	return m, err
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
