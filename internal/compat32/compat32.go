// Package compat32 makes 32-bit system calls from a 64-bit process (int
// 0x80), for tests of what footprint records and refuses of that ABI: a
// side door to seccomp profiles and allow-lists written for the native one.
package compat32

// Syscall makes system call nr of the i386 ABI with three arguments and
// returns the kernel's raw result (a negative errno on failure).
func Syscall(nr, a1, a2, a3 uintptr) uintptr

// The i386 numbers of some system calls.
const (
	SysGetpid = 20
	SysUname  = 122
)
