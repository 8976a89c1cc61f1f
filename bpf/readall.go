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

// readAll reads every entry of m: a batch of entries per system call where
// the kernel has batch lookups (Linux 5.6+), else one key and one lookup per
// entry. Nothing is returned until the whole map is read, so falling back
// to the slow way starts over and never yields an entry twice.
func readAll[K, V any](m *ebpf.Map) ([]K, []V, error) {
	keys, values, err := readAllBatched[K, V](m)
	// ENOSPC: a hash bucket held more entries than a batch asks for.
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.ENOSPC) {
		return readAllIterating[K, V](m)
	}
	return keys, values, err
}

func readAllBatched[K, V any](m *ebpf.Map) ([]K, []V, error) {
	var cursor ebpf.MapBatchCursor
	var keys []K
	var values []V
	keyBuf, valueBuf := make([]K, readBatch), make([]V, readBatch)
	for {
		n, err := m.BatchLookup(&cursor, keyBuf, valueBuf, nil)
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, nil, err
		}
		keys = append(keys, keyBuf[:n]...)
		values = append(values, valueBuf[:n]...)
		if err != nil {
			// ErrKeyNotExist: the last batch, partial or empty.
			return keys, values, nil
		}
	}
}

func readAllIterating[K, V any](m *ebpf.Map) ([]K, []V, error) {
	var keys []K
	var values []V
	var k K
	var v V
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
		values = append(values, v)
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("iterate: %w", err)
	}
	return keys, values, nil
}
