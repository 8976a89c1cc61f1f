package main

// Bad input, end to end: the real footprint binary runs as a subprocess
// under the conditions a user meets (not root, capabilities dropped, no
// cgroup v2 mount, a typo) and must fail with a message that names what is
// missing and how to fix it, without a Go panic and without leaving a
// profile file behind.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/internal/agenttest"
	"github.com/footprint-dev/footprint/profiles"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.RemoveBinaries()
	os.Exit(code)
}

// footprintBinary is cmd/footprint, built once per test run into a
// directory every user can read, since one test runs it as nobody.
func footprintBinary(t *testing.T) string { return agenttest.Binary(t) }

// needRoot is for cases that set up their condition as root (drop
// privileges, unmount cgroup2). Outside CI they skip when not root; in CI
// that is a failure, as for every kernel test.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root (CI is set, so this is a failure, not a skip)")
	}
	t.Skip("this test needs root")
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (util-linux): CI is set, so this is a failure, not a skip", name)
	}
	t.Skipf("%s not found (util-linux)", name)
	return ""
}

// cliRun is one run of the binary.
type cliRun struct {
	code           int
	stdout, stderr string
	// dir is the working directory it ran in, where record writes its
	// profile by default.
	dir string
}

// runBinary runs footprint with args in a fresh working directory. wrap, if
// set, is a command line that runs the binary (the binary path is
// substituted for "BIN"); attr sets credentials and the like.
func runBinary(t *testing.T, wrap []string, attr *syscall.SysProcAttr, args ...string) cliRun {
	t.Helper()
	bin := footprintBinary(t)
	dir, err := os.MkdirTemp(filepath.Dir(bin), "cwd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // writable by nobody too
		t.Fatal(err)
	}
	argv := append([]string{bin}, args...)
	if len(wrap) > 0 {
		argv = nil
		for _, a := range wrap {
			if a == "BIN" {
				a = bin
			}
			argv = append(argv, a)
		}
		argv = append(argv, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %q: %v", argv, err)
	}
	return cliRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), dir: dir}
}

// failsClearly checks a failed run: the exit code (any non-zero code when
// wantCode is 0), a short message on stderr containing every want, nothing
// on stdout, no Go panic, and no profile written.
func failsClearly(t *testing.T, r cliRun, wantCode int, wants ...string) {
	t.Helper()
	if r.code == 0 || (wantCode != 0 && r.code != wantCode) {
		t.Errorf("exit code %d, want %d (non-zero)", r.code, wantCode)
	}
	for _, bad := range []string{"panic", "goroutine "} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr contains %q:\n%s", bad, r.stderr)
		}
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stderr, "footprint: ") {
		t.Errorf("stderr does not start with \"footprint: \":\n%s", r.stderr)
	}
	if n := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") + 1; n > 2 {
		t.Errorf("message is %d lines, want at most 2:\n%s", n, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left %s in the working directory", e.Name())
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

func TestCommandLineMistakesExit2AndPointToHelp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"unknown flag", []string{"record", "--bogus", "--", "true"},
			[]string{"unknown flag: --bogus", "Run 'footprint record --help' for usage."}},
		{"record without a command", []string{"record"},
			[]string{"record needs a command to run: footprint record [flags] -- CMD [ARGS...]", "footprint record --help"}},
		{"record with an empty command after --", []string{"record", "--"},
			[]string{"record needs a command to run", "footprint record --help"}},
		{"record summary format", []string{"record", "-o", "bogus", "--", "true"},
			[]string{`unknown summary format "bogus"`, "use table, yaml or json", "footprint record --help"}},
		{"record event kind", []string{"record", "--kinds", "sockets", "--", "true"},
			[]string{`unknown event kind "sockets"`, "capabilities, files, connections or executables"}},
		{"record as an unknown user", []string{"record", "--user", "no-such-user-here", "--", "true"},
			[]string{`--user: user "no-such-user-here": no such user in the user database (/etc/passwd)`, "footprint record --help"}},
		{"enforce as an unknown group", []string{"enforce", "--profile", "/dev/null", "--user", "root:no-such-group", "--", "true"},
			[]string{`--user: group "no-such-group": no such group`}},
		{"append to a missing profile", []string{"record", "--append", "--output", "nothing-here.yaml", "--", "true"},
			[]string{"--append: nothing-here.yaml does not exist: record the first run without --append"}},
		{"append to stdout", []string{"record", "--append", "--output", "-", "--", "true"},
			[]string{"--append folds the run into a profile file"}},
		{"probe output format", []string{"probe", "-o", "bogus"},
			[]string{`unknown output format "bogus"`, "use table or json", "footprint probe --help"}},
		{"misspelt command", []string{"recrod", "--", "true"},
			[]string{`unknown command "recrod"`, "did you mean record?", "Run 'footprint --help' for usage."}},
		{"probe with an argument", []string{"probe", "extra"},
			[]string{`unknown command "extra" for "footprint probe"`, "footprint probe --help"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failsClearly(t, runBinary(t, nil, nil, tc.args...), 2, tc.wants...)
		})
	}
}

