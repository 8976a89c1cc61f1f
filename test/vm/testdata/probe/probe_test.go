// Package probe is what the harness's own tests run inside the VM: it checks that the
// binary gets what vmtest.sh promises (environment, arguments, root, mounts, loopback,
// BPF LSM active, kernel BTF) and lets the caller choose a distinctive exit code, so that
// exit-code propagation is tested with a value no accident produces. It lives under
// testdata because it fails anywhere but in the VM, and ./... patterns skip testdata.
package probe

import (
	"bufio"
	"flag"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMain exits with $PROBE_EXIT when every test passed.
func TestMain(m *testing.M) {
	code := m.Run()
	if v := os.Getenv("PROBE_EXIT"); code == 0 && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic("PROBE_EXIT: " + err.Error())
		}
		code = n
	}
	os.Exit(code)
}

func TestProbe(t *testing.T) {
	if got := os.Getenv("FOOTPRINT_IN_VM"); got != "1" {
		t.Fatalf("FOOTPRINT_IN_VM=%q, want 1: not in the VM", got)
	}
	if want, ok := os.LookupEnv("PROBE_WANT_VALUE"); ok {
		if got := os.Getenv("PROBE_VALUE"); got != want {
			t.Errorf("PROBE_VALUE=%q, want %q", got, want)
		}
	}
	if want, ok := os.LookupEnv("PROBE_WANT_ARGS"); ok {
		if got := strings.Join(flag.Args(), "|"); got != want {
			t.Errorf("arguments %q, want %q", got, want)
		}
	}
	if os.Geteuid() != 0 {
		t.Errorf("euid %d, want root", os.Geteuid())
	}

	wantMounts := map[string]string{
		"/proc":                "proc",
		"/sys":                 "sysfs",
		"/dev":                 "devtmpfs",
		"/tmp":                 "tmpfs",
		"/sys/fs/bpf":          "bpf",
		"/sys/kernel/security": "securityfs",
		"/sys/kernel/tracing":  "tracefs",
		"/sys/fs/cgroup":       "cgroup2",
	}
	mounts := mountTypes(t)
	for dir, fstype := range wantMounts {
		if mounts[dir] != fstype {
			t.Errorf("%s: mounted as %q, want %s", dir, mounts[dir], fstype)
		}
	}

	lsm, err := os.ReadFile("/sys/kernel/security/lsm")
	if err != nil {
		t.Errorf("reading active LSMs: %v", err)
	} else if !strings.Contains(","+string(lsm)+",", ",bpf,") {
		t.Errorf("active LSMs %q lack bpf", lsm)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Errorf("kernel BTF for CO-RE: %v", err)
	}

	// Loopback up and usable: tests serve and connect on 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("connecting over loopback: %v", err)
	}
	c.Close()
	if _, err := net.Dial("tcp", "localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)); err != nil {
		t.Errorf("resolving localhost: %v", err)
	}
}

// mountTypes maps each mount point to its filesystem type, from /proc/self/mountinfo.
func mountTypes(t *testing.T) map[string]string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mounts: %v", err)
	}
	defer f.Close()
	types := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		fields := strings.Fields(s.Text())
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && len(fields) > 4 {
				types[fields[4]] = fields[i+1]
				break
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("reading mounts: %v", err)
	}
	return types
}
