package apps

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nginxBin = "/usr/sbin/nginx"

// nginxLab is nginx as Debian runs it: the master as root, workers as
// www-data (the master starts them, reopens logs on SIGUSR1 and chowns them
// to the workers' user), static files and WebDAV uploads (request bodies
// buffered in client_body_temp files), a proxied location that the recorded
// runs never use.
type nginxLab struct {
	*lab
	port, upstream int
	client         *http.Client
	// workers is www-data's uid and gid: the workers write uploads and
	// request bodies.
	workers [2]int
}

// forWorkers makes directories the workers write into.
func (l *nginxLab) forWorkers(rels ...string) {
	l.t.Helper()
	for _, rel := range rels {
		if err := os.MkdirAll(l.path(rel), 0o755); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Chown(l.path(rel), l.workers[0], l.workers[1]); err != nil {
			l.t.Fatal(err)
		}
	}
}

func newNginxLab(t *testing.T) *nginxLab {
	l := &nginxLab{lab: newLab(t, "nginx", ""), port: freePort(t), upstream: freePort(t)}
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Fatalf("user www-data (made by Debian's base-passwd): %v", err)
	}
	l.workers[0], _ = strconv.Atoi(u.Uid)
	l.workers[1], _ = strconv.Atoi(u.Gid)
	l.mkdir("run", "log", "www", "www/files")
	l.forWorkers("client_body_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp", "www/uploads")
	l.write("www/index.html", "<h1>footprint</h1>\n")
	for i := range 20 {
		l.write(fmt.Sprintf("www/files/f%d.txt", i), strings.Repeat(fmt.Sprintf("line %d\n", i), 10*(i+1)))
	}
	l.write("www/files/big.bin", strings.Repeat("0123456789abcdef", 64<<10)) // 1 MiB: sendfile
	l.config("")
	return l
}

