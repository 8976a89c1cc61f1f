package bpf

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Sockets beyond an inet connect (KindSocket): AF_UNIX destinations, inet
// binds, raw inet and packet sockets, and listen() on a port the kernel
// picks. Recorded with connections; a policy's socket rules live in
// socket_rules under its ConnectSet id.

// SocketOp is what was done with a socket (enum fp_socket_op).
type SocketOp uint8

// The socket operations.
const (
	// SocketUnixConnect is connect() to an AF_UNIX address.
	SocketUnixConnect = SocketOp(typesFpSocketOpFP_SOCKET_UNIX_CONNECT)
	// SocketUnixSend is sendmsg()/sendto() with an AF_UNIX address.
	SocketUnixSend = SocketOp(typesFpSocketOpFP_SOCKET_UNIX_SENDMSG)
	// SocketBind is bind() of an inet socket.
	SocketBind = SocketOp(typesFpSocketOpFP_SOCKET_BIND)
	// SocketRaw is socket() of a raw inet socket or a packet socket.
	SocketRaw = SocketOp(typesFpSocketOpFP_SOCKET_RAW)
	// SocketListen is listen() on an inet socket never bound: the kernel
	// picks its port.
	SocketListen = SocketOp(typesFpSocketOpFP_SOCKET_LISTEN)
)

func (o SocketOp) String() string {
	switch o {
	case SocketUnixConnect:
		return "unix connect"
	case SocketUnixSend:
		return "unix send"
	case SocketBind:
		return "bind"
	case SocketRaw:
		return "raw socket"
	case SocketListen:
		return "listen without bind"
	}
	return fmt.Sprintf("socket op %d", uint8(o))
}

// Socket is one socket operation.
type Socket struct {
	Op SocketOp
	// Family is the address family (unix.AF_UNIX, AF_INET, AF_INET6,
	// AF_PACKET).
	Family uint16
	// Protocol is the IP protocol of a bind, a raw inet socket or a
	// listen.
	Protocol uint8
	// Port is a bind's port; for a packet socket, its ethertype.
	Port uint16
	// Addr is a bind's address.
	Addr netip.Addr
	// Path is an AF_UNIX address: the path as given, or "@" and an
	// abstract name.
	Path string
}

// UnixAddress turns an AF_UNIX address's sun_path bytes into Socket.Path's
// form: an abstract name (a first NUL byte) as "@name".
func UnixAddress(sunPath []byte) string {
	if len(sunPath) > 0 && sunPath[0] == 0 {
		return "@" + string(sunPath[1:])
	}
	return string(sunPath)
}

// unixPathBytes is the reverse of UnixAddress.
func unixPathBytes(path string) ([]byte, error) {
	b := []byte(path)
	if len(b) > 0 && b[0] == '@' {
		b[0] = 0
	}
	if len(b) == 0 || len(b) > len(typesFpSocketKey{}.Path) {
		return nil, fmt.Errorf("AF_UNIX address %q: must be 1 to %d bytes", path, len(typesFpSocketKey{}.Path))
	}
	return b, nil
}

func socketOf(k *typesFpSocketKey) *Socket {
	s := &Socket{Op: SocketOp(k.Op), Family: k.Family, Protocol: k.Protocol, Port: k.Port}
	switch {
	case k.Family == unix.AF_UNIX:
		n := min(int(k.Len), len(k.Path))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(k.Path[i])
		}
		s.Path = UnixAddress(b)
	case s.Op == SocketBind && k.Family == unix.AF_INET:
		s.Addr = netip.AddrFrom4([4]byte(k.Addr[:4]))
	case s.Op == SocketBind:
		s.Addr = netip.AddrFrom16(k.Addr)
	}
	return s
}

// sweepSockets reads the socket entries of the cgroups keep accepts.
func (r *Recorder) sweepSockets(keep func(uint64) bool, clock bootClock) ([]Entry, error) {
	m := r.aggregation(KindSocket, "sockets_seen")
	if m == nil {
		return nil, nil
	}
	keys, values, err := readAll[typesFpSocketKey, typesFpSeen](m)
	if err != nil {
		return nil, fmt.Errorf("sweep sockets: %w", err)
	}
	var out []Entry
	for i := range keys {
		if k, v := &keys[i], &values[i]; keep(k.CgroupId) {
			out = append(out, Entry{Kind: KindSocket, CgroupID: k.CgroupId, Count: v.Count,
				FirstSeen: clock.wall(v.FirstSeenNs), Socket: socketOf(k)})
		}
	}
	return out, nil
}

// SocketRuleOp is what a socket rule allows (enum fp_socket_rule_op).
type SocketRuleOp uint8

