package recorder

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioUringOpenWithPersonality opens path for reading through io_uring, under
// credentials registered as a personality and then left behind by a
// capset: the kernel runs the open with credentials that are no longer the
// task's own (override_creds), but are of its own making. The kernel's
// io_uring ABI is used directly; x/sys/unix has no wrapper.
func ioUringOpenWithPersonality(path string) error {
	var params [120]byte // struct io_uring_params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return fmt.Errorf("io_uring_setup: %w", errno)
	}
	defer unix.Close(int(fd))
	u32 := func(off int) uint32 { return *(*uint32)(unsafe.Pointer(&params[off])) }
	sqEntries, cqEntries := u32(0), u32(4)
	// struct io_sqring_offsets at 40, struct io_cqring_offsets at 80.
	sqTail, sqMask, sqArray := u32(40+4), u32(40+8), u32(40+24)
	cqHead, cqTail, cqMask, cqCQEs := u32(80+0), u32(80+4), u32(80+8), u32(80+20)

	sq, err := unix.Mmap(int(fd), 0, int(sqArray+sqEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap the submission ring: %w", err)
	}
	defer unix.Munmap(sq)
	cq, err := unix.Mmap(int(fd), 0x8000000, int(cqCQEs+cqEntries*16), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap the completion ring: %w", err)
	}
	defer unix.Munmap(cq)
	sqes, err := unix.Mmap(int(fd), 0x10000000, int(sqEntries*64), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap the submission entries: %w", err)
	}
	defer unix.Munmap(sqes)

	const registerPersonality = 9 // IORING_REGISTER_PERSONALITY
	personality, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, fd, registerPersonality, 0, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("register a personality: %w", errno)
	}
	// The same capabilities again: commit_creds makes new credentials,
	// so the personality's are no longer the task's own.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}

	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	sqe := sqes[:64]
	clear(sqe)
	sqe[0] = 18                                                                  // IORING_OP_OPENAT
	*(*int32)(unsafe.Pointer(&sqe[4])) = unix.AT_FDCWD                           // fd
	*(*uint64)(unsafe.Pointer(&sqe[16])) = uint64(uintptr(unsafe.Pointer(name))) // addr
	*(*uint32)(unsafe.Pointer(&sqe[28])) = unix.O_RDONLY | unix.O_CLOEXEC        // open_flags
	*(*uint16)(unsafe.Pointer(&sqe[42])) = uint16(personality)                   // personality
	tail := (*uint32)(unsafe.Pointer(&sq[sqTail]))
	mask := *(*uint32)(unsafe.Pointer(&sq[sqMask]))
	t := atomic.LoadUint32(tail)
	*(*uint32)(unsafe.Pointer(&sq[sqArray+4*(t&mask)])) = 0
	atomic.StoreUint32(tail, t+1)

	const enterGetEvents = 1 // IORING_ENTER_GETEVENTS
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, 1, 1, enterGetEvents, 0, 0); errno != 0 {
		return fmt.Errorf("io_uring_enter: %w", errno)
	}
	head := (*uint32)(unsafe.Pointer(&cq[cqHead]))
	h := atomic.LoadUint32(head)
	if h == atomic.LoadUint32((*uint32)(unsafe.Pointer(&cq[cqTail]))) {
		return fmt.Errorf("io_uring: no completion")
	}
	cmask := *(*uint32)(unsafe.Pointer(&cq[cqMask]))
	res := *(*int32)(unsafe.Pointer(&cq[cqCQEs+16*(h&cmask)+8]))
	atomic.StoreUint32(head, h+1)
	if res < 0 {
		return fmt.Errorf("io_uring openat %s: %w", path, unix.Errno(-res))
	}
	return unix.Close(int(res))
}
