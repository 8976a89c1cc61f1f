package bpf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
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
		copied, dropped := copyEntries(old, grown, tc.appended, false)
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

// A pinned map whose sizes match but whose BTF says its entries are laid
// out differently (another version swapped two fields, split one) must not
// be reused: its entries would be misread. It is replaced, nothing copied,
// and the replacement names the change. A pin of the same layout stays,
// whatever its struct is called; a pin without BTF is judged by its sizes.
func TestAPinnedMapOfAnotherLayoutIsReplaced(t *testing.T) { pinnedMapOfAnotherLayoutIsReplaced(t) }

func pinnedMapOfAnotherLayoutIsReplaced(t *testing.T) {
	kerneltest.RequireRoot(t)
	objs := map[string]func() (*ebpf.CollectionSpec, error){"watched_cgroups": loadCapability, "syscalls_seen": loadSyscall}
	specOf := func(t *testing.T, name string) *ebpf.MapSpec {
		cs, err := objs[name]()
		if err != nil {
			t.Fatal(err)
		}
		return cs.Maps[name].Copy()
	}
	// relaid copies spec's value struct with its members changed by edit.
	relaid := func(spec *ebpf.MapSpec, edit func(s *btf.Struct)) *ebpf.MapSpec {
		s, ok := btf.As[*btf.Struct](spec.Value)
		if !ok {
			t.Fatalf("%s: the value is %v, not a struct", spec.Name, spec.Value)
		}
		c := *s
		c.Members = slices.Clone(s.Members)
		edit(&c)
		spec.Value = &c
		spec.ValueSize = c.Size
		return spec
	}
	u16 := &btf.Int{Name: "__u16", Size: 2}
	for _, tc := range []struct {
		name     string
		mapName  string
		old      func(*ebpf.MapSpec) *ebpf.MapSpec
		replaced bool
		change   string // in PinReplacement.Change
		migrated int
		bySize   bool // kept on its sizes alone, and said so
	}{
		{"the same layout stays", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec { return s }, false, "", 0, false},
		{"a renamed struct of the same layout stays", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			return relaid(s, func(v *btf.Struct) { v.Name = "fp_watch_v0" })
		}, false, "", 0, false},
		{"two swapped fields replace it", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			return relaid(s, func(v *btf.Struct) { v.Members[1].Name, v.Members[2].Name = v.Members[2].Name, v.Members[1].Name })
		}, true, "value layout of struct fp_watch changed: field kinds at offset 8, was flags at offset 8", 0, false},
		{"a u32 split into two u16 replaces it", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			return relaid(s, func(v *btf.Struct) {
				v.Members = slices.Insert(v.Members, 2, btf.Member{Name: "kinds_hi", Type: u16, Offset: 80})
				v.Members[1].Type = u16
			})
		}, true, "value layout of struct fp_watch changed: field kinds at offset 8 is a 4-byte integer (unsigned), was a 2-byte integer (unsigned)", 0, false},
		{"another key layout of the same size replaces it", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			u32 := &btf.Int{Name: "__u32", Size: 4}
			s.Key = &btf.Struct{Name: "fp_key", Size: 8, Members: []btf.Member{{Name: "lo", Type: u32}, {Name: "hi", Type: u32, Offset: 32}}}
			return s
		}, true, "key layout of __u64 changed: the type is a 8-byte integer (unsigned), was a struct", 0, false},
		{"without BTF the same sizes stay, judged by size", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			s.Key, s.Value = nil, nil
			return s
		}, false, "", 0, true},
		{"without BTF another size replaces it, entries kept", "watched_cgroups", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			s.Key, s.Value = nil, nil
			s.MaxEntries /= 2
			return s
		}, true, "MaxEntries: ", 1, false},
		{"fields appended to a value declared appended keep its entries", "syscalls_seen", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			return relaid(s, func(v *btf.Struct) {
				last := v.Members[len(v.Members)-1]
				v.Members = v.Members[:len(v.Members)-1]
				v.Size = last.Offset.Bytes()
			})
		}, true, "is new", 1, false},
		{"a value declared appended whose start changed loses its entries", "syscalls_seen", func(s *ebpf.MapSpec) *ebpf.MapSpec {
			return relaid(s, func(v *btf.Struct) {
				v.Members[0].Name, v.Members[1].Name = v.Members[1].Name, v.Members[0].Name
				last := v.Members[len(v.Members)-1]
				v.Members = v.Members[:len(v.Members)-1]
				v.Size = last.Offset.Bytes()
			})
		}, true, "value layout of struct fp_syscalls changed: field native at offset 0, was compat at offset 0", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-layout-%d", os.Getpid()))
			if err := preparePinPath(pinPath); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(pinPath) })
			spec := specOf(t, tc.mapName)
			oldSpec := tc.old(specOf(t, tc.mapName))
			oldSpec.Pinning = ebpf.PinNone
			old, err := ebpf.NewMap(oldSpec)
			if err != nil {
				t.Fatalf("create the old map: %v", err)
			}
			defer old.Close()
			key := make([]byte, oldSpec.KeySize)
			value := bytes.Repeat([]byte{0xab}, int(oldSpec.ValueSize))
			if err := old.Put(key, value); err != nil {
				t.Fatal(err)
			}
			if err := old.Pin(filepath.Join(pinPath, tc.mapName)); err != nil {
				t.Fatal(err)
			}
			oldInfo, err := old.Info()
			if err != nil {
				t.Fatal(err)
			}
			oldID, _ := oldInfo.ID()

			var pins pinLog
			if err := migratePin(spec, pinPath, &pins); err != nil {
				t.Fatalf("migratePin: %v", err)
			}
			now, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, tc.mapName), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer now.Close()
			nowInfo, err := now.Info()
			if err != nil {
				t.Fatal(err)
			}
			nowID, _ := nowInfo.ID()
			replaced := pins.all()
			if bySize := pins.allBySize(); (len(bySize) == 1) != tc.bySize || len(bySize) > 1 {
				t.Errorf("pins judged by size alone: %v, want one: %v", bySize, tc.bySize)
			}
			if !tc.replaced {
				if len(replaced) != 0 || nowID != oldID {
					t.Fatalf("the pin was replaced (%v), want it kept", replaced)
				}
				return
			}
			if len(replaced) != 1 || nowID == oldID {
				t.Fatalf("replacements %v (map id %d, was %d): want the pin replaced", replaced, nowID, oldID)
			}
			r := replaced[0]
			t.Logf("%v", r)
			if !strings.Contains(r.Change, tc.change) {
				t.Errorf("change %q does not say %q", r.Change, tc.change)
			}
			if r.Migrated != tc.migrated || r.Migrated+r.Dropped != 1 {
				t.Errorf("migrated %d, dropped %d of the one entry: want %d migrated", r.Migrated, r.Dropped, tc.migrated)
			}
			var got []byte
			err = now.Lookup(key, &got)
			if tc.migrated == 0 {
				if err == nil {
					t.Errorf("the replacement holds the old entry %x, read with another layout", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("the migrated entry: %v", err)
			}
			if !bytes.Equal(got[:len(value)], value) || !bytes.Equal(got[len(value):], make([]byte, len(got)-len(value))) {
				t.Errorf("the migrated value is %x, want the old one zero-filled", got)
			}
		})
	}
}

