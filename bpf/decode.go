package bpf

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// bootClock converts bpf_ktime_get_ns timestamps (CLOCK_MONOTONIC) to wall
// clock time.
type bootClock struct{ offset time.Duration }

func newBootClock() bootClock {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return bootClock{}
	}
	return bootClock{offset: time.Duration(time.Now().UnixNano() - ts.Nano())}
}

func (c bootClock) wall(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)+int64(c.offset))
}

func commString(c [16]int8) string {
	b := make([]byte, 0, len(c))
	for _, ch := range c {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}

func pathString(p [512]int8, flags uint32) (string, bool) {
	b := make([]byte, 0, 64)
	for _, ch := range p {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b), flags&flagPathTruncated != 0
}

func capabilityOf(k typesFpCapabilityKey) *Capability {
	return &Capability{
		Cap:           int(k.Cap),
		Denied:        k.Flags&flagCapDenied != 0,
		NoAudit:       k.Flags&flagCapNoAudit != 0,
		UserNamespace: k.Flags&flagCapUserNS != 0,
	}
}

func fileOf(k *typesFpFileKey) *FileOpen {
	path, truncated := pathString(k.Path, k.Flags)
	return &FileOpen{
		Path:      path,
		Access:    Access(k.Access),
		FSMagic:   k.FsMagic,
		RootFS:    k.Flags&flagRootFS != 0,
		Truncated: truncated,
		Lexical:   k.Flags&flagLexical != 0,
	}
}

const (
	afInet  = 2
	afInet6 = 10
)

func connectOf(k typesFpConnectKey) *Connect {
	var addr netip.Addr
	if k.Family == afInet {
		addr = netip.AddrFrom4([4]byte(k.Addr[:4]))
	} else {
		addr = netip.AddrFrom16(k.Addr)
	}
	return &Connect{Addr: addr, Port: k.Port, Protocol: k.Protocol, SendMsg: k.Op == 2}
}

func execOf(k *typesFpExecKey) *Exec {
	path, truncated := pathString(k.Path, k.Flags)
	return &Exec{
		Path:      path,
		UID:       k.Uid,
		GID:       k.Gid,
		Setuid:    k.Flags&flagSetuid != 0,
		Setgid:    k.Flags&flagSetgid != 0,
		Secure:    k.Flags&flagSecureExec != 0,
		Script:    k.Flags&flagScript != 0,
		Truncated: truncated,
	}
}
