package profilestore

import (
	"hash/maphash"
	"slices"
	"strconv"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// identities are hashes of what a delta holds apart from its counts: one
// per entry (capability, connection, socket, collapse), per file and each
// of its access modes, per executable and each user and group it ran as,
// per system call and socket family, per source (who, where, which run),
// each of its images and its lost figures, and one for the delta's header
// (the workload, the container, the command and the recording that labels
// the profile). What merging unions (a file's access modes, a source's
// images) is hashed one element at a time, so that a snapshot holding part
// of what was written is not taken for new. A delta whose identities are
// all among those of the last delta written for its profile holds nothing
// the profile lacks but larger counts: the Writer holds it back for up to
// CountOnlyInterval.
//
// Kept sorted, 8 bytes per identity of the last written delta: a profile of
// 50 entries costs about 400-800 bytes in the Writer, and the largest the
// size budget lets through (1 MiB of entries, some 10,000) about 80-160
// KiB. Two different identities share a 64-bit hash with odds of about
// n²/2⁶⁵: a new entry taken for a written one then waits for the next
// count-only write, CountOnlyInterval at most; nothing is lost.
type identities []uint64

// identitiesOf hashes what d holds apart from its counts. recording is the
// recording the write labels the profile with.
func identitiesOf(seed maphash.Seed, recording string, d *v1alpha1.ProfileSpec) identities {
	n := 1 + len(d.Capabilities) + len(d.Connections) + len(d.Sockets) + len(d.Collapsed)
	for _, f := range d.Files {
		n += 1 + len(f.Access)
	}
	for _, e := range d.Executables {
		n += 1 + len(e.UIDs) + len(e.GIDs)
	}
	for _, s := range d.Syscalls {
		n += len(s.Names) + len(s.SocketFamilies)
	}
	for _, s := range d.Sources {
		n += 2 + len(s.Images)
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
		// Each access mode apart: a file read before and written now is
		// something new.
		h.field("file", f.Path, f.Filesystem, strconv.FormatBool(f.RootFilesystem))
		add()
		for _, a := range f.Access {
			h.field("file access", f.Path, string(a))
			add()
		}
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
		add()
		for _, id := range e.UIDs {
			h.field("executable uid", e.Path, strconv.FormatInt(id, 10))
			add()
		}
		for _, id := range e.GIDs {
			h.field("executable gid", e.Path, strconv.FormatInt(id, 10))
			add()
		}
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
		// The glob alone: Entries is how many entries it stands for, a
		// count, and a reason may say it again ("12 entries seen
		// there"); what the glob allows is in its file entry.
		h.field("collapsed", c.Glob)
		add()
	}
	for _, s := range d.Sources {
		// LastSeen and Events grow with every snapshot of a source: its
		// counts. What it lost is not: a changed loss is news for whoever
		// reads the profile, so it is part of the identity.
		who := []string{"source", s.Node, s.Pod, s.Recording, s.Policy, strconv.FormatInt(s.FirstSeen.UnixNano(), 10)}
		h.field(who...)
		h.field(s.Kernel)
		hashMap(&h, "backends", s.Backends, func(v string) string { return v })
		add()
		for _, img := range s.Images {
			h.field(who...)
			h.field("image", img.Name, img.Digest)
			add()
		}
		h.field(who...)
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
