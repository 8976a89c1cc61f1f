// Package cgroupfs finds the cgroup v2 filesystem and manages the cgroups
// footprint creates in it: their ids (what the kernel programs see), the
// processes in them, and killing and removing them.
package cgroupfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoCgroup2 means no cgroup v2 filesystem is mounted. The error Mount
// returns wraps it and says how to mount one.
var ErrNoCgroup2 = errors.New("no cgroup v2 filesystem is mounted (none in /proc/self/mountinfo)")

// Mount returns where the cgroup v2 filesystem is mounted, read from
// /proc/self/mountinfo. Hosts differ: /sys/fs/cgroup on unified hosts,
// /sys/fs/cgroup/unified on hybrid ones.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup v2 mount: %w", err)
	}
	defer f.Close()
	return MountFrom(f)
}

// MountFrom finds the cgroup v2 mount point in a mountinfo file. When there
// are several, the one of the mount namespace's root cgroup ("/") wins.
func MountFrom(mountinfo io.Reader) (string, error) {
	var found string
	v1 := false // cgroup v1 hierarchies are mounted: a hybrid host
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) {
			continue
		}
		if fields[sep+1] == "cgroup" {
			v1 = true
		}
		if fields[sep+1] != "cgroup2" {
			continue
		}
		mountpoint := unescapeMountinfo(fields[4])
		if fields[3] == "/" {
			return mountpoint, nil
		}
		if found == "" {
			found = mountpoint
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	if found == "" {
		fix := "mount -t cgroup2 none /sys/fs/cgroup"
		if v1 {
			// /sys/fs/cgroup holds the v1 hierarchies: mount v2 beside them.
			fix = "mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified"
		}
		return "", fmt.Errorf("%w: footprint needs cgroup v2; mount it with `%s`", ErrNoCgroup2, fix)
	}
	return found, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ID returns the cgroup id of a cgroup v2 directory: the id
// bpf_get_current_cgroup_id returns for processes in it.
func ID(path string) (uint64, error) {
	handle, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		return 0, fmt.Errorf("cgroup id of %s: %w", path, err)
	}
	b := handle.Bytes()
	if len(b) < 8 {
		return 0, fmt.Errorf("cgroup id of %s: file handle of %d bytes", path, len(b))
	}
	return binary.NativeEndian.Uint64(b), nil
}

// PathByID returns the directory of the cgroup with id below mount, the
// cgroup v2 mount: the way back from an id a BPF program reported. It
// fails when the cgroup is gone or lies outside what mount shows.
func PathByID(mount string, id uint64) (string, error) {
	probe, _, err := unix.NameToHandleAt(unix.AT_FDCWD, mount, 0)
	if err != nil {
		return "", fmt.Errorf("cgroup %d: %w", id, err)
	}
	m, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("cgroup %d: %w", id, err)
	}
	defer unix.Close(m)
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, id)
	fd, err := unix.OpenByHandleAt(m, unix.NewFileHandle(probe.Type(), b), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("cgroup %d: %w", id, err)
	}
	defer unix.Close(fd)
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("cgroup %d: %w", id, err)
	}
	return path, nil
}

// Cgroup is a cgroup v2 directory.
type Cgroup struct {
	Path string
	ID   uint64
}

// Create makes the cgroup dir (and its missing parents) and returns it.
func Create(dir string) (*Cgroup, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	id, err := ID(dir)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &Cgroup{Path: dir, ID: id}, nil
}

// Open opens the cgroup directory, e.g. to start a process in it with
// SysProcAttr.CgroupFD.
func (c *Cgroup) Open() (*os.File, error) {
	f, err := os.OpenFile(c.Path, unix.O_DIRECTORY|unix.O_PATH, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", c.Path, err)
	}
	return f, nil
}

// Procs returns the processes in the cgroup and all its descendants.
func (c *Cgroup) Procs() ([]int, error) {
	var pids []int
	err := filepath.WalkDir(c.Path, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, f := range bytes.Fields(data) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", c.Path, err)
	}
	return pids, nil
}

// Kill kills every process in the cgroup and its descendants, with
// cgroup.kill where the kernel has it (5.14+) so that nothing can fork away.
func (c *Cgroup) Kill() error {
	if err := os.WriteFile(filepath.Join(c.Path, "cgroup.kill"), []byte("1"), 0); err == nil {
		return nil
	}
	// Older kernels: kill what is there until nothing is left.
	for i := 0; i < 100; i++ {
		pids, err := c.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("kill processes of %s: they keep coming back", c.Path)
}

// WaitEmpty waits until no process is left in the cgroup or its
// descendants.
func (c *Cgroup) WaitEmpty(ctx context.Context) error {
	for {
		pids, err := c.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d processes to leave %s: %w", len(pids), c.Path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Remove removes the cgroup and its descendants, deepest first. They must
// be empty of processes.
func (c *Cgroup) Remove() error {
	var dirs []string
	err := filepath.WalkDir(c.Path, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", c.Path, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}
