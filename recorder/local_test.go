package recorder

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/internal/loopback"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/profiles"
)

// record runs a command under RecordCommand and fails the test unless it
// exits 0.
func record(t *testing.T, opts LocalOptions) *LocalResult {
	t.Helper()
	kerneltest.RequireRoot(t)
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	res, err := RecordCommand(context.Background(), opts)
	if err != nil {
		t.Fatalf("record %q: %v", opts.Command, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%q exited %d", opts.Command, res.ExitCode)
	}
	return res
}

func findFile(p *v1alpha1.Profile, path string) *v1alpha1.FileEntry {
	for i := range p.Spec.Files {
		if p.Spec.Files[i].Path == path {
			return &p.Spec.Files[i]
		}
	}
	return nil
}

func filePaths(p *v1alpha1.Profile) []string {
	var out []string
	for _, f := range p.Spec.Files {
		out = append(out, f.Path)
	}
	return out
}

func access(modes ...v1alpha1.FileAccessMode) []v1alpha1.FileAccessMode { return modes }

// testDir returns a temporary directory with symlinks resolved, since
// profiles hold resolved paths.
func testDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecordsFileOpensWithTheirAccess(t *testing.T) {
	dir := testDir(t)
	for _, name := range []string{"read", "write", "truncated"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}
	res := record(t, LocalOptions{Command: helperCommand(t, "open-modes", dir)})

	want := map[string][]v1alpha1.FileAccessMode{
		"read":      access("read"),
		"write":     access("write"),
		"created":   access("write", "create"),
		"truncated": access("read", "write", "truncate"),
	}
	for name, modes := range want {
		f := findFile(res.Profile, filepath.Join(dir, name))
		if f == nil {
			t.Errorf("no entry for %s in %q", name, filePaths(res.Profile))
			continue
		}
		if !slices.Equal(f.Access, modes) || f.Count != 1 {
			t.Errorf("%s: access %v count %d; want %v count 1", name, f.Access, f.Count, modes)
		}
	}
}

func TestRecordsTheFilesystemAndWhetherItIsTheRootFilesystem(t *testing.T) {
	dir := testDir(t)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("mount -t tmpfs none %s && echo x > %s/f", mnt, mnt)
	res := record(t, LocalOptions{Command: []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}})

	f := findFile(res.Profile, mnt+"/f")
	if f == nil {
		t.Fatalf("no entry for the tmpfs file in %q", filePaths(res.Profile))
	}
	if f.Filesystem != "tmpfs" || f.RootFilesystem {
		t.Errorf("tmpfs file: filesystem %q rootFilesystem %v; want tmpfs, false", f.Filesystem, f.RootFilesystem)
	}
	// /etc/passwd-like files read by sh are on the root filesystem.
	var st, rootSt syscall.Stat_t
	if err := syscall.Stat("/bin/sh", &st); err != nil {
		t.Fatal(err)
	}
	syscall.Stat("/", &rootSt)
	if st.Dev == rootSt.Dev {
		for _, e := range res.Profile.Spec.Executables {
			if strings.HasSuffix(e.Path, "/sh") || strings.HasSuffix(e.Path, "/dash") {
				if ld := findFile(res.Profile, "/etc/ld.so.cache"); ld != nil && !ld.RootFilesystem {
					t.Errorf("/etc/ld.so.cache: rootFilesystem false, want true")
				}
			}
		}
	}
}

