package profiles

import (
	"fmt"
	"strings"
)

// capabilityNames is indexed by capability number, as in
// include/uapi/linux/capability.h.
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// MaxCapability is the highest capability number footprint knows.
const MaxCapability = len(capabilityNames) - 1

// CapabilityName returns the kernel's name for capability number n, e.g.
// CAP_CHOWN for 0. Numbers newer than this table are named CAP_<n>.
func CapabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return capabilityNames[n]
	}
	return fmt.Sprintf("CAP_%d", n)
}

// ParseCapability returns the number of a capability given in either the
// kernel's spelling (CAP_NET_BIND_SERVICE) or Kubernetes' (NET_BIND_SERVICE),
// in any letter case.
func ParseCapability(name string) (int, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(up, "CAP_") {
		up = "CAP_" + up
	}
	for i, n := range capabilityNames {
		if n == up {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q: use a name from capabilities(7), e.g. CAP_NET_BIND_SERVICE or NET_BIND_SERVICE", name)
}

// KubernetesCapability returns the spelling Kubernetes expects in a
// securityContext: the kernel name without its CAP_ prefix.
func KubernetesCapability(kernelName string) string {
	return strings.TrimPrefix(kernelName, "CAP_")
}
