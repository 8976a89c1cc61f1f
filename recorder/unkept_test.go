package recorder

import (
	"testing"

	"github.com/footprint-dev/footprint/bpf"
)

// Where a kernel map was full, an entry's sightings in the ring buffer are
// its only copy: it reaches the profile once, counted once per sighting, and
// an entry the map holds is not added twice.
func TestEntriesAFullMapCouldNotKeepComeFromTheirSightings(t *testing.T) {
	kept := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 40, File: &bpf.FileOpen{Path: "/etc/kept", Access: bpf.AccessRead}}
	keptLater := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 1, File: &bpf.FileOpen{Path: "/etc/kept", Access: bpf.AccessRead}}
	unkept := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 1, File: &bpf.FileOpen{Path: "/var/lib/unkept", Access: bpf.AccessWrite}}
	exec := bpf.Entry{Kind: bpf.KindExec, CgroupID: 7, Count: 1, Exec: &bpf.Exec{Path: "/bin/true"}}

	var buffered map[string]bpf.Entry
	var added []bool
	for _, e := range []bpf.Entry{keptLater, unkept, unkept, exec} {
		added = append(added, addUnkept(&buffered, e))
	}
	if want := []bool{true, true, false, true}; !equalBools(added, want) {
		t.Errorf("addUnkept said new %v, want %v (a repeat is no new entry)", added, want)
	}

	got := withUnkept([]bpf.Entry{kept}, buffered)
	counts := map[string]uint64{}
	for _, e := range got {
		path := ""
		switch {
		case e.File != nil:
			path = e.File.Path
		case e.Exec != nil:
			path = e.Exec.Path
		}
		if _, dup := counts[path]; dup {
			t.Errorf("%s reached the entries twice", path)
		}
		counts[path] = e.Count
	}
	want := map[string]uint64{"/etc/kept": 40, "/var/lib/unkept": 2, "/bin/true": 1}
	if len(counts) != len(want) {
		t.Fatalf("entries %v, want %v", counts, want)
	}
	for path, n := range want {
		if counts[path] != n {
			t.Errorf("%s counted %d times, want %d", path, counts[path], n)
		}
	}
	if got := withUnkept([]bpf.Entry{kept}, nil); len(got) != 1 {
		t.Errorf("with nothing unkept the swept entries changed: %v", got)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
