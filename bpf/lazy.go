package bpf

import (
	"fmt"
	"sync"
)

// lazyAttachment keeps a backend attached only while some cgroup needs it:
// the syscall tracepoints' mere attachment sends every system call of every
// task on the node through the kernel's slow path (about 12% on an
// open+close here), so a node where no cgroup is recorded or held for files
// must not pay for them. The backend is attached before the map entry that
// needs it is written, so a cgroup is covered from its first instruction,
// and detached once the kernel's map holds no entry that needs it (entries
// the kernel added below others included).
type lazyAttachment struct {
	mu sync.Mutex
	// a is the backend, or nil when the kind's backend costs nothing
	// while unused and stays attached.
	a *attachment
	// inUse scans the kernel's map for an entry that needs the backend.
	inUse func() (bool, error)
}

// newLazyAttachment returns the lazy attachment of a kind's chosen backend,
// which is nil or not lazy for kinds that stay attached.
func newLazyAttachment(a *attachment, inUse func() (bool, error)) *lazyAttachment {
	if a == nil || !a.backend.lazy {
		a = nil
	}
	return &lazyAttachment{a: a, inUse: inUse}
}

// write makes a map change that needs the backend when needs is true: the
// backend is attached first. Then, when the change may have removed the
// last entry that needed it, it is detached.
func (l *lazyAttachment) write(needs bool, change func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.a != nil && needs && !l.a.attached() {
		if err := l.a.attachLinks(); err != nil {
			return fmt.Errorf("attach %s: %w", l.a.backend.name, err)
		}
	}
	err := change()
	if !needs {
		l.settle()
	}
	return err
}

// settle detaches the backend when nothing in the kernel's map needs it.
// Called with l.mu held.
func (l *lazyAttachment) settle() {
	if l.a == nil || !l.a.attached() {
		return
	}
	// Where the map cannot be read, staying attached is the safe side.
	if used, err := l.inUse(); err == nil && !used {
		l.a.detachLinks()
	}
}

// Settle detaches the backend when nothing needs it, e.g. after loading
// over a predecessor's pinned maps.
func (l *lazyAttachment) Settle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settle()
}

// attached says whether the backend's programs are attached now.
func (l *lazyAttachment) attached() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.a == nil || l.a.attached()
}
