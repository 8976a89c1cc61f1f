package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"
)

// Sweep reads every entry the kernel aggregated for the cgroups keep accepts
// (all when keep is nil), with its full count. The aggregation maps are the
// source of truth: an entry whose ring-buffer record was lost is still here.
func (r *Recorder) Sweep(keep func(cgroupID uint64) bool) ([]Entry, error) {
	if r.watched == nil {
		return nil, ErrRecorderClosed
	}
	if keep == nil {
		keep = func(uint64) bool { return true }
	}
	clock := newBootClock()
	var out []Entry
	if m := r.aggregation(KindCapability, "capabilities_seen"); m != nil {
		keys, values, err := readAll[typesFpCapabilityKey, typesFpSeen](m)
		if err != nil {
			return nil, fmt.Errorf("sweep capabilities: %w", err)
		}
		for i, k := range keys {
			if v := &values[i]; keep(k.CgroupId) {
				out = append(out, Entry{Kind: KindCapability, CgroupID: k.CgroupId, Count: v.Count,
					FirstSeen: clock.wall(v.FirstSeenNs), Capability: capabilityOf(k)})
			}
		}
	}
	files, err := r.sweepFiles(keep, clock)
	if err != nil {
		return nil, err
	}
	out = append(out, files...)
	if m := r.aggregation(KindConnect, "connections_seen"); m != nil {
		keys, values, err := readAll[typesFpConnectKey, typesFpSeen](m)
		if err != nil {
			return nil, fmt.Errorf("sweep connections: %w", err)
		}
		for i, k := range keys {
			if v := &values[i]; keep(k.CgroupId) {
				out = append(out, Entry{Kind: KindConnect, CgroupID: k.CgroupId, Count: v.Count,
					FirstSeen: clock.wall(v.FirstSeenNs), Connect: connectOf(k)})
			}
		}
	}
	sockets, err := r.sweepSockets(keep, clock)
	if err != nil {
		return nil, err
	}
	out = append(out, sockets...)
	if m := r.aggregation(KindExec, "executables_seen"); m != nil {
		keys, values, err := readAll[typesFpExecKey, typesFpSeen](m)
		if err != nil {
			return nil, fmt.Errorf("sweep executables: %w", err)
		}
		for i := range keys {
			if k, v := &keys[i], &values[i]; keep(k.CgroupId) {
				out = append(out, Entry{Kind: KindExec, CgroupID: k.CgroupId, Count: v.Count,
					FirstSeen: clock.wall(v.FirstSeenNs), Exec: execOf(k)})
			}
		}
	}
	if m := r.aggregation(KindSyscall, "syscalls_seen"); m != nil {
		ids, values, err := readAll[uint64, typesFpSyscalls](m)
		if err != nil {
			return nil, fmt.Errorf("sweep system calls: %w", err)
		}
		for i, id := range ids {
			if v := &values[i]; keep(id) {
				out = append(out, Entry{Kind: KindSyscall, CgroupID: id, Count: 1,
					Syscalls: &Syscalls{Native: bitNumbers(v.Native[:]), Compat: bitNumbers(v.Compat[:]),
						NativeFamilies: bitNumbers([]uint64{v.NativeFamilies}), CompatFamilies: bitNumbers([]uint64{v.CompatFamilies})}})
			}
		}
	}
	return out, nil
}

// bitNumbers lists the numbers whose bits are set, in order.
func bitNumbers(words []uint64) []int {
	var out []int
	for w, bits := range words {
		for b := 0; b < 64; b++ {
			if bits&(1<<b) != 0 {
				out = append(out, w*64+b)
			}
		}
	}
	return out
}

