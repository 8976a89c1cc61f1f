package rules

import (
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Seccomp return values (linux/seccomp.h) and the errno values refused
// calls get.
const (
	seccompRetAllow = 0x7fff0000
	seccompRetLog   = 0x7ffc0000
	seccompRetErrno = 0x00050000
	errnoEPERM      = 1
	errnoENOSYS     = 38
)

// Audit architectures (linux/audit.h): what seccomp_data.arch holds.
const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
	// x32SyscallBit marks x32 system calls, which share x86-64's arch.
	x32SyscallBit = 0x40000000
)

var auditArch = map[v1alpha1.SyscallArch]uint32{
	v1alpha1.ArchX86_64: auditArchX86_64,
	v1alpha1.ArchX86:    auditArchI386,
}

// Offsets in struct seccomp_data (args[0]'s low 32 bits on little-endian
// x86).
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArg0 = 16
)

// SeccompFilter is a compiled seccomp allow-list: classic BPF, as
// seccomp(2) loads it.
type SeccompFilter []bpf.RawInstruction

// Bytes is the filter as seccomp(2) reads it: struct sock_filter
// instructions in native byte order; nil for no filter.
func (f SeccompFilter) Bytes() []byte {
	if f == nil {
		return nil
	}
	out := make([]byte, 0, 8*len(f))
	for _, in := range f {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out
}

// seccompLeaf is how many numbers a leaf of the search tree compares one by
// one: small leaves keep every conditional jump short (cBPF's conditional
// jumps reach 255 instructions).
const seccompLeaf = 6

// CompileSeccomp compiles a policy's system call allow-list into a seccomp
// filter, the way runc compiles an OCI profile: the allowed calls and
// extra (what must run after the filter is installed, e.g. execve) are
// allowed; clone3, where not allowed, fails with ENOSYS so that libc falls
// back to clone, as do calls numbered above any the list names (newer than
// it knows); every other call, and every call of an ABI the list has no
// set for (x32 included), fails with EPERM. Where a set has socket
// families, socket and socketpair are allowed only with one of them as
// their first argument (its low 32 bits: the kernel reads an int) and fail
// with EPERM otherwise, like any call the list does not allow: EPERM says
// "not allowed here", where EAFNOSUPPORT would tell a program the kernel
// lacks the family, which is not true and may send it down a fallback
// path that hides the refusal. In Audit mode nothing fails: what the list
// does not allow is logged (SECCOMP_RET_LOG) and allowed.
//
// A number is found in a binary search tree: about log2(n) comparisons.
func CompileSeccomp(allow []v1alpha1.SyscallSet, extra []string, mode v1alpha1.EnforcementMode) (SeccompFilter, error) {
	list, err := CompileSyscallAllowList(allow, extra)
	if err != nil {
		return nil, err
	}
	deny := uint32(seccompRetErrno | errnoEPERM)
	enosys := uint32(seccompRetErrno | errnoENOSYS)
	if mode != v1alpha1.ModeEnforce {
		deny, enosys = seccompRetLog, seccompRetLog
	}
	var prog []bpf.Instruction
	prog = append(prog, bpf.LoadAbsolute{Off: seccompDataArch, Size: 4})
	for _, set := range allow { // in the policy's order (an ABI once: validated)
		block := archBlock(set.Arch, list[set.Arch].Numbers, list[set.Arch].Families, deny, enosys)
		// This arch: into the block; another: over it, to the next
		// test (A still holds the arch, as the block is not run).
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch[set.Arch], SkipTrue: 1}, bpf.Jump{Skip: uint32(len(block))})
		prog = append(prog, block...)
	}
	prog = append(prog, bpf.RetConstant{Val: deny})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble the seccomp filter: %w", err)
	}
	if len(raw) > 4096 {
		return nil, fmt.Errorf("the seccomp filter has %d instructions, more than the kernel's 4096", len(raw))
	}
	return raw, nil
}

// SyscallAllowList is what a policy's seccomp filter lets through, per ABI,
// in the form footprint's reporter checks calls against (the filter itself
// says nothing to footprint). An ABI without a set allows nothing.
type SyscallAllowList map[v1alpha1.SyscallArch]SyscallsAllowed

// SyscallsAllowed are one ABI's allowed calls.
type SyscallsAllowed struct {
	// Numbers are the allowed calls, sorted: the set's and what must run
	// after the filter is installed. Every other call is refused, clone3
	// and calls newer than the list with ENOSYS (libc falls back to
	// clone), and reported as such.
	Numbers []uint32
	// Families are the address families socket and socketpair are
	// restricted to, sorted; nil for any.
	Families []uint32
}

