package profiles

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// socketFamilies are the address families of Linux (include/linux/socket.h,
// AF_MAX 46 in Linux 6.18), by number: their values are the same on every
// Linux architecture (not on other systems, hence no x/sys/unix here).
var socketFamilies = []string{
	"AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE",
	"AF_ATMPVC", "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY",
	"AF_NETLINK", "AF_PACKET", "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA",
	"AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB", "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH",
	"AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154", "AF_CAIF", "AF_ALG", "AF_NFC",
	"AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
}

// SocketFamilyCalls are the system calls whose first argument is an
// address family, which a profile's socketFamilies restrict. The i386
// socketcall(2) multiplexer is not one: its arguments are in memory, where
// a seccomp filter cannot read them, so it is allowed or refused as a
// whole, by its own name.
var SocketFamilyCalls = []string{"socket", "socketpair"}

// SocketFamilyName returns the name of address family nr, and false when
// the table does not know it.
func SocketFamilyName(nr int) (string, bool) {
	if nr < 0 || nr >= len(socketFamilies) {
		return "", false
	}
	return socketFamilies[nr], true
}

// SocketFamilyNumber returns the number of an address family by name, and
// false for a name the table does not know.
func SocketFamilyNumber(name string) (int, bool) {
	nr := slices.Index(socketFamilies, name)
	return nr, nr >= 0
}

// FamiliesRestricted says whether a set's socket and socketpair calls are
// restricted to its SocketFamilies: a set that names either call without
// families was recorded by a footprint that did not record them, and
// allows them with any family.
func FamiliesRestricted(set v1alpha1.SyscallSet) bool {
	return len(set.SocketFamilies) > 0 || !slices.ContainsFunc(set.Names, func(n string) bool { return slices.Contains(SocketFamilyCalls, n) })
}

// validateSocketFamilies refuses family names the table does not know.
func validateSocketFamilies(set v1alpha1.SyscallSet, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, name := range set.SocketFamilies {
		if _, ok := SocketFamilyNumber(name); !ok {
			errs = append(errs, field.Invalid(path.Index(i), name, "not an address family footprint knows: use the C names of linux/socket.h, e.g. AF_INET, AF_INET6, AF_UNIX, AF_NETLINK"))
		}
	}
	return errs
}
