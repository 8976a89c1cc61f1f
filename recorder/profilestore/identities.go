package profilestore

import (
	"hash/maphash"
	"slices"
	"strconv"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// identities are hashes of what a delta holds apart from its counts: one
// per entry (capability, file, connection, socket, executable, system call
// and socket family, collapse), one per source (who, where, which run,
// which images, and its lost figures), and one for the delta's header (the
// workload, the container, the command and the recording that labels the
// profile). A delta whose identities are all among those of the last delta
// written for its profile holds nothing the profile lacks but larger
// counts: the Writer holds it back for up to CountOnlyInterval.
//
// Kept sorted, 8 bytes per entry and source of the last written delta (so
// a profile of 50 entries costs 400 bytes in the Writer, and the largest
// profile the size budget lets through, 1 MiB of entries, some 10,000
// entries or 80 KiB). Two different identities share a 64-bit hash with
// odds of about n²/2⁶⁵: a new entry taken for a written one then waits for
// the next count-only write, CountOnlyInterval at most; nothing is lost.
type identities []uint64

// identitiesOf hashes what d holds apart from its counts. recording is the
// recording the write labels the profile with.
func identitiesOf(seed maphash.Seed, recording string, d *v1alpha1.ProfileSpec) identities {
	n := 1 + len(d.Capabilities) + len(d.Files) + len(d.Connections) + len(d.Sockets) + len(d.Executables) + len(d.Collapsed) + len(d.Sources)
	for _, s := range d.Syscalls {
		n += len(s.Names) + len(s.SocketFamilies)
	}
	out := make(identities, 0, n)
	var h identityHash
	h.SetSeed(seed)
	add := func() {
		out = append(out, h.Sum64())
		h.Reset()
	}

	h.field("header", recording, d.Container)
	if w := d.Workload; w != nil {
		h.field(w.APIVersion, w.Kind, w.Name)
	}
	h.field(d.Command...)
	add()
	for _, c := range d.Capabilities {
		h.field("capability", c.Name, string(c.Verdict), strconv.FormatBool(c.Probe), strconv.FormatBool(c.UserNamespace))
		add()
	}
	for _, f := range d.Files {
		// The access modes are part of a file's identity: a file read
		// before and written now is something new.
		h.field("file", f.Path, f.Filesystem, strconv.FormatBool(f.RootFilesystem))
		for _, a := range f.Access {
			h.field(string(a))
		}
		add()
	}
	for _, c := range d.Connections {
		h.field("connection", string(c.Protocol), c.Address, strconv.Itoa(int(c.Port)))
		add()
	}
	for _, s := range d.Sockets {
		r := s.SocketRule
		h.field("socket", string(r.Operation), r.Path, string(r.Family), string(r.Protocol), r.Address, strconv.Itoa(int(r.Port)))
		add()
	}
	for _, e := range d.Executables {
		h.field("executable", e.Path, strconv.FormatBool(e.Setuid), strconv.FormatBool(e.Setgid), strconv.FormatBool(e.PrivilegeGain))
		h.ints("uids", e.UIDs)
		h.ints("gids", e.GIDs)
		add()
	}
	for _, s := range d.Syscalls {
		for _, name := range s.Names {
			h.field("syscall", string(s.Arch), name)
			add()
		}
		for _, f := range s.SocketFamilies {
			h.field("socket family", string(s.Arch), f)
			add()
		}
	}
	for _, c := range d.Collapsed {
		// Entries is how many entries the glob stands for: a count.
		h.field("collapsed", c.Glob, c.Reason)
		add()
	}
	for _, s := range d.Sources {
		// LastSeen and Events grow with every snapshot of a source: its
		// counts. What it lost is not: a changed loss is news for whoever
		// reads the profile, so it is part of the identity.
		h.field("source", s.Node, s.Pod, s.Recording, s.Policy, s.Kernel, strconv.FormatInt(s.FirstSeen.UnixNano(), 10))
		for _, img := range s.Images {
			h.field(img.Name, img.Digest)
		}
		hashMap(&h, "backends", s.Backends, func(v string) string { return v })
		h.field("lost", strconv.FormatInt(s.LostRecords, 10))
		hashMap(&h, "lost by kind", s.LostByKind, func(v int64) string { return strconv.FormatInt(v, 10) })
		add()
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// within reports whether every identity of ids is in have.
func (ids identities) within(have identities) bool {
	for _, id := range ids {
		if _, ok := slices.BinarySearch(have, id); !ok {
			return false
		}
	}
	return true
}

// identityHash writes fields so that no two different field lists hash
// the same input: each field is length-prefixed.
type identityHash struct{ maphash.Hash }

func (h *identityHash) field(fields ...string) {
	for _, f := range fields {
		var n [8]byte
		h.Write(strconv.AppendInt(n[:0], int64(len(f)), 10))
		h.WriteByte(':')
		h.WriteString(f)
	}
	h.WriteByte(';')
}

func (h *identityHash) ints(name string, vs []int64) {
	h.field(name)
	for _, v := range vs {
		h.field(strconv.FormatInt(v, 10))
	}
}

// hashMap writes a map's entries in the order of their keys.
func hashMap[V any](h *identityHash, name string, m map[string]V, format func(V) string) {
	h.field(name)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.field(k, format(m[k]))
	}
}
