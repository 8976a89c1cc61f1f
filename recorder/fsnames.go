package recorder

import "fmt"

// filesystemNames maps super_block magic numbers (include/uapi/linux/magic.h)
// to the names mount(8) uses.
var filesystemNames = map[uint32]string{
	0xef53:     "ext4",
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0x794c7630: "overlay",
	0x01021994: "tmpfs",
	0x858458f6: "ramfs",
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x63677270: "cgroup2",
	0x27e0eb:   "cgroup",
	0x1cd1:     "devpts",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0x73636673: "securityfs",
	0xcafe4a11: "bpf",
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x01021997: "9p",
	0x65735546: "fuse",
	0x73717368: "squashfs",
	0x4d44:     "vfat",
	0x9660:     "iso9660",
	0xf2f52010: "f2fs",
	0x2fc12fc1: "zfs",
	0x09041934: "anon_inodefs",
	0x6e736673: "nsfs",
	0x50495045: "pipefs",
	0x534f434b: "sockfs",
	0x42494e4d: "binfmt_misc",
	0x19800202: "mqueue",
	0x958458f6: "hugetlbfs",
	0x3434:     "nilfs",
	0x24051905: "ubifs",
	0x6165676c: "pstore",
	0x67596969: "rpc_pipefs",
	0xde5e81e4: "efivarfs",
	0x7461636f: "ocfs2",
	0x00c36400: "ceph",
	0x0bd00bd0: "lustre",
	0x5346414f: "afs",
	0x517b:     "smb",
}

// filesystemName names a filesystem by its magic number.
func filesystemName(magic uint32) string {
	if name, ok := filesystemNames[magic]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", magic)
}
