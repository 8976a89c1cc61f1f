package rules

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// MaxConnectRules is the most connect entries a compiled policy may have.
const MaxConnectRules = 4096

// MaxPortRange is the most ports one connect rule's Port..EndPort range may
// cover (each port is an entry of its own in the kernel), except the full
// range 0–65535, which compiles into one AnyPort entry.
const MaxPortRange = 1024

// IP protocol numbers of ConnectRule.Protocol.
const (
	ProtocolTCP  uint8 = 6
	ProtocolUDP  uint8 = 17
	ProtocolSCTP uint8 = 132
)

// ProtocolNumber returns the IP protocol number of a policy protocol, and
// false for an unknown one.
func ProtocolNumber(p v1alpha1.Protocol) (uint8, bool) {
	switch p {
	case v1alpha1.ProtocolTCP:
		return ProtocolTCP, true
	case v1alpha1.ProtocolUDP:
		return ProtocolUDP, true
	case v1alpha1.ProtocolSCTP:
		return ProtocolSCTP, true
	}
	return 0, false
}

// ConnectRule is one allowed destination: an address range, a protocol, and
// one port or every port.
type ConnectRule struct {
	// Prefix is always IPv6; IPv4 ranges are IPv4-mapped (::ffff:a.b.c.d/96+n).
	Prefix netip.Prefix
	// Protocol is the IP protocol number (ProtocolTCP, ProtocolUDP, ProtocolSCTP).
	Protocol uint8
	// Port is the destination port when AnyPort is false; port 0 is port 0.
	Port uint16
	// AnyPort makes the entry allow every port; Port is 0 then.
	AnyPort bool
}

func (r ConnectRule) String() string {
	port := fmt.Sprint(r.Port)
	if r.AnyPort {
		port = "any"
	}
	return fmt.Sprintf("proto %d %s port %s", r.Protocol, r.Prefix, port)
}

// ConnectAllowed reports whether a connect (or unconnected send) to addr and
// port with the IP protocol proto is allowed: always when the policy does not
// govern connects, otherwise when some entry has the protocol, a prefix
// containing the address (an IPv4 address as IPv4-mapped) and AnyPort or the
// port.
func (c *Compiled) ConnectAllowed(proto uint8, addr netip.Addr, port uint16) bool {
	if !c.ConnectGoverned {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = netip.AddrFrom16(addr.As16())
	for _, r := range c.Connect {
		if r.Protocol == proto && (r.AnyPort || r.Port == port) && r.Prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// v4Mapped is the range IPv4 addresses are looked up in.
var v4Mapped = netip.MustParsePrefix("::ffff:0:0/96")

// ipv6Prefixes returns the IPv6 prefixes the kernel holds for a policy CIDR:
// an IPv4 range mapped into ::ffff:0:0/96; an IPv6 range that contains
// ::ffff:0:0/96 split into prefixes covering it but that range, because an
// IPv6 CIDR never matches an IPv4 destination in the policy.
func ipv6Prefixes(p netip.Prefix) []netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4() {
		return []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), 96+p.Bits())}
	}
	p = netip.PrefixFrom(p.Addr().WithZone(""), p.Bits())
	if p.Bits() >= v4Mapped.Bits() || !p.Contains(v4Mapped.Addr()) {
		return []netip.Prefix{p}
	}
	// Walk from p down to ::ffff:0:0/96; at each level keep the half that
	// does not lead there.
	var out []netip.Prefix
	mapped := v4Mapped.Addr().As16()
	for bit := p.Bits(); bit < v4Mapped.Bits(); bit++ {
		sibling := mapped
		sibling[bit/8] ^= 0x80 >> (bit % 8)
		out = append(out, netip.PrefixFrom(netip.AddrFrom16(sibling), bit+1).Masked())
	}
	return out
}

// connectSource is one policy rule in kernel terms.
type connectSource struct {
	prefixes []netip.Prefix
	protocol uint8
	low      int
	high     int // inclusive
}

