package recorder

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// TestPinnedRecordingSurvivesAKilledAgent kills (SIGKILL) a process that
// records a cgroup with pinned maps: what was recorded before, and what the
// cgroup does while no agent runs, is all there for the next one.
func TestPinnedRecordingSurvivesAKilledAgent(t *testing.T) {
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	mount := mustMount(t)
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("pin-test-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	dir := testDir(t)
	for _, name := range []string{"before", "while-down"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}

	cmd := helperCommand(t, "pinned-agent", pinPath, fmt.Sprint(cg.ID))
	agent := exec.Command(cmd[0], cmd[1:]...)
	agent.Stderr = os.Stderr
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		agent.Process.Kill()
		agent.Wait()
		t.Fatalf("the agent did not start: %q, %v", line, err)
	}
	runIn(t, cg, "open-many", filepath.Join(dir, "before"), "2")
	agent.Process.Signal(syscall.SIGKILL)
	agent.Wait()
	runIn(t, cg, "open-many", filepath.Join(dir, "while-down"), "3")

	rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, PinPath: pinPath})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	entries, err := rec.Sweep(nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, e := range entries {
		if e.CgroupID == cg.ID && e.File != nil {
			counts[filepath.Base(e.File.Path)] += e.Count
		}
	}
	if counts["before"] != 2 || counts["while-down"] != 3 {
		t.Errorf("opens found after the restart: before %d (want 2), while down %d (want 3)", counts["before"], counts["while-down"])
	}
	if w, err := rec.Watched(); err != nil || !w[cg.ID].Live {
		t.Errorf("the watch did not survive: %+v, %v", w[cg.ID], err)
	}
}