// A restart of the same version must reuse every pin it left, layout
// checks included: a replacement would drop what the maps hold (recorded
// entries, policies, holds) for nothing.
func TestARestartOfTheSameVersionReusesEveryPin(t *testing.T) {
	restartOfTheSameVersionReusesEveryPin(t)
}

func restartOfTheSameVersionReusesEveryPin(t *testing.T) {
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-restart-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(root) })
	pin := func(part string) string { return filepath.Join(root, part) }
	// As the agent loads its three parts.
	load := func() (replaced []PinReplacement, closeAll func()) {
		retirement, err := RetireIncompatibleEnforcement(EnforcementPins{Lifecycle: pin("lifecycle"), Enforcer: pin("enforcer"), Retired: pin("retired")})
		if err != nil {
			t.Fatal(err)
		}
		if retirement.Generation != "" || len(retirement.Replaced) != 0 {
			t.Errorf("the enforcement was retired to %q (%v): want it kept", retirement.Generation, retirement.Replaced)
		}
		lc, err := LoadLifecycle(LifecycleOptions{CgroupRoot: mount, PinPath: pin("lifecycle"),
			AdoptPins: map[string]string{"watched_cgroups": pin("recorder"), "enforced_cgroups": pin("enforcer"), "runtime_tasks": pin("recorder")}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := Load(Options{CgroupRoot: mount, PinPath: pin("recorder"), Lifecycle: lc})
		if err != nil {
			lc.Close()
			t.Fatal(err)
		}
		enf, err := LoadEnforcer(EnforcerOptions{CgroupRoot: mount, PinPath: pin("enforcer"), Lifecycle: lc})
		if err != nil {
			rec.Close()
			lc.Close()
			t.Fatal(err)
		}
		replaced = slices.Concat(lc.PinReplacements(), rec.PinReplacements(), enf.PinReplacements())
		if bySize := slices.Concat(lc.PinsJudgedBySize(), rec.PinsJudgedBySize(), enf.PinsJudgedBySize()); len(bySize) != 0 {
			t.Errorf("pins reused without comparing their layouts: %v", bySize)
		}
		return replaced, func() { enf.Close(); rec.Close(); lc.Close() }
	}
	// pinnedMaps are the ids of the maps pinned under root, by path.
	withBTF := 0
	pinnedMaps := func() map[string]ebpf.MapID {
		ids := map[string]ebpf.MapID{}
		withBTF = 0
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) == "links" {
				return err
			}
			m, err := ebpf.LoadPinnedMap(path, nil)
			if err != nil {
				t.Errorf("open %s: %v", path, err)
				return nil
			}
			defer m.Close()
			if info, err := m.Info(); err == nil {
				ids[path], _ = info.ID()
			}
			if l, err := pinnedLayout(m); err == nil && l.value != nil {
				withBTF++
			}
			return nil
		})
		return ids
	}
	replaced, closeAll := load()
	if len(replaced) != 0 {
		closeAll()
		t.Fatalf("the first load replaced pins: %v", replaced)
	}
	before := pinnedMaps()
	closeAll()
	if len(before) == 0 || withBTF == 0 {
		t.Fatalf("%d maps pinned, %d with BTF: want the layouts compared", len(before), withBTF)
	}
	replaced, closeAll = load()
	defer closeAll()
	if len(replaced) != 0 {
		t.Errorf("the restart replaced pins: %v", replaced)
	}
	after := pinnedMaps()
	for path, id := range before {
		if after[path] != id {
			t.Errorf("%s: map %d after the restart, was %d", path, after[path], id)
		}
	}
	t.Logf("%d pinned maps reused, %d with a BTF layout compared", len(before), withBTF)
}
