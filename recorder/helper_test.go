package recorder

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/compat32"
	"github.com/footprint-dev/footprint/internal/filechanges"
	"github.com/footprint-dev/footprint/internal/testaction"
)

// The test binary doubles as the program under test (internal/testaction).
func TestMain(m *testing.M) { testaction.Main(m, runAction) }

var helperCommand = testaction.Command

func runAction(action string, args []string) error {
	switch action {
	case "file-change": // op dir: one change without an open (internal/filechanges)
		op, err := filechanges.Lookup(args[0])
		if err != nil {
			return err
		}
		return op.Do(args[1])
	case "runtime-init": // file file2 command...: a container runtime's init, as runc's
		// Its own set-up (a read), then it re-executes itself in the
		// runtime's mount namespace, as runc 1.1 does from a memfd.
		if _, err := os.ReadFile(args[0]); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		os.Setenv(testaction.Env, "runtime-init-2")
		return unix.Exec(self, append([]string{self}, args[1:]...), os.Environ())
	case "runtime-init-2": // file command...: more set-up (a read, CAP_SYS_ADMIN), then the container's command
		if _, err := os.ReadFile(args[0]); err != nil {
			return err
		}
		// The mount namespace is the calling thread's: exec from it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare the mount namespace: %w", err)
		}
		return unix.Exec(args[1], args[1:], os.Environ())
	case "iouring-open": // path: open through io_uring under a registered personality
		return ioUringOpenWithPersonality(args[0])
	case "pid-named-files": // dir otherpid: files named after its own pid and its child's, as daemons name them
		dir := args[0]
		for _, name := range []string{
			fmt.Sprintf("pg_internal.init.%d", os.Getpid()),
			fmt.Sprintf("pgsql_tmp%d.0", os.Getpid()),
			"16384",                       // a number that is no pid (a relation's file)
			"pg_internal.init." + args[1], // another process's pid
		} {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
				return err
			}
		}
		// A child names its own files, as redis' BGSAVE child does.
		self, err := os.Executable()
		if err != nil {
			return err
		}
		child := exec.Command(self, dir)
		child.Env = append(os.Environ(), testaction.Env+"=pid-named-child")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		return child.Run()
	case "pid-named-child": // dir
		return os.WriteFile(filepath.Join(args[0], fmt.Sprintf("temp-%d.rdb", os.Getpid())), nil, 0o600)
	case "open-many": // path count
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			fd, err := unix.Open(args[0], unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
	case "new-names-of-inodes": // dir: new names for inodes it opened before, as redis' AOF rewrites make them
		return newNamesOfInodes(args[0])
	case "open-distinct": // dir count: creates and opens count distinct files
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			f, err := os.Create(filepath.Join(args[0], fmt.Sprintf("f%05d", i)))
			if err != nil {
				return err
			}
			f.Close()
		}
	case "open-modes": // dir: read, write, create, truncate
		dir := args[0]
		if f, err := os.Open(filepath.Join(dir, "read")); err != nil {
			return err
		} else {
			f.Close()
		}
		if f, err := os.OpenFile(filepath.Join(dir, "write"), os.O_WRONLY, 0); err != nil {
			return err
		} else {
			f.Close()
		}
		if f, err := os.OpenFile(filepath.Join(dir, "created"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			return err
		} else {
			f.Close()
		}
		if f, err := os.OpenFile(filepath.Join(dir, "truncated"), os.O_RDWR|os.O_TRUNC, 0); err != nil {
			return err
		} else {
			f.Close()
		}
	case "openat": // dir name: openat(dirfd, name)
		dirfd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		fd, err := unix.Openat(dirfd, args[1], unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		unix.Close(fd)
		unix.Close(dirfd)
	case "openat2": // dir name: openat2(dirfd, name, {O_WRONLY|O_TRUNC})
		dirfd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		fd, err := unix.Openat2(dirfd, args[1], &unix.OpenHow{Flags: unix.O_WRONLY | unix.O_TRUNC})
		if err != nil {
			return err
		}
		unix.Close(fd)
	case "chroot-open": // root path: chroot(root), open(path)
		if err := unix.Chroot(args[0]); err != nil {
			return err
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		f.Close()
	case "chown": // path uid
		uid, _ := strconv.Atoi(args[1])
		return os.Chown(args[0], uid, -1)
	case "syslog": // expects EPERM (run with CAP_SYSLOG out of the bounding set)
		_, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_UNREAD, nil)
		if err != unix.EPERM {
			return fmt.Errorf("syslog(SIZE_UNREAD) = %v, want EPERM", err)
		}
	case "mmap": // a private writable mapping: memory accounting's no-audit CAP_SYS_ADMIN probe
		b, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return err
		}
		unix.Munmap(b)
	case "seccomp": // a filter without no_new_privs: seccomp's no-audit CAP_SYS_ADMIN probe
		allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
		prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
		runtime.LockOSThread()
		return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
	case "uname": // a native uname(2)
		var u unix.Utsname
		return unix.Uname(&u)
	case "socket-families": // socket(AF_NETLINK) and socketpair(AF_UNIX)
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		unix.Close(fd)
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		unix.Close(pair[0])
		unix.Close(pair[1])
	case "int80-getpid": // a 32-bit getpid(2) (int 0x80), where the kernel has IA32 emulation
		if int(compat32.Syscall(compat32.SysGetpid, 0, 0, 0)) != os.Getpid() {
			return errors.New("int 0x80 getpid failed")
		}
		return nil
	case "tcp-connect": // addr
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		c.Close()
	case "tcp-listen": // addr: bind and listen, as a server starts
		l, err := net.Listen("tcp4", args[0])
		if err != nil {
			return err
		}
		return l.Close()
	case "udp-send": // addr: an unconnected sendto
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer c.Close()
		to, err := net.ResolveUDPAddr("udp", args[0])
		if err != nil {
			return err
		}
		_, err = c.WriteToUDP([]byte("ping"), to)
		return err
	case "pinned-agent": // pinPath cgroupID: record the cgroup with pinned maps, say "ready", wait to be killed
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return err
		}
		mount, err := cgroupfs.Mount()
		if err != nil {
			return err
		}
		rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, PinPath: args[0]})
		if err != nil {
			return err
		}
		if err := rec.Watch(id, bpf.Watch{Kinds: bpf.AllKinds, Live: true}); err != nil {
			return err
		}
		fmt.Println("ready")
		// Not select{}: with every goroutine asleep, the runtime ends the
		// process itself ("all goroutines are asleep"), before the kill.
		for {
			time.Sleep(time.Hour)
			runtime.KeepAlive(rec)
		}
	default:
		return fmt.Errorf("unknown action")
	}
	return nil
}

