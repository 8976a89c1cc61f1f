package enforcer

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/footprint-dev/footprint/bpf"
)

// describeSocket says what a socket violation did, naming the operation:
// "connected to AF_UNIX socket /run/docker.sock", "bound TCP 0.0.0.0:8080",
// "opened a raw IPv4 socket (protocol ICMP)", "opened an AF_PACKET socket
// (ethertype 0x0003)", "listened on a TCP port the kernel picked (no bind)".
func describeSocket(s *bpf.Socket) string {
	if s == nil {
		return "used a socket"
	}
	proto := ipProtocolName(s.Protocol)
	switch s.Op {
	case bpf.SocketUnixConnect:
		return "connected to AF_UNIX socket " + s.Path
	case bpf.SocketUnixSend:
		return "sent a datagram to AF_UNIX socket " + s.Path
	case bpf.SocketBind:
		return fmt.Sprintf("bound %s %s", proto, netip.AddrPortFrom(s.Addr, s.Port))
	case bpf.SocketRaw:
		switch s.Family {
		case 17: // AF_PACKET
			return fmt.Sprintf("opened an AF_PACKET socket (ethertype 0x%04x)", s.Port)
		case 10: // AF_INET6
			return fmt.Sprintf("opened a raw IPv6 socket (protocol %s)", proto)
		}
		return fmt.Sprintf("opened a raw IPv4 socket (protocol %s)", proto)
	case bpf.SocketListen:
		return fmt.Sprintf("listened on a %s port the kernel picked (no bind)", proto)
	}
	return s.Op.String()
}

func ipProtocolName(p uint8) string {
	if name, ok := map[uint8]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP"}[p]; ok {
		return name
	}
	return strconv.Itoa(int(p))
}
