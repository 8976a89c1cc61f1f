package rules

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// runSeccomp runs a filter in x/net/bpf's interpreter on a seccomp_data of
// nr and arch, and returns its verdict. The interpreter loads big-endian
// words; the kernel loads seccomp_data in the host's order, so the test
// writes the fields big-endian to give the filter the same values.
func runSeccomp(t *testing.T, f SeccompFilter, arch, nr uint32) uint32 {
	t.Helper()
	return runSeccompCall(t, f, arch, nr, 0)
}

// runSeccompCall is runSeccomp with a first argument: the low 32 bits the
// filter loads of args[0] (at offset 16 on little-endian x86).
func runSeccompCall(t *testing.T, f SeccompFilter, arch, nr, arg0 uint32) uint32 {
	t.Helper()
	insns, ok := bpf.Disassemble(f)
	if !ok {
		t.Fatal("the filter holds instructions bpf.Disassemble does not know")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("the filter is not valid classic BPF: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], arch)
	binary.BigEndian.PutUint32(data[seccompDataArg0:], arg0)
	v, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

func nr(t *testing.T, arch v1alpha1.SyscallArch, name string) uint32 {
	t.Helper()
	n, ok := profiles.SyscallNumber(arch, name)
	if !ok {
		t.Fatalf("%s has no %s", arch, name)
	}
	return uint32(n)
}

const (
	allow  = seccompRetAllow
	eperm  = seccompRetErrno | errnoEPERM
	enosys = seccompRetErrno | errnoENOSYS
)

func TestSeccompAllowsTheListAndRefusesTheRest(t *testing.T) {
	list := []v1alpha1.SyscallSet{
		{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "write", "openat", "close", "exit_group", "futex", "mmap", "rt_sigreturn"}},
		{Arch: v1alpha1.ArchX86, Names: []string{"getpid", "exit_group"}},
	}
	f, err := CompileSeccomp(list, []string{"execve"}, v1alpha1.ModeEnforce)
	if err != nil {
		t.Fatal(err)
	}
	x64, i386 := v1alpha1.ArchX86_64, v1alpha1.ArchX86
	for _, tc := range []struct {
		what string
		arch uint32
		nr   uint32
		want uint32
	}{
		{"an allowed call", auditArchX86_64, nr(t, x64, "openat"), allow},
		{"the runtime's exec", auditArchX86_64, nr(t, x64, "execve"), allow},
		{"a call outside the list", auditArchX86_64, nr(t, x64, "ptrace"), eperm},
		{"clone3, so that libc falls back to clone", auditArchX86_64, nr(t, x64, "clone3"), enosys},
		{"a call newer than any the list names", auditArchX86_64, 600, enosys},
		{"an x32 call", auditArchX86_64, x32SyscallBit | nr(t, x64, "read"), eperm},
		{"an allowed 32-bit call", auditArchI386, nr(t, i386, "getpid"), allow},
		{"a 32-bit call with an allowed native call's number", auditArchI386, nr(t, x64, "mmap"), eperm},
		{"a 32-bit call outside the list", auditArchI386, nr(t, i386, "ptrace"), eperm},
		{"a call of another arch", 0xc00000b7 /* aarch64 */, 63, eperm},
	} {
		if got := runSeccomp(t, f, tc.arch, tc.nr); got != tc.want {
			t.Errorf("%s (arch %#x, nr %d): %#x, want %#x", tc.what, tc.arch, tc.nr, got, tc.want)
		}
	}
	// Without a 32-bit set, every 32-bit call is refused.
	f, err = CompileSeccomp(list[:1], nil, v1alpha1.ModeEnforce)
	if err != nil {
		t.Fatal(err)
	}
	if got := runSeccomp(t, f, auditArchI386, nr(t, i386, "getpid")); got != eperm {
		t.Errorf("a 32-bit call without a 32-bit set: %#x, want EPERM", got)
	}
}

func TestSeccompInAuditModeLogsAndAllowsWhatItWouldRefuse(t *testing.T) {
	f, err := CompileSeccomp([]v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read"}}}, nil, v1alpha1.ModeAudit)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ptrace", "clone3"} {
		if got := runSeccomp(t, f, auditArchX86_64, nr(t, v1alpha1.ArchX86_64, name)); got != seccompRetLog {
			t.Errorf("%s in audit mode: %#x, want SECCOMP_RET_LOG", name, got)
		}
	}
	if got := runSeccomp(t, f, auditArchX86_64, nr(t, v1alpha1.ArchX86_64, "read")); got != allow {
		t.Errorf("read in audit mode: %#x, want allow", got)
	}
}

// TestSeccompMatchesTheListForRandomLists checks the search tree against
// the list itself: every number of the arch, for lists of every size.
func TestSeccompMatchesTheListForRandomLists(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x64 := v1alpha1.ArchX86_64
	var names []string
	for n := 0; n < 460; n++ {
		if name, ok := profiles.SyscallName(x64, n); ok {
			names = append(names, name)
		}
	}
	clone3 := nr(t, x64, "clone3")
	for round := 0; round < 40; round++ {
		size := r.IntN(len(names)) + 1
		picked := slices.Clone(names)
		r.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
		picked = picked[:size]
		f, err := CompileSeccomp([]v1alpha1.SyscallSet{{Arch: x64, Names: picked}}, nil, v1alpha1.ModeEnforce)
		if err != nil {
			t.Fatalf("%d calls: %v", size, err)
		}
		allowed := map[uint32]bool{}
		var max uint32
		for _, name := range slices.Concat(picked, profiles.SyscallCompanionsOf(v1alpha1.SyscallSet{Arch: x64, Names: picked})) {
			n := nr(t, x64, name)
			allowed[n], max = true, maxOf(max, n)
		}
		for n := uint32(0); n < 520; n++ {
			want := uint32(eperm)
			switch {
			case allowed[n]:
				want = allow
			case n > max || n == clone3:
				want = enosys
			}
			if got := runSeccomp(t, f, auditArchX86_64, n); got != want {
				t.Fatalf("%d allowed calls, nr %d: %#x, want %#x", size, n, got, want)
			}
		}
	}
}

func maxOf(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

func TestSeccompRefusesUnknownNames(t *testing.T) {
	_, err := CompileSeccomp([]v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "opne"}}}, nil, v1alpha1.ModeEnforce)
	if err == nil || !strings.Contains(err.Error(), `spec.syscalls.allow[0].names[1]: Invalid value: "opne"`) {
		t.Errorf("error %v, want the bad name and its field", err)
	}
	_, err = CompileSeccomp([]v1alpha1.SyscallSet{{Arch: "ARM", Names: []string{"read"}}}, nil, v1alpha1.ModeEnforce)
	if err == nil || !strings.Contains(err.Error(), "spec.syscalls.allow[0].arch") {
		t.Errorf("error %v, want the unknown ABI named", err)
	}
}