func TestResolvesPathsAsTheProcessSeesThem(t *testing.T) {
	dir := testDir(t)
	writeFile(t, filepath.Join(dir, "rel.txt"), "x")
	writeFile(t, filepath.Join(dir, "target.txt"), "x")
	writeFile(t, filepath.Join(dir, "at.txt"), "x")
	writeFile(t, filepath.Join(dir, "at2.txt"), "x")
	if err := os.Symlink("target.txt", filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	writeFile(t, filepath.Join(root, "etc", "marker"), "x")
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	writeFile(t, filepath.Join(src, "bound.txt"), "x")

	tests := []struct {
		name    string
		command []string
		want    string
		notWant string
	}{
		{"relative path", []string{"sh", "-c", "cd " + dir + " && cat rel.txt"}, dir + "/rel.txt", ""},
		{"symlink", []string{"cat", dir + "/link.txt"}, dir + "/target.txt", dir + "/link.txt"},
		{"openat with a directory fd", helperCommand(t, "openat", dir, "at.txt"), dir + "/at.txt", ""},
		{"openat2", helperCommand(t, "openat2", dir, "at2.txt"), dir + "/at2.txt", ""},
		{"chroot", helperCommand(t, "chroot-open", root, "/etc/marker"), "/etc/marker", root + "/etc/marker"},
		{"private mount namespace with a bind mount",
			[]string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
				fmt.Sprintf("mount --bind %s %s && cat %s/bound.txt", src, dst, dst)},
			dst + "/bound.txt", src + "/bound.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := record(t, LocalOptions{Command: tt.command, Stdout: io.Discard})
			if findFile(res.Profile, tt.want) == nil {
				t.Errorf("no entry %s in %q", tt.want, filePaths(res.Profile))
			}
			if tt.notWant != "" && findFile(res.Profile, tt.notWant) != nil {
				t.Errorf("entry %s should appear only as %s", tt.notWant, tt.want)
			}
		})
	}
}

func TestOpenat2RecordsTruncation(t *testing.T) {
	dir := testDir(t)
	writeFile(t, filepath.Join(dir, "at2.txt"), "x")
	res := record(t, LocalOptions{Command: helperCommand(t, "openat2", dir, "at2.txt")})
	f := findFile(res.Profile, dir+"/at2.txt")
	if f == nil || !slices.Equal(f.Access, access("write", "truncate")) {
		t.Fatalf("entry %+v; want write,truncate", f)
	}
}

func findCapability(p *v1alpha1.Profile, name string, verdict v1alpha1.CapabilityVerdict, probe bool) *v1alpha1.CapabilityEntry {
	for i, c := range p.Spec.Capabilities {
		if c.Name == name && c.Verdict == verdict && c.Probe == probe {
			return &p.Spec.Capabilities[i]
		}
	}
	return nil
}

func TestRecordsCapabilityChecksWithTheirVerdict(t *testing.T) {
	dir := testDir(t)
	file := filepath.Join(dir, "owned")
	writeFile(t, file, "x")

	t.Run("CAP_CHOWN granted", func(t *testing.T) {
		res := record(t, LocalOptions{Command: helperCommand(t, "chown", file, "65534")})
		if findCapability(res.Profile, "CAP_CHOWN", v1alpha1.VerdictGranted, false) == nil {
			t.Fatalf("no granted CAP_CHOWN in %+v", res.Profile.Spec.Capabilities)
		}
	})
	t.Run("io_uring under a registered personality", func(t *testing.T) {
		// Credentials io_uring borrows are the task's own making: a read
		// of another user's file through them still needs, and shows,
		// CAP_DAC_READ_SEARCH.
		secret := filepath.Join(dir, "secret")
		writeFile(t, secret, "x")
		if err := os.Chmod(secret, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(secret, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		res := record(t, LocalOptions{Command: helperCommand(t, "iouring-open", secret)})
		if findCapability(res.Profile, "CAP_DAC_READ_SEARCH", v1alpha1.VerdictGranted, false) == nil {
			t.Fatalf("no granted CAP_DAC_READ_SEARCH in %+v", res.Profile.Spec.Capabilities)
		}
	})
	t.Run("CAP_SYSLOG denied outside the bounding set", func(t *testing.T) {
		cmd := append([]string{"setpriv", "--bounding-set", "-syslog", "--inh-caps", "-syslog"}, helperCommand(t, "syslog")...)
		res := record(t, LocalOptions{Command: cmd})
		if findCapability(res.Profile, "CAP_SYSLOG", v1alpha1.VerdictDenied, false) == nil {
			t.Fatalf("no denied CAP_SYSLOG in %+v", res.Profile.Spec.Capabilities)
		}
		if findCapability(res.Profile, "CAP_SYSLOG", v1alpha1.VerdictGranted, false) != nil {
			t.Fatalf("CAP_SYSLOG granted although it was out of the bounding set")
		}
	})
	t.Run("seccomp's CAP_SYS_ADMIN is a probe", func(t *testing.T) {
		res := record(t, LocalOptions{Command: helperCommand(t, "seccomp")})
		if findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, true) == nil {
			t.Fatalf("no CAP_SYS_ADMIN probe in %+v", res.Profile.Spec.Capabilities)
		}
		if c := findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, false); c != nil {
			t.Fatalf("CAP_SYS_ADMIN recorded as a need (%d times) though only seccomp probed it", c.Count)
		}
	})
	t.Run("memory accounting's CAP_SYS_ADMIN is a probe", func(t *testing.T) {
		res := record(t, LocalOptions{Command: helperCommand(t, "mmap")})
		if findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, true) == nil {
			t.Fatalf("no CAP_SYS_ADMIN probe in %+v", res.Profile.Spec.Capabilities)
		}
		if c := findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, false); c != nil {
			t.Fatalf("CAP_SYS_ADMIN recorded as a need (%d times) though only mmap probed it", c.Count)
		}
	})
}

