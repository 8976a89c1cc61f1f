package profiles

import "sync"

// normalizedPaths remembers NormalizePath's answers. A node agent merges
// every container's cumulative snapshot each flush interval, normalising
// the same paths again and again (the snapshot, then the merge, then the
// bound): the name rules' regular expressions were most of what queuing a
// snapshot cost. 16,384 paths per generation is as many as the largest
// node bench sweeps entries of every kind (16,294 at 250 pods), so its
// file paths fit in one generation; the memory is two maps of at most
// that many strings.
var normalizedPaths = newStringMemo(1 << 14)

// stringMemo is a bounded memo of a pure string function, in two
// generations: when the current one is full it becomes the previous one
// and the one before is dropped, so what is still asked for survives and
// the memory stays at most two generations.
type stringMemo struct {
	mu       sync.Mutex
	size     int
	current  map[string]string
	previous map[string]string
}

func newStringMemo(size int) *stringMemo {
	return &stringMemo{size: size, current: make(map[string]string)}
}

func (m *stringMemo) get(k string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.current[k]; ok {
		return v, true
	}
	v, ok := m.previous[k]
	if ok {
		m.putLocked(k, v)
	}
	return v, ok
}

func (m *stringMemo) put(k, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(k, v)
}

func (m *stringMemo) putLocked(k, v string) {
	if len(m.current) >= m.size {
		m.previous, m.current = m.current, make(map[string]string, m.size)
	}
	m.current[k] = v
}