// The socket rule operations.
const (
	// SocketRuleUnix allows connects and sends to an AF_UNIX address.
	SocketRuleUnix = SocketRuleOp(typesFpSocketRuleOpFP_SOCKET_RULE_UNIX)
	// SocketRuleBind allows a bind to an address, protocol and port.
	SocketRuleBind = SocketRuleOp(typesFpSocketRuleOpFP_SOCKET_RULE_BIND)
	// SocketRuleRaw allows raw sockets of a family and protocol.
	SocketRuleRaw = SocketRuleOp(typesFpSocketRuleOpFP_SOCKET_RULE_RAW)
	// SocketRuleListen allows listen() without bind() for a family and
	// protocol.
	SocketRuleListen = SocketRuleOp(typesFpSocketRuleOpFP_SOCKET_RULE_LISTEN)
)

// SocketRule is one allowed socket operation of a rule set (struct
// fp_socket_rule_key), matched exactly.
type SocketRule struct {
	Set      uint32
	Op       SocketRuleOp
	Family   uint16
	Protocol uint8
	// Port is a bind's port, or a packet socket's ethertype.
	Port uint16
	// Addr is a bind's address (IPv4 or IPv6).
	Addr netip.Addr
	// Path is an AF_UNIX address as Socket.Path has it.
	Path string
}

func (r SocketRule) value() (typesFpSocketRuleKey, error) {
	v := typesFpSocketRuleKey{Set: r.Set, Op: uint8(r.Op), Family: r.Family, Protocol: r.Protocol, Port: r.Port}
	switch r.Op {
	case SocketRuleUnix:
		b, err := unixPathBytes(r.Path)
		if err != nil {
			return v, err
		}
		if len(b) > len(v.Path) {
			return v, fmt.Errorf("AF_UNIX address %q: longer than %d bytes", r.Path, len(v.Path))
		}
		v.Family, v.Len = unix.AF_UNIX, uint16(len(b))
		for i, c := range b {
			v.Path[i] = int8(c)
		}
	case SocketRuleBind:
		if !r.Addr.IsValid() {
			return v, errors.New("bind rule without an address")
		}
		v.Addr = r.Addr.As16()
	}
	return v, nil
}

func socketRuleOf(v typesFpSocketRuleKey) SocketRule {
	r := SocketRule{Set: v.Set, Op: SocketRuleOp(v.Op), Family: v.Family, Protocol: v.Protocol, Port: v.Port}
	switch r.Op {
	case SocketRuleUnix:
		b := make([]byte, min(int(v.Len), len(v.Path)))
		for i := range b {
			b[i] = byte(v.Path[i])
		}
		r.Path = UnixAddress(b)
	case SocketRuleBind:
		r.Addr = netip.AddrFrom16(v.Addr)
		if r.Family == unix.AF_INET {
			r.Addr = r.Addr.Unmap()
		}
	}
	return r
}

// PutSocketRule allows one socket operation in a rule set.
func (e *Enforcer) PutSocketRule(r SocketRule) error {
	key, err := r.value()
	if err != nil {
		return fmt.Errorf("put socket rule: %w", err)
	}
	one := uint8(1)
	if err := e.maps["socket_rules"].Put(&key, &one); err != nil {
		return fmt.Errorf("put socket rule: %w", err)
	}
	return nil
}

// DeleteSocketRule deletes one socket operation of a rule set.
func (e *Enforcer) DeleteSocketRule(r SocketRule) error {
	key, err := r.value()
	if err != nil {
		return fmt.Errorf("delete socket rule: %w", err)
	}
	if err := e.maps["socket_rules"].Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete socket rule: %w", err)
	}
	return nil
}

// SocketRules returns every socket operation of every rule set.
func (e *Enforcer) SocketRules() ([]SocketRule, error) {
	var out []SocketRule
	var k typesFpSocketRuleKey
	var one uint8
	it := e.maps["socket_rules"].Iterate()
	for it.Next(&k, &one) {
		out = append(out, socketRuleOf(k))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read socket rules: %w", err)
	}
	return out, nil
}

// socketViolation fills a KindSocket violation's fields from its record.
func socketViolation(v *Violation, e *typesFpViolationEvent) {
	s := &Socket{Op: SocketOp(e.SocketOp), Family: e.Family, Protocol: e.Protocol, Port: e.Port}
	switch {
	case e.Family == unix.AF_UNIX:
		b := make([]byte, min(int(e.PathLen), len(e.Path)))
		for i := range b {
			b[i] = byte(e.Path[i])
		}
		s.Path = UnixAddress(b)
	case s.Op == SocketBind:
		s.Addr = netip.AddrFrom16(e.Addr)
		if e.Family == unix.AF_INET {
			s.Addr = s.Addr.Unmap()
		}
	}
	v.Socket = s
	v.Addr, v.Port, v.Protocol, v.Path = s.Addr, s.Port, s.Protocol, s.Path
}
