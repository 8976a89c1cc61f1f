package recorder

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/filechanges"
)

// TestRecordsFileChangesMadeWithoutAnOpen records each change a process can
// make to a file without opening its path (truncate, unlink, rmdir, rename,
// link, symlink, mknod, chmod, set-ID chmod, chown, and a name relative to
// a directory descriptor with .. in it) as access modes of the paths it
// names, resolved like opens.
func TestRecordsFileChangesMadeWithoutAnOpen(t *testing.T) {
	for _, op := range filechanges.Ops {
		t.Run(op.Name, func(t *testing.T) {
			dir := testDir(t)
			if err := op.Setup(dir); err != nil {
				t.Fatal(err)
			}
			res := record(t, LocalOptions{Command: helperCommand(t, "file-change", op.Name, dir)})
			for name, want := range op.Want {
				f := findFile(res.Profile, filepath.Join(dir, name))
				if f == nil {
					t.Errorf("no entry for %s in %q", name, filePaths(res.Profile))
					continue
				}
				if !slices.Equal(f.Access, want) {
					t.Errorf("%s: access %v; want %v", name, f.Access, want)
				}
			}
			if happened, err := op.Happened(dir); err != nil || !happened {
				t.Errorf("the change did not happen while recorded: %v, %v", happened, err)
			}
		})
	}
}

// TestAChangeInAVolumeIsNotOnTheRootFilesystem: where the kernel does not
// say which mount a changed file is on (the syscall tracepoints), an open in
// the same directory does.
func TestAChangeInAVolumeIsNotOnTheRootFilesystem(t *testing.T) {
	dir := testDir(t)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// The FIFO is only ever named, never opened; f is opened.
	script := fmt.Sprintf("mount -t tmpfs none %s && echo x > %s/f && mkfifo %s/p", mnt, mnt, mnt)
	res := record(t, LocalOptions{Command: []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}})
	f := findFile(res.Profile, filepath.Join(mnt, "p"))
	if f == nil {
		t.Fatalf("no entry for the FIFO in %q", filePaths(res.Profile))
	}
	if !slices.Equal(f.Access, []v1alpha1.FileAccessMode{v1alpha1.AccessMknod}) || f.RootFilesystem {
		t.Errorf("%s: access %v rootFilesystem %v; want [mknod], false (it is on a tmpfs)", f.Path, f.Access, f.RootFilesystem)
	}
}