func TestSeccompAllowsSocketsOnlyOfTheRecordedFamilies(t *testing.T) {
	const afUnix, afInet, afNetlink, afPacket, afVsock = 1, 2, 16, 17, 40
	x64, i386 := v1alpha1.ArchX86_64, v1alpha1.ArchX86
	list := []v1alpha1.SyscallSet{
		{Arch: x64, Names: []string{"close", "read", "socket", "socketpair"}, SocketFamilies: []string{"AF_INET", "AF_UNIX"}},
		{Arch: i386, Names: []string{"socket", "socketcall"}, SocketFamilies: []string{"AF_NETLINK"}},
	}
	f, err := CompileSeccomp(list, nil, v1alpha1.ModeEnforce)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := CompileSeccomp(list, nil, v1alpha1.ModeAudit)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded without families: socket with any family, as before.
	older, err := CompileSeccomp([]v1alpha1.SyscallSet{{Arch: x64, Names: []string{"socket"}}}, nil, v1alpha1.ModeEnforce)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what           string
		filter         SeccompFilter
		arch, nr, arg0 uint32
		want           uint32
	}{
		{"socket of a recorded family", f, auditArchX86_64, nr(t, x64, "socket"), afInet, allow},
		{"socketpair of a recorded family", f, auditArchX86_64, nr(t, x64, "socketpair"), afUnix, allow},
		{"socket of AF_PACKET", f, auditArchX86_64, nr(t, x64, "socket"), afPacket, eperm},
		{"socket of AF_VSOCK", f, auditArchX86_64, nr(t, x64, "socket"), afVsock, eperm},
		{"socketpair of a family recorded only for 32-bit calls", f, auditArchX86_64, nr(t, x64, "socketpair"), afNetlink, eperm},
		{"socket of AF_UNSPEC", f, auditArchX86_64, nr(t, x64, "socket"), 0, eperm},
		{"another call whatever its first argument", f, auditArchX86_64, nr(t, x64, "read"), afPacket, allow},
		{"a 32-bit socket of its ABI's family", f, auditArchI386, nr(t, i386, "socket"), afNetlink, allow},
		{"a 32-bit socket of a native family", f, auditArchI386, nr(t, i386, "socket"), afInet, eperm},
		// Numbered above any call the list names: ENOSYS, as any such.
		{"a 32-bit socketpair, not recorded", f, auditArchI386, nr(t, i386, "socketpair"), afNetlink, enosys},
		{"socketcall, allowed as a whole", f, auditArchI386, nr(t, i386, "socketcall"), 1 /* SYS_SOCKET */, allow},
		{"in Audit mode a family outside the list is logged", audit, auditArchX86_64, nr(t, x64, "socket"), afPacket, seccompRetLog},
		{"a profile recorded without families allows any", older, auditArchX86_64, nr(t, x64, "socket"), afPacket, allow},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if got := runSeccompCall(t, tc.filter, tc.arch, tc.nr, tc.arg0); got != tc.want {
				t.Errorf("verdict %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestSeccompRefusesUnknownFamilies(t *testing.T) {
	_, err := CompileSeccomp([]v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"socket"}, SocketFamilies: []string{"AF_INET", "AF_BOGUS"}}}, nil, v1alpha1.ModeEnforce)
	if err == nil || !strings.Contains(err.Error(), "AF_BOGUS") || !strings.Contains(err.Error(), "socketFamilies") {
		t.Fatalf("err = %v, want one naming AF_BOGUS and the field", err)
	}
}

