package cgroupfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMountFromFindsTheCgroup2MountOfEachLayout(t *testing.T) {
	tests := []struct {
		name, mountinfo, want string
	}{
		{
			name: "unified",
			mountinfo: `25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
32 25 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`,
			want: "/sys/fs/cgroup",
		},
		{
			name: "hybrid",
			mountinfo: `30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
`,
			want: "/sys/fs/cgroup/unified",
		},
		{
			name: "container with a namespaced view first",
			mountinfo: `40 30 0:27 /kubepods/pod1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw
41 30 0:27 / /host/sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
`,
			want: "/host/sys/fs/cgroup",
		},
		{
			name: "escaped space in the mount point",
			mountinfo: `31 30 0:27 / /mnt/cg\0402 rw - cgroup2 cgroup2 rw
`,
			want: "/mnt/cg 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MountFrom(strings.NewReader(tt.mountinfo))
			if err != nil || got != tt.want {
				t.Fatalf("MountFrom = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestMountFromSaysHowToMountCgroup2WhenThereIsNone(t *testing.T) {
	_, err := MountFrom(strings.NewReader("30 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"))
	if !errors.Is(err, ErrNoCgroup2) {
		t.Fatalf("err = %v, want ErrNoCgroup2", err)
	}
	if !strings.Contains(err.Error(), "mount -t cgroup2") {
		t.Fatalf("error %q does not say how to fix it", err)
	}
}

func TestMountFromSuggestsWhereToMountCgroup2(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo, want string
	}{
		{"hybrid: v1 hierarchies under /sys/fs/cgroup",
			"30 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			"`mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified`"},
		{"no cgroup at all",
			"22 1 0:21 / /proc rw - proc proc rw\n",
			"`mount -t cgroup2 none /sys/fs/cgroup`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MountFrom(strings.NewReader(tc.mountinfo))
			if !errors.Is(err, ErrNoCgroup2) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNoCgroup2 saying %s", err, tc.want)
			}
		})
	}
}

// A cgroup id reported by the kernel leads back to the cgroup's directory
// while the cgroup exists, and to a clear error once it is gone.
func TestPathByIDFindsACgroupUntilItIsRemoved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (open_by_handle_at)")
	}
	mount, err := Mount()
	if err != nil {
		t.Fatal(err)
	}
	cg, err := Create(filepath.Join(mount, "footprint", fmt.Sprintf("path-by-id-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := PathByID(mount, cg.ID); err != nil || got != cg.Path {
		t.Errorf("PathByID(%d) = %q, %v; want %q", cg.ID, got, err, cg.Path)
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	if got, err := PathByID(mount, cg.ID); err == nil || !strings.Contains(err.Error(), fmt.Sprint(cg.ID)) {
		t.Errorf("PathByID of a removed cgroup = %q, %v; want an error naming it", got, err)
	}
}
