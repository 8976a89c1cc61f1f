package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// attachment is one backend's programs, loaded and attached.
type attachment struct {
	backend backend
	coll    *ebpf.Collection
	links   []link.Link
	// pinned are the paths its links are pinned at.
	pinned []string
	// programs, cgroupRoot and pinPath are what attachLinks needs.
	programs   map[string]*ebpf.ProgramSpec
	cgroupRoot string
	pinPath    string
	// missing are the file-change hooks (and system calls) this kernel
	// lacks: the backend works without them.
	missing []string
}

// attachPoints keeps of each program's spec where it attaches, not its
// instructions and BTF: a lazy backend attaches again long after loading,
// and the agent's heap profile put some 11 MiB, kept from loading, in the
// whole specs.
func attachPoints(s *ebpf.CollectionSpec) map[string]*ebpf.ProgramSpec {
	out := make(map[string]*ebpf.ProgramSpec, len(s.Programs))
	for name, ps := range s.Programs {
		out[name] = &ebpf.ProgramSpec{Name: ps.Name, Type: ps.Type, AttachType: ps.AttachType, AttachTo: ps.AttachTo, SectionName: ps.SectionName}
	}
	return out
}

// attachLinks attaches the backend's programs and pins their links.
func (a *attachment) attachLinks() error {
	for _, name := range a.backend.programs {
		l, err := attach(a.coll.Programs[name], a.programs[name], a.cgroupRoot)
		if err != nil {
			if a.backend.optional[name] && errors.Is(err, os.ErrNotExist) {
				if m := changeHookOf(name) + " (not in this kernel)"; slices.Contains(a.backend.changes, name) && !slices.Contains(a.missing, m) {
					a.missing = append(a.missing, m)
				}
				continue
			}
			a.detachLinks()
			return errors.New(describe("attach", err))
		}
		a.links = append(a.links, l)
		path, err := pinLink(l, a.pinPath, name)
		if err != nil {
			a.detachLinks()
			return err
		}
		if path != "" {
			a.pinned = append(a.pinned, path)
		}
	}
	return nil
}

// detachLinks detaches the programs and unpins their links; they stay
// loaded, ready to be attached again.
func (a *attachment) detachLinks() {
	for _, p := range a.pinned {
		os.Remove(p)
	}
	for _, l := range a.links {
		l.Close()
	}
	a.links, a.pinned = nil, nil
}

// attached says whether the programs are attached.
func (a *attachment) attached() bool { return len(a.links) > 0 }

// close detaches the programs, unpins their links and frees the object.
func (a *attachment) close() {
	a.detachLinks()
	if a.coll != nil {
		a.coll.Close()
	}
}

// loadFunc loads and attaches one backend, or says why the kernel refused.
type loadFunc func(backend) (*attachment, *Rejection)

// selfTestFunc puts attached backends to the test, one per kind, and
// returns why each one that failed did; the rest passed, and proofs says
// what each was seen to do.
type selfTestFunc func(trial map[Kind]*attachment) (failed, proofs map[Kind]string)

// choose picks one backend per kind, best first, and keeps a backend only
// once its self-test shows it works: a BPF-LSM program attaches where bpf is
// not an active LSM and then never runs, so loading and attaching prove
// nothing. Each round loads the next candidate of every kind still without
// a backend and tests them together; a failed one is detached and the next
// candidate tried. pinned asks for one backend by name for some kinds.
// Links a predecessor pinned under pinPath for programs this process does
// not use are detached before the test: the canary must be seen by the
// programs on trial, not by leftovers sharing their maps.
//
// This is the one probing loop of the recorder and the enforcer.
func choose(table []kindBackends, pinned map[Kind]string, pinPath string, lsm lsmList, load loadFunc, test selfTestFunc) (map[Kind]*attachment, []BackendChoice, error) {
	for k, name := range pinned {
		if !slices.Contains(backendNames(table, k), name) {
			return nil, nil, fmt.Errorf("unknown backend %q for %s: choose one of %q", name, k, backendNames(table, k))
		}
	}
	choices := make([]BackendChoice, len(table))
	next := make([]int, len(table))
	chosen := map[Kind]*attachment{}
	for i, kb := range table {
		choices[i].Kind = kb.kind
	}
	for {
		trial := map[Kind]*attachment{}
		for i, kb := range table {
			if chosen[kb.kind] != nil {
				continue
			}
			for next[i] < len(kb.choices) && trial[kb.kind] == nil {
				c := kb.choices[next[i]]
				next[i]++
				if want := pinned[kb.kind]; want != "" && c.name != want {
					choices[i].Rejected = append(choices[i].Rejected, Rejection{c.name, StageNotTried, "another backend was chosen with --backend"})
					continue
				}
				if rj := lsm.refuses(c); rj != nil {
					choices[i].Rejected = append(choices[i].Rejected, *rj)
					continue
				}
				a, rj := load(c)
				if rj != nil {
					choices[i].Rejected = append(choices[i].Rejected, *rj)
					continue
				}
				trial[kb.kind] = a
			}
		}
		if len(trial) == 0 {
			break
		}
		if err := unpinOtherLinks(pinPath, programsOf(chosen, trial)); err != nil {
			closeAll(chosen, trial)
			return nil, nil, err
		}
		failed, proofs := test(trial)
		for i, kb := range table {
			a := trial[kb.kind]
			if a == nil {
				continue
			}
			if reason, bad := failed[kb.kind]; bad {
				a.close()
				choices[i].Rejected = append(choices[i].Rejected, Rejection{a.backend.name, StageSelfTest, reason})
				continue
			}
			chosen[kb.kind] = a
			choices[i].Chosen, choices[i].Note, choices[i].Proof = a.backend.name, a.backend.note, proofs[kb.kind]
			choices[i].MissingChanges = slices.Clone(a.missing)
			if n := changesNote(a.missing); n != "" {
				choices[i].Note = strings.TrimPrefix(choices[i].Note+"; "+n, "; ")
			}
		}
	}
	for i, kb := range table {
		if kb.required && chosen[kb.kind] == nil {
			closeAll(chosen)
			return nil, nil, fmt.Errorf("no backend for %s works on this kernel: %s", kb.kind, rejections(choices[i]))
		}
	}
	if err := unpinOtherLinks(pinPath, programsOf(chosen)); err != nil {
		closeAll(chosen)
		return nil, nil, err
	}
	return chosen, choices, nil
}

