package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// readBatch is how many entries one batch lookup asks for. The largest
// entries (a file path key and its value) are under 600 bytes, so a batch's
// buffers stay under 200 KiB, and a sweep of 16,000 entries takes some 60
// system calls instead of two per entry.
const readBatch = 256

// readEach calls each with every entry of m, a batch at a time: a batch of
// entries per system call where the kernel has batch lookups (Linux 5.6+),
// else one key and one lookup per entry. Entries go to each as they are
// read, so a sweep holds one batch of raw keys, not the whole map's.
func readEach[K, V any](m *ebpf.Map, each func(*K, *V)) error {
	var cursor ebpf.MapBatchCursor
	keys, values := make([]K, readBatch), make([]V, readBatch)
	for first := true; ; first = false {
		n, err := m.BatchLookup(&cursor, keys, values, nil)
		switch {
		case first && errors.Is(err, ebpf.ErrNotSupported):
			return iterateEach(m, each)
		case errors.Is(err, unix.ENOSPC) && n == 0:
			// A hash bucket holds more entries than a batch: the
			// kernel did not move the cursor past it, so ask again
			// with room for it.
			keys, values = make([]K, 2*len(keys)), make([]V, 2*len(values))
			continue
		case err != nil && !errors.Is(err, ebpf.ErrKeyNotExist):
			return err
		}
		for i := range n {
			each(&keys[i], &values[i])
		}
		if err != nil {
			// ErrKeyNotExist: the last batch, partial or empty.
			return nil
		}
	}
}

func iterateEach[K, V any](m *ebpf.Map, each func(*K, *V)) error {
	var k K
	var v V
	it := m.Iterate()
	for it.Next(&k, &v) {
		each(&k, &v)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	return nil
}

// readAll is readEach into slices, for maps that are read whole.
func readAll[K, V any](m *ebpf.Map) ([]K, []V, error) {
	var keys []K
	var values []V
	err := readEach(m, func(k *K, v *V) {
		keys = append(keys, *k)
		values = append(values, *v)
	})
	return keys, values, err
}
