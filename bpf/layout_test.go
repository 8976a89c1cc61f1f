package bpf

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// The layout comparison names the first difference a reader of the old
// entries would trip over, and ignores what changes no byte's meaning.
func TestLayoutChangesAreNamedAndTypeNamesIgnored(t *testing.T) {
	u8 := &btf.Int{Name: "__u8", Size: 1}
	u32 := &btf.Int{Name: "__u32", Size: 4}
	s32 := &btf.Int{Name: "__s32", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "__u64", Size: 8}
	typedef := func(name string, t btf.Type) btf.Type { return &btf.Typedef{Name: name, Type: t} }
	st := func(name string, size uint32, members ...btf.Member) *btf.Struct {
		return &btf.Struct{Name: name, Size: size, Members: members}
	}
	m := func(name string, t btf.Type, offBytes uint32) btf.Member {
		return btf.Member{Name: name, Type: t, Offset: btf.Bits(offBytes * 8)}
	}
	mode := func(values ...btf.EnumValue) *btf.Enum { return &btf.Enum{Name: "fp_mode", Size: 4, Values: values} }
	inner := st("fp_inner", 8, m("a", u32, 0), m("b", u32, 4))
	base := st("fp_x", 24, m("id", u64, 0), m("in", inner, 8), m("mode", mode(btf.EnumValue{Name: "AUDIT", Value: 0}), 16), m("tag", &btf.Array{Type: u8, Nelems: 4}, 20))
	with := func(edit func(s *btf.Struct)) *btf.Struct {
		c := *base
		c.Members = append([]btf.Member(nil), base.Members...)
		edit(&c)
		return &c
	}
	for _, tc := range []struct {
		name   string
		was    btf.Type
		is     btf.Type
		change string // "" for the same layout
	}{
		{"identical", base, base, ""},
		{"renamed struct", with(func(s *btf.Struct) { s.Name = "fp_x_v2" }), base, ""},
		{"another typedef of the same integer", u64, typedef("__u64", u64), ""},
		{"an enum that gained a name", base, with(func(s *btf.Struct) {
			s.Members[2].Type = mode(btf.EnumValue{Name: "AUDIT", Value: 0}, btf.EnumValue{Name: "ENFORCE", Value: 1})
		}), ""},
		{"an enum name that changed value", base, with(func(s *btf.Struct) { s.Members[2].Type = mode(btf.EnumValue{Name: "AUDIT", Value: 2}) }),
			"value layout of struct fp_x changed: field mode at offset 16: AUDIT is 2, was 0"},
		{"a nested field renamed", base, with(func(s *btf.Struct) { s.Members[1].Type = st("fp_inner", 8, m("a", u32, 0), m("c", u32, 4)) }),
			"value layout of struct fp_x changed: field in.c at offset 12, was in.b at offset 12"},
		{"signedness", base, with(func(s *btf.Struct) { s.Members[1].Type = st("fp_inner", 8, m("a", s32, 0), m("b", u32, 4)) }),
			"field in.a at offset 8 is a 4-byte integer (signed), was a 4-byte integer (unsigned)"},
		{"array length", base, with(func(s *btf.Struct) { s.Members[3].Type = &btf.Array{Type: u32, Nelems: 1} }),
			"field tag at offset 20 has 1 elements, was 4"},
		{"array element", base, with(func(s *btf.Struct) { s.Members[3].Type = &btf.Array{Type: s32, Nelems: 4} }),
			"field tag[] at offset 20 is a 4-byte integer (signed), was a 1-byte integer (unsigned)"},
		{"bit field", st("fp_b", 4, btf.Member{Name: "f", Type: u32, BitfieldSize: 3}), st("fp_b", 4, btf.Member{Name: "f", Type: u32, BitfieldSize: 4}),
			"field f at offset 0 is 4 bits, was 3"},
		{"struct became union", st("fp_u", 4, m("a", u32, 0)), &btf.Union{Name: "fp_u", Size: 4, Members: []btf.Member{m("a", u32, 0)}},
			"value layout of union fp_u changed: the type is a union, was a struct"},
		{"member removed", base, with(func(s *btf.Struct) { s.Members = s.Members[:3] }), "field tag at offset 20 is gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := layoutChange("value", tc.was, tc.is)
			if (got == "") != (tc.change == "") || !strings.Contains(got, tc.change) {
				t.Fatalf("layoutChange = %q, want %q", got, tc.change)
			}
		})
	}
	if layoutChange("value", nil, base) != "" || layoutChange("value", base, nil) != "" {
		t.Error("a side without BTF must leave the layout unjudged")
	}
	grown := with(func(s *btf.Struct) { s.Size = 32; s.Members = append(s.Members, m("more", u64, 24)) })
	if !layoutPrefix(base, grown) || layoutPrefix(grown, base) || layoutPrefix(with(func(s *btf.Struct) { s.Members[0].Name = "key" }), grown) {
		t.Error("layoutPrefix: want only an unchanged start with members after it to count as appended")
	}
}
