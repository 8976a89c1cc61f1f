package apps

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/profiles"
)

// footprintBin is the command line under test, built once by TestMain.
var footprintBin string

// maxEntries is the most entries (capabilities, files, connections,
// executables) an app's whole-lifecycle profile may have: a reviewer reads
// it, and a profile of hundreds of literal files is one nobody does.
const maxEntries = 150

// sizes collects each app's profile size for the table TestMain prints.
var sizes = struct {
	sync.Mutex
	lines []string
}{}

func TestMain(m *testing.M) {
	code := 0
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "footprint-apps-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		footprintBin = filepath.Join(dir, "footprint")
		build := exec.Command("go", "build", "-o", footprintBin, "github.com/footprint-dev/footprint/cmd/footprint")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build footprint: %v\n%s", err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		code = m.Run()
		os.RemoveAll(dir)
	} else {
		code = m.Run()
	}
	if len(sizes.lines) > 0 {
		fmt.Printf("\nprofile sizes (whole lifecycle; at most %d entries each):\n", maxEntries)
		slices.Sort(sizes.lines)
		for _, l := range sizes.lines {
			fmt.Println("  " + l)
		}
	}
	os.Exit(code)
}

// requireApp skips (or, in CI, fails) when a daemon's package is missing.
func requireApp(t *testing.T, paths ...string) {
	t.Helper()
	kerneltest.RequireRoot(t)
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (hack/setup.sh installs it; CI is set, so this is a failure)", p)
			}
			t.Skipf("%s is missing: run hack/setup.sh", p)
		}
	}
}

// lab is one app's playground: a directory of its own (config, data, logs,
// sockets), the profile its runs are folded into and the policy exported
// from it.
type lab struct {
	t       *testing.T
	dir     string
	user    *user.User
	uid     int
	gid     int
	profile string
	policy  string
	// current is the footprint run under way, whose output a failure
	// shows.
	current *run
}

// fatalf fails the test with the output of the run under way (which the
// daemon's failure usually explains: a violation, a kill).
func (l *lab) fatalf(format string, args ...any) {
	l.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if r := l.current; r != nil {
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
		}
		msg += fmt.Sprintf("\n%s: output so far:\n%s", r.name, r.out)
	}
	l.t.Fatal(msg)
}

// labRoot holds the labs. Not below /tmp: a daemon's data lives in
// /var/lib, and profiles take every random-looking name below /tmp for a
// per-process temp directory (`/tmp/*`), which would hide what the policy
// really allows.
const labRoot = "/var/lib/footprint-apps-test"

// newLab makes the app's directory, traversable by the daemon's user (a
// t.TempDir is not), and removes it at the end.
func newLab(t *testing.T, name, userName string) *lab {
	t.Helper()
	if err := os.MkdirAll(labRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(labRoot, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("FOOTPRINT_APPS_KEEP") != "" {
			t.Logf("FOOTPRINT_APPS_KEEP is set: %s is kept", dir)
			return
		}
		os.RemoveAll(dir)
		os.Remove(labRoot) // when the last lab is gone
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, dir: dir, profile: filepath.Join(dir, name+".profile.yaml"), policy: filepath.Join(dir, name+".policy.yaml")}
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			t.Fatalf("user %s (made by its package): %v", userName, err)
		}
		l.user = u
		l.uid, _ = strconv.Atoi(u.Uid)
		l.gid, _ = strconv.Atoi(u.Gid)
	}
	return l
}

// path is a path inside the lab.
func (l *lab) path(rel ...string) string { return filepath.Join(append([]string{l.dir}, rel...)...) }

// mkdir makes directories inside the lab owned by the daemon's user.
func (l *lab) mkdir(rels ...string) {
	l.t.Helper()
	for _, rel := range rels {
		p := l.path(rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			l.t.Fatal(err)
		}
		if l.user != nil {
			if err := os.Chown(p, l.uid, l.gid); err != nil {
				l.t.Fatal(err)
			}
		}
	}
}

// write writes a file inside the lab owned by the daemon's user.
func (l *lab) write(rel, content string) {
	l.t.Helper()
	p := l.path(rel)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if l.user != nil {
		if err := os.Chown(p, l.uid, l.gid); err != nil {
			l.t.Fatal(err)
		}
	}
}

