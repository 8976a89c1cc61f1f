package recorder

// Where a kernel aggregation map is full, the ring buffer carries the only
// copy of an entry: each of its sightings, flagged unkept. These helpers keep
// those entries until they reach a profile, on both the local and the node
// path.

import (
	"fmt"
	"sort"

	"github.com/footprint-dev/footprint/bpf"
)

// addUnkept adds the entry of an unkept sighting (see bpf.Event.Unkept) to
// unkept, or counts it into the entry already there, and says whether the
// entry is new.
func addUnkept(unkept *map[string]bpf.Entry, e bpf.Entry) bool {
	if *unkept == nil {
		*unkept = map[string]bpf.Entry{}
	}
	k := entryKey(e)
	have, ok := (*unkept)[k]
	if ok {
		have.Count += e.Count
		(*unkept)[k] = have
		return false
	}
	(*unkept)[k] = e
	return true
}

// lostByKind is Source.LostByKind from per-kind counts of lost sightings;
// nil when nothing was lost.
func lostByKind[N uint64 | int64](lost map[bpf.Kind]N) map[string]int64 {
	var out map[string]int64
	for k, n := range lost {
		if n == 0 {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[k.String()] += int64(n)
	}
	return out
}

// withUnkept adds to the swept entries the ones the kernel's full maps
// could not keep, from their ring-buffer records (each sighting of such an
// entry sends one: they count, like the maps' counts).
func withUnkept(swept []bpf.Entry, unkept map[string]bpf.Entry) []bpf.Entry {
	if len(unkept) == 0 {
		return swept
	}
	kept := make(map[string]bool, len(swept))
	for _, e := range swept {
		kept[entryKey(e)] = true
	}
	keys := make([]string, 0, len(unkept))
	for k := range unkept {
		if !kept[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // the same profile from the same sightings
	for _, k := range keys {
		swept = append(swept, unkept[k])
	}
	return swept
}

// entryKey identifies an entry by what was seen, not how often or when.
func entryKey(e bpf.Entry) string {
	var what any
	switch {
	case e.Capability != nil:
		what = *e.Capability
	case e.File != nil:
		what = *e.File
	case e.Connect != nil:
		what = *e.Connect
	case e.Exec != nil:
		what = *e.Exec
	case e.Syscalls != nil:
		what = *e.Syscalls
	case e.Socket != nil:
		what = *e.Socket
	}
	return fmt.Sprintf("%d/%d/%+v", e.Kind, e.CgroupID, what)
}
