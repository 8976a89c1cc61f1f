package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf/ringbuf"
)

// ErrClosed is returned by Reader.Read after Close.
var ErrClosed = ringbuf.ErrClosed

// Reader reads first sightings from the kernel's ring buffer.
type Reader struct {
	rb    *ringbuf.Reader
	clock bootClock
	rec   ringbuf.Record
}

// NewReader opens the ring buffer. One reader at a time.
func (r *Recorder) NewReader() (*Reader, error) {
	rb, err := ringbuf.NewReader(r.events)
	if err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return &Reader{rb: rb, clock: newBootClock()}, nil
}

// Read blocks until the next event, or returns ErrClosed once Close was
// called.
func (rd *Reader) Read() (Event, error) {
	for {
		if err := rd.rb.ReadInto(&rd.rec); err != nil {
			return Event{}, err
		}
		ev, err := rd.decode(rd.rec.RawSample)
		if err != nil {
			// A record this build cannot decode means the objects and
			// the Go types disagree: a bug, never silently skipped.
			return Event{}, err
		}
		return ev, nil
	}
}

// SetDeadline makes Read return os.ErrDeadlineExceeded once t has passed
// with nothing to read; the zero time blocks again.
func (rd *Reader) SetDeadline(t time.Time) { rd.rb.SetDeadline(t) }

// Close unblocks Read.
func (rd *Reader) Close() error { return rd.rb.Close() }

func (rd *Reader) decode(raw []byte) (Event, error) {
	if len(raw) < 4 {
		return Event{}, fmt.Errorf("ring buffer record of %d bytes has no header", len(raw))
	}
	kind := Kind(binary.NativeEndian.Uint32(raw))
	var ev Event
	var hdr typesFpEventHeader
	read := func(v any) error {
		if err := binary.Read(bytes.NewReader(raw), binary.NativeEndian, v); err != nil {
			return fmt.Errorf("decode %s record of %d bytes: %w", kind, len(raw), err)
		}
		return nil
	}
	switch kind {
	case KindCapability:
		var e typesFpCapabilityEvent
		if err := read(&e); err != nil {
			return ev, err
		}
		hdr = e.Hdr
		ev.CgroupID, ev.Capability = e.Key.CgroupId, capabilityOf(e.Key)
	case KindFile:
		var e typesFpFileEvent
		if err := read(&e); err != nil {
			return ev, err
		}
		hdr = e.Hdr
		ev.CgroupID, ev.File = e.Key.CgroupId, fileOf(&e.Key)
	case KindConnect:
		var e typesFpConnectEvent
		if err := read(&e); err != nil {
			return ev, err
		}
		hdr = e.Hdr
		ev.CgroupID, ev.Connect = e.Key.CgroupId, connectOf(e.Key)
	case KindExec:
		var e typesFpExecEvent
		if err := read(&e); err != nil {
			return ev, err
		}
		hdr = e.Hdr
		ev.CgroupID, ev.Exec = e.Key.CgroupId, execOf(&e.Key)
	case KindSocket:
		var e typesFpSocketEvent
		if err := read(&e); err != nil {
			return ev, err
		}
		hdr = e.Hdr
		ev.CgroupID, ev.Socket = e.Key.CgroupId, socketOf(&e.Key)
	default:
		return ev, errors.New("ring buffer record of unknown kind " + kind.String())
	}
	ev.Kind = kind
	ev.Count = 1
	ev.FirstSeen = rd.clock.wall(hdr.TimestampNs)
	ev.PID = hdr.Pid
	ev.Comm = commString(hdr.Comm)
	ev.Unkept = hdr.Flags&uint32(typesFpEventFlagFP_EVENT_UNKEPT) != 0
	return ev, nil
}