// asUser runs a helper command (initdb, a client) as the daemon's user,
// outside footprint: what a package's maintainer scripts would do.
func (l *lab) asUser(name string, args ...string) string {
	l.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(l.uid), Gid: uint32(l.gid)}}
	cmd.Dir = l.dir
	cmd.Env = append(os.Environ(), "HOME="+l.dir, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// run is one footprint process: a record or enforce of a daemon.
type run struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	code int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// footprint starts `footprint ARGS...`; the daemon it runs stays in the
// foreground under it until the test shuts it down.
func (l *lab) footprint(name string, args ...string) *run {
	l.t.Helper()
	return l.startCmd(name, exec.Command(footprintBin, args...))
}

// plain starts the daemon without footprint, as its user: the baseline
// of the throughput benchmark.
func (l *lab) plain(name string, daemon ...string) *run {
	l.t.Helper()
	cmd := exec.Command(daemon[0], daemon[1:]...)
	if l.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(l.uid), Gid: uint32(l.gid)}}
		cmd.Env = append(os.Environ(), "HOME="+l.dir, "USER="+l.user.Username, "LOGNAME="+l.user.Username)
	}
	return l.startCmd(name, cmd)
}

// startCmd starts cmd in the lab and ends it with the test.
func (l *lab) startCmd(name string, cmd *exec.Cmd) *run {
	l.t.Helper()
	r := &run{t: l.t, name: name, out: &syncBuffer{}, done: make(chan struct{}), cmd: cmd}
	r.cmd.Dir = l.dir
	r.cmd.Stdout = r.out
	r.cmd.Stderr = r.out
	if r.cmd.Env == nil {
		r.cmd.Env = os.Environ()
	}
	r.cmd.Env = append(r.cmd.Env, "LC_ALL=C")
	if err := r.cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", strings.Join(r.cmd.Args, " "), err)
	}
	l.current = r
	go func() {
		err := r.cmd.Wait()
		r.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		close(r.done)
	}()
	// Whatever happens to the test, footprint and its daemon do not outlive
	// it: SIGTERM to footprint stops CMD and everything in its cgroup (and
	// a daemon run plainly stops on it too).
	l.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
		}
	})
	return r
}

// exited reports whether footprint has ended.
func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait waits for footprint to end and returns its exit code and output.
func (r *run) wait(timeout time.Duration) (int, string) {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		r.cmd.Process.Signal(syscall.SIGTERM)
		<-r.done
		r.t.Fatalf("%s: footprint did not end within %v; output:\n%s", r.name, timeout, r.out)
	}
	return r.code, r.out.String()
}

// violationLine is how footprint enforce reports each distinct violation.
var violationLine = regexp.MustCompile(`(?m)^footprint: violation: .*$`)

// violations are the violations a run reported.
func violations(out string) []string { return violationLine.FindAllString(out, -1) }

// finishClean waits for a run to end with exit code 0 and, for an enforce
// run, no violation reported.
func (r *run) finishClean(timeout time.Duration) string {
	r.t.Helper()
	code, out := r.wait(timeout)
	if v := violations(out); len(v) > 0 {
		r.t.Errorf("%s: %d violations, want none:\n%s\nfull output:\n%s", r.name, len(v), strings.Join(v, "\n"), out)
	} else if code != 0 {
		r.t.Errorf("%s: footprint exited %d, want 0; output:\n%s", r.name, code, out)
	}
	return out
}