// CompileSyscallAllowList validates a policy's system call sets and
// compiles the allow-list CompileSeccomp's filter enforces (for footprint's
// reporter, and for the filter itself): each set's calls, their companions
// (profiles.SyscallCompanionsOf), and, for the native ABI, extra (what must
// run after the filter is installed).
func CompileSyscallAllowList(allow []v1alpha1.SyscallSet, extra []string) (SyscallAllowList, error) {
	if errs := profiles.ValidateSyscalls(allow, field.NewPath("spec", "syscalls", "allow")); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	out := SyscallAllowList{}
	for _, set := range allow {
		names := slices.Concat(set.Names, profiles.SyscallCompanionsOf(set))
		if set.Arch == profiles.SyscallArches[0] {
			// The runtime and footprint's shim are native programs: a
			// 32-bit ABI gets only what the workload made through it.
			names = append(names, extra...)
		}
		numbers, err := syscallNumbers(set.Arch, names)
		if err != nil {
			return nil, err
		}
		families, err := familyNumbers(set)
		if err != nil {
			return nil, err
		}
		out[set.Arch] = SyscallsAllowed{Numbers: numbers, Families: families}
	}
	return out, nil
}

func syscallNumbers(arch v1alpha1.SyscallArch, names []string) ([]uint32, error) {
	var out []uint32
	for _, name := range names {
		nr, ok := profiles.SyscallNumber(arch, name)
		if !ok {
			return nil, fmt.Errorf("%s has no system call %q", arch, name)
		}
		out = append(out, uint32(nr))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// familyNumbers are the families a set restricts socket and socketpair to,
// sorted: nil when it allows neither, or either with any family (recorded
// without families).
func familyNumbers(set v1alpha1.SyscallSet) ([]uint32, error) {
	var out []uint32
	for _, name := range set.SocketFamilies {
		nr, ok := profiles.SocketFamilyNumber(name)
		if !ok {
			return nil, fmt.Errorf("%s: no address family %q", set.Arch, name)
		}
		out = append(out, uint32(nr))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// familyCheck allows socket and socketpair (those of calls that are in
// allowed) only with one of families as their first argument; the other
// calls go on past it with A still holding their number.
func familyCheck(arch v1alpha1.SyscallArch, allowed, families []uint32, deny uint32) []bpf.Instruction {
	var calls []uint32
	for _, name := range profiles.SocketFamilyCalls {
		if nr, ok := profiles.SyscallNumber(arch, name); ok && slices.Contains(allowed, uint32(nr)) {
			calls = append(calls, uint32(nr))
		}
	}
	if len(families) == 0 || len(calls) == 0 {
		return nil
	}
	check := []bpf.Instruction{bpf.LoadAbsolute{Off: seccompDataArg0, Size: 4}}
	for i, f := range families {
		// On a match, skip the other comparisons and the deny.
		check = append(check, bpf.JumpIf{Cond: bpf.JumpEqual, Val: f, SkipTrue: uint8(len(families) - i)})
	}
	check = append(check, bpf.RetConstant{Val: deny}, bpf.RetConstant{Val: seccompRetAllow})
	var out []bpf.Instruction
	for i, nr := range calls {
		// This call: into the check, past the other tests and the jump over it.
		out = append(out, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: uint8(len(calls) - i)})
	}
	out = append(out, bpf.Jump{Skip: uint32(len(check))})
	return append(out, check...)
}

// archBlock decides the calls of one ABI. It starts by loading the call's
// number and ends in returns only.
func archBlock(arch v1alpha1.SyscallArch, allowed, families []uint32, deny, enosys uint32) []bpf.Instruction {
	block := []bpf.Instruction{bpf.LoadAbsolute{Off: seccompDataNr, Size: 4}}
	if arch == v1alpha1.ArchX86_64 {
		// x32's calls carry their own bit on x86-64's arch.
		block = append(block, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32SyscallBit, SkipFalse: 1}, bpf.RetConstant{Val: deny})
	}
	if len(allowed) > 0 {
		// Newer than any call the list names: ENOSYS, as runc does.
		block = append(block, bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: allowed[len(allowed)-1], SkipFalse: 1}, bpf.RetConstant{Val: enosys})
	}
	if nr, ok := profiles.SyscallNumber(arch, "clone3"); ok && !slices.Contains(allowed, uint32(nr)) {
		block = append(block, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr), SkipFalse: 1}, bpf.RetConstant{Val: enosys})
	}
	block = append(block, familyCheck(arch, allowed, families, deny)...)
	return append(block, searchTree(allowed, deny)...)
}

// searchTree allows the numbers of a sorted list and returns deny for any
// other: a binary search whose inner nodes jump with ja (no reach limit) and
// whose leaves compare a few numbers each.
func searchTree(numbers []uint32, deny uint32) []bpf.Instruction {
	if len(numbers) <= seccompLeaf {
		var leaf []bpf.Instruction
		for i, nr := range numbers {
			// On a match, skip the other comparisons and the deny.
			leaf = append(leaf, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: uint8(len(numbers) - i)})
		}
		return append(leaf, bpf.RetConstant{Val: deny}, bpf.RetConstant{Val: seccompRetAllow})
	}
	mid := len(numbers) / 2
	low, high := searchTree(numbers[:mid], deny), searchTree(numbers[mid:], deny)
	// A above the low half's last number: on to the high half.
	node := []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: numbers[mid-1], SkipFalse: 1},
		bpf.Jump{Skip: uint32(len(low))},
	}
	return slices.Concat(node, low, high)
}
