package bpf

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf"
)

func TestAnExtendedValueKeepsAnOlderVersionsEntries(t *testing.T) {
	newMap := func(valueSize uint32) *ebpf.Map {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 8, ValueSize: valueSize, MaxEntries: 4})
		if err != nil {
			t.Fatalf("create a map: %v", err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	old := newMap(128)
	key := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	value := bytes.Repeat([]byte{0xab}, 128)
	if err := old.Put(key, value); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		appended        bool
		copied, dropped int
	}{{true, 1, 0}, {false, 0, 1}} {
		grown := newMap(144)
		copied, dropped := copyEntries(old, grown, tc.appended)
		if copied != tc.copied || dropped != tc.dropped {
			t.Fatalf("appended %v: copied %d, dropped %d; want %d and %d", tc.appended, copied, dropped, tc.copied, tc.dropped)
		}
		if !tc.appended {
			continue
		}
		var got []byte
		if err := grown.Lookup(key, &got); err != nil {
			t.Fatal(err)
		}
		if want := append(bytes.Clone(value), make([]byte, 16)...); !bytes.Equal(got, want) {
			t.Fatalf("the copied value is %x, want the old one zero-filled: %x", got, want)
		}
	}
}
