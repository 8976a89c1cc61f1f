// Command webapp is the workload of footprint's Kubernetes walkthrough: a
// small web service that does one of each thing footprint records on every
// request it serves.
//
//	webapp serve      listen on port 80 (CAP_NET_BIND_SERVICE); per request
//	                  read /etc/webapp/config, ask the backend (the pod's
//	                  sidecar on 127.0.0.1:9000), write /data/hits and hand
//	                  it to nobody (CAP_CHOWN), run `webapp stamp`
//	webapp stamp      print the time (the child program serve runs)
//	webapp misbehave  do one thing serve never does, for the enforcement
//	                  steps: shadow (read /etc/shadow), connect ADDR (TCP
//	                  connect), exec (run /bin/id), capability (chmod
//	                  /data/hits, which belongs to nobody: CAP_FOWNER)
//
// The image (hack/cluster.sh images) holds /webapp, /etc/webapp/config,
// /etc/shadow and busybox, which serve never runs.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const usage = `usage: webapp serve [--listen ADDR] [--backend URL] [--config FILE] [--data DIR]
       webapp stamp
       webapp misbehave shadow|connect ADDR|exec|capability|io_uring [--data DIR]`

func main() {
	log.SetFlags(0)
	log.SetPrefix("webapp: ")
	if len(os.Args) < 2 {
		log.Fatal(usage)
	}
	opts, args, err := parseOptions(os.Args[2:])
	if err != nil {
		log.Fatalf("%v\n%s", err, usage)
	}
	switch os.Args[1] {
	case "serve":
		err = serve(opts)
	case "stamp":
		fmt.Println(time.Now().UTC().Format(time.RFC3339))
	case "misbehave":
		err = misbehave(opts, args)
	default:
		err = fmt.Errorf("unknown command %q\n%s", os.Args[1], usage)
	}
	if err != nil {
		log.Fatal(err)
	}
}

type options struct {
	listen, backend, config, data string
}

func parseOptions(args []string) (options, []string, error) {
	o := options{listen: ":80", backend: "http://127.0.0.1:9000/", config: "/etc/webapp/config", data: "/data"}
	var rest []string
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		var dest *string
		switch name {
		case "--listen":
			dest = &o.listen
		case "--backend":
			dest = &o.backend
		case "--config":
			dest = &o.config
		case "--data":
			dest = &o.data
		default:
			rest = append(rest, args[i])
			continue
		}
		if !inline {
			if i+1 == len(args) {
				return o, nil, fmt.Errorf("%s needs a value", name)
			}
			i++
			value = args[i]
		}
		*dest = value
	}
	return o, rest, nil
}

func serve(o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (port 80 needs CAP_NET_BIND_SERVICE)", o.listen, err)
	}
	s := &server{opts: o, self: self, client: &http.Client{Timeout: 5 * time.Second}}
	log.Printf("serving on %s", l.Addr())
	return http.Serve(l, s)
}

type server struct {
	opts   options
	self   string
	client *http.Client

	mu   sync.Mutex // one request at a time touches /data/hits
	hits int
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		fmt.Fprintln(w, "ok")
		return
	}
	page, err := s.page()
	if err != nil {
		log.Print(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, page)
}

func (s *server) page() (string, error) {
	conf, err := os.ReadFile(s.opts.config)
	if err != nil {
		return "", fmt.Errorf("read configuration: %w", err)
	}
	resp, err := s.client.Get(s.opts.backend)
	if err != nil {
		return "", fmt.Errorf("ask the backend: %w", err)
	}
	backend, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("ask the backend: %w", err)
	}
	stamp, err := exec.Command(s.self, "stamp").Output()
	if err != nil {
		return "", fmt.Errorf("run %s stamp: %w", s.self, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	// Replace rather than rewrite: the file belongs to nobody, and writing
	// into it as root would take CAP_DAC_OVERRIDE as well.
	hits := filepath.Join(s.opts.data, "hits")
	if err := os.Remove(hits); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.WriteFile(hits, []byte(strconv.Itoa(s.hits)+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Chown(hits, 65534, 65534); err != nil {
		return "", fmt.Errorf("hand %s to nobody: %w", hits, err)
	}
	return fmt.Sprintf("%s: hit %d at %s; backend says %s\n",
		strings.TrimSpace(string(conf)), s.hits, strings.TrimSpace(string(stamp)), strings.TrimSpace(string(backend))), nil
}

// sysIOUringSetup is io_uring_setup's number on x86-64 (the syscall
// package predates it).
const sysIOUringSetup = 425

// misbehave does one thing serve never does; it says what happened, so
// that audit mode (allowed) and enforce mode (refused or killed) can be told
// apart from the exit code and the output.
func misbehave(o options, args []string) error {
	if len(args) == 0 {
		return errors.New("misbehave what? shadow, connect ADDR, exec, capability or io_uring")
	}
	switch args[0] {
	case "shadow":
		b, err := os.ReadFile("/etc/shadow")
		if err != nil {
			return err
		}
		fmt.Printf("read /etc/shadow (%d bytes)\n", len(b))
	case "connect":
		if len(args) < 2 {
			return errors.New("misbehave connect needs an address: HOST:PORT")
		}
		c, err := net.DialTimeout("tcp", args[1], 5*time.Second)
		if err != nil {
			return err
		}
		c.Close()
		fmt.Printf("connected to %s\n", args[1])
	case "exec":
		out, err := exec.Command("/bin/id", "-u").Output()
		if err != nil {
			return fmt.Errorf("run /bin/id: %w", err)
		}
		fmt.Printf("ran /bin/id: uid %s\n", strings.TrimSpace(string(out)))
	case "capability":
		// As serve leaves it (in a fresh pod, made the way serve makes
		// it), then a chmod serve never does.
		hits := filepath.Join(o.data, "hits")
		if _, err := os.Stat(hits); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(hits, []byte("0\n"), 0o644); err != nil {
				return err
			}
			if err := os.Chown(hits, 65534, 65534); err != nil {
				return err
			}
		}
		if err := os.Chmod(hits, 0o600); err != nil {
			return err
		}
		fmt.Printf("changed the mode of %s, which belongs to nobody\n", hits)
	case "io_uring":
		// A system call serve never makes (and a side door to files and
		// sockets): io_uring_setup.
		var params [120]byte
		fd, _, errno := syscall.Syscall(sysIOUringSetup, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if errno != 0 {
			return fmt.Errorf("io_uring_setup: %w", errno)
		}
		syscall.Close(int(fd))
		fmt.Println("set up an io_uring")
	default:
		return fmt.Errorf("unknown misbehaviour %q: shadow, connect ADDR, exec, capability or io_uring", args[0])
	}
	return nil
}
