// Package loopback gives tests peers to connect to on the loopback
// address, the only network they may use.
package loopback

import (
	"net"
	"testing"
)

// Listen starts a TCP listener on 127.0.0.1 that accepts each connection
// and closes it, until the test ends. It returns the listener's address.
func Listen(t testing.TB) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr)
}
