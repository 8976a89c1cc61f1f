package enforcer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/recorder"
)

// runSocketSteps does socket operations, each given as op, target and the
// result wanted (ok or EPERM):
//
//	unix PATH|@NAME   stream connect, then one byte written
//	unixgram PATH     one datagram sent to the address
//	bind PROTO/ADDR:PORT  bind a tcp or udp socket
//	raw icmp|icmpv6   open a raw inet socket
//	packet -          open an AF_PACKET socket
//	listen tcp        listen on a TCP socket never bound
func runSocketSteps(args []string) error {
	for i := 0; i+2 < len(args); i += 3 {
		op, target, want := args[i], args[i+1], args[i+2]
		if err := expect(socketStep(op, target), want); err != nil {
			return fmt.Errorf("%s %s: %w", op, target, err)
		}
	}
	return nil
}

func socketStep(op, target string) error {
	withSocket := func(family, typ, proto int, do func(fd int) error) error {
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return do(fd)
	}
	switch op {
	case "unix":
		return withSocket(unix.AF_UNIX, unix.SOCK_STREAM, 0, func(fd int) error {
			if err := unix.Connect(fd, &unix.SockaddrUnix{Name: target}); err != nil {
				return err
			}
			_, err := unix.Write(fd, []byte("x"))
			return err
		})
	case "unixgram":
		return withSocket(unix.AF_UNIX, unix.SOCK_DGRAM, 0, func(fd int) error {
			return unix.Sendto(fd, []byte("x"), 0, &unix.SockaddrUnix{Name: target})
		})
	case "bind":
		proto, hostPort, _ := strings.Cut(target, "/")
		ap, err := netip.ParseAddrPort(hostPort)
		if err != nil {
			return err
		}
		typ := unix.SOCK_STREAM
		if proto == "udp" {
			typ = unix.SOCK_DGRAM
		}
		return withSocket(unix.AF_INET, typ, 0, func(fd int) error {
			return unix.Bind(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())})
		})
	case "raw":
		if target == "icmpv6" {
			return withSocket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, func(int) error { return nil })
		}
		return withSocket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, func(int) error { return nil })
	case "packet":
		return withSocket(unix.AF_PACKET, unix.SOCK_DGRAM, 0, func(int) error { return nil })
	case "listen":
		return withSocket(unix.AF_INET, unix.SOCK_STREAM, 0, func(fd int) error { return unix.Listen(fd, 1) })
	}
	return fmt.Errorf("unknown socket step %q", op)
}

// onlySocketViolation returns the one socket violation of a run. A raw
// socket also needs CAP_NET_RAW, which the policy governs too: a capability
// violation may come with it.
func onlySocketViolation(t *testing.T, res *LocalResult) bpf.Violation {
	t.Helper()
	var found []bpf.Violation
	for _, v := range res.Violations {
		switch {
		case v.Kind == bpf.KindSocket:
			found = append(found, v)
		case v.Kind == bpf.KindCapability && v.Capability == unix.CAP_NET_RAW:
		default:
			t.Errorf("unexpected violation %s", Describe(v))
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d socket violations, want 1: %+v", len(found), res.Violations)
	}
	return found[0]
}

// unixListener listens on an AF_UNIX stream address and counts the bytes
// that arrive.
type unixListener struct {
	l        net.Listener
	received chan []byte
}

func listenUnix(t *testing.T, addr string) *unixListener {
	t.Helper()
	l, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	u := &unixListener{l: l, received: make(chan []byte, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 16)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := c.Read(b)
			u.received <- b[:n]
			c.Close()
		}
	}()
	return u
}