// newNamesOfInodes gives files it opened new names, and opens them by those
// names with the same access as before: what redis 7 does on every AOF
// rewrite. Its child creates temp-rewriteaof-<pid>.aof, the parent renames
// it to the next base generation and deletes the generation before, whose
// inode number ext4 hands to the next rewrite's temp file at once. It also
// reads a file, renames it and reads it again, and reads it through a hard
// link. It prints each temp file's inode number.
func newNamesOfInodes(dir string) error {
	create := func(name string) (uint64, error) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return 0, err
		}
		_, err = f.WriteString("generation")
		return st.Ino, err
	}
	read := func(name string) error {
		_, err := os.ReadFile(filepath.Join(dir, name))
		return err
	}
	for gen := 1; gen <= 5; gen++ {
		ino, err := create(fmt.Sprintf("rewrite-gen%d.aof", gen))
		if err != nil {
			return err
		}
		fmt.Printf("rewrite-gen%d.aof inode %d\n", gen, ino)
		if err := os.Rename(filepath.Join(dir, fmt.Sprintf("rewrite-gen%d.aof", gen)), filepath.Join(dir, fmt.Sprintf("base-gen%d.rdb", gen))); err != nil {
			return err
		}
		if gen > 1 {
			if err := os.Remove(filepath.Join(dir, fmt.Sprintf("base-gen%d.rdb", gen-1))); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.new"), []byte("x"), 0o600); err != nil {
		return err
	}
	if err := read("config.new"); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, "config.new"), filepath.Join(dir, "config")); err != nil {
		return err
	}
	if err := read("config"); err != nil {
		return err
	}
	if err := os.Link(filepath.Join(dir, "config"), filepath.Join(dir, "config-link")); err != nil {
		return err
	}
	return read("config-link")
}
