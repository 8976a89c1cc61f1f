package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// An upgrade that changes the layout of a map the enforcement programs read
// cannot reuse the predecessor's pin, and its entries (a policy's rules, a
// hold) may not be readable by the new programs. Replacing that one map in
// place would leave, until the new agent has installed every policy again,
// new programs reading empty maps (no enforcement for seconds), or old
// programs reading a mix of their old maps and the new agent's (another
// policy's rules applied to a pod, the self-test's canary denied).
//
// So the whole enforcement world is replaced as one generation: the
// predecessor's enforcement programs stay attached with every map they read,
// moved aside under a retired generation that no one writes, while the new
// generation is loaded beside them. Both check every operation (cgroup hooks
// run side by side, and the LSM and fmod_ret verdicts combine), so a pod
// stays held to its policy by the old generation until the new one has it.
// Once the agent has installed every policy and hold again, it releases the
// retired generations.

// enforcementGroups are the pinned maps of the enforcement world, in the
// groups that are carried into a new generation together or not at all: a
// policy whose rules were dropped would deny every operation of its kind,
// and a held process without the flag that says one is held would go free.
// Each is named with the part whose directory pins it.
var enforcementGroups = [][]worldMap{
	{{"enforcer", "policies"}, {"enforcer", "path_rules"}, {"enforcer", "connect_rules"},
		{"enforcer", "socket_rules"}, {"enforcer", "syscall_rules"}, {"enforcer", "violations_seen"}},
	{{"lifecycle", "enforced_cgroups"}, {"lifecycle", "runtime_tasks"}, {"enforcer", "held_processes"},
		{"enforcer", "held_processes_used"}, {"enforcer", "enforced_processes"}},
}

// worldMap is one pinned map of the enforcement world and the part
// ("lifecycle" or "enforcer") whose directory pins it.
type worldMap struct{ part, name string }

// EnforcementPins are the pin directories of an agent's parts.
type EnforcementPins struct {
	// Lifecycle is the lifecycle's pin directory.
	Lifecycle string
	// Enforcer is the enforcer's pin directory.
	Enforcer string
	// Retired is where a predecessor's enforcement is kept, one
	// directory per generation, until Release.
	Retired string
}

func (p EnforcementPins) dir(part string) string {
	if part == "lifecycle" {
		return p.Lifecycle
	}
	return p.Enforcer
}

// Retirement is what RetireIncompatibleEnforcement found and did.
type Retirement struct {
	retired string
	// Generation is the directory the predecessor's enforcement was
	// moved to; "" when its pins were all compatible and stay in use.
	Generation string
	// Replaced are the maps of the new generation that did not get all of
	// the predecessor's entries: their layout changed, or another map of
	// their group's did.
	Replaced []PinReplacement
}

// RetireIncompatibleEnforcement compares the enforcement maps pinned under
// pins with this version's. When all are compatible (or nothing is pinned)
// it changes nothing. When any is not, it moves the predecessor's
// enforcement (the enforcer's pins and links, and the lifecycle's holds,
// runtime tasks and links) into a new generation under pins.Retired, where
// its programs go on enforcing with the maps they read, and pins in their
// places new maps of this version's layout, holding a copy of each group
// whose every entry keeps its meaning. Call it before LoadLifecycle and
// LoadEnforcer, which then take the new maps over; call Release once every
// policy and hold is installed again.
func RetireIncompatibleEnforcement(pins EnforcementPins) (*Retirement, error) {
	r := &Retirement{retired: pins.Retired}
	if pins.Lifecycle == "" || pins.Enforcer == "" || pins.Retired == "" {
		return r, nil
	}
	specs, err := enforcementSpecs()
	if err != nil {
		return nil, err
	}
	diffs := map[worldMap]pinDiff{}
	for _, group := range enforcementGroups {
		for _, w := range group {
			old, err := ebpf.LoadPinnedMap(filepath.Join(pins.dir(w.part), w.name), nil)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("open pinned map %s: %w", filepath.Join(pins.dir(w.part), w.name), err)
			}
			diffs[w] = comparePin(specs[w.name], old)
			old.Close()
		}
	}
	changed := false
	for _, d := range diffs {
		changed = changed || !d.compatible()
	}
	if !changed {
		return r, nil
	}
	if r.Generation, err = newGeneration(pins.Retired); err != nil {
		return nil, err
	}
	if err := moveAside(pins, r.Generation); err != nil {
		return nil, err
	}
	moved := EnforcementPins{Lifecycle: filepath.Join(r.Generation, "lifecycle"), Enforcer: filepath.Join(r.Generation, "enforcer")}
	for _, group := range enforcementGroups {
		replaced, err := carryGroup(group, specs, diffs, moved, pins)
		if err != nil {
			return nil, err
		}
		r.Replaced = append(r.Replaced, replaced...)
	}
	return r, nil
}

// enforcementSpecs are this version's specs of the enforcement maps, by
// name.
func enforcementSpecs() (map[string]*ebpf.MapSpec, error) {
	specs := map[string]*ebpf.MapSpec{}
	// In order: a map is the spec of the object that creates it (the
	// lifecycle's holds, the file object's policies), as the loaders do.
	for _, obj := range []struct {
		name string
		load func() (*ebpf.CollectionSpec, error)
	}{
		{"lifecycle", loadLifecycle}, {"enforcefile", loadEnforcefile},
		{"enforcesocket", loadEnforcesocket}, {"enforcesyscall", loadEnforcesyscall},
	} {
		spec, err := obj.load()
		if err != nil {
			return nil, fmt.Errorf("parse embedded %s object: %w", obj.name, err)
		}
		for _, group := range enforcementGroups {
			for _, w := range group {
				if m, ok := spec.Maps[w.name]; ok && specs[w.name] == nil {
					specs[w.name] = m
				}
			}
		}
	}
	for _, group := range enforcementGroups {
		for _, w := range group {
			if specs[w.name] == nil {
				return nil, fmt.Errorf("no object declares the enforcement map %s", w.name)
			}
		}
	}
	return specs, nil
}

