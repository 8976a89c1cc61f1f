// Package filechanges makes, one at a time, the changes to files that need
// no open of the file's path (truncate, unlink, rmdir, rename, link,
// symlink, mknod, mkdir, chmod with and without set-ID bits, chown, times
// set), for the tests
// of what footprint records and enforces: the same operation is a
// workload's normal behaviour in one directory and an attack in another.
// Each operation works inside one directory, which Setup fills first.
package filechanges

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Op is one change.
type Op struct {
	Name string
	// Setup makes the files the operation needs in dir (which exists).
	Setup func(dir string) error
	// Do makes the change in dir.
	Do func(dir string) error
	// Happened says whether the change took effect in dir.
	Happened func(dir string) (bool, error)
	// Want is what a profile records of Do: the access modes per file
	// name in dir.
	Want map[string][]v1alpha1.FileAccessMode
	// Denied is the file name and the access a policy that does not
	// grant it reports first.
	Denied     string
	DeniedMode v1alpha1.FileAccessMode
	// Route is the route a generation after the first added that the
	// change takes (a policy exported before it leaves it alone); empty
	// for a change governed since the first.
	Route v1alpha1.Route
}

// stamp is the time the time-setting operations give a file: 2001-09-09.
const stamp = 1_000_000_000

func modes(m ...v1alpha1.FileAccessMode) []v1alpha1.FileAccessMode { return m }

func file(name string, mode os.FileMode) func(string) error {
	return func(dir string) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content"), mode); err != nil {
			return err
		}
		return os.Chmod(p, mode) // past the umask
	}
}

