package bpf

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// A pinned map's sizes say little about what its entries mean: a version
// that swaps two fields, splits a __u32 into two __u16 or renames a field
// keeps every size, and reusing its map would misread each entry (a
// policy's rules, a hold). The BTF a map was created with describes its key
// and value, so a successor compares those layouts too.

// layoutOf is what the BTF of a map says about its key and value; a nil
// type is one the map (or spec) has no BTF for.
type layoutOf struct{ key, value btf.Type }

// pinnedLayout reads the key and value types of m from the BTF it was
// created with. Both are nil when the map has none (created without BTF, or
// by a kernel that keeps none); an error is a BTF that could not be read.
func pinnedLayout(m *ebpf.Map) (layoutOf, error) {
	// cilium/ebpf's MapInfo has the map's BTF id but not the ids of its
	// key and value types in it, so ask the kernel directly.
	var info struct {
		typ, id, keySize, valueSize, maxEntries, flags uint32
		name                                           [16]byte
		ifindex, vmlinuxValueTypeID                    uint32
		netnsDev, netnsIno                             uint64
		btfID, btfKeyTypeID, btfValueTypeID, _         uint32
	}
	attr := struct {
		fd, infoLen uint32
		info        uint64
	}{uint32(m.FD()), uint32(unsafe.Sizeof(info)), uint64(uintptr(unsafe.Pointer(&info)))}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET_INFO_BY_FD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		return layoutOf{}, fmt.Errorf("map info: %w", errno)
	}
	if info.btfID == 0 {
		return layoutOf{}, nil
	}
	h, err := btf.NewHandleFromID(btf.ID(info.btfID))
	if err != nil {
		return layoutOf{}, fmt.Errorf("open the map's BTF: %w", err)
	}
	defer h.Close()
	spec, err := h.Spec(nil)
	if err != nil {
		return layoutOf{}, fmt.Errorf("read the map's BTF: %w", err)
	}
	var l layoutOf
	// Type id 0 is void: no type given for that half.
	if info.btfKeyTypeID != 0 {
		if l.key, err = spec.TypeByID(btf.TypeID(info.btfKeyTypeID)); err != nil {
			return layoutOf{}, fmt.Errorf("the map's key type: %w", err)
		}
	}
	if info.btfValueTypeID != 0 {
		if l.value, err = spec.TypeByID(btf.TypeID(info.btfValueTypeID)); err != nil {
			return layoutOf{}, fmt.Errorf("the map's value type: %w", err)
		}
	}
	return l, nil
}

// layoutChange says how the layout of was differs from is's, "" when they
// are the same or when either is unknown (nil). It names the first
// difference, e.g. "value layout of struct fp_watch changed: field flags
// at offset 8, was kinds".
//
// Layout is what decides how the bytes of an entry are read: member names,
// offsets, bit-field sizes, sizes and kinds, recursively, and the values of
// an enum's existing names. Names of types are not part of it (renaming a
// struct, or going through another typedef of the same integer, changes no
// byte's meaning); names of members are, as they are all BTF tells of a
// field's meaning.
func layoutChange(what string, was, is btf.Type) string {
	if was == nil || is == nil {
		return ""
	}
	if d := typeDiff(was, is, "", 0); d != "" {
		return fmt.Sprintf("%s layout of %s changed: %s", what, typeName(is), d)
	}
	return ""
}

// layoutPrefix reports whether is starts with was: a struct whose members
// are all still there, at the same offsets and of the same layout, with
// new ones only after them.
func layoutPrefix(was, is btf.Type) bool {
	ws, ok1 := btf.UnderlyingType(was).(*btf.Struct)
	is2, ok2 := btf.UnderlyingType(is).(*btf.Struct)
	if !ok1 || !ok2 || len(ws.Members) > len(is2.Members) || ws.Size > is2.Size {
		return false
	}
	for i, m := range ws.Members {
		if memberDiff(m, is2.Members[i], "", 0) != "" {
			return false
		}
	}
	return true
}

func typeName(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Struct:
		if t.Name != "" {
			return "struct " + t.Name
		}
	case *btf.Union:
		if t.Name != "" {
			return "union " + t.Name
		}
	case *btf.Enum:
		if t.Name != "" {
			return "enum " + t.Name
		}
	default:
		if n := t.TypeName(); n != "" {
			return n
		}
	}
	return fmt.Sprintf("%T", t)
}

