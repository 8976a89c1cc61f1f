package recorder

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// truncatedPathPrefix marks a path whose leading components did not fit in
// the kernel's buffer: what follows is its tail. It can never be mistaken for
// a real absolute path.
const truncatedPathPrefix = "…"

// BuildSpec folds swept kernel entries (from any number of cgroups) into the
// entries of a profile: one capability entry per capability, verdict and
// kind of check; one file entry per path with every access seen; one
// connection per protocol, address and port; one executable per path.
// Entries that a profile cannot express are described in notes.
func BuildSpec(entries []bpf.Entry) (spec v1alpha1.ProfileSpec, notes []string) {
	type capKey struct {
		name              string
		denied, probe, ns bool
	}
	caps := map[capKey]*v1alpha1.CapabilityEntry{}
	files := map[string]*v1alpha1.FileEntry{}
	fileAccess := map[string]bpf.Access{}
	// Paths the kernel resolved, and the root-mount guesses for the names
	// the syscall tracepoints saw (bpf.FileOpen.Lexical).
	resolved := map[string]bool{}
	lexicalRootFS := map[string]bool{}
	type connKey struct {
		proto v1alpha1.Protocol
		addr  string
		port  int32
	}
	conns := map[connKey]*v1alpha1.ConnectionEntry{}
	sockets := map[v1alpha1.SocketRule]*v1alpha1.SocketEntry{}
	execs := map[string]*v1alpha1.ExecutableEntry{}
	syscalls := map[v1alpha1.SyscallArch]map[string]bool{}
	unknownSyscalls := map[v1alpha1.SyscallArch]map[int]bool{}
	families := map[v1alpha1.SyscallArch]map[string]bool{}
	unknownFamilies := map[v1alpha1.SyscallArch]map[int]bool{}
	skippedProtocols := map[uint8]int64{}
	truncated := 0

	for _, e := range entries {
		count := int64(e.Count)
		switch {
		case e.Capability != nil:
			c := e.Capability
			k := capKey{profiles.CapabilityName(c.Cap), c.Denied, c.NoAudit, c.UserNamespace}
			entry := caps[k]
			if entry == nil {
				verdict := v1alpha1.VerdictGranted
				if c.Denied {
					verdict = v1alpha1.VerdictDenied
				}
				entry = &v1alpha1.CapabilityEntry{Name: k.name, Verdict: verdict, Probe: c.NoAudit, UserNamespace: c.UserNamespace}
				caps[k] = entry
			}
			entry.Count += count
		case e.File != nil:
			f := e.File
			path := f.Path
			if f.Truncated {
				path = truncatedPathPrefix + path
				truncated++
			}
			entry := files[path]
			if entry == nil {
				entry = &v1alpha1.FileEntry{Path: path}
				files[path] = entry
			}
			if f.Lexical {
				lexicalRootFS[path] = lexicalRootFS[path] || f.RootFS
			} else {
				if entry.Filesystem == "" {
					entry.Filesystem = filesystemName(f.FSMagic)
				}
				entry.RootFilesystem = entry.RootFilesystem || f.RootFS
				resolved[path] = true
			}
			entry.Count += count
			fileAccess[path] |= f.Access
		case e.Connect != nil:
			c := e.Connect
			proto, ok := protocolName(c.Protocol)
			if !ok {
				skippedProtocols[c.Protocol] += count
				continue
			}
			k := connKey{proto, c.Addr.String(), int32(c.Port)}
			entry := conns[k]
			if entry == nil {
				entry = &v1alpha1.ConnectionEntry{Protocol: proto, Address: k.addr, Port: k.port}
				conns[k] = entry
			}
			entry.Count += count
		case e.Exec != nil:
			x := e.Exec
			path := x.Path
			if x.Script {
				path = filepath.Clean(path)
			}
			if x.Truncated {
				path = truncatedPathPrefix + path
				truncated++
			}
			entry := execs[path]
			if entry == nil {
				entry = &v1alpha1.ExecutableEntry{Path: path}
				execs[path] = entry
			}
			entry.Setuid = entry.Setuid || x.Setuid
			entry.Setgid = entry.Setgid || x.Setgid
			entry.PrivilegeGain = entry.PrivilegeGain || x.Secure
			entry.UIDs = addID(entry.UIDs, int64(x.UID))
			entry.GIDs = addID(entry.GIDs, int64(x.GID))
			entry.Count += count
		case e.Socket != nil:
			r, ok := socketRule(e.Socket)
			if !ok {
				continue
			}
			entry := sockets[r]
			if entry == nil {
				entry = &v1alpha1.SocketEntry{SocketRule: r}
				sockets[r] = entry
			}
			entry.Count += count
		case e.Syscalls != nil:
			for arch, numbers := range map[v1alpha1.SyscallArch][]int{v1alpha1.ArchX86_64: e.Syscalls.Native, v1alpha1.ArchX86: e.Syscalls.Compat} {
				for _, nr := range numbers {
					name, ok := profiles.SyscallName(arch, nr)
					if !ok {
						if unknownSyscalls[arch] == nil {
							unknownSyscalls[arch] = map[int]bool{}
						}
						unknownSyscalls[arch][nr] = true
						continue
					}
					if syscalls[arch] == nil {
						syscalls[arch] = map[string]bool{}
					}
					syscalls[arch][name] = true
				}
			}
			for arch, numbers := range map[v1alpha1.SyscallArch][]int{v1alpha1.ArchX86_64: e.Syscalls.NativeFamilies, v1alpha1.ArchX86: e.Syscalls.CompatFamilies} {
				for _, nr := range numbers {
					name, ok := profiles.SocketFamilyName(nr)
					if !ok {
						if unknownFamilies[arch] == nil {
							unknownFamilies[arch] = map[int]bool{}
						}
						unknownFamilies[arch][nr] = true
						continue
					}
					if families[arch] == nil {
						families[arch] = map[string]bool{}
					}
					families[arch][name] = true
				}
			}
		}
	}

	for _, c := range caps {
		spec.Capabilities = append(spec.Capabilities, *c)
	}
	slices.SortFunc(spec.Capabilities, func(a, b v1alpha1.CapabilityEntry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Verdict, b.Verdict),
			boolCompare(a.Probe, b.Probe), boolCompare(a.UserNamespace, b.UserNamespace))
	})
	inferRootFilesystem(files, resolved, lexicalRootFS)
	for path, f := range files {
		for _, name := range fileAccess[path].Names() {
			f.Access = append(f.Access, v1alpha1.FileAccessMode(name))
		}
		spec.Files = append(spec.Files, *f)
	}
	slices.SortFunc(spec.Files, func(a, b v1alpha1.FileEntry) int { return cmp.Compare(a.Path, b.Path) })
	for _, c := range conns {
		spec.Connections = append(spec.Connections, *c)
	}
	slices.SortFunc(spec.Connections, func(a, b v1alpha1.ConnectionEntry) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	for _, s := range sockets {
		spec.Sockets = append(spec.Sockets, *s)
	}
	slices.SortFunc(spec.Sockets, func(a, b v1alpha1.SocketEntry) int { return profiles.CompareSocketRules(a.SocketRule, b.SocketRule) })
	for _, x := range execs {
		spec.Executables = append(spec.Executables, *x)
	}
	slices.SortFunc(spec.Executables, func(a, b v1alpha1.ExecutableEntry) int { return cmp.Compare(a.Path, b.Path) })
	for _, arch := range profiles.SyscallArches {
		if len(syscalls[arch]) > 0 {
			spec.Syscalls = append(spec.Syscalls, v1alpha1.SyscallSet{Arch: arch, Names: slices.Sorted(maps.Keys(syscalls[arch])),
				SocketFamilies: slices.Sorted(maps.Keys(families[arch]))})
		}
		if n := len(unknownFamilies[arch]); n > 0 {
			notes = append(notes, fmt.Sprintf("%d %s socket families are not in the profile: footprint's table has no name for numbers %v", n, arch, slices.Sorted(maps.Keys(unknownFamilies[arch]))))
		}
		if n := len(unknownSyscalls[arch]); n > 0 {
			notes = append(notes, fmt.Sprintf("%d %s system calls are not in the profile: footprint's table has no name for numbers %v", n, arch, slices.Sorted(maps.Keys(unknownSyscalls[arch]))))
		}
	}

	for proto, n := range skippedProtocols {
		notes = append(notes, fmt.Sprintf("%d sends over IP protocol %d are not in the profile: profiles hold TCP, UDP and SCTP destinations", n, proto))
	}
	if truncated > 0 {
		notes = append(notes, fmt.Sprintf("%d paths were too long or too deep to record whole; they start with %q and keep their last components", truncated, truncatedPathPrefix))
	}
	slices.Sort(notes)
	return spec, notes
}