func exists(name string) func(string) (bool, error) {
	return func(dir string) (bool, error) {
		_, err := os.Lstat(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
}

func gone(name string) func(string) (bool, error) {
	return func(dir string) (bool, error) {
		there, err := exists(name)(dir)
		return !there, err
	}
}

func stat(name string, happened func(*unix.Stat_t) bool) func(string) (bool, error) {
	return func(dir string) (bool, error) {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil {
			return false, err
		}
		return happened(&st), nil
	}
}

// Ops are the changes, by name.
var Ops = []Op{
	{Name: "truncate", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Truncate(filepath.Join(d, "f"), 0) },
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Size == 0 }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessTruncate)},
		Denied:   "f", DeniedMode: v1alpha1.AccessTruncate},
	{Name: "unlink", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Unlink(filepath.Join(d, "f")) },
		Happened: gone("f"),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessDelete)},
		Denied:   "f", DeniedMode: v1alpha1.AccessDelete},
	{Name: "rmdir", Setup: func(d string) error { return os.Mkdir(filepath.Join(d, "sub"), 0o755) },
		Do:       func(d string) error { return unix.Rmdir(filepath.Join(d, "sub")) },
		Happened: gone("sub"),
		Want:     map[string][]v1alpha1.FileAccessMode{"sub": modes(v1alpha1.AccessDelete)},
		Denied:   "sub", DeniedMode: v1alpha1.AccessDelete},
	{Name: "rename", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Rename(filepath.Join(d, "f"), filepath.Join(d, "g")) },
		Happened: gone("f"),
		Want: map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessRenameFrom),
			"g": modes(v1alpha1.AccessRenameTo)},
		Denied: "f", DeniedMode: v1alpha1.AccessRenameFrom},
	{Name: "link", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Link(filepath.Join(d, "f"), filepath.Join(d, "l")) },
		Happened: exists("l"),
		Want: map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessLinkTarget),
			"l": modes(v1alpha1.AccessLink)},
		Denied: "f", DeniedMode: v1alpha1.AccessLinkTarget},
	{Name: "symlink",
		Setup:    func(string) error { return nil },
		Do:       func(d string) error { return unix.Symlink("/etc/shadow", filepath.Join(d, "s")) },
		Happened: exists("s"),
		Want:     map[string][]v1alpha1.FileAccessMode{"s": modes(v1alpha1.AccessSymlink)},
		Denied:   "s", DeniedMode: v1alpha1.AccessSymlink},
	{Name: "mknod",
		Setup:    func(string) error { return nil },
		Do:       func(d string) error { return unix.Mkfifo(filepath.Join(d, "p"), 0o600) },
		Happened: exists("p"),
		Want:     map[string][]v1alpha1.FileAccessMode{"p": modes(v1alpha1.AccessMknod)},
		Denied:   "p", DeniedMode: v1alpha1.AccessMknod},
	// A directory made is a create of its path: mkdirat (what Go and libc
	// call) and the older mkdir, which has its own tracepoint.
	{Name: "mkdir",
		Setup:    func(string) error { return nil },
		Do:       func(d string) error { return unix.Mkdir(filepath.Join(d, "d"), 0o755) },
		Happened: exists("d"),
		Want:     map[string][]v1alpha1.FileAccessMode{"d": modes(v1alpha1.AccessCreate)},
		Denied:   "d", DeniedMode: v1alpha1.AccessCreate, Route: v1alpha1.RouteMkdir},
	{Name: "mkdir-syscall",
		Setup: func(string) error { return nil },
		Do: func(d string) error {
			name, err := unix.BytePtrFromString(filepath.Join(d, "d"))
			if err != nil {
				return err
			}
			if _, _, errno := unix.Syscall(unix.SYS_MKDIR, uintptr(unsafe.Pointer(name)), 0o755, 0); errno != 0 {
				return errno
			}
			return nil
		},
		Happened: exists("d"),
		Want:     map[string][]v1alpha1.FileAccessMode{"d": modes(v1alpha1.AccessCreate)},
		Denied:   "d", DeniedMode: v1alpha1.AccessCreate, Route: v1alpha1.RouteMkdir},
	{Name: "chmod", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Chmod(filepath.Join(d, "f"), 0o600) },
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Mode&0o777 == 0o600 }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessChmod)},
		Denied:   "f", DeniedMode: v1alpha1.AccessChmod},
	{Name: "setid", Setup: file("f", 0o755),
		Do:       func(d string) error { return unix.Chmod(filepath.Join(d, "f"), 0o4755) },
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Mode&unix.S_ISUID != 0 }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessChmod, v1alpha1.AccessSetID)},
		Denied:   "f", DeniedMode: v1alpha1.AccessChmod},
	{Name: "chown", Setup: file("f", 0o644),
		Do:       func(d string) error { return unix.Chown(filepath.Join(d, "f"), 1, 1) },
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Uid == 1 }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessChown)},
		Denied:   "f", DeniedMode: v1alpha1.AccessChown},
	// Times set, to a time a file only gets that way: utimensat (what
	// touch calls) and the older utime, which has its own tracepoint.
	{Name: "utimes", Setup: file("f", 0o644),
		Do: func(d string) error {
			ts := []unix.Timespec{{Sec: stamp}, {Sec: stamp}}
			return unix.UtimesNano(filepath.Join(d, "f"), ts)
		},
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Mtim.Sec == stamp }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessUtimes)},
		Denied:   "f", DeniedMode: v1alpha1.AccessUtimes, Route: v1alpha1.RouteUtimes},
	{Name: "utime", Setup: file("f", 0o644),
		Do: func(d string) error {
			return unix.Utime(filepath.Join(d, "f"), &unix.Utimbuf{Actime: stamp, Modtime: stamp})
		},
		Happened: stat("f", func(st *unix.Stat_t) bool { return st.Mtim.Sec == stamp }),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessUtimes)},
		Denied:   "f", DeniedMode: v1alpha1.AccessUtimes, Route: v1alpha1.RouteUtimes},
	// A name relative to a directory file descriptor, with . and .. in it.
	{Name: "unlinkat-relative", Setup: func(d string) error {
		if err := os.Mkdir(filepath.Join(d, "sub"), 0o755); err != nil {
			return err
		}
		return file("f", 0o644)(d)
	},
		Do: func(d string) error {
			// The root directory: the same one for every dir, so
			// that only the name differs between two runs.
			fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Unlinkat(fd, "."+d+"/sub/./../f", 0)
		},
		Happened: gone("f"),
		Want:     map[string][]v1alpha1.FileAccessMode{"f": modes(v1alpha1.AccessDelete)},
		Denied:   "f", DeniedMode: v1alpha1.AccessDelete},
}

// Lookup returns the operation named name.
func Lookup(name string) (Op, error) {
	for _, op := range Ops {
		if op.Name == name {
			return op, nil
		}
	}
	return Op{}, fmt.Errorf("no file change %q", name)
}
