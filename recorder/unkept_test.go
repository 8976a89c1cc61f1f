package recorder

import (
	"testing"

	"github.com/footprint-dev/footprint/bpf"
)

// Where a kernel map was full, an entry's first sighting in the ring buffer
// is its only copy: it reaches the profile once, and nothing else changes.
func TestEntriesAFullMapCouldNotKeepComeFromTheirFirstSighting(t *testing.T) {
	kept := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 40, File: &bpf.FileOpen{Path: "/etc/kept", Access: bpf.AccessRead}}
	unkept := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 1, File: &bpf.FileOpen{Path: "/var/lib/unkept", Access: bpf.AccessWrite}}
	keptAgain := bpf.Entry{Kind: bpf.KindFile, CgroupID: 7, Count: 1, File: &bpf.FileOpen{Path: "/etc/kept", Access: bpf.AccessRead}}
	exec := bpf.Entry{Kind: bpf.KindExec, CgroupID: 7, Count: 1, Exec: &bpf.Exec{Path: "/bin/true"}}
	firsts := []bpf.Entry{keptAgain, unkept, unkept, exec}
	tests := []struct {
		name     string
		counters map[bpf.Kind]bpf.KindCounters
		want     []string
	}{
		{"no map full: the maps alone", nil, []string{"/etc/kept"}},
		{"the file map full: the unkept file once, no second copy of the kept one, no other kind",
			map[bpf.Kind]bpf.KindCounters{bpf.KindFile: {MapFull: 1}}, []string{"/etc/kept", "/var/lib/unkept"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := withUnkept([]bpf.Entry{kept}, firsts, tc.counters)
			var paths []string
			for _, e := range got {
				if e.File == nil {
					t.Fatalf("an entry of a kind whose map was not full was added: %+v", e)
				}
				paths = append(paths, e.File.Path)
			}
			if len(paths) != len(tc.want) {
				t.Fatalf("entries %q, want %q", paths, tc.want)
			}
			for i := range paths {
				if paths[i] != tc.want[i] {
					t.Errorf("entries %q, want %q", paths, tc.want)
				}
			}
			if got[0].Count != 40 {
				t.Errorf("the kept entry's count became %d, want the map's 40", got[0].Count)
			}
		})
	}
}
