// Package kerneltest holds what tests that load programs into the real
// kernel share.
package kerneltest

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// RequireRoot skips a kernel test when not root, except in CI, where a
// missing privilege is a failure: kernel tests never skip silently there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("kernel tests need root (CI is set, so this is a failure, not a skip)")
	}
	t.Skip("kernel tests need root")
}

// PinAnotherVersionsMap replaces the map pinned at path with an empty one
// whose values are grow bytes longer, as a footprint version that extended
// the value would have pinned it: a successor must not reuse it. The map is
// closed when the test ends.
func PinAnotherVersionsMap(t testing.TB, path string, grow uint32) *ebpf.Map {
	t.Helper()
	was, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ebpf.NewMap(&ebpf.MapSpec{Type: was.Type(), KeySize: was.KeySize(), ValueSize: was.ValueSize() + grow, MaxEntries: was.MaxEntries(), Flags: was.Flags()})
	was.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := other.Pin(path); err != nil {
		t.Fatal(err)
	}
	return other
}
