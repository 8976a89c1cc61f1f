package bpf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
)

// The file tracepoints' mere attachment slows down every task on the node,
// so they are attached only while a cgroup is recorded or held for files.
// These tests run where the tracepoints are the file backend (this host);
// elsewhere there is nothing lazy to test.

func tracepointFiles(t *testing.T, backend string) {
	t.Helper()
	if backend != "tracepoint/syscalls/sys_exit_open*" {
		t.Skipf("the file backend here is %s, attached for good", backend)
	}
}

func testCgroup(t *testing.T, mount, name string) *cgroupfs.Cgroup {
	t.Helper()
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("%s-%d", name, os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Kill(); cg.Remove() })
	return cg
}

// openInCgroup starts, straight in cg, a process that opens path.
func openInCgroup(t *testing.T, cg *cgroupfs.Cgroup, path string) {
	t.Helper()
	dir, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	cmd := exec.Command("/bin/cat", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cat %s: %v\n%s", path, err, out)
	}
}

func recordedFile(t *testing.T, rec *Recorder, cg *cgroupfs.Cgroup, path string) bool {
	t.Helper()
	entries, err := rec.Sweep(func(id uint64) bool { return id == cg.ID })
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.File != nil && e.File.Path == path {
			return true
		}
	}
	return false
}

func TestFileTracepointsAreAttachedOnlyWhileACgroupIsRecordedForFiles(t *testing.T) {
	_, rec, _, mount := loadAll(t)
	tracepointFiles(t, rec.Backend(KindFile))
	if rec.FileBackendAttached() {
		t.Fatal("attached with nothing recorded")
	}
	cg := testCgroup(t, mount, "lazy-record")
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)

	if err := rec.Watch(cg.ID, Watch{Kinds: AllKinds &^ KindSet(0).With(KindFile), Live: true}); err != nil {
		t.Fatal(err)
	}
	if rec.FileBackendAttached() {
		t.Error("attached for a cgroup recorded for everything but files")
	}
	if err := rec.Watch(cg.ID, Watch{Kinds: AllKinds, Live: true}); err != nil {
		t.Fatal(err)
	}
	if !rec.FileBackendAttached() {
		t.Fatal("not attached while a cgroup is recorded for files")
	}
	// Attached before the watch took effect: the first open of a process
	// started into the cgroup right after is recorded.
	openInCgroup(t, cg, file)
	if !recordedFile(t, rec, cg, file) {
		t.Errorf("%s, opened in the recorded cgroup, is not recorded", file)
	}
	if err := rec.Unwatch(cg.ID); err != nil {
		t.Fatal(err)
	}
	if rec.FileBackendAttached() {
		t.Error("still attached after the last cgroup recorded for files was unwatched")
	}
}

// The system call hook runs on every system call of every task: attached
// only while a cgroup is recorded for system calls.
func TestSyscallHookIsAttachedOnlyWhileACgroupIsRecordedForSyscalls(t *testing.T) {
	_, rec, _, mount := loadAll(t)
	if rec.SyscallBackendAttached() {
		t.Fatal("attached with nothing recorded")
	}
	cg := testCgroup(t, mount, "lazy-syscalls")
	if err := rec.Watch(cg.ID, Watch{Kinds: KindSet(0).With(KindFile), Live: true}); err != nil {
		t.Fatal(err)
	}
	if rec.SyscallBackendAttached() {
		t.Error("attached for a cgroup recorded for files only")
	}
	if err := rec.Watch(cg.ID, Watch{Kinds: AllKinds, Live: true}); err != nil {
		t.Fatal(err)
	}
	if !rec.SyscallBackendAttached() {
		t.Fatal("not attached while a cgroup is recorded for system calls")
	}
	if err := rec.Unwatch(cg.ID); err != nil {
		t.Fatal(err)
	}
	if rec.SyscallBackendAttached() {
		t.Error("still attached after the last cgroup recorded for system calls was unwatched")
	}
}

