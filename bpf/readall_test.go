package bpf

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/footprint-dev/footprint/internal/kerneltest"
)

// readAllMap is a hash map of n entries, key i with value {i, 2i}, with
// room to spare: an LRU map evicts before it is full.
func readAllMap(tb testing.TB, typ ebpf.MapType, n int) *ebpf.Map {
	tb.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 8, ValueSize: 16, MaxEntries: 2*uint32(n) + 1024})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	for i := range uint64(n) {
		if err := m.Put(i, [2]uint64{i, 2 * i}); err != nil {
			tb.Fatal(err)
		}
	}
	return m
}

func TestReadAllReadsEveryEntryOnce(t *testing.T) {
	kerneltest.RequireRoot(t)
	for _, tc := range []struct {
		typ ebpf.MapType
		n   int
	}{
		{ebpf.Hash, 0}, {ebpf.Hash, 1}, {ebpf.Hash, readBatch}, {ebpf.Hash, 10*readBatch + 3}, {ebpf.LRUHash, 5000},
	} {
		t.Run(fmt.Sprintf("%s of %d", tc.typ, tc.n), func(t *testing.T) {
			m := readAllMap(t, tc.typ, tc.n)
			for name, read := range map[string]func(*ebpf.Map) ([]uint64, [][2]uint64, error){
				"batched": readAll[uint64, [2]uint64], "iterating": iterateAll,
			} {
				keys, values, err := read(m)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(keys) != tc.n || len(values) != tc.n {
					t.Fatalf("%s: %d keys and %d values, want %d", name, len(keys), len(values), tc.n)
				}
				seen := map[uint64]bool{}
				for i, k := range keys {
					if seen[k] || values[i] != [2]uint64{k, 2 * k} {
						t.Fatalf("%s: key %d (seen before: %v) has value %v", name, k, seen[k], values[i])
					}
					seen[k] = true
				}
			}
		})
	}
}

// BenchmarkReadAll reads a map of 16,384 entries (a busy node's files)
// with batch lookups and, as the baseline, entry by entry.
func BenchmarkReadAll(b *testing.B) {
	kerneltest.RequireRoot(b)
	m := readAllMap(b, ebpf.Hash, 16384)
	for name, read := range map[string]func(*ebpf.Map) ([]uint64, [][2]uint64, error){
		"batched": readAll[uint64, [2]uint64], "iterating": iterateAll,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := read(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// iterateAll reads m entry by entry, the baseline of the batched reads.
func iterateAll(m *ebpf.Map) (keys []uint64, values [][2]uint64, err error) {
	err = iterateEach(m, func(k *uint64, v *[2]uint64) {
		keys = append(keys, *k)
		values = append(values, *v)
	})
	return keys, values, err
}