// newGeneration makes the next generation's directory under retired.
func newGeneration(retired string) (string, error) {
	if err := os.MkdirAll(retired, 0o700); err != nil {
		return "", fmt.Errorf("retired generations: %w", err)
	}
	entries, err := os.ReadDir(retired)
	if err != nil {
		return "", fmt.Errorf("retired generations: %w", err)
	}
	next := 1
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "gen-")); err == nil && n >= next {
			next = n + 1
		}
	}
	dir := filepath.Join(retired, fmt.Sprintf("gen-%d", next))
	for _, part := range []string{"lifecycle", "enforcer"} {
		if err := os.MkdirAll(filepath.Join(dir, part), 0o700); err != nil {
			return "", fmt.Errorf("retired generation: %w", err)
		}
	}
	return dir, nil
}

// moveAside moves the predecessor's enforcement into gen: everything the
// enforcer pinned, and the lifecycle's links and enforcement maps (its
// watch list stays: the recorder's, not enforcement's). A moved link keeps
// its program attached; a moved map keeps what its programs read.
func moveAside(pins EnforcementPins, gen string) error {
	move := func(from, to string) error {
		if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("retire %s: %w", from, err)
		}
		return nil
	}
	entries, err := os.ReadDir(pins.Enforcer)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the enforcer's pins: %w", err)
	}
	for _, e := range entries {
		if err := move(filepath.Join(pins.Enforcer, e.Name()), filepath.Join(gen, "enforcer", e.Name())); err != nil {
			return err
		}
	}
	names := []string{"links"}
	for _, group := range enforcementGroups {
		for _, w := range group {
			if w.part == "lifecycle" {
				names = append(names, w.name)
			}
		}
	}
	for _, name := range names {
		if err := move(filepath.Join(pins.Lifecycle, name), filepath.Join(gen, "lifecycle", name)); err != nil {
			return err
		}
	}
	return nil
}

// carryGroup makes this version's maps of one group, pinned where the
// predecessor's were: with every entry of the moved ones, or, when any of
// the group's could not keep all of its entries, with none of the group's.
func carryGroup(group []worldMap, specs map[string]*ebpf.MapSpec, diffs map[worldMap]pinDiff, from, to EnforcementPins) ([]PinReplacement, error) {
	type carried struct {
		w       worldMap
		m       *ebpf.Map
		copied  int
		dropped int
	}
	var made []carried
	defer func() {
		for _, c := range made {
			c.m.Close()
		}
	}()
	whole := true
	for _, w := range group {
		d, ok := diffs[w]
		if !ok {
			continue
		}
		old, err := ebpf.LoadPinnedMap(filepath.Join(from.dir(w.part), w.name), nil)
		if err != nil {
			return nil, fmt.Errorf("open retired map %s: %w", w.name, err)
		}
		spec := specs[w.name].Copy()
		spec.Pinning = ebpf.PinNone
		m, err := ebpf.NewMap(spec)
		if err != nil {
			old.Close()
			return nil, mapError(w.name, err)
		}
		c := carried{w: w, m: m}
		c.copied, c.dropped = copyEntries(old, m, appendedValues[w.name], d.relaidOut)
		old.Close()
		made = append(made, c)
		whole = whole && c.dropped == 0
	}
	var replaced []PinReplacement
	for i, c := range made {
		d := diffs[c.w]
		if !whole {
			// Emptied: made again rather than cleared entry by
			// entry.
			spec := specs[c.w.name].Copy()
			spec.Pinning = ebpf.PinNone
			m, err := ebpf.NewMap(spec)
			if err != nil {
				return nil, mapError(c.w.name, err)
			}
			c.m.Close()
			made[i].m = m
			c.dropped += c.copied
			c.copied = 0
		}
		path := filepath.Join(to.dir(c.w.part), c.w.name)
		if err := made[i].m.Pin(path); err != nil {
			return nil, fmt.Errorf("pin the new generation's %s: %w", path, err)
		}
		if !d.compatible() || c.dropped > 0 {
			change := d.String()
			if d.compatible() {
				change = "not carried: another map of its group changed layout, and its entries are carried together or not at all"
			}
			replaced = append(replaced, PinReplacement{Path: path, Change: change, Migrated: c.copied, Dropped: c.dropped})
		}
	}
	return replaced, nil
}

// Pending is how many retired generations are pinned.
func (r *Retirement) Pending() (int, error) {
	if r == nil || r.retired == "" {
		return 0, nil
	}
	entries, err := os.ReadDir(r.retired)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read retired generations: %w", err)
	}
	return len(entries), nil
}

// Release removes every retired generation: their links are unpinned,
// which detaches their programs, and their maps go with the last program
// that reads them. It returns the generations removed.
func (r *Retirement) Release() (int, error) {
	n, err := r.Pending()
	if err != nil || n == 0 {
		return 0, err
	}
	if err := os.RemoveAll(r.retired); err != nil {
		return 0, fmt.Errorf("remove retired generations: %w", err)
	}
	return n, nil
}