// A command that does not exist fails like it does in a shell (127, 126 when
// it exists but cannot be executed), before anything is loaded or written.
func TestRecordOfAMissingCommandExitsLikeAShell(t *testing.T) {
	notExecutable := filepath.Join(footprintBinaryDir(t), "not-executable.sh")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cmd   string
		code  int
		wants []string
	}{
		{"absolute path", "/nonexistent/prog", 127,
			[]string{"command not found: /nonexistent/prog: no such file"}},
		{"name not in PATH", "footprint-no-such-command", 127,
			[]string{"command not found: footprint-no-such-command is not in $PATH", "give its full path"}},
		{"file without execute permission", notExecutable, 126,
			[]string{"command not executable: " + notExecutable, "chmod +x"}},
		{"directory", "/", 126,
			[]string{"command not executable: / is a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failsClearly(t, runBinary(t, nil, nil, "record", "--", tc.cmd), tc.code, tc.wants...)
		})
	}
}

func footprintBinaryDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(footprintBinary(t))
}

// A failed recording must not destroy the profile --output names.
func TestFailedRecordKeepsAnExistingOutputFile(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv")
	out := filepath.Join(footprintBinaryDir(t), "keep.profile.yaml")
	const old = "kind: Profile # an earlier recording\n"
	if err := os.WriteFile(out, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		wrap []string
	}{
		{"command not found", nil},
		{"BPF refused", []string{setpriv, "--bounding-set=-bpf,-sys_admin,-perfmon", "--inh-caps=-all", "BIN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := "true"
			if tc.wrap == nil {
				cmd = "/nonexistent/prog"
			}
			r := runBinary(t, tc.wrap, nil, "record", "--output", out, "--", cmd)
			failsClearly(t, r, 0)
			got, err := os.ReadFile(out)
			if err != nil || string(got) != old {
				t.Fatalf("%s after the failed run: %q, %v; want it unchanged", out, got, err)
			}
		})
	}
}

func TestNotRootSaysToUseSudo(t *testing.T) {
	needRoot(t) // to become nobody
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	for _, verb := range []string{"record", "probe"} {
		t.Run(verb, func(t *testing.T) {
			args := []string{verb}
			if verb == "record" {
				args = append(args, "--", "true")
			}
			failsClearly(t, runBinary(t, nil, nobody, args...), 1,
				verb+" needs root", "CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN", "run it with sudo (sudo footprint "+verb)
		})
	}
}

// Root without the capabilities BPF needs: a container without
// --privileged, or a bounding set that drops them.
func TestRootWithoutBPFCapabilitiesSaysWhichAreMissing(t *testing.T) {
	needRoot(t)
	setpriv := needTool(t, "setpriv")
	drop := []string{setpriv, "--bounding-set=-bpf,-sys_admin,-perfmon", "--inh-caps=-all", "BIN"}
	for _, args := range [][]string{{"record", "--", "true"}, {"probe"}} {
		t.Run(args[0], func(t *testing.T) {
			r := runBinary(t, drop, nil, args...)
			failsClearly(t, r, 1,
				"the kernel refused to load eBPF (create map watched_cgroups: operation not permitted)",
				"this process lacks CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN",
				"run footprint as root with its full capabilities", "--privileged")
			if strings.Contains(r.stderr, "MEMLOCK") {
				t.Errorf("message blames the memlock limit:\n%s", r.stderr)
			}
		})
	}
}

// unmountCgroup2 unmounts every cgroup2 mount of a private mount namespace
// (found in mountinfo, wherever the host has them), checks none is left,
// and runs its arguments.
const unmountCgroup2 = `
for i in 1 2 3 4 5; do
	mounts=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo)
	[ -z "$mounts" ] && exec "$@"
	for m in $mounts; do umount -l "$m"; done
done
echo "test set-up: cgroup2 still mounted: $mounts" >&2
exit 99
`

func TestNoCgroup2MountSaysHowToMountIt(t *testing.T) {
	needRoot(t)
	unshare := needTool(t, "unshare")
	wrap := []string{unshare, "--mount", "--propagation", "private", "sh", "-c", unmountCgroup2, "sh", "BIN"}
	for _, args := range [][]string{{"record", "--", "true"}, {"probe"}} {
		t.Run(args[0], func(t *testing.T) {
			r := runBinary(t, wrap, nil, args...)
			if r.code == 99 {
				t.Fatalf("could not unmount cgroup2 in a private mount namespace:\n%s", r.stderr)
			}
			failsClearly(t, r, 1,
				"no cgroup v2 filesystem is mounted", "footprint needs cgroup v2", "mount it with `", "mount -t cgroup2 none /sys/fs/cgroup")
		})
	}
}

// Runs of a daemon's lifecycle (start, reload, restart on its data) recorded
// one after another fold into one profile, one source per run.
func TestRecordAppendFoldsRunsIntoOneProfile(t *testing.T) {
	needRoot(t)
	out := filepath.Join(footprintBinaryDir(t), "lifecycle.profile.yaml")
	os.Remove(out)
	t.Cleanup(func() { os.Remove(out) })
	for i, args := range [][]string{
		{"record", "--output", out, "--", "/bin/true"},
		{"record", "--append", "--output", out, "--", "/bin/cat", "/etc/hostname"},
	} {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // a run is told apart by its start second
		}
		r := runBinary(t, nil, nil, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, r.code, r.stderr)
		}
		if i > 0 && !strings.Contains(r.stderr, "run folded into "+out+" (2 runs)") {
			t.Errorf("stderr lacks the fold:\n%s", r.stderr)
		}
	}
	p, err := profiles.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Sources) != 2 {
		t.Errorf("sources: %d, want 2 (one per run)", len(p.Spec.Sources))
	}
	var execs []string
	for _, e := range p.Spec.Executables {
		execs = append(execs, filepath.Base(e.Path))
	}
	if !slices.Contains(execs, "true") || !slices.Contains(execs, "cat") {
		t.Errorf("executables %q, want both runs' (true, cat)", execs)
	}
}