func TestFileTracepointsAreAttachedOnlyWhileACgroupIsHeldToFileRules(t *testing.T) {
	_, _, enf, mount := loadAll(t)
	tracepointFiles(t, enf.Backend(KindFile))
	if enf.FileBackendAttached() {
		t.Fatal("attached with nothing held")
	}
	cg := testCgroup(t, mount, "lazy-enforce")
	const id = 77
	connectOnly := KernelPolicy{Mode: ModeAudit, Governs: KindSet(0).With(KindConnect)}
	files := KernelPolicy{Mode: ModeAudit, Governs: KindSet(0).With(KindFile), Files: PathNode{ID: 1}}

	steps := []struct {
		what string
		do   func() error
		want bool
	}{
		{"a policy without file rules installed", func() error { return enf.PutPolicy(id, connectOnly) }, false},
		{"a cgroup held to it", func() error { return enf.EnforceCgroup(cg.ID, id, Hold{Live: true}) }, false},
		{"the policy replaced by one with file rules", func() error { return enf.PutPolicy(id, files) }, true},
		{"the policy replaced by one without again", func() error { return enf.PutPolicy(id, connectOnly) }, false},
		{"the policy with file rules again", func() error { return enf.PutPolicy(id, files) }, true},
		{"the cgroup released", func() error { return enf.ReleaseCgroup(cg.ID) }, false},
		{"the cgroup held pending for it", func() error { return enf.HoldPending(cg.ID, id) }, true},
		{"the policy deleted", func() error { return enf.DeletePolicy(id) }, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := enf.FileBackendAttached(); got != s.want {
			t.Errorf("after %s: attached %v, want %v", s.what, got, s.want)
		}
	}
	enf.ReleaseCgroup(cg.ID)
}

func TestSyscallReporterIsAttachedOnlyWhileACgroupIsHeldToSystemCallRules(t *testing.T) {
	_, _, enf, mount := loadAll(t)
	if enf.Backend(KindSyscall) == "" {
		t.Skip("no system call reporter here")
	}
	if enf.SyscallBackendAttached() {
		t.Fatal("attached with nothing held")
	}
	cg := testCgroup(t, mount, "lazy-syscalls")
	const id = 78
	connectOnly := KernelPolicy{Mode: ModeAudit, Governs: KindSet(0).With(KindConnect)}
	syscalls := KernelPolicy{Mode: ModeAudit, Governs: KindSet(0).With(KindSyscall)}

	steps := []struct {
		what string
		do   func() error
		want bool
	}{
		{"a policy without system call rules installed", func() error { return enf.PutPolicy(id, connectOnly) }, false},
		{"a cgroup held to it", func() error { return enf.EnforceCgroup(cg.ID, id, Hold{Live: true}) }, false},
		{"the policy replaced by one with system call rules", func() error { return enf.PutPolicy(id, syscalls) }, true},
		{"the policy replaced by one without again", func() error { return enf.PutPolicy(id, connectOnly) }, false},
		{"the policy with system call rules again", func() error { return enf.PutPolicy(id, syscalls) }, true},
		{"the cgroup released", func() error { return enf.ReleaseCgroup(cg.ID) }, false},
		{"the cgroup held again", func() error { return enf.EnforceCgroup(cg.ID, id, Hold{Live: true}) }, true},
		{"the policy deleted", func() error { return enf.DeletePolicy(id) }, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := enf.SyscallBackendAttached(); got != s.want {
			t.Errorf("after %s: attached %v, want %v", s.what, got, s.want)
		}
	}
	enf.ReleaseCgroup(cg.ID)
}

// TestFileTracepointsStayAttachedAcrossARestart restarts a pinned recorder
// while a process in a cgroup recorded for files opens a new file every
// millisecond: every file it opened, before, during and after the restart,
// must be recorded, so the tracepoints were never detached in between.
func TestFileTracepointsStayAttachedAcrossARestart(t *testing.T) {
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-lazy-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pin) })
	load := func() *Recorder {
		rec, err := Load(Options{CgroupRoot: mount, PinPath: pin})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec := load()
	tracepointFiles(t, rec.Backend(KindFile))
	cg := testCgroup(t, mount, "lazy-restart")
	if err := rec.Watch(cg.ID, Watch{Kinds: AllKinds, Live: true}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cgDir, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer cgDir.Close()
	script := fmt.Sprintf(`i=0; while :; do : > %s/f$i; i=$((i+1)); sleep 0.001; done`, dir)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgDir.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Each phase lasts until the writer made some files in it, however
	// slow a loaded machine runs it.
	made := func() int {
		files, _ := filepath.Glob(filepath.Join(dir, "f*"))
		return len(files)
	}
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); made() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the writer made only %d files in 30 s, want %d", made(), n)
			}
		}
	}
	waitFor(40)
	// The agent goes (its pins stay) and its successor loads.
	rec.Close()
	waitFor(made() + 40)
	rec = load()
	defer rec.Close()
	if !rec.FileBackendAttached() {
		t.Error("the successor detached the file tracepoints although a cgroup is recorded for files")
	}
	waitFor(made() + 40)
	cancel()
	cmd.Wait()

	entries, err := rec.Sweep(func(id uint64) bool { return id == cg.ID })
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, e := range entries {
		if e.File != nil {
			recorded[e.File.Path] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "f*"))
	missing := 0
	for i := range files {
		// The last file may be the one cut off by cancel.
		if p := filepath.Join(dir, "f"+strconv.Itoa(i)); !recorded[p] && i < len(files)-1 {
			missing++
			t.Logf("not recorded: %s", p)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d files opened across the restart were not recorded", missing, len(files))
	}
	rec.Unwatch(cg.ID)
}
