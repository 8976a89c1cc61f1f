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

// A successor whose file map has another size (another version's, or
// another --file-entries) cannot reuse the pinned map: it replaces it,
// carrying every entry over when the new map has room and counting what it
// could not, and says so.
func TestAPinnedMapOfAnotherSizeIsReplacedWithItsEntries(t *testing.T) {
	mount := mustMount(t)
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("pin-resize-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	dir := testDir(t)
	const files = 20
	for _, tc := range []struct {
		name              string
		before, after     int
		migrated, dropped bool
	}{
		{"a larger map takes every entry", 64, 128, true, false},
		{"a smaller map takes what fits and counts the rest", 64, 8, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-resize-%d", os.Getpid()))
			t.Cleanup(func() { os.RemoveAll(pinPath) })
			rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, PinPath: pinPath, FileEntries: tc.before})
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.Watch(cg.ID, bpf.Watch{Kinds: bpf.AllKinds, Live: true}); err != nil {
				t.Fatal(err)
			}
			runIn(t, cg, "open-distinct", dir, fmt.Sprint(files))
			if got := len(rec.PinReplacements()); got != 0 {
				t.Fatalf("the first load replaced %d pins", got)
			}
			rec.Close()

			rec, err = bpf.Load(bpf.Options{CgroupRoot: mount, PinPath: pinPath, FileEntries: tc.after})
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			var paths *bpf.PinReplacement
			for _, r := range rec.PinReplacements() {
				if filepath.Base(r.Path) == "file_paths_seen" {
					paths = &r
				}
			}
			if paths == nil {
				t.Fatalf("replacements %v: want file_paths_seen's", rec.PinReplacements())
			}
			t.Logf("%v", paths)
			if !strings.Contains(paths.Change, fmt.Sprintf("MaxEntries: %d changed to %d", tc.before, tc.after)) {
				t.Errorf("change %q does not say the size changed", paths.Change)
			}
			if (paths.Migrated > 0) != tc.migrated || (paths.Dropped > 0) != tc.dropped || paths.Migrated > tc.after {
				t.Errorf("migrated %d, dropped %d: want migrated>0 %v, dropped>0 %v", paths.Migrated, paths.Dropped, tc.migrated, tc.dropped)
			}
			entries, err := rec.Sweep(func(id uint64) bool { return id == cg.ID })
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, e := range entries {
				if e.File != nil && filepath.Dir(e.File.Path) == dir {
					found++
				}
			}
			switch {
			case !tc.dropped && found != files:
				t.Errorf("%d of the %d files are still recorded after the replacement (migrated %d)", found, files, paths.Migrated)
			case tc.dropped && paths.Migrated != tc.after:
				t.Errorf("migrated %d entries into a map of %d: want it filled", paths.Migrated, tc.after)
			}
			if w, err := rec.Watched(); err != nil || !w[cg.ID].Live {
				t.Errorf("the watch did not survive: %+v, %v", w[cg.ID], err)
			}
			rec.Unwatch(cg.ID)
		})
	}
}
