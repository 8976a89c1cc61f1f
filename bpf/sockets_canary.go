package bpf

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// The self-test canary's socket operations, one per route a socket backend
// claims. They run in a network namespace of the canary's own where it can
// make one, so that a listen or a bind the backend lets through opens
// nothing on the node.
const (
	// canarySocketUnix connects to an abstract AF_UNIX name nobody
	// listens on (ECONNREFUSED when allowed).
	canarySocketUnix = "socket-unix"
	// canarySocketBind binds a UDP socket to 127.0.0.1, port 0.
	canarySocketBind = "socket-bind"
	// canarySocketRaw opens a raw ICMP socket.
	canarySocketRaw = "socket-raw"
	// canarySocketPacket opens an AF_PACKET socket.
	canarySocketPacket = "socket-packet"
	// canarySocketListen listens on a TCP socket never bound.
	canarySocketListen = "socket-listen"
)

// The routes each socket backend is proven on.
var (
	socketCanaryAll    = []string{canarySocketUnix, canarySocketBind, canarySocketRaw, canarySocketPacket, canarySocketListen}
	socketCanaryCgroup = []string{canarySocketUnix, canarySocketBind, canarySocketRaw}
	socketCanaryInet   = []string{canarySocketBind, canarySocketRaw}
)

// socketCanaryDoes says what each operation is, for proofs and reasons.
var socketCanaryDoes = map[string]string{
	canarySocketUnix:   "AF_UNIX connect",
	canarySocketBind:   "UDP bind",
	canarySocketRaw:    "raw ICMP socket",
	canarySocketPacket: "AF_PACKET socket",
	canarySocketListen: "listen without bind",
}

func describeSocketCanary(ops []string) string {
	var parts []string
	for _, op := range ops {
		parts = append(parts, socketCanaryDoes[op])
	}
	return strings.Join(parts, ", ")
}

// canaryNetns moves the canary's thread into a network namespace of its
// own, once; where it cannot (no CAP_SYS_ADMIN), the operations run where
// the canary is, on loopback.
var canaryNetns = false

func enterCanaryNetns() {
	if canaryNetns {
		return
	}
	canaryNetns = true
	// Sockets belong to the namespace of the thread that makes them.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err == nil {
		// Loopback up, so that the bind to 127.0.0.1 can succeed.
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
			if ifr, err := unix.NewIfreq("lo"); err == nil {
				ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
				unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
			}
			unix.Close(fd)
		}
	}
}

// runSocketCanary does one socket operation; false when op is not one.
func runSocketCanary(op string) (error, bool) {
	if _, ok := socketCanaryDoes[op]; !ok {
		return nil, false
	}
	enterCanaryNetns()
	closeIt := func(fd int, err error) error {
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	switch op {
	case canarySocketUnix:
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err, true
		}
		defer unix.Close(fd)
		return unix.Connect(fd, &unix.SockaddrUnix{Name: fmt.Sprintf("@footprint-canary-%d", os.Getpid())}), true
	case canarySocketBind:
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err, true
		}
		defer unix.Close(fd)
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}), true
	case canarySocketRaw:
		return closeIt(unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)), true
	case canarySocketPacket:
		return closeIt(unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)), true
	case canarySocketListen:
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err, true
		}
		defer unix.Close(fd)
		return unix.Listen(fd, 1), true
	}
	return nil, false
}

// socketCanaryRecorded lists the operations of ops that entries lack.
func socketCanaryRecorded(entries []Entry, ops []string) (missing []string) {
	for _, op := range ops {
		found := false
		for _, e := range entries {
			s := e.Socket
			if s == nil {
				continue
			}
			switch op {
			case canarySocketUnix:
				found = found || s.Op == SocketUnixConnect && strings.HasPrefix(s.Path, "@footprint-canary-")
			case canarySocketBind:
				found = found || s.Op == SocketBind && s.Family == unix.AF_INET
			case canarySocketRaw:
				found = found || s.Op == SocketRaw && s.Family == unix.AF_INET && s.Protocol == unix.IPPROTO_ICMP
			case canarySocketPacket:
				found = found || s.Op == SocketRaw && s.Family == unix.AF_PACKET
			case canarySocketListen:
				found = found || s.Op == SocketListen
			}
		}
		if !found {
			missing = append(missing, socketCanaryDoes[op])
		}
	}
	return missing
}