func programsOf(sets ...map[Kind]*attachment) map[string]bool {
	names := map[string]bool{}
	for _, set := range sets {
		for _, a := range set {
			for _, p := range a.backend.programs {
				names[p] = true
			}
		}
	}
	return names
}

func closeAll(sets ...map[Kind]*attachment) {
	for _, set := range sets {
		for _, a := range set {
			a.close()
		}
	}
}

func rejections(c BackendChoice) string {
	var parts []string
	for _, rj := range c.Rejected {
		parts = append(parts, rj.Backend+": "+rj.Reason)
	}
	return strings.Join(parts, "; ")
}

// lsmList is the kernel's active LSMs, as /sys/kernel/security/lsm lists
// them; nil when the list cannot be read.
type lsmList []string

// lsmListFor returns the LSM list choose checks backends against. A test
// that must see a BPF-LSM backend fail its self-test where bpf is inactive
// (rather than be turned away by the list) clears checkLSMList.
func lsmListFor() lsmList {
	if !checkLSMList {
		return nil
	}
	return activeLSMs()
}

var checkLSMList = true

// securityfsDir is where securityfs is mounted when nobody has mounted it.
const securityfsDir = "/sys/kernel/security"

// ActiveLSMs returns the kernel's active LSMs, in order, mounting
// securityfs where nobody has; nil when the list cannot be read.
func ActiveLSMs() []string { return activeLSMs() }

func activeLSMs() lsmList {
	path := filepath.Join(securityfsDir, "lsm")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// Minimal hosts and containers often lack the mount.
		if unix.Mount("securityfs", securityfsDir, "securityfs", 0, "") == nil {
			b, err = os.ReadFile(path)
		}
	}
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), ",")
}

// refuses rejects a BPF-LSM backend where bpf is not an active LSM: its
// programs load and attach there, and the kernel never calls them. Where the
// list cannot be read, the self-test decides.
func (l lsmList) refuses(b backend) *Rejection {
	if l == nil || !strings.HasPrefix(b.name, "lsm/") || slices.Contains(l, "bpf") {
		return nil
	}
	list := strings.Join(l, ",")
	return &Rejection{b.name, StageLSMInactive, fmt.Sprintf(
		"bpf is not an active LSM (%s/lsm: %s): its programs would attach and never run; boot with lsm=%s,bpf to use it",
		securityfsDir, list, list)}
}

// loadBackend loads the backend's programs (and only them) from the object,
// with the maps in shared standing in for the object's maps of the same
// name, and attaches them, pinning their links under pinPath/links.
func loadBackend(spec *ebpf.CollectionSpec, c backend, shared map[string]*ebpf.Map, cgroupRoot, pinPath string, pins *pinLog) (*attachment, *Rejection) {
	c, missing := withChanges(spec, c)
	s := spec.Copy()
	for name := range s.Programs {
		if !slices.Contains(c.programs, name) && !slices.Contains(c.iterators, name) {
			delete(s.Programs, name)
		}
	}
	replacements := map[string]*ebpf.Map{}
	for name, m := range shared {
		if ms, ok := s.Maps[name]; ok {
			replacements[name] = m
			// A ring buffer's size is part of its spec and must
			// match the shared map's.
			if ms.Type == ebpf.RingBuf {
				ms.MaxEntries = m.MaxEntries()
			}
			// The shared instance stands in for it: no pinning by
			// the object.
			ms.Pinning = ebpf.PinNone
		}
	}
	for _, ms := range s.Maps {
		if ms.Pinning == ebpf.PinByName {
			// Pinned maps of another footprint version.
			if err := migratePin(ms, pinPath, pins); err != nil {
				return nil, &Rejection{c.name, StageLoad, err.Error()}
			}
		}
	}
	opts := ebpf.CollectionOptions{MapReplacements: replacements, Maps: ebpf.MapOptions{PinPath: pinPath}}
	coll, err := ebpf.NewCollectionWithOptions(s, opts)
	if err != nil && len(c.changes) > 0 {
		// Opens first: a kernel that refuses a change program (older
		// trampolines take no struct arguments) still gets the open
		// programs, and the note says what is not covered.
		missing = []string{"every file-change hook (" + describe("load", err) + ")"}
		for _, name := range c.changes {
			delete(s.Programs, name)
		}
		c = withoutChanges(c)
		coll, err = ebpf.NewCollectionWithOptions(s, opts)
	}
	if err != nil {
		return nil, &Rejection{c.name, StageLoad, describe("load", err)}
	}
	a := &attachment{backend: c, coll: coll, programs: attachPoints(s), cgroupRoot: cgroupRoot, pinPath: pinPath, missing: missing}
	if err := a.attachLinks(); err != nil {
		coll.Close()
		return nil, &Rejection{c.name, StageAttach, err.Error()}
	}
	return a, nil
}