// waitTCP waits until something accepts on addr while the run is alive.
func (r *run) waitTCP(addr string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if r.exited() {
			r.t.Fatalf("%s: footprint ended (exit %d) before %s accepted connections; output:\n%s", r.name, r.code, addr, r.out)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %s accepts no connection after %v; output:\n%s", r.name, addr, timeout, r.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidFrom reads a daemon's pid from the first line of its pid file.
func pidFrom(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(file)
		if err == nil {
			line, _, _ := strings.Cut(string(data), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s: %v", file, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the daemon whose pid file is file.
func signal(t *testing.T, file string, sig syscall.Signal) {
	t.Helper()
	pid := pidFrom(t, file)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %v to %d (from %s): %v", sig, pid, file, err)
	}
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// exportPolicy writes the Enforce-mode policy of the lab's profile, killing
// where the kernel cannot refuse (as the demo does), and reports the
// profile's size.
func (l *lab) exportPolicy(app string, extra ...string) {
	l.t.Helper()
	p, err := profiles.LoadFile(l.profile)
	if err != nil {
		l.t.Fatal(err)
	}
	n := entries(p)
	sizes.Lock()
	sizes.lines = append(sizes.lines, fmt.Sprintf("%-10s %3d entries (%d capabilities, %d files, %d connections, %d executables), %d system calls, %d runs",
		app, n, len(p.Spec.Capabilities), len(p.Spec.Files), len(p.Spec.Connections), len(p.Spec.Executables), syscalls(p), len(p.Spec.Sources)))
	sizes.Unlock()
	l.t.Logf("%s's profile: %d entries", app, n)
	if n >= maxEntries {
		show, _ := exec.Command(footprintBin, "show", l.profile).CombinedOutput()
		l.t.Errorf("%s's profile has %d entries, want fewer than %d:\n%s", app, n, maxEntries, show)
	}
	args := append([]string{"export", "policy", l.profile, "--mode", "enforce", "--unpreventable", "kill"}, extra...)
	out, err := exec.Command(footprintBin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		l.t.Fatalf("footprint %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := os.WriteFile(l.policy, out, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// entries counts a profile's entries of every kind but system calls (a
// short list of names, bounded by the kernel's).
func entries(p *v1alpha1.Profile) int {
	return len(p.Spec.Capabilities) + len(p.Spec.Files) + len(p.Spec.Connections) + len(p.Spec.Executables)
}

// syscalls counts a profile's system calls over its ABIs.
func syscalls(p *v1alpha1.Profile) int {
	n := 0
	for _, set := range p.Spec.Syscalls {
		n += len(set.Names)
	}
	return n
}

// record starts a recording of the daemon: the first run writes the
// profile, later ones fold into it.
func (l *lab) record(name string, first bool, daemon ...string) *run {
	l.t.Helper()
	args := []string{"record", "--output", l.profile, "--stop-grace", "10s"}
	if !first {
		args = append(args, "--append")
	}
	if l.user != nil {
		args = append(args, "--user", l.user.Username)
	}
	return l.footprint(name, append(append(args, "--"), daemon...)...)
}

// enforce starts the daemon held to the exported policy.
func (l *lab) enforce(name string, daemon ...string) *run {
	l.t.Helper()
	args := []string{"enforce", "--policy", l.policy, "--stop-grace", "10s"}
	if l.user != nil {
		args = append(args, "--user", l.user.Username)
	}
	return l.footprint(name, append(append(args, "--"), daemon...)...)
}

// phase is one run of an app's lifecycle with what varies between runs.
type phase struct {
	name string
	// seed picks the data and keys.
	seed int
	// fresh starts on newly initialised data instead of the existing data.
	fresh bool
	// reloads and rotations are how many of each happen during the run.
	reloads, rotations int
}

// lifecycle are the phases recorded, then the phases enforced.
var (
	recorded = []phase{
		{name: "record: first start", seed: 0, fresh: true, reloads: 1, rotations: 1},
		{name: "record: restart on existing data", seed: 1, reloads: 1, rotations: 1},
	}
	identical = []phase{
		{name: "enforce: identical rerun 1", seed: 1, reloads: 1, rotations: 1},
		{name: "enforce: identical rerun 2", seed: 1, reloads: 1, rotations: 1},
		{name: "enforce: identical rerun 3", seed: 1, reloads: 1, rotations: 1},
	}
	varied = []phase{
		{name: "enforce: varied rerun on fresh data", seed: 2, fresh: true, reloads: 2, rotations: 1},
		{name: "enforce: varied rerun, two rotations", seed: 3, reloads: 1, rotations: 2},
		{name: "enforce: varied rerun, no reload", seed: 4, reloads: 0, rotations: 1},
	}
)

// rotate renames a log file the way logrotate does (file.1, the older one
// to file.2) before the daemon is told to reopen it.
func rotate(t *testing.T, file string) {
	t.Helper()
	if _, err := os.Stat(file + ".1"); err == nil {
		if err := os.Rename(file+".1", file+".2"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(file, file+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// stepTimeout bounds each footprint run: a daemon that hangs fails the
// test instead of the suite's timeout.
const stepTimeout = 60 * time.Second

// timed logs how long each phase took.
func timed(t *testing.T, name string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%s: %.1fs", name, time.Since(start).Seconds())
}