func TestRecordsConnections(t *testing.T) {
	l := loopback.Listen(t)
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()

	tcpPort := int32(l.Port)
	udpPort := int32(u.LocalAddr().(*net.UDPAddr).Port)
	res := record(t, LocalOptions{Command: []string{"sh", "-c",
		strings.Join(helperCommand(t, "tcp-connect", l.String()), " ") + " && " +
			strings.Join(helperCommand(t, "udp-send", u.LocalAddr().String()), " ")}})

	want := []v1alpha1.ConnectionEntry{
		{Protocol: v1alpha1.ProtocolTCP, Address: "127.0.0.1", Port: tcpPort, Count: 1},
		{Protocol: v1alpha1.ProtocolUDP, Address: "127.0.0.1", Port: udpPort, Count: 1},
	}
	for _, w := range want {
		if !slices.Contains(res.Profile.Spec.Connections, w) {
			t.Errorf("no %+v in %+v", w, res.Profile.Spec.Connections)
		}
	}
}

func TestRecordsSystemCallsByName(t *testing.T) {
	res := record(t, LocalOptions{Command: helperCommand(t, "uname")})
	native := profiles.Syscalls(res.Profile.Spec, v1alpha1.ArchX86_64)
	// The command is env: its own exec starts the recording, and its exec
	// of the helper is recorded.
	for _, want := range []string{"uname", "execve", "exit_group"} {
		if !slices.Contains(native, want) {
			t.Errorf("no %s in the recorded system calls %v", want, native)
		}
	}
	if compat := profiles.Syscalls(res.Profile.Spec, v1alpha1.ArchX86); len(compat) != 0 {
		t.Errorf("32-bit system calls recorded for a program that made none: %v", compat)
	}
}

func TestRecordsTheAddressFamiliesOfSocketCalls(t *testing.T) {
	res := record(t, LocalOptions{Command: helperCommand(t, "socket-families")})
	for _, set := range res.Profile.Spec.Syscalls {
		if set.Arch != v1alpha1.ArchX86_64 {
			continue
		}
		if want := []string{"AF_NETLINK", "AF_UNIX"}; !slices.Equal(set.SocketFamilies, want) {
			t.Errorf("socket families %v, want %v", set.SocketFamilies, want)
		}
		for _, call := range []string{"socket", "socketpair"} {
			if !slices.Contains(set.Names, call) {
				t.Errorf("no %s in the recorded system calls %v", call, set.Names)
			}
		}
		return
	}
	t.Fatalf("no native system calls recorded: %+v", res.Profile.Spec.Syscalls)
}

