package smoke

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/footprint-dev/footprint/test/vm"
)

// childEnv, when set to a path, turns the test binary into openChild.
const childEnv = "FOOTPRINT_SMOKE_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(openChild(path))
	}
	os.Exit(m.Run())
}

// openChild is the process whose open is allowed or denied. It waits for its parent's
// go-ahead, so that the parent can move it into a cgroup first (exec itself opens files,
// so it cannot start inside a denied cgroup), then opens path and reports the outcome on
// stdout.
func openChild(path string) int {
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "waiting for the go-ahead:", err)
		return 2
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			fmt.Fprintln(os.Stderr, "open:", err)
			return 2
		}
		fmt.Printf("errno %d\n", int(errno))
		return 0
	}
	syscall.Close(fd)
	fmt.Println("opened")
	return 0
}

// TestLSMDeniesOpenInVM attaches an lsm/file_open program that returns -EPERM for the
// processes of the cgroups in a map, and checks that exactly those are denied, only while
// the program is attached and the cgroup is in the map.
func TestLSMDeniesOpenInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t) {
		return
	}
	requireBPFLSM(t)

	cgDir := filepath.Join(cgroup2Mount(t), fmt.Sprintf("footprint-smoke-%d", os.Getpid()))
	if err := os.Mkdir(cgDir, 0o755); err != nil {
		t.Fatalf("creating cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(cgDir); err != nil {
			t.Errorf("removing cgroup: %v", err)
		}
	})
	fi, err := os.Stat(cgDir)
	if err != nil {
		t.Fatal(err)
	}
	// A cgroup2 directory's inode number is the id bpf_get_current_cgroup_id returns.
	cgID := fi.Sys().(*syscall.Stat_t).Ino

	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	denied, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "denied_cgroups",
		Type:       ebpf.Hash,
		KeySize:    8, // cgroup id
		ValueSize:  1,
		MaxEntries: 64,
	})
	if err != nil {
		t.Fatalf("creating map: %v", err)
	}
	defer denied.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "deny_file_open",
		Type:         ebpf.LSM,
		AttachType:   ebpf.AttachLSMMac,
		AttachTo:     "file_open",
		License:      "GPL", // the kernel refuses LSM programs under other licences
		Instructions: denyByCgroup(denied),
	})
	if err != nil {
		t.Fatalf("loading lsm/file_open: %+v", err)
	}
	defer prog.Close()
	if err := denied.Put(cgID, uint8(1)); err != nil {
		t.Fatalf("selecting cgroup %d: %v", cgID, err)
	}
	l, err := link.AttachLSM(link.LSMOptions{Program: prog})
	if err != nil {
		t.Fatalf("attaching lsm/file_open: %v", err)
	}
	attached := true
	defer func() {
		if attached {
			l.Close()
		}
	}()

	if err := openFrom(t, cgDir, target); !errors.Is(err, syscall.EPERM) {
		t.Errorf("open from the denied cgroup: %v, want EPERM", err)
	}
	if err := openFrom(t, "", target); err != nil {
		t.Errorf("open from another process outside the cgroup: %v, want success", err)
	}
	if f, err := os.Open(target); err != nil {
		t.Errorf("open from the test process: %v, want success", err)
	} else {
		f.Close()
	}

	// The map decides, with the program in place: that is how policies change.
	if err := denied.Delete(cgID); err != nil {
		t.Fatalf("deselecting cgroup: %v", err)
	}
	if err := openFrom(t, cgDir, target); err != nil {
		t.Errorf("open from the cgroup after removing it from the map: %v, want success", err)
	}
	if err := denied.Put(cgID, uint8(1)); err != nil {
		t.Fatalf("selecting cgroup again: %v", err)
	}
	if err := openFrom(t, cgDir, target); !errors.Is(err, syscall.EPERM) {
		t.Errorf("open from the cgroup selected again: %v, want EPERM", err)
	}

	// The denial comes from the program: detached, the same open succeeds.
	if err := l.Close(); err != nil {
		t.Fatalf("detaching: %v", err)
	}
	attached = false
	if err := openFrom(t, cgDir, target); err != nil {
		t.Errorf("open from the cgroup after detaching: %v, want success", err)
	}
}