// kindName names the kind of t as a user reads it in C.
func kindName(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Int:
		return fmt.Sprintf("a %d-byte integer (%s)", t.Size, t.Encoding)
	case *btf.Struct:
		return "a struct"
	case *btf.Union:
		return "a union"
	case *btf.Array:
		return "an array"
	case *btf.Enum:
		return "an enum"
	case *btf.Pointer:
		return "a pointer"
	case *btf.Float:
		return "a float"
	}
	return fmt.Sprintf("%T", t)
}

// typeDiff compares two types at byte offset off of the top type, where
// names the member path ("" for the top type itself).
func typeDiff(was, is btf.Type, where string, off uint32) string {
	was, is = btf.UnderlyingType(was), btf.UnderlyingType(is)
	subject := "the type"
	if where != "" {
		subject = fmt.Sprintf("field %s at offset %d", where, off)
	}
	if fmt.Sprintf("%T", was) != fmt.Sprintf("%T", is) {
		return fmt.Sprintf("%s is %s, was %s", subject, kindName(is), kindName(was))
	}
	switch w := was.(type) {
	case *btf.Int:
		i := is.(*btf.Int)
		if w.Size != i.Size || w.Encoding != i.Encoding {
			return fmt.Sprintf("%s is %s, was %s", subject, kindName(i), kindName(w))
		}
	case *btf.Float:
		if f := is.(*btf.Float); w.Size != f.Size {
			return fmt.Sprintf("%s is %d bytes, was %d", subject, f.Size, w.Size)
		}
	case *btf.Enum:
		e := is.(*btf.Enum)
		if w.Size != e.Size || w.Signed != e.Signed {
			return fmt.Sprintf("%s is a %d-byte enum, was %d", subject, e.Size, w.Size)
		}
		// New names are fine; an existing name must keep its value.
		values := map[string]uint64{}
		for _, v := range e.Values {
			values[v.Name] = v.Value
		}
		for _, v := range w.Values {
			if nv, ok := values[v.Name]; !ok {
				return fmt.Sprintf("%s: %s is gone", subject, v.Name)
			} else if nv != v.Value {
				return fmt.Sprintf("%s: %s is %d, was %d", subject, v.Name, nv, v.Value)
			}
		}
	case *btf.Array:
		a := is.(*btf.Array)
		if w.Nelems != a.Nelems {
			return fmt.Sprintf("%s has %d elements, was %d", subject, a.Nelems, w.Nelems)
		}
		return typeDiff(w.Type, a.Type, where+"[]", off)
	case *btf.Struct:
		return membersDiff(w.Size, is.(*btf.Struct).Size, w.Members, is.(*btf.Struct).Members, subject, where, off)
	case *btf.Union:
		return membersDiff(w.Size, is.(*btf.Union).Size, w.Members, is.(*btf.Union).Members, subject, where, off)
	}
	// Pointers (only kernel pointers are kept in maps) and anything else
	// of the same kind: the kind is the layout.
	return ""
}

func membersDiff(wasSize, isSize uint32, was, is []btf.Member, subject, where string, off uint32) string {
	for i := range max(len(was), len(is)) {
		switch {
		case i >= len(is):
			m := was[i]
			return fmt.Sprintf("field %s at offset %d is gone", join(where, m.Name), off+m.Offset.Bytes())
		case i >= len(was):
			m := is[i]
			return fmt.Sprintf("field %s at offset %d is new", join(where, m.Name), off+m.Offset.Bytes())
		}
		if d := memberDiff(was[i], is[i], where, off); d != "" {
			return d
		}
	}
	if wasSize != isSize {
		return fmt.Sprintf("%s is %d bytes, was %d", subject, isSize, wasSize)
	}
	return ""
}

func memberDiff(was, is btf.Member, where string, off uint32) string {
	at := off + is.Offset.Bytes()
	switch {
	case was.Name != is.Name || was.Offset != is.Offset:
		return fmt.Sprintf("field %s at offset %d, was %s at offset %d", join(where, is.Name), at, join(where, was.Name), off+was.Offset.Bytes())
	case was.BitfieldSize != is.BitfieldSize:
		return fmt.Sprintf("field %s at offset %d is %d bits, was %d", join(where, is.Name), at, is.BitfieldSize, was.BitfieldSize)
	}
	return typeDiff(was.Type, is.Type, join(where, is.Name), at)
}

func join(where, name string) string {
	if name == "" {
		name = "(anonymous)"
	}
	if where == "" {
		return name
	}
	return where + "." + name
}
