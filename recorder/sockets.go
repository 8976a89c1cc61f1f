package recorder

import (
	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// socketFamilies names the address families of socket entries.
var socketFamilies = map[uint16]v1alpha1.SocketFamily{
	unix.AF_INET: v1alpha1.FamilyIPv4, unix.AF_INET6: v1alpha1.FamilyIPv6, unix.AF_PACKET: v1alpha1.FamilyPacket,
}

// socketRule turns a kernel socket entry into a profile's; false for one a
// profile cannot hold (an AF_UNIX connect with an empty address, which the
// kernel refuses anyway).
func socketRule(s *bpf.Socket) (v1alpha1.SocketRule, bool) {
	switch s.Op {
	case bpf.SocketUnixConnect, bpf.SocketUnixSend:
		// A connect and a send to the same address are one peer.
		return v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: s.Path}, s.Path != ""
	case bpf.SocketBind:
		family := socketFamilies[s.Family]
		return v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: family,
			Protocol: profiles.SocketProtocol(family, uint16(s.Protocol)),
			Address:  profiles.NormalizeAddress(s.Addr.String()), Port: int32(s.Port)}, family != ""
	case bpf.SocketRaw:
		family := socketFamilies[s.Family]
		proto := uint16(s.Protocol)
		if family == v1alpha1.FamilyPacket {
			proto = s.Port
		}
		return v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: family,
			Protocol: profiles.SocketProtocol(family, proto)}, family != ""
	case bpf.SocketListen:
		family := socketFamilies[s.Family]
		return v1alpha1.SocketRule{Operation: v1alpha1.SocketListen, Family: family,
			Protocol: profiles.SocketProtocol(family, uint16(s.Protocol))}, family != ""
	}
	return v1alpha1.SocketRule{}, false
}