// denyByCgroup is an lsm/file_open program: -EPERM when the current task's cgroup is a
// key of denied, 0 (no objection) otherwise.
func denyByCgroup(denied *ebpf.Map) asm.Instructions {
	return asm.Instructions{
		asm.FnGetCurrentCgroupId.Call(),
		asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, denied.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "allow"),
		asm.Mov.Imm(asm.R0, -int32(syscall.EPERM)),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("allow"),
		asm.Return(),
	}
}

// TestKernelHooksLoadInVM loads and attaches a program on every hook issue 4's enforcer
// and the recorder's best backends use; this host refuses all of them.
func TestKernelHooksLoadInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t) {
		return
	}
	requireBPFLSM(t)
	allow := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	for _, hook := range []struct {
		typ    ebpf.ProgramType
		attach ebpf.AttachType
		to     string
	}{
		{ebpf.LSM, ebpf.AttachLSMMac, "file_open"},
		{ebpf.LSM, ebpf.AttachLSMMac, "bprm_check_security"},
		{ebpf.LSM, ebpf.AttachLSMMac, "capable"},
		{ebpf.LSM, ebpf.AttachLSMMac, "socket_connect"},
		{ebpf.Tracing, ebpf.AttachTraceFEntry, "security_file_open"},
		{ebpf.Tracing, ebpf.AttachTraceFExit, "cap_capable"},
	} {
		name := fmt.Sprintf("%v/%s", hook.attach, hook.to)
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type: hook.typ, AttachType: hook.attach, AttachTo: hook.to,
			License: "GPL", Instructions: allow,
		})
		if err != nil {
			t.Errorf("%s: loading: %v", name, err)
			continue
		}
		var l link.Link
		if hook.typ == ebpf.LSM {
			l, err = link.AttachLSM(link.LSMOptions{Program: prog})
		} else {
			l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		}
		if err != nil {
			t.Errorf("%s: attaching: %v", name, err)
		} else {
			t.Logf("%s: loaded and attached", name)
			l.Close()
		}
		prog.Close()
	}
}

// requireBPFLSM fails unless the kernel runs the BPF LSM: without it lsm programs load
// and attach but are never called, and every denial test would fail for a confusing
// reason.
func requireBPFLSM(t *testing.T) {
	t.Helper()
	lsm, err := os.ReadFile("/sys/kernel/security/lsm")
	if err != nil {
		t.Fatalf("reading the active LSMs: %v", err)
	}
	if !strings.Contains(","+strings.TrimSpace(string(lsm))+",", ",bpf,") {
		t.Fatalf("active LSMs %q lack bpf: boot with lsm=...,bpf", lsm)
	}
}

// cgroup2Mount finds where cgroup v2 is mounted; it is not always /sys/fs/cgroup.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mounts: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(line, " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return fields[4]
		}
	}
	t.Fatal("no cgroup2 mount")
	return ""
}

// openFrom runs openChild for path, first moving it into cgroupDir unless that is empty,
// and returns the open's error: nil when the file opened.
func openFrom(t *testing.T, cgroupDir, path string) error {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the child: %v", err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("child said %q, %v; want ready", line, err)
	}
	if cgroupDir != "" {
		procs := filepath.Join(cgroupDir, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatalf("moving the child into %s: %v", cgroupDir, err)
		}
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatalf("starting the child's open: %v", err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the child's outcome: %v", err)
	}
	switch line := string(bytes.TrimSpace(rest)); {
	case line == "opened":
		return nil
	case strings.HasPrefix(line, "errno "):
		n, err := strconv.Atoi(strings.TrimPrefix(line, "errno "))
		if err != nil {
			t.Fatalf("child said %q", line)
		}
		return syscall.Errno(n)
	default:
		t.Fatalf("child said %q, want opened or errno N", line)
		return nil
	}
}
