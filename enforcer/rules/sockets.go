package rules

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// MaxSocketRules is the most socket rules a compiled policy may have.
const MaxSocketRules = 1024

// SocketOp is what a socket rule allows.
type SocketOp uint8

// The socket operations a rule allows.
const (
	// SocketUnix is connects and sends to an AF_UNIX address.
	SocketUnix SocketOp = iota + 1
	// SocketBind is a bind of an inet socket.
	SocketBind
	// SocketRaw is a raw inet socket or a packet socket.
	SocketRaw
	// SocketListen is a listen() without bind().
	SocketListen
)

// Address families of socket rules (Linux's AF_* numbers).
const (
	FamilyUnix   uint16 = 1
	FamilyInet   uint16 = 2
	FamilyInet6  uint16 = 10
	FamilyPacket uint16 = 17
)

// SocketRule is one allowed socket operation, in kernel terms, matched
// exactly.
type SocketRule struct {
	Op       SocketOp
	Family   uint16
	Protocol uint8
	// Port is a bind's port, or a packet socket's ethertype.
	Port uint16
	// Addr is a bind's address.
	Addr netip.Addr
	// Path is an AF_UNIX address: a path, or "@" and an abstract name.
	Path string
}

func (r SocketRule) String() string {
	switch r.Op {
	case SocketUnix:
		return "unix " + r.Path
	case SocketBind:
		return fmt.Sprintf("bind family %d proto %d %s", r.Family, r.Protocol, netip.AddrPortFrom(r.Addr, r.Port))
	}
	return fmt.Sprintf("op %d family %d proto %d port %d", r.Op, r.Family, r.Protocol, r.Port)
}

var socketOps = map[v1alpha1.SocketOperation]SocketOp{
	v1alpha1.SocketUnix: SocketUnix, v1alpha1.SocketBind: SocketBind, v1alpha1.SocketRaw: SocketRaw, v1alpha1.SocketListen: SocketListen,
}

var socketFamilies = map[v1alpha1.SocketFamily]uint16{
	v1alpha1.FamilyIPv4: FamilyInet, v1alpha1.FamilyIPv6: FamilyInet6, v1alpha1.FamilyPacket: FamilyPacket,
}

func compileSockets(allow []v1alpha1.SocketRule, list *field.Path) ([]SocketRule, field.ErrorList) {
	if len(allow) > MaxSocketRules {
		tooMany := field.TooMany(list, len(allow), MaxSocketRules)
		return nil, field.ErrorList{tooMany}
	}
	var errs field.ErrorList
	var out []SocketRule
	seen := map[SocketRule]bool{}
	for i, r := range allow {
		path := list.Index(i)
		if e := profiles.ValidateSocketRule(r, path); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		k := SocketRule{Op: socketOps[r.Operation]}
		switch k.Op {
		case SocketUnix:
			k.Family, k.Path = FamilyUnix, r.Path
		case SocketBind:
			k.Family = socketFamilies[r.Family]
			proto, _ := profiles.ParseSocketProtocol(r.Family, r.Protocol) // validated
			k.Protocol = uint8(proto)
			k.Addr = netip.MustParseAddr(profiles.NormalizeAddress(r.Address))
			k.Port = uint16(r.Port)
		case SocketRaw, SocketListen:
			k.Family = socketFamilies[r.Family]
			proto, _ := profiles.ParseSocketProtocol(r.Family, r.Protocol)
			if k.Family == FamilyPacket {
				k.Port = proto
			} else {
				k.Protocol = uint8(proto)
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, errs
}

// SocketAllowed reports whether a socket operation is allowed: always when
// the policy does not govern sockets, otherwise when a rule is exactly it.
func (c *Compiled) SocketAllowed(r SocketRule) bool {
	if !c.SocketsGoverned {
		return true
	}
	for _, s := range c.Sockets {
		if s == r {
			return true
		}
	}
	return false
}