func TestRecordsExecutionsByResolvedPath(t *testing.T) {
	trueBin, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range bpf.BackendNames(bpf.KindExec) {
		t.Run(backend, func(t *testing.T) {
			res := record(t, LocalOptions{
				Command:  []string{"sh", "-c", "/bin/true; exit 0"},
				Backends: map[bpf.Kind]string{bpf.KindExec: backend},
			})
			var paths []string
			for _, e := range res.Profile.Spec.Executables {
				paths = append(paths, e.Path)
				if e.Path == trueBin {
					if !slices.Equal(e.UIDs, []int64{0}) || e.Setuid || e.PrivilegeGain || e.Count != 1 {
						t.Errorf("%s: %+v; want uid 0, no set-ID, count 1", trueBin, e)
					}
				}
			}
			if !slices.Contains(paths, trueBin) {
				t.Errorf("no %s in executables %q", trueBin, paths)
			}
		})
	}
}

func TestRecordsScriptsAndTheirInterpreter(t *testing.T) {
	dir := testDir(t)
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	res := record(t, LocalOptions{Command: []string{"sh", "-c", "cd " + dir + " && ./run.sh"}})
	var paths []string
	for _, e := range res.Profile.Spec.Executables {
		paths = append(paths, e.Path)
	}
	for _, want := range []string{script, sh} {
		if !slices.Contains(paths, want) {
			t.Errorf("no %s in executables %q", want, paths)
		}
	}
}

func TestFootprintsOwnSetUpIsNotRecorded(t *testing.T) {
	trueBin, _ := filepath.EvalSymlinks("/bin/true")
	res := record(t, LocalOptions{Command: []string{"/bin/true"}})
	var paths []string
	for _, e := range res.Profile.Spec.Executables {
		paths = append(paths, e.Path)
	}
	if !slices.Equal(paths, []string{trueBin}) {
		t.Errorf("executables %q; want only %s", paths, trueBin)
	}
	self, _ := os.Executable()
	for _, f := range res.Profile.Spec.Files {
		if strings.Contains(f.Path, "cgroup") || f.Path == self {
			t.Errorf("footprint's own work recorded: %s", f.Path)
		}
	}
}

func TestAMillionIdenticalOpensAreOneEntryWithItsCount(t *testing.T) {
	dir := testDir(t)
	file := filepath.Join(dir, "hot")
	writeFile(t, file, "x")
	res := record(t, LocalOptions{Command: helperCommand(t, "open-many", file, "1000000")})
	f := findFile(res.Profile, file)
	if f == nil {
		t.Fatalf("no entry for %s", file)
	}
	if f.Count != 1_000_000 {
		t.Fatalf("count %d, want 1000000", f.Count)
	}
	if lost := res.Counters[bpf.KindFile].RingBufferLost; lost != 0 {
		t.Errorf("%d ring buffer records lost for one unique file", lost)
	}
}

func TestFileNamesCarryingARecordedPidBecomeGlobs(t *testing.T) {
	dir := testDir(t)
	// The test process is not in the recorded cgroup: a file named after
	// its pid is another process's and must stay literal.
	other := os.Getpid()
	if other < 300 {
		t.Skipf("the test runs as pid %d, which normalisation never takes for a pid", other)
	}
	res := record(t, LocalOptions{Command: helperCommand(t, "pid-named-files", dir, fmt.Sprint(other))})

	for _, want := range []string{
		filepath.Join(dir, "pg_internal.init.*"),                      // the command's own pid
		filepath.Join(dir, "pgsql_tmp*.*"),                            // its pid and the counter after it
		filepath.Join(dir, "temp-*.rdb"),                              // its child's pid
		filepath.Join(dir, "16384"),                                   // no pid: literal
		filepath.Join(dir, fmt.Sprintf("pg_internal.init.%d", other)), // not a recorded pid: literal
	} {
		if findFile(res.Profile, want) == nil {
			t.Errorf("no entry %s in %q", want, filePaths(res.Profile))
		}
	}
}