// sweepFiles joins the path entries with the repeat counts kept by inode.
func (r *Recorder) sweepFiles(keep func(uint64) bool, clock bootClock) ([]Entry, error) {
	paths := r.aggregation(KindFile, "file_paths_seen")
	inodes := r.aggregation(KindFile, "file_inodes_seen")
	if paths == nil || inodes == nil {
		return nil, nil
	}
	byID := map[uint64]int{}
	var out []Entry
	// Entry by entry: a file key carries a 512-byte path buffer, and a
	// busy node's 16,000 of them would be 9 MiB held at once.
	err := readEach(paths, func(k *typesFpFileKey, v *typesFpFileSeen) {
		if !keep(k.CgroupId) {
			return
		}
		byID[v.EntryId] = len(out)
		out = append(out, Entry{Kind: KindFile, CgroupID: k.CgroupId, Count: v.Count,
			FirstSeen: clock.wall(v.FirstSeenNs), File: fileOf(k)})
	})
	if err != nil {
		return nil, fmt.Errorf("sweep files: %w", err)
	}
	_, repeats, err := readAll[typesFpInodeKey, typesFpInodeSeen](inodes)
	if err != nil {
		return nil, fmt.Errorf("sweep file repeats: %w", err)
	}
	for _, iv := range repeats {
		if i, ok := byID[iv.EntryId]; ok {
			out[i].Count += iv.Count
		}
	}
	return out, nil
}

// aggregationMaps names each kind's aggregation maps. Every key starts with
// the cgroup id.
var aggregationMaps = map[Kind][]string{
	KindCapability: {"capabilities_seen"},
	KindFile:       {"file_paths_seen", "file_inodes_seen"},
	KindConnect:    {"connections_seen"},
	KindExec:       {"executables_seen"},
	KindSyscall:    {"syscalls_seen"},
	KindSocket:     {"sockets_seen"},
}

// aggregation returns one of a kind's aggregation maps, or nil when the kind
// has no backend loaded.
func (r *Recorder) aggregation(k Kind, name string) *ebpf.Map {
	if c := r.collections[k]; c != nil {
		return c.Maps[name]
	}
	return nil
}

// Forget deletes the aggregated entries of the cgroups forget accepts, e.g.
// once a recording is written.
func (r *Recorder) Forget(forget func(cgroupID uint64) bool) error {
	for kind, names := range aggregationMaps {
		for _, name := range names {
			m := r.aggregation(kind, name)
			if m == nil {
				continue
			}
			var doomed [][]byte
			var key, value []byte
			it := m.Iterate()
			for it.Next(&key, &value) {
				if forget(binary.NativeEndian.Uint64(key)) {
					doomed = append(doomed, slices.Clone(key))
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("forget %s: %w", name, err)
			}
			for _, k := range doomed {
				if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
					return fmt.Errorf("forget %s: %w", name, err)
				}
			}
		}
	}
	return r.forgetLost(forget)
}

// Lost returns, per cgroup and kind, how many sightings of entries a full
// map could not keep the ring buffer had no room for either: at most that
// many entries are missing from the cgroup's profile. Forget resets a
// cgroup's counts with its entries.
func (r *Recorder) Lost() (map[uint64]map[Kind]uint64, error) {
	if r.lost == nil {
		return nil, ErrRecorderClosed
	}
	keys, counts, err := readAll[typesFpLostKey, uint64](r.lost)
	if err != nil {
		return nil, fmt.Errorf("read lost_sightings: %w", err)
	}
	out := map[uint64]map[Kind]uint64{}
	for i, key := range keys {
		if out[key.CgroupId] == nil {
			out[key.CgroupId] = map[Kind]uint64{}
		}
		out[key.CgroupId][Kind(key.Kind)] += counts[i]
	}
	return out, nil
}

func (r *Recorder) forgetLost(forget func(cgroupID uint64) bool) error {
	if r.lost == nil {
		return nil
	}
	var doomed []typesFpLostKey
	var key typesFpLostKey
	var n uint64
	it := r.lost.Iterate()
	for it.Next(&key, &n) {
		if forget(key.CgroupId) {
			doomed = append(doomed, key)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("forget lost_sightings: %w", err)
	}
	for _, k := range doomed {
		if err := r.lost.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("forget lost_sightings: %w", err)
		}
	}
	return nil
}
