package bpf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/internal/testaction"
	"github.com/footprint-dev/footprint/test/vm"
)

// The test binary doubles as a footprint process started in a cgroup
// namespace of its own (internal/testaction).
func TestMain(m *testing.M) { testaction.Main(m, runAction) }

func runAction(action string, _ []string) error {
	switch action {
	case "load-in-own-cgroup-namespace":
		// Put in a cgroup of its own and a namespace rooted there, it
		// sees its cgroup as the root.
		if own, err := ownCgroupPath(); err != nil || own != "/" {
			return fmt.Errorf("not in a cgroup namespace of its own: cgroup %q (%v)", own, err)
		}
		return loadEveryPart()
	case "load":
		return loadEveryPart()
	}
	return fmt.Errorf("unknown action %q", action)
}

// loadEveryPart loads the lifecycle, the recorder and the enforcer and
// fails unless every kind has a backend.
func loadEveryPart() error {
	{
		mount, err := cgroupfs.Mount()
		if err != nil {
			return err
		}
		lc, err := LoadLifecycle(LifecycleOptions{CgroupRoot: mount})
		if err != nil {
			return err
		}
		defer lc.Close()
		rec, err := Load(Options{CgroupRoot: mount, Lifecycle: lc})
		if err != nil {
			return err
		}
		defer rec.Close()
		enf, err := LoadEnforcer(EnforcerOptions{CgroupRoot: mount, Lifecycle: lc})
		if err != nil {
			return err
		}
		defer enf.Close()
		var missing []string
		for _, c := range rec.Choices() {
			if c.Chosen == "" {
				missing = append(missing, fmt.Sprintf("recording %s: %+v", c.Kind, c.Rejected))
			}
		}
		for _, c := range enf.Choices() {
			// ptrace has no backend where trampolines are refused (the
			// host): a self-test failing is what this test looks for.
			if c.Chosen == "" && !(c.Kind == KindPtrace && refusedAtLoad(c.Rejected)) {
				missing = append(missing, fmt.Sprintf("enforcing %s: %+v", c.Kind, c.Rejected))
			}
		}
		if len(missing) > 0 {
			return errors.New(strings.Join(missing, "; "))
		}
		return nil
	}
}

// loadInCgroup starts this test binary in the cgroup name below
// footprint's directory (in a cgroup namespace rooted there, with
// flags CLONE_NEWCGROUP), as a node agent runs in its container, and has it
// load footprint: every kind's self-test must pass there too.
func loadInCgroup(t *testing.T, name string, flags uintptr) {
	t.Helper()
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", name))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cg.Kill(); removeCanaryCgroup(cg) }()
	dir, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	action := "load"
	if flags&unix.CLONE_NEWCGROUP != 0 {
		action = "load-in-own-cgroup-namespace"
	}
	cmd := exec.Command(testaction.Self(t))
	cmd.Env = append(os.Environ(), testaction.Env+"="+action)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd()), Cloneflags: flags}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("footprint in cgroup %s: %v\n%s", cg.Path, err, out)
	}
}

// A node agent's cgroup path holds its container's id, 64 hex digits: more
// than a path rule matches literally. The self-tests must not depend on the
// path of the cgroup footprint runs in.
func TestSelfTestsPassInACgroupNamedLikeAContainer(t *testing.T) {
	loadInCgroup(t, strings.Repeat("0123456789abcdef", 4), 0)
}

// TestSelfTestsPassInACgroupNamespaceOfItsOwnUnderNsdelegateInVM runs
// footprint where cgroup2 is mounted with nsdelegate, as systemd mounts it,
// in a cgroup namespace of its own: a process there may move another only
// within its own namespace, so the canary's cgroup must be below the
// process's own. (In the VM: this host's sandbox ignores CLONE_NEWCGROUP.)
func TestSelfTestsPassInACgroupNamespaceOfItsOwnUnderNsdelegateInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", mount, "", unix.MS_REMOUNT, "nsdelegate"); err != nil {
		t.Fatalf("remount %s with nsdelegate: %v", mount, err)
	}
	loadInCgroup(t, fmt.Sprintf("cgns-%d", os.Getpid()), unix.CLONE_NEWCGROUP)
}