func (l *nginxLab) url(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", l.port, p) }

// config writes nginx.conf; extra goes into the http block.
func (l *nginxLab) config(extra string) {
	l.write("nginx.conf", fmt.Sprintf(`user www-data;
worker_processes 2;
pid %[1]s/run/nginx.pid;
error_log %[1]s/log/error.log notice;
events { worker_connections 128; }
http {
	types { text/html html; text/plain txt; application/octet-stream bin; }
	default_type application/octet-stream;
	sendfile on;
	keepalive_timeout 5;
	access_log %[1]s/log/access.log;
	client_body_temp_path %[1]s/client_body_temp;
	proxy_temp_path %[1]s/proxy_temp;
	fastcgi_temp_path %[1]s/fastcgi_temp;
	uwsgi_temp_path %[1]s/uwsgi_temp;
	scgi_temp_path %[1]s/scgi_temp;
	%[4]s
	server {
		listen 127.0.0.1:%[2]d;
		root %[1]s/www;
		client_body_buffer_size 1k;
		client_max_body_size 8m;
		location /uploads/ {
			dav_methods PUT DELETE;
			create_full_put_path off;
		}
		location /proxy/ {
			proxy_pass http://127.0.0.1:%[3]d/;
		}
	}
}
`, l.dir, l.port, l.upstream, extra))
}

func (l *nginxLab) command() []string {
	return []string{nginxBin, "-p", l.dir + "/", "-c", l.path("nginx.conf"), "-e", l.path("log/error.log"), "-g", "daemon off;"}
}

func (l *nginxLab) start(p phase, start func(name string, daemon ...string) *run) *run {
	l.t.Helper()
	if p.fresh {
		// A fresh install: no logs, no uploads.
		for _, d := range []string{"log", "www/uploads"} {
			if err := os.RemoveAll(l.path(d)); err != nil {
				l.t.Fatal(err)
			}
		}
		l.mkdir("log")
		l.forWorkers("www/uploads")
	}
	l.config("")
	r := start(p.name, l.command()...)
	r.waitTCP(fmt.Sprintf("127.0.0.1:%d", l.port), 30*time.Second)
	l.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	return r
}

// request makes one request and checks its status is one of want.
func (l *nginxLab) request(method, p string, body []byte, want ...int) []byte {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, l.url(p), rd)
	if err != nil {
		l.t.Fatal(err)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.fatalf("%s %s: %v", method, p, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		l.fatalf("%s %s: reading the body: %v", method, p, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		l.fatalf("%s %s: status %d, want %v", method, p, resp.StatusCode, want)
	}
	return data
}

// traffic is static files (seed picks which), a large one, 404s, uploads
// big enough to be buffered in a temp file, and deletes.
func (l *nginxLab) traffic(seed int) {
	l.t.Helper()
	l.request("GET", "/", nil, 200)
	for i := range 8 {
		l.request("GET", fmt.Sprintf("/files/f%d.txt", (seed*7+i)%20), nil, 200)
	}
	l.request("HEAD", "/files/big.bin", nil, 200)
	if n := len(l.request("GET", "/files/big.bin", nil, 200)); n != 1<<20 {
		l.fatalf("GET /files/big.bin: %d bytes, want %d", n, 1<<20)
	}
	l.request("GET", fmt.Sprintf("/missing-%d.html", seed), nil, 404)
	for i := range 3 {
		name := fmt.Sprintf("/uploads/s%d-u%d.bin", seed, i)
		body := bytes.Repeat([]byte{byte('a' + i)}, 4096*(seed+i+1))
		l.request("PUT", name, body, 201, 204) // created, or replaced
		if got := l.request("GET", name, nil, 200); !bytes.Equal(got, body) {
			l.fatalf("GET %s: %d bytes back, want the %d uploaded", name, len(got), len(body))
		}
	}
	l.request("DELETE", fmt.Sprintf("/uploads/s%d-u0.bin", seed), nil, 204)
}

// waitLog waits until the error log says what on the n-th time.
func (l *nginxLab) waitLog(what string, n int) {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(l.path("log/error.log"))
		if strings.Count(string(data), what) >= n {
			return
		}
		if time.Now().After(deadline) {
			l.fatalf("nginx's error log does not say %q %d times after 20s:\n%s", what, n, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFile waits until a file exists.
func (l *nginxLab) waitFile(rel string) {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(l.path(rel)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.fatalf("no %s after 20s", rel)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logCount is how often the error log says what.
func (l *nginxLab) logCount(what string) int {
	data, _ := os.ReadFile(l.path("log/error.log"))
	return strings.Count(string(data), what)
}

// lifecycle: traffic, reloads (SIGHUP: the config read again, new workers),
// log rotations (mv, then SIGUSR1: the master reopens and chowns the logs),
// more traffic, graceful shutdown (SIGQUIT).
func (l *nginxLab) lifecycle(r *run, p phase) {
	l.t.Helper()
	pidFile := l.path("run/nginx.pid")
	l.traffic(p.seed)
	for range p.reloads {
		n := l.logCount("reconfiguring")
		signal(l.t, pidFile, syscall.SIGHUP)
		l.waitLog("reconfiguring", n+1)
		l.traffic(p.seed + 1)
	}
	for range p.rotations {
		rotate(l.t, l.path("log/access.log"))
		rotate(l.t, l.path("log/error.log"))
		signal(l.t, pidFile, syscall.SIGUSR1)
		l.waitFile("log/access.log") // the master made it anew
		l.waitFile("log/error.log")
		l.traffic(p.seed + 2)
	}
	l.client.CloseIdleConnections()
	signal(l.t, pidFile, syscall.SIGQUIT)
}

func TestNginx(t *testing.T) {
	requireApp(t, nginxBin)
	l := newNginxLab(t)
	timed(t, "record", func() {
		for i, p := range recorded {
			r := l.start(p, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
			l.lifecycle(r, p)
			r.finishClean(stepTimeout)
		}
	})
	// The web root's files are whatever clients ask for and upload: a run
	// cannot have seen them all. Allowing the tree with the access modes
	// seen there is the policy owner's choice, marked WIDER.
	l.exportPolicy("nginx", "--allow-dir", l.path("www"))
	timed(t, "enforce", func() {
		for _, p := range append(append([]phase{}, identical...), varied...) {
			r := l.start(p, l.enforce)
			l.lifecycle(r, p)
			r.finishClean(stepTimeout)
		}
	})

	// Misbehaving under the same policy. A request to /proxy/ makes a
	// worker connect to a listening port no recorded run connected to: the
	// connect is refused (EPERM) and reported, and the client gets 502.
	// Then a reload with a config that includes /etc/shadow: the master
	// (root) opens it, is reported and killed.
	t.Run("misbehaviour is stopped", func(t *testing.T) {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", l.upstream))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan struct{}, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- struct{}{}
				c.Close()
			}
		}()
		p := phase{name: "enforce: proxy to a port never used, then include /etc/shadow", seed: 5}
		r := l.start(p, l.enforce)
		l.traffic(p.seed)
		l.request("GET", "/proxy/", nil, 502)
		select {
		case <-accepted:
			t.Errorf("nginx under its policy reached 127.0.0.1:%d, where it never connected while recorded", l.upstream)
		case <-time.After(200 * time.Millisecond):
		}
		l.config("include /etc/shadow;")
		signal(t, l.path("run/nginx.pid"), syscall.SIGHUP)
		code, out := r.wait(stepTimeout)
		connect := fmt.Sprintf("connected to 127.0.0.1:%d TCP: denied", l.upstream)
		if v := violations(out); len(v) != 2 || !strings.Contains(v[0], connect) ||
			!strings.Contains(v[1], "opened /etc/shadow for read: killed") {
			t.Errorf("violations = %q, want two: %q, then /etc/shadow opened, killed; output:\n%s", v, connect, out)
		}
		if code != 137 {
			t.Errorf("footprint exited %d, want 137 (the master killed)", code)
		}
	})
}