func TestEveryUniqueEntryReachesTheProfileWhenTheRingBufferOverflows(t *testing.T) {
	dir := testDir(t)
	const n = 3000
	res := record(t, LocalOptions{
		Command:         helperCommand(t, "open-distinct", dir, fmt.Sprint(n)),
		RingBufferBytes: os.Getpagesize(),
	})
	if res.Counters[bpf.KindFile].RingBufferLost == 0 {
		t.Fatalf("a %d-byte ring buffer lost nothing for %d files: the test does not test the sweep", os.Getpagesize(), n)
	}
	missing := 0
	for i := 0; i < n; i++ {
		if findFile(res.Profile, filepath.Join(dir, fmt.Sprintf("f%05d", i))) == nil {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d files missing from the profile (%d ring-buffer records lost)", missing, n, res.Counters[bpf.KindFile].RingBufferLost)
	}
}

func TestUnwatchedProcessesAreNotRecorded(t *testing.T) {
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("test-unwatched-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	if err := rec.Watch(cg.ID, bpf.Watch{Kinds: bpf.AllKinds, Live: true}); err != nil {
		t.Fatal(err)
	}

	// The same actions as the other tests, outside the watched cgroup.
	dir := testDir(t)
	for _, name := range []string{"owned", "read", "write", "truncated"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}
	for _, args := range [][]string{
		helperCommand(t, "chown", filepath.Join(dir, "owned"), "65534"),
		helperCommand(t, "open-modes", dir),
		{"sh", "-c", "/bin/true"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
	}
	entries, err := rec.Sweep(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("unwatched processes produced %d entries, e.g. %+v", len(entries), entries[0])
	}
	counters, _ := rec.Counters()
	for k, c := range counters {
		if c.Events != 0 {
			t.Errorf("%s: %d events counted for unwatched processes", k, c.Events)
		}
	}
}

func TestDurationStopsTheCommandCleanlyAndKeepsTheProfile(t *testing.T) {
	dir := testDir(t)
	marker := filepath.Join(dir, "before-sleep")
	writeFile(t, marker, "x")
	kerneltest.RequireRoot(t)
	start := time.Now()
	res, err := RecordCommand(context.Background(), LocalOptions{
		Command:  []string{"sh", "-c", "cat " + marker + " >/dev/null; trap 'exit 7' TERM; sleep 60 & wait"},
		Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("stopping took %s", took)
	}
	if res.ExitCode != 7 {
		t.Errorf("exit code %d; want 7 (the command's own, from its TERM trap)", res.ExitCode)
	}
	if !strings.Contains(res.Stopped, "duration") {
		t.Errorf("Stopped = %q", res.Stopped)
	}
	if findFile(res.Profile, marker) == nil {
		t.Errorf("profile lost what happened before the stop: %q", filePaths(res.Profile))
	}
}

func TestCommandNotFound(t *testing.T) {
	_, err := RecordCommand(context.Background(), LocalOptions{Command: []string{"footprint-no-such-command"}})
	if err == nil || !strings.Contains(err.Error(), "command not found: footprint-no-such-command") {
		t.Fatalf("err = %v", err)
	}
}

// A daemon started as its user records the daemon's needs, not those of
// the switch to the user (no CAP_SETUID, CAP_SETGID, as runuser's would
// be).
func TestACommandRunAsAUserRecordsNotTheSwitchToIt(t *testing.T) {
	nobody, err := cgroupcmd.LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	var stdout strings.Builder
	res := record(t, LocalOptions{Command: []string{"/usr/bin/id", "-u"}, User: nobody, Stdout: &stdout})
	if got := strings.TrimSpace(stdout.String()); got != "65534" {
		t.Errorf("the command ran as uid %q, want 65534", got)
	}
	for _, c := range res.Profile.Spec.Capabilities {
		if c.Name == "CAP_SETUID" || c.Name == "CAP_SETGID" {
			t.Errorf("the switch to the user was recorded: %+v", c)
		}
	}
}

// A file map too small for the run: the files it could not keep still reach
// the profile, from their first sightings in the ring buffer, and the note
// says so.
func TestFilesAFullMapCouldNotKeepStillReachTheProfile(t *testing.T) {
	dir := testDir(t)
	res := record(t, LocalOptions{Command: helperCommand(t, "open-distinct", dir, "300"), FileEntries: 64,
		RingBufferBytes: 1 << 20, Kinds: bpf.KindSet(0).With(bpf.KindFile).With(bpf.KindExec)})
	if c := res.Counters[bpf.KindFile]; c.MapFull == 0 || c.RingBufferLost != 0 {
		t.Fatalf("file counters %+v: want the map full and no ring-buffer loss", c)
	}
	var missing []string
	for i := 0; i < 300; i++ {
		if p := filepath.Join(dir, fmt.Sprintf("f%05d", i)); findFile(res.Profile, p) == nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of 300 files missing from the profile, e.g. %s", len(missing), missing[0])
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "taken from their ring-buffer records") }) {
		t.Errorf("notes %q: want one saying the entries came from the ring buffer", res.Notes)
	}
}

// A file map too small and a ring buffer too small at once: entries are
// lost, and the profile says how many at most, per kind, in its source and
// in a note; no fewer than the files it misses.
func TestALocalRunSaysHowManyEntriesItLost(t *testing.T) {
	dir := testDir(t)
	const n = 3000
	res := record(t, LocalOptions{Command: helperCommand(t, "open-distinct", dir, fmt.Sprint(n)), FileEntries: 64,
		RingBufferBytes: os.Getpagesize(), Kinds: bpf.KindSet(0).With(bpf.KindFile).With(bpf.KindExec)})
	lost := res.Counters[bpf.KindFile].Lost
	if lost == 0 {
		t.Fatalf("file counters %+v: nothing lost with a 64-entry map and a one-page ring buffer, the test tests nothing", res.Counters[bpf.KindFile])
	}
	missing := 0
	for i := 0; i < n; i++ {
		if findFile(res.Profile, filepath.Join(dir, fmt.Sprintf("f%05d", i))) == nil {
			missing++
		}
	}
	src := res.Profile.Spec.Sources[0]
	if src.LostRecords != int64(lost) || src.LostByKind[bpf.KindFile.String()] != int64(lost) {
		t.Errorf("source says lostRecords %d, lostByKind %v; the kernel lost %d file sightings", src.LostRecords, src.LostByKind, lost)
	}
	if int64(missing) > src.LostRecords {
		t.Errorf("%d files are missing from the profile, more than the %d it says were lost", missing, src.LostRecords)
	}
	want := fmt.Sprintf("up to %d entries are missing", lost)
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, want) }) {
		t.Errorf("notes %q: want one saying %q", res.Notes, want)
	}
}