func compileConnect(allow []v1alpha1.ConnectRule, list *field.Path) ([]ConnectRule, field.ErrorList) {
	var errs field.ErrorList
	var sources []connectSource
	for i, r := range allow {
		path := list.Index(i)
		prefix, err := netip.ParsePrefix(r.CIDR)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("cidr"), r.CIDR, "not a CIDR: write an address range such as 10.0.0.0/24 or fd00::/64"))
			continue
		}
		proto, ok := ProtocolNumber(r.Protocol)
		if !ok {
			errs = append(errs, field.NotSupported(path.Child("protocol"), r.Protocol, []string{string(v1alpha1.ProtocolTCP), string(v1alpha1.ProtocolUDP), string(v1alpha1.ProtocolSCTP)}))
			continue
		}
		low, high := int(r.Port), int(r.Port)
		if r.EndPort != nil {
			high = int(*r.EndPort)
		}
		if low < 0 || high > 65535 || high < low {
			errs = append(errs, field.Invalid(path.Child("port"), r.Port, "ports are 0 to 65535, and endPort is not lower than port"))
			continue
		}
		if n := high - low + 1; n > MaxPortRange && n != 65536 {
			errs = append(errs, field.Invalid(path.Child("endPort"), *r.EndPort, fmt.Sprintf("the range %d-%d covers %d ports, more than %d (MaxPortRange), and the kernel holds an entry per port: use a narrower range, or port 0 with endPort 65535 for any port", low, high, n, MaxPortRange)))
			continue
		}
		sources = append(sources, connectSource{prefixes: ipv6Prefixes(prefix), protocol: proto, low: low, high: high})
	}
	if len(errs) > 0 {
		return nil, errs
	}

	var out []ConnectRule
	total := 0
	protocols := []uint8{}
	for _, s := range sources {
		if !slices.Contains(protocols, s.protocol) {
			protocols = append(protocols, s.protocol)
		}
	}
	slices.Sort(protocols)
	for _, proto := range protocols {
		var anyPort []netip.Prefix
		for _, s := range sources {
			if s.protocol == proto && s.low == 0 && s.high == 65535 {
				anyPort = append(anyPort, s.prefixes...)
			}
		}
		anyPort = reducePrefixes(anyPort)
		for _, p := range anyPort {
			out = append(out, ConnectRule{Prefix: p, Protocol: proto, AnyPort: true})
		}
		total += len(anyPort)

		// Ranges of single ports: split the port space at every range's
		// ends, so that within each piece the same prefixes apply.
		type single struct {
			prefix    netip.Prefix
			low, high int
		}
		var singles []single
		bounds := []int{}
		for _, s := range sources {
			if s.protocol != proto || s.low == 0 && s.high == 65535 {
				continue
			}
			for _, p := range s.prefixes {
				if !coveredBy(anyPort, p) {
					singles = append(singles, single{p, s.low, s.high})
					bounds = append(bounds, s.low, s.high+1)
				}
			}
		}
		slices.Sort(bounds)
		bounds = slices.Compact(bounds)
		for i := 0; i+1 < len(bounds); i++ {
			low, high := bounds[i], bounds[i+1]-1
			var prefixes []netip.Prefix
			for _, s := range singles {
				if s.low <= low && high <= s.high {
					prefixes = append(prefixes, s.prefix)
				}
			}
			prefixes = reducePrefixes(prefixes)
			total += len(prefixes) * (high - low + 1)
			if total > MaxConnectRules {
				tooMany := field.TooMany(list, -1, -1)
				tooMany.Detail = fmt.Sprintf("the rules expand into more than %d kernel entries (MaxConnectRules; one per address range, protocol and port): use fewer or narrower port ranges", MaxConnectRules)
				return nil, field.ErrorList{tooMany}
			}
			for port := low; port <= high; port++ {
				for _, p := range prefixes {
					out = append(out, ConnectRule{Prefix: p, Protocol: proto, Port: uint16(port)})
				}
			}
		}
	}
	slices.SortFunc(out, compareConnectRules)
	return out, nil
}

func compareConnectRules(a, b ConnectRule) int {
	if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if a.AnyPort != b.AnyPort {
		if a.AnyPort {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
}

// reducePrefixes sorts prefixes and drops those another one contains
// (duplicates included).
func reducePrefixes(prefixes []netip.Prefix) []netip.Prefix {
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	// A prefix that contains a later one sorts first; prefixes are nested or
	// disjoint, so only the last one kept can contain the next.
	out := prefixes[:0]
	for _, p := range prefixes {
		if len(out) > 0 && containsPrefix(out[len(out)-1], p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func coveredBy(set []netip.Prefix, p netip.Prefix) bool {
	for _, q := range set {
		if containsPrefix(q, p) {
			return true
		}
	}
	return false
}

// containsPrefix reports whether every address of inner is in outer.
func containsPrefix(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}