// nothingArrived fails the test when a connection reached the listener.
func (u *unixListener) nothingArrived(t *testing.T) {
	t.Helper()
	select {
	case b := <-u.received:
		t.Errorf("a connection reached %s (%q): the connect was not prevented", u.l.Addr(), b)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSocketOperationsOutsideTheRecordedRunAreRefused records a workload's
// normal socket use (a daemon's AF_UNIX socket, an abstract name, a
// datagram socket, a UDP bind), exports its policy, and runs it again: the
// normal run has no violation, and each attacker step (another AF_UNIX
// peer, another abstract name, a bind to another port, a raw socket) is
// reported and fails with EPERM before anything reaches its peer.
func TestSocketOperationsOutsideTheRecordedRunAreRefused(t *testing.T) {
	testSocketRoutes(t, false)
}

// testSocketRoutes is the body of the socket tests. lsmRoutes adds the
// routes only the BPF-LSM and fmod_ret backends see (AF_PACKET sockets,
// listen without bind), and requires them to be recorded and refused.
func testSocketRoutes(t *testing.T, lsmRoutes bool) {
	dir := t.TempDir()
	daemon, other := filepath.Join(dir, "daemon.sock"), filepath.Join(dir, "other.sock")
	abstract, otherAbstract := fmt.Sprintf("@footprint-test-%d", os.Getpid()), fmt.Sprintf("@footprint-test-%d-other", os.Getpid())
	listeners := map[string]*unixListener{}
	for _, a := range []string{daemon, other, abstract, otherAbstract} {
		listeners[a] = listenUnix(t, a)
	}
	gram, otherGram := filepath.Join(dir, "daemon.dgram"), filepath.Join(dir, "other.dgram")
	grams := map[string]net.PacketConn{}
	for _, a := range []string{gram, otherGram} {
		c, err := net.ListenPacket("unixgram", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		grams[a] = c
	}
	// A loopback port free a moment ago: a bind to it fails only if refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unused := l.Addr().String()
	l.Close()

	normal := []string{"unix", daemon, "ok", "unix", abstract, "ok", "unixgram", gram, "ok", "bind", "udp/127.0.0.1:0", "ok"}
	recorded, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: helperCommand(t, "sockets", normal...)})
	if err != nil {
		t.Fatal(err)
	}
	if recorded.ExitCode != 0 {
		t.Fatalf("recording: exit code %d", recorded.ExitCode)
	}
	for _, a := range []string{daemon, abstract} {
		if b := <-listeners[a].received; string(b) != "x" {
			t.Fatalf("recording: %s received %q", a, b)
		}
	}
	var want []v1alpha1.SocketRule
	for _, s := range recorded.Profile.Spec.Sockets {
		want = append(want, s.SocketRule)
	}
	for _, r := range []v1alpha1.SocketRule{
		{Operation: v1alpha1.SocketUnix, Path: daemon}, {Operation: v1alpha1.SocketUnix, Path: abstract}, {Operation: v1alpha1.SocketUnix, Path: gram},
		{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: v1alpha1.ProtocolUDP, Address: "127.0.0.1"},
	} {
		found := false
		for _, w := range want {
			found = found || w == r
		}
		if !found {
			t.Errorf("the profile's sockets %+v lack %+v", want, r)
		}
	}
	generated, err := generator.Policy(recorded.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	if generated.Policy.Spec.Sockets == nil {
		t.Fatal("the generated policy does not govern sockets")
	}
	// The socket hooks alone: the seccomp filter would refuse a call the
	// normal run never made, and the capability rules CAP_NET_RAW, before
	// a socket hook sees them.
	policy := generated.Policy.DeepCopy()
	policy.Spec.Syscalls = nil
	policy.Spec.Capabilities = nil

	unixCovered := false
	t.Run("the normal run has no violation", func(t *testing.T) {
		res := run(t, policy, helperCommand(t, "sockets", normal...))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Fatalf("exit code %d, violations %+v: want 0 and none", res.ExitCode, res.Violations)
		}
		for _, c := range res.Choices {
			if c.Kind == bpf.KindSocket {
				unixCovered = strings.Contains(c.Chosen, "connect_unix") || strings.Contains(c.Chosen, "socket_connect")
				if lsmRoutes && !strings.Contains(c.Chosen, "create+listen") {
					t.Errorf("socket backend %q does not cover AF_PACKET and listen", c.Chosen)
				}
			}
		}
	})

	for _, tc := range []struct {
		name  string
		steps []string
		unix  bool // an AF_UNIX route: needs a backend that covers it
		check func(*testing.T, bpf.Violation)
		after func(*testing.T)
	}{
		{"connect to another AF_UNIX socket", []string{"unix", other, "EPERM"}, true,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketUnixConnect || v.Path != other {
					t.Errorf("violation %+v: want a unix connect to %s", v.Socket, other)
				}
			}, func(t *testing.T) { listeners[other].nothingArrived(t) }},
		{"connect to another abstract name", []string{"unix", otherAbstract, "EPERM"}, true,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Path != otherAbstract {
					t.Errorf("violation %+v: want a unix connect to %s", v.Socket, otherAbstract)
				}
			}, func(t *testing.T) { listeners[otherAbstract].nothingArrived(t) }},
		{"a datagram to another AF_UNIX socket", []string{"unixgram", otherGram, "EPERM"}, true,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketUnixSend || v.Path != otherGram {
					t.Errorf("violation %+v: want a unix send to %s", v.Socket, otherGram)
				}
			}, func(t *testing.T) {
				grams[otherGram].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if n, _, err := grams[otherGram].ReadFrom(make([]byte, 16)); err == nil {
					t.Errorf("%d bytes arrived at %s: the send was not prevented", n, otherGram)
				}
			}},
		{"bind a port the workload never used", []string{"bind", "tcp/" + unused, "EPERM"}, false,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketBind || v.Protocol != unix.IPPROTO_TCP || fmt.Sprint(v.Port) != port(unused) {
					t.Errorf("violation %+v: want a TCP bind to %s", v.Socket, unused)
				}
			}, nil},
		{"open a raw socket", []string{"raw", "icmp", "EPERM"}, false,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketRaw || v.Socket.Family != unix.AF_INET || v.Protocol != unix.IPPROTO_ICMP {
					t.Errorf("violation %+v: want a raw ICMP socket", v.Socket)
				}
			}, nil},
		{"open an AF_PACKET socket", []string{"packet", "-", "EPERM"}, false,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketRaw || v.Socket.Family != unix.AF_PACKET {
					t.Errorf("violation %+v: want an AF_PACKET socket", v.Socket)
				}
			}, nil},
		{"listen on a port the kernel picks", []string{"listen", "tcp", "EPERM"}, false,
			func(t *testing.T, v bpf.Violation) {
				if v.Socket == nil || v.Socket.Op != bpf.SocketListen || v.Protocol != unix.IPPROTO_TCP {
					t.Errorf("violation %+v: want a listen without bind", v.Socket)
				}
			}, nil},
	} {
		if !lsmRoutes && (tc.steps[0] == "packet" || tc.steps[0] == "listen") {
			// Not covered here: see TestSocketRoutesNoHookSeesAreLeftToSeccomp.
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			if tc.unix && !unixCovered {
				t.Skip("no AF_UNIX backend on this kernel (see footprint probe)")
			}
			res := run(t, policy, helperCommand(t, "sockets", tc.steps...))
			if res.ExitCode != 0 {
				t.Errorf("exit code %d: the step did not fail with EPERM", res.ExitCode)
			}
			v := onlySocketViolation(t, res)
			if v.Kind != bpf.KindSocket || v.Outcome != bpf.Denied {
				t.Errorf("violation %+v: want a denied socket operation", v)
			}
			tc.check(t, v)
			if d := Describe(v); !strings.Contains(d, ": denied") {
				t.Errorf("description %q does not say it was denied", d)
			}
			if tc.after != nil {
				tc.after(t)
			}
		})
	}

	t.Run("audit mode reports and allows", func(t *testing.T) {
		audit := policy.DeepCopy()
		audit.Spec.Mode = v1alpha1.ModeAudit
		if !unixCovered {
			t.Skip("no AF_UNIX backend on this kernel")
		}
		res := run(t, audit, helperCommand(t, "sockets", "unix", other, "ok"))
		if res.ExitCode != 0 {
			t.Errorf("exit code %d: the audited connect failed", res.ExitCode)
		}
		v := onlyViolation(t, res)
		if v.Outcome != bpf.Audited || !strings.Contains(Describe(v), "connected to AF_UNIX socket "+other) {
			t.Errorf("violation %q: want an audited unix connect", Describe(v))
		}
		if b := <-listeners[other].received; string(b) != "x" {
			t.Errorf("the audited connect's byte did not arrive: %q", b)
		}
	})
}