// An inode number is no name: redis' AOF rewrites create a temp file that
// gets the inode number of a generation deleted just before (ext4 hands it
// out again at once), and files are renamed and hard-linked. Each name opened
// is an entry of its own, however the kernel numbers the inode (issue 13:
// two of five temp-rewriteaof-<pid>.aof creations were missing while no
// record was lost).
func TestEveryNameOfAnInodeReachesTheProfile(t *testing.T) {
	requireEveryNameOfAnInode(t)
}

// requireEveryNameOfAnInode records new-names-of-inodes and checks every
// name it opened is in the profile.
func requireEveryNameOfAnInode(t *testing.T) {
	t.Helper()
	dir := testDir(t)
	var out strings.Builder
	res := record(t, LocalOptions{Command: helperCommand(t, "new-names-of-inodes", dir), Stdout: &out})
	if c := res.Counters[bpf.KindFile]; c.RingBufferLost != 0 || c.MapFull != 0 {
		t.Fatalf("file counters %+v: the test needs nothing lost", c)
	}
	inodes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, ino, _ := strings.Cut(line, " inode ")
		inodes[ino] = true
	}
	t.Logf("5 temp files had %d distinct inode numbers", len(inodes))
	want := []string{"config.new", "config", "config-link"}
	for gen := 1; gen <= 5; gen++ {
		want = append(want, fmt.Sprintf("rewrite-gen%d.aof", gen))
	}
	for _, name := range want {
		if findFile(res.Profile, filepath.Join(dir, name)) == nil {
			t.Errorf("no entry for %s in %q", name, filePaths(res.Profile))
		}
	}
}