func protocolName(p uint8) (v1alpha1.Protocol, bool) {
	switch p {
	case 6:
		return v1alpha1.ProtocolTCP, true
	case 17:
		return v1alpha1.ProtocolUDP, true
	case 132:
		return v1alpha1.ProtocolSCTP, true
	}
	return "", false
}

func addID(ids []int64, id int64) []int64 {
	if i, found := slices.BinarySearch(ids, id); !found {
		ids = slices.Insert(ids, i, id)
	}
	return ids
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// ProfileName turns a command into a Kubernetes object name: the program's
// base name, lower-case, with anything but letters, digits, '-' and '.'
// replaced.
func ProfileName(command []string) string {
	name := "command"
	if len(command) > 0 {
		name = filepath.Base(command[0])
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		out = "command"
	}
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-.")
	}
	return out
}

// inferRootFilesystem decides RootFilesystem for the paths only the syscall
// tracepoints saw, whose mount the kernel did not tell: it is that of the
// nearest directory with a resolved entry at or below it (an open of
// /data/a tells where /data/b lives), and otherwise the kernel's guess, which
// errs on the root filesystem's side.
func inferRootFilesystem(files map[string]*v1alpha1.FileEntry, resolved, lexicalRootFS map[string]bool) {
	dirs := map[string]bool{}
	for path := range resolved {
		rootFS := files[path].RootFilesystem
		for _, d := range []string{path, filepath.Dir(path)} {
			if prev, ok := dirs[d]; ok {
				rootFS = rootFS || prev
			}
			dirs[d] = rootFS
		}
	}
	for path, guess := range lexicalRootFS {
		if resolved[path] {
			continue
		}
		rootFS := guess
		for d := filepath.Dir(path); ; d = filepath.Dir(d) {
			if known, ok := dirs[d]; ok {
				rootFS = known
				break
			}
			if d == "/" || d == "." {
				break
			}
		}
		files[path].RootFilesystem = rootFS
	}
}
