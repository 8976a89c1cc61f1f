// Command demo is a small workload for footprint's demo: it serves on a
// privileged loopback port (CAP_NET_BIND_SERVICE), reads its configuration,
// writes and hands over a state file (CAP_CHOWN), calls itself over TCP and
// runs a child program. Recording it shows one of each kind of event.
//
// --misbehave makes it do something more after its normal work, for the
// enforcement demo: shadow (read /etc/shadow), connect (to a port it never
// used), exec (a program it never ran), capability (CAP_FOWNER: chmod a file
// it does not own).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	state := flag.String("state", "/tmp/footprint-demo", "directory for the demo's state")
	config := flag.String("config", "/etc/os-release", "a file to read as configuration")
	misbehave := flag.String("misbehave", "", "after the normal work, also: shadow, connect, exec or capability")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demo: ")
	if err := run(*state, *config); err != nil {
		log.Fatal(err)
	}
	if *misbehave != "" {
		if err := misbehaveBy(*misbehave, *state); err != nil {
			log.Fatalf("misbehave %s: %v", *misbehave, err)
		}
		log.Printf("misbehaved (%s) and got away with it", *misbehave)
	}
}

// misbehaveBy does one thing the normal run never does.
func misbehaveBy(what, state string) error {
	switch what {
	case "shadow":
		_, err := os.ReadFile("/etc/shadow")
		return err
	case "connect":
		// A destination the normal run never reached: port 9 (discard) on
		// loopback. Refused by the peer still means the connect went out;
		// a listener of its own would be a bind the normal run never made.
		c, err := net.Dial("tcp4", "127.0.0.1:9")
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		if err != nil {
			return err
		}
		return c.Close()
	case "exec":
		_, err := exec.Command("id", "-u").Output()
		return err
	case "capability":
		// The state file belongs to nobody since the normal run: changing
		// its mode as root takes CAP_FOWNER.
		return os.Chmod(filepath.Join(state, "last-run"), 0o600)
	}
	return fmt.Errorf("unknown misbehaviour %q: use shadow, connect, exec or capability", what)
}

func run(state, config string) error {
	conf, err := os.ReadFile(config)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	name := "demo"
	for _, line := range strings.Split(string(conf), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			name = strings.Trim(v, `"`)
		}
	}

	// A privileged port: binding it needs CAP_NET_BIND_SERVICE.
	l, err := listenPrivileged()
	if err != nil {
		return err
	}
	defer l.Close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})}
	go srv.Serve(l)

	// Call ourselves over loopback TCP.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		return fmt.Errorf("call own server: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	log.Printf("served on %s: %s", l.Addr(), strings.TrimSpace(string(body)))

	// Write a state file and hand it to an unprivileged user: CAP_CHOWN.
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	stamp := filepath.Join(state, "last-run")
	// Replace rather than rewrite: the last run's file belongs to nobody,
	// and writing into it would take CAP_DAC_OVERRIDE, which only runs after
	// the first need. Every run needs the same privileges this way.
	if err := os.Remove(stamp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(stamp, []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chown(stamp, 65534, 65534); err != nil {
		return fmt.Errorf("hand the state file to nobody: %w", err)
	}

	// Run a child program.
	out, err := exec.Command("uname", "-sr").Output()
	if err != nil {
		return fmt.Errorf("run uname: %w", err)
	}
	log.Printf("kernel %s", strings.TrimSpace(string(out)))
	return nil
}

// listenPrivileged listens on the first free privileged port on loopback.
func listenPrivileged() (net.Listener, error) {
	var last error
	for port := 80; port < 1024; port++ {
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return l, nil
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("bind a privileged port: %w (the demo needs CAP_NET_BIND_SERVICE)", err)
		}
		last = err
	}
	return nil, fmt.Errorf("no free privileged port on 127.0.0.1: %w", last)
}
