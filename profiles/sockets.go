package profiles

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// KindSocket is socket entries: AF_UNIX destinations, binds, raw and packet
// sockets, listens without a bind.
const KindSocket EntryKind = "socket"

// SocketName says what a socket entry or rule is, e.g. "unix /run/x.sock",
// "bind TCP 0.0.0.0:8080", "raw IPv4 ICMP", "raw Packet 0x0003",
// "listen IPv6 TCP".
func SocketName(r v1alpha1.SocketRule) string {
	switch r.Operation {
	case v1alpha1.SocketUnix:
		return "unix " + r.Path
	case v1alpha1.SocketBind:
		return fmt.Sprintf("bind %s %s", r.Protocol, hostPort(r.Address, r.Port))
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", strings.ToLower(string(r.Operation)), r.Family, r.Protocol))
}

// IP protocol numbers that have names in socket entries.
var ipProtocolNames = map[uint8]v1alpha1.Protocol{
	1: "ICMP", 6: v1alpha1.ProtocolTCP, 17: v1alpha1.ProtocolUDP, 58: "ICMPv6", 132: v1alpha1.ProtocolSCTP,
}

// SocketProtocol names a socket's protocol as socket entries do: an IP
// protocol by name where it has one, else by number; a packet socket's
// ethertype (host byte order) in hexadecimal.
func SocketProtocol(family v1alpha1.SocketFamily, protocol uint16) v1alpha1.Protocol {
	if family == v1alpha1.FamilyPacket {
		return v1alpha1.Protocol(fmt.Sprintf("0x%04x", protocol))
	}
	if n, ok := ipProtocolNames[uint8(protocol)]; ok && protocol < 256 {
		return n
	}
	return v1alpha1.Protocol(strconv.Itoa(int(protocol)))
}

// ParseSocketProtocol is the reverse of SocketProtocol.
func ParseSocketProtocol(family v1alpha1.SocketFamily, p v1alpha1.Protocol) (uint16, error) {
	if family == v1alpha1.FamilyPacket {
		s, ok := strings.CutPrefix(string(p), "0x")
		n, err := strconv.ParseUint(s, 16, 16)
		if !ok || err != nil {
			return 0, fmt.Errorf("ethertype %q: write it in hexadecimal, e.g. 0x0003 for every protocol or 0x0800 for IPv4", p)
		}
		return uint16(n), nil
	}
	for n, name := range ipProtocolNames {
		if strings.EqualFold(string(name), string(p)) {
			return uint16(n), nil
		}
	}
	n, err := strconv.ParseUint(string(p), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("protocol %q: name one of TCP, UDP, SCTP, ICMP, ICMPv6, or give the IP protocol number (0 to 255)", p)
	}
	return uint16(n), nil
}

func foldSockets(into, from []v1alpha1.SocketEntry, join countJoin) []v1alpha1.SocketEntry {
	index := make(map[v1alpha1.SocketRule]int, len(into)+len(from))
	out := make([]v1alpha1.SocketEntry, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.SocketEntry{into, from} {
		for _, e := range list {
			if e.Operation == v1alpha1.SocketBind {
				e.Address = NormalizeAddress(e.Address)
			}
			if i, ok := index[e.SocketRule]; ok {
				out[i].Count = join(out[i].Count, e.Count)
				continue
			}
			index[e.SocketRule] = len(out)
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b v1alpha1.SocketEntry) int { return CompareSocketRules(a.SocketRule, b.SocketRule) })
	return nilIfEmpty(out)
}

// CompareSocketRules orders by operation, then path, family, protocol,
// address and port.
func CompareSocketRules(a, b v1alpha1.SocketRule) int {
	return cmp.Or(
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Family, b.Family),
		cmp.Compare(a.Protocol, b.Protocol),
		compareAddresses(a.Address, b.Address),
		cmp.Compare(a.Port, b.Port),
	)
}

// unixPathMax is sockaddr_un.sun_path's size.
const unixPathMax = 108

// ValidateSocketRule checks a socket entry or rule: the fields its operation
// needs, and no others.
func ValidateSocketRule(r v1alpha1.SocketRule, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	unused := func(name string, set bool) {
		if set {
			errs = append(errs, field.Forbidden(path.Child(name), fmt.Sprintf("does not apply to a %s rule", r.Operation)))
		}
	}
	family := func(allowed ...v1alpha1.SocketFamily) {
		if !slices.Contains(allowed, r.Family) {
			names := make([]string, len(allowed))
			for i, f := range allowed {
				names[i] = string(f)
			}
			errs = append(errs, field.NotSupported(path.Child("family"), r.Family, names))
		}
	}
	protocol := func() {
		if _, err := ParseSocketProtocol(r.Family, r.Protocol); err != nil {
			errs = append(errs, field.Invalid(path.Child("protocol"), r.Protocol, err.Error()))
		}
	}
	switch r.Operation {
	case v1alpha1.SocketUnix:
		if r.Path == "" || len(r.Path) > unixPathMax {
			errs = append(errs, field.Invalid(path.Child("path"), r.Path, fmt.Sprintf("an AF_UNIX address is 1 to %d bytes: a socket path, or @ and an abstract name", unixPathMax)))
		}
		unused("family", r.Family != "")
		unused("protocol", r.Protocol != "")
		unused("address", r.Address != "")
		unused("port", r.Port != 0)
	case v1alpha1.SocketBind:
		family(v1alpha1.FamilyIPv4, v1alpha1.FamilyIPv6)
		protocol()
		ip, err := netip.ParseAddr(r.Address)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Child("address"), r.Address, "not an IP address: write the local address bound, e.g. 0.0.0.0, 127.0.0.1 or ::"))
		case r.Family == v1alpha1.FamilyIPv4 && !ip.Unmap().Is4():
			errs = append(errs, field.Invalid(path.Child("address"), r.Address, fmt.Sprintf("not an %s address", r.Family)))
		}
		if r.Port < 0 || r.Port > 65535 {
			errs = append(errs, field.Invalid(path.Child("port"), r.Port, "ports are 0 to 65535"))
		}
		unused("path", r.Path != "")
	case v1alpha1.SocketRaw, v1alpha1.SocketListen:
		if r.Operation == v1alpha1.SocketRaw {
			family(v1alpha1.FamilyIPv4, v1alpha1.FamilyIPv6, v1alpha1.FamilyPacket)
		} else {
			family(v1alpha1.FamilyIPv4, v1alpha1.FamilyIPv6)
		}
		protocol()
		unused("path", r.Path != "")
		unused("address", r.Address != "")
		unused("port", r.Port != 0)
	default:
		errs = append(errs, field.NotSupported(path.Child("operation"), r.Operation,
			[]string{string(v1alpha1.SocketUnix), string(v1alpha1.SocketBind), string(v1alpha1.SocketRaw), string(v1alpha1.SocketListen)}))
	}
	return errs
}