// The reporter's allow-list must say exactly what the filter lets through:
// a call it calls allowed is never refused, and one it reports is refused
// (clone3 too, with ENOSYS, for libc to fall back).
func TestTheReportersAllowListAgreesWithTheFilter(t *testing.T) {
	for _, tc := range []struct {
		set      v1alpha1.SyscallSet
		extra    []string
		families []uint32
	}{
		{v1alpha1.SyscallSet{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "socket", "exit_group", "io_uring_setup"}, SocketFamilies: []string{"AF_INET", "AF_UNIX"}},
			profiles.RuntimeSyscalls, []uint32{1, 2}},
		// socketcall takes its family in memory: not restricted.
		{v1alpha1.SyscallSet{Arch: v1alpha1.ArchX86, Names: []string{"read", "socketcall", "exit_group"}}, nil, nil},
	} {
		sets := []v1alpha1.SyscallSet{tc.set}
		filter, err := CompileSeccomp(sets, tc.extra, v1alpha1.ModeEnforce)
		if err != nil {
			t.Fatal(err)
		}
		list, err := CompileSyscallAllowList(sets, tc.extra)
		if err != nil {
			t.Fatal(err)
		}
		if got := list[tc.set.Arch].Families; !slices.Equal(got, tc.families) {
			t.Errorf("%s families %v, want %v", tc.set.Arch, got, tc.families)
		}
		for arch, audit := range auditArch {
			for nr := uint32(0); nr < 512; nr++ {
				_, has := list[arch]
				allowed := has && slices.Contains(list[arch].Numbers, nr)
				if name, _ := profiles.SyscallName(arch, int(nr)); allowed && list[arch].Families != nil && slices.Contains(profiles.SocketFamilyCalls, name) {
					continue // decided by its family: below
				}
				if verdict := runSeccomp(t, filter, audit, nr); allowed != (verdict == seccompRetAllow) {
					t.Errorf("%s call %d: the reporter says allowed %v, the filter %#x", arch, nr, allowed, verdict)
				}
			}
		}
		socket, ok := profiles.SyscallNumber(tc.set.Arch, "socket")
		if !ok || !slices.Contains(tc.set.Names, "socket") {
			continue
		}
		for family := uint32(0); family < 64; family++ {
			allowed := slices.Contains(tc.families, family)
			if verdict := runSeccompCall(t, filter, auditArch[tc.set.Arch], uint32(socket), family); allowed != (verdict == seccompRetAllow) {
				t.Errorf("socket(%d): the reporter says allowed %v, the filter %#x", family, allowed, verdict)
			}
		}
	}
}

// A 32-bit set compiles with the runtime's calls, which are native: the
// i386 ABI allows only what the workload made through it and its
// companions.
func TestA32BitSetGetsNoneOfTheRuntimesCalls(t *testing.T) {
	i386 := v1alpha1.ArchX86
	sets := []v1alpha1.SyscallSet{
		{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "exit_group"}},
		{Arch: i386, Names: []string{"read", "mmap2", "exit_group"}},
	}
	list, err := CompileSyscallAllowList(sets, profiles.RuntimeSyscalls)
	if err != nil {
		t.Fatalf("a policy with a 32-bit set: %v", err)
	}
	want := slices.Concat(sets[1].Names, profiles.SyscallCompanionsOf(sets[1]))
	if got := list[i386].Numbers; len(got) != len(want) {
		var names []string
		for _, n := range got {
			name, _ := profiles.SyscallName(i386, int(n))
			names = append(names, name)
		}
		t.Errorf("i386 allows %v, want only %v", names, want)
	}
	if !slices.Contains(list[v1alpha1.ArchX86_64].Numbers, nr(t, v1alpha1.ArchX86_64, "execve")) {
		t.Error("x86_64 does not allow the runtime's execve")
	}
}
