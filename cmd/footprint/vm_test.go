package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/test/vm"
)

// runCLIExit runs footprint's command line in-process and returns its exit code
// and what it printed (the command it runs writes to this process's
// stdout and stderr, which the VM's console shows).
func runCLIExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	cmd, err := root.ExecuteContextC(t.Context())
	code := report(&out, cmd, err)
	t.Logf("footprint %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

// TestRecordThenEnforceACommandInVM is the README's local loop with the real
// command line, in Debian's kernels booted with and without bpf among the
// active LSMs: footprint record records the file cat reads, and footprint
// enforce, with the policy made from that profile, lets cat read it again
// and refuses a file outside the profile with EPERM, and says so.
func TestRecordThenEnforceACommandInVM(t *testing.T) {
	boot, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	dir := t.TempDir()
	allowed, other := filepath.Join(dir, "allowed"), filepath.Join(dir, "other")
	for _, f := range []string{allowed, other} {
		if err := os.WriteFile(f, []byte("content\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	profile := filepath.Join(dir, "cat.profile.yaml")

	code, out := runCLIExit(t, "probe")
	fileHook := "fmod_ret/security_file_open"
	if boot.BPFLSM {
		fileHook = "lsm/file_open"
	}
	if code != 0 || !strings.Contains(out, fileHook) || !strings.Contains(out, "refused the self-test canary's open") {
		t.Errorf("probe: exit %d, want %s chosen for files with its self-test shown", code, fileHook)
	}

	if code, _ := runCLIExit(t, "record", "--output", profile, "--", "cat", allowed); code != 0 {
		t.Fatalf("record: exit %d", code)
	}
	recorded, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(recorded), "path: "+allowed) {
		t.Errorf("the profile does not hold the file cat read (%s):\n%s", allowed, recorded)
	}

	if code, out := runCLIExit(t, "enforce", "--profile", profile, "--mode", "enforce", "--", "cat", allowed); code != 0 || strings.Contains(out, "footprint: violation:") {
		t.Errorf("enforce, cat of the recorded file: exit %d, want 0 and no violation", code)
	}
	code, out = runCLIExit(t, "enforce", "--profile", profile, "--mode", "enforce", "--", "cat", other)
	if code != 1 {
		t.Errorf("enforce, cat of another file: exit %d, want cat's 1 (its open failed)", code)
	}
	if !strings.Contains(out, "footprint: violation: cat") || !strings.Contains(out, "opened "+other+" for read: denied") {
		t.Errorf("enforce, cat of another file: no denied violation naming %s reported", other)
	}
	if !strings.Contains(out, "prevented") {
		t.Errorf("enforce: the summary does not say files are prevented")
	}
}
