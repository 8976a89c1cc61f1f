package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
)

// Selection is what one ProfileRecording selects on this node.
type Selection struct {
	// Recording is the ProfileRecording's name; its namespace is the
	// pods'.
	Recording string
	// Policy, for a selection that no recording made, is the
	// EnforcementPolicy whose pods run an image it was not recorded from:
	// they are recorded into its profile until it is promoted.
	Policy    string
	Namespace string
	// Kinds are the kinds of event it records.
	Kinds bpf.KindSet
	// Containers are the container names it selects; empty selects all.
	Containers []string
	// Pods are the pods on this node its selector matches.
	Pods []*corev1.Pod
}

func (s Selection) selects(container string) bool {
	return len(s.Containers) == 0 || slices.Contains(s.Containers, container)
}

// Snapshot is everything recorded so far of one container of one pod: the
// cumulative profile of that source, as profilestore.Store.Merge takes it.
type Snapshot struct {
	Recording string
	Policy    string
	Pod       *corev1.Pod
	Container string
	Spec      v1alpha1.ProfileSpec
	Source    v1alpha1.Source
}

// NodeRecorder records the containers that ProfileRecordings select on one
// node. It watches each selected pod's cgroup, so that a container the
// runtime starts later is recorded from its first exec (the kernel extends
// the watch to every cgroup created below), and the cgroups of containers
// already running, from now on. Snapshot attributes what the kernel
// aggregated to pods and containers through their cgroups.
//
// While any recording is active, the kernel also watches every pod cgroup
// kubelet makes, provisionally, the moment it is made (bpf.WatchNewPods):
// looking a new pod up and selecting it takes user space seconds on a node
// starting many pods, and a container that ran before its pod was watched
// lost its first instructions. Select keeps the watch of a pod a recording
// selects; the watch of a pod on the node that none selects, of a cgroup
// that is no pod's, and of a pod not heard of within provisionalTimeout is
// dropped, and what it recorded is forgotten at the next Snapshots without
// reaching any Profile.
type NodeRecorder struct {
	rec      *bpf.Recorder
	resolver *containers.Resolver
	node     string
	kernel   string
	log      logr.Logger

	mu sync.Mutex
	// watched are the cgroups this recorder added to the kernel's watch
	// map, by id, with their paths.
	watched map[uint64]string
	// selections are the current recordings' selections.
	selections []Selection
	// selectedPods are the cgroup UIDs (containers.CgroupUID) of the
	// selections' pods.
	selectedPods map[types.UID]bool
	// podsOnNode are the cgroup UIDs of every pod bound to this node
	// (SetPodsOnNode); nil until told.
	podsOnNode map[types.UID]bool
	// newPods is what the kernel was last told to watch new pods with.
	newPods string
	// provisional are the cgroups the kernel watches provisionally, as
	// this recorder first found them.
	provisional map[uint64]provisionalCgroup
	// forgetNext are cgroups whose entries the next Snapshots forgets: a
	// provisional watch dropped. One Forget per flush reads the maps once.
	forgetNext map[uint64]bool
	// provisionalTimeout is how long a provisional watch of a pod this
	// node has not heard of is kept.
	provisionalTimeout time.Duration
	// started is, per snapshot (sourceStartKey), the start its source was
	// given at the last Snapshots. A source whose entries carry no first
	// sighting (system calls only, or only losses) would otherwise start
	// at every Snapshots anew -- a new source in its Profile, and a write,
	// at every flush -- and a kernel timestamp converted at another sweep
	// may fall in another second. Kept for the snapshots of the last
	// Snapshots only: a few dozen bytes per container.
	started map[string]time.Time

	// unkeptMu guards unkept and dropped apart from mu, so that reading
	// the ring buffer never waits for a sweep.
	unkeptMu sync.Mutex
	// unkept are, by entryKey, the entries the kernel's full maps could
	// not keep, from their ring-buffer records (ReadSightings): their
	// only copy until a snapshot carries them to a Profile.
	unkept map[string]bpf.Entry
	// dropped counts, per cgroup and kind, unkept sightings of new
	// entries unkept had no room for (maxUnkeptEntries).
	dropped map[uint64]map[bpf.Kind]uint64
}

// maxUnkeptEntries bounds the agent's memory for entries the kernel's full
// maps could not keep: as many as the kernel's file map holds by default
// (a few hundred bytes each). Past it, sightings of new entries are counted
// as lost, per container, like the kernel's own losses.
const maxUnkeptEntries = 65536

// provisionalTimeout is how long a pod cgroup watched provisionally is kept
// when no pod on this node has its UID: the agent's pod watch brings a pod
// within seconds of kubelet's (a minute on an overloaded API server); a
// cgroup older than that belongs to no pod the agent will hear of (a
// kubelet it does not serve, a pod deleted meanwhile).
const provisionalTimeout = 2 * time.Minute

// provisionalCgroup is a cgroup the kernel watches provisionally.
type provisionalCgroup struct {
	// since is when this recorder found it.
	since time.Time
	// pod is the cgroup UID its path names; "" when its path is no pod's
	// (a QoS class directory kubelet made after the search) or it is gone.
	pod types.UID
}

// NewNodeRecorder drives rec for the pods on node, finding cgroups with
// resolver.
func NewNodeRecorder(rec *bpf.Recorder, resolver *containers.Resolver, node string, log logr.Logger) *NodeRecorder {
	n := &NodeRecorder{rec: rec, resolver: resolver, node: node, kernel: KernelRelease(), log: log, watched: map[uint64]string{},
		provisional: map[uint64]provisionalCgroup{}, forgetNext: map[uint64]bool{}, provisionalTimeout: provisionalTimeout}
	// After a restart over pinned maps: what the predecessor watched is
	// ours to keep or drop.
	if watched, err := rec.Watched(); err == nil {
		for id, w := range watched {
			if !w.Inherited {
				n.watched[id] = ""
			}
		}
	}
	return n
}

// Select makes the kernel record what sels select and nothing else this
// recorder added before; what it no longer selects is forgotten, so take a
// last Snapshots first. It returns, per recording, the problems with pods
// it could not watch (their cgroup not found yet is not a problem: Select
// is called again when the pod changes).
func (n *NodeRecorder) Select(sels []Selection) map[string][]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	problems := map[string][]string{}
	want := map[uint64]bpf.Watch{}
	paths := map[uint64]string{}
	// unselected are running containers of selected pods that no
	// recording selects: the kernel extended the pod's watch to them.
	unselected := map[uint64]bool{}
	selectedPods := map[types.UID]bool{}
	for _, s := range sels {
		for _, pod := range s.Pods {
			selectedPods[containers.CgroupUID(pod)] = true
			if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			podCg, err := n.resolver.PodCgroup(pod)
			if err != nil {
				if !isNotFound(err) {
					problems[s.Recording] = append(problems[s.Recording], err.Error())
				}
				continue
			}
			w := want[podCg.ID]
			w.Kinds |= s.Kinds
			w.Containers = true
			want[podCg.ID] = w
			paths[podCg.ID] = podCg.Path
			ctrs, err := n.resolver.ContainerCgroups(pod)
			if err != nil {
				problems[s.Recording] = append(problems[s.Recording], err.Error())
				continue
			}
			for _, c := range ctrs {
				if c.State != containers.CgroupPresent {
					continue
				}
				if !s.selects(c.Name) {
					unselected[c.Cgroup.ID] = true
					continue
				}
				// Already running: recording starts now.
				w := want[c.Cgroup.ID]
				w.Kinds |= s.Kinds
				w.Live = true
				w.Containers = true
				want[c.Cgroup.ID] = w
				paths[c.Cgroup.ID] = c.Cgroup.Path
			}
		}
	}
	current, err := n.rec.Watched()
	if err != nil {
		problems[""] = append(problems[""], err.Error())
		return problems
	}
	for id, w := range want {
		have, ok := current[id]
		// A provisional watch becomes this recorder's.
		if ok && have.Kinds&w.Kinds == w.Kinds && (have.Live || !w.Live) && have.Containers && !have.Provisional {
			continue
		}
		if ok {
			// Keep what the kernel set: a container that already
			// exec'ed is live.
			w.Live = w.Live || have.Live
			w.Kinds |= have.Kinds
		}
		if err := n.rec.Watch(id, w); err != nil {
			problems[""] = append(problems[""], err.Error())
			continue
		}
		n.watched[id] = paths[id]
	}
	for id := range unselected {
		if _, ok := want[id]; !ok {
			n.rec.Unwatch(id)
		}
	}
	// Cgroups this recorder watched that no recording selects any more,
	// and the cgroups the kernel added below them.
	// Their entries go too: the caller took its last snapshot before.
	gone := map[uint64]bool{}
	for id, path := range n.watched {
		if _, ok := want[id]; ok {
			continue
		}
		n.rec.Unwatch(id)
		gone[id] = true
		if path == "" {
			delete(n.watched, id)
			continue
		}
		for _, child := range descendants(path) {
			if _, ok := want[child]; !ok {
				n.rec.Unwatch(child)
				gone[child] = true
			}
		}
		delete(n.watched, id)
	}
	if len(gone) > 0 {
		if err := n.rec.Forget(func(id uint64) bool { return gone[id] }); err != nil {
			problems[""] = append(problems[""], err.Error())
		}
		n.forgetUnkept(func(id uint64) bool { return gone[id] })
	}
	n.selections = sels
	n.selectedPods = selectedPods
	if err := n.watchNewPods(sels); err != nil {
		problems[""] = append(problems[""], err.Error())
	}
	// current, read before this Select's changes, is as good as a new
	// read but for the watches made this recorder's here (want).
	if err := n.classifyProvisional(current, want); err != nil {
		problems[""] = append(problems[""], err.Error())
	}
	return problems
}

// SetPodsOnNode tells the recorder every pod bound to this node, selected
// or not, as they were before the next Select's selections were computed:
// a provisional watch of a pod that is here and that no recording selects
// is dropped at that Select, not after provisionalTimeout. nil says it is
// not known (then only the timeout drops).
func (n *NodeRecorder) SetPodsOnNode(pods []*corev1.Pod) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.podsOnNode = nil
	if pods == nil {
		return
	}
	n.podsOnNode = map[types.UID]bool{}
	for _, p := range pods {
		n.podsOnNode[containers.CgroupUID(p)] = true
	}
}

// watchNewPods has the kernel watch new pod cgroups provisionally, with
// every kind some selection records, while there is a selection; and not
// when there is none. Called with n.mu held.
func (n *NodeRecorder) watchNewPods(sels []Selection) error {
	var kinds bpf.KindSet
	for _, s := range sels {
		kinds |= s.Kinds
	}
	var ids []uint64
	if kinds != 0 {
		parents, err := n.resolver.PodParents()
		if err != nil {
			// Pods are still watched once looked up, as without it.
			return fmt.Errorf("watch new pods from their cgroup's creation: %w", err)
		}
		for _, p := range parents {
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
	}
	key := fmt.Sprint(kinds, ids)
	if key == n.newPods {
		return nil
	}
	if err := n.rec.WatchNewPods(ids, bpf.Watch{Kinds: kinds, Containers: true}); err != nil {
		return err
	}
	n.newPods = key
	return nil
}

// classifyProvisional keeps the provisional watches of the selected pods'
// cgroups and drops the others': a pod on this node that no recording
// selects, a cgroup that is no pod's, and a pod not heard of within
// provisionalTimeout. Their entries are forgotten by the next Snapshots;
// so are those of provisional cgroups removed before they were classified.
// watched is the kernel's watch map, nil to read it now; the cgroups in
// mine have been watched by this recorder since. Called with n.mu held.
func (n *NodeRecorder) classifyProvisional(watched, mine map[uint64]bpf.Watch) error {
	if watched == nil {
		var err error
		if watched, err = n.rec.Watched(); err != nil {
			return err
		}
	}
	now := time.Now()
	var errs []error
	for id, w := range watched {
		if _, ok := mine[id]; ok || !w.Provisional {
			continue
		}
		p, ok := n.provisional[id]
		if !ok {
			p = provisionalCgroup{since: now}
			if path, err := cgroupfs.PathByID(n.resolver.Root(), id); err == nil {
				if ident, ok := containers.ParsePath(path); ok {
					p.pod = ident.PodUID
				}
			}
			n.provisional[id] = p
		}
		keep := p.pod != "" && (n.selectedPods[p.pod] || !n.podsOnNode[p.pod] && now.Sub(p.since) < n.provisionalTimeout)
		if keep {
			continue
		}
		if err := n.rec.Unwatch(id); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(n.provisional, id)
		n.forgetNext[id] = true
	}
	for id := range n.provisional {
		if _, kept := mine[id]; kept {
			delete(n.provisional, id)
			continue
		}
		w, ok := watched[id]
		if !ok {
			// Removed while provisional (rmdir dropped the watch).
			n.forgetNext[id] = true
		}
		if !ok || !w.Provisional {
			delete(n.provisional, id)
		}
	}
	return errors.Join(errs...)
}

// Snapshots attributes everything the kernel aggregated to the selected
// containers and returns one cumulative snapshot per (recording, pod,
// container). Entries of cgroups no selected container owns (the pod's
// sandbox, containers a recording does not select, cgroups watched
// provisionally and then dropped or removed) are forgotten in the kernel,
// so that they cost no memory.
func (n *NodeRecorder) Snapshots() ([]Snapshot, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// Provisional watches past their time go now, not at the next
	// pod event.
	if err := n.classifyProvisional(nil, nil); err != nil {
		n.log.Error(err, "classify provisionally watched cgroups")
	}
	type owner struct {
		sel       int
		pod       *corev1.Pod
		container string
	}
	owners := map[uint64][]owner{}
	known := map[uint64]bool{}
	for i, s := range n.selections {
		for _, pod := range s.Pods {
			if podCg, err := n.resolver.PodCgroup(pod); err == nil {
				known[podCg.ID] = true
			}
			ctrs, err := n.resolver.ContainerCgroups(pod)
			if err != nil {
				continue
			}
			for _, c := range ctrs {
				if c.State != containers.CgroupPresent {
					continue
				}
				known[c.Cgroup.ID] = true
				if s.selects(c.Name) {
					owners[c.Cgroup.ID] = append(owners[c.Cgroup.ID], owner{sel: i, pod: pod, container: c.Name})
				}
			}
		}
	}
	entries, err := n.rec.Sweep(nil)
	if err != nil {
		return nil, err
	}
	entries = n.withUnkept(entries, func(id uint64) bool { return len(owners[id]) > 0 })
	type key struct {
		sel       int
		pod       types.UID
		container string
	}
	grouped := map[key][]bpf.Entry{}
	pods := map[key]*corev1.Pod{}
	cgroups := map[key]map[uint64]bool{}
	// Read after the sweep: a cgroup whose entries were swept and that is
	// not watched now records nothing more; if no selected container owns
	// it, nothing will ever report its entries (a provisional watch
	// dropped, or removed before it was classified).
	watchedNow, err := n.rec.Watched()
	if err != nil {
		return nil, err
	}
	var orphans []uint64
	for id := range n.forgetNext {
		orphans = append(orphans, id)
	}
	clear(n.forgetNext)
	for _, e := range entries {
		os, ok := owners[e.CgroupID]
		if !ok {
			if _, watched := watchedNow[e.CgroupID]; known[e.CgroupID] || !watched {
				orphans = append(orphans, e.CgroupID)
			}
			continue
		}
		for _, o := range os {
			if !n.selections[o.sel].Kinds.Records(e.Kind) {
				continue
			}
			k := key{o.sel, o.pod.UID, o.container}
			grouped[k] = append(grouped[k], e)
			pods[k] = o.pod
			if cgroups[k] == nil {
				cgroups[k] = map[uint64]bool{}
			}
			cgroups[k][e.CgroupID] = true
		}
	}
	if len(orphans) > 0 {
		drop := map[uint64]bool{}
		for _, id := range orphans {
			drop[id] = true
		}
		// Attributed to no selected container, now or later: the
		// sandbox and unselected containers of selected pods.
		if err := n.rec.Forget(func(id uint64) bool { return drop[id] }); err != nil {
			n.log.Error(err, "forget unselected cgroups")
		}
		n.forgetUnkept(func(id uint64) bool { return drop[id] })
	}
	lost := n.lost()
	// A container that lost sightings has a snapshot to say so, even
	// with no entry to show.
	for id, kinds := range lost {
		for _, o := range owners[id] {
			if !recordsAny(n.selections[o.sel].Kinds, kinds) {
				continue
			}
			k := key{o.sel, o.pod.UID, o.container}
			if _, ok := grouped[k]; !ok {
				grouped[k] = nil
			}
			pods[k] = o.pod
			if cgroups[k] == nil {
				cgroups[k] = map[uint64]bool{}
			}
			cgroups[k][id] = true
		}
	}
	var out []Snapshot
	started := make(map[string]time.Time, len(grouped))
	for k, es := range grouped {
		spec, _ := BuildSpec(es)
		pod := pods[k]
		s := n.selections[k.sel]
		var first time.Time
		for _, e := range es {
			if !e.FirstSeen.IsZero() && (first.IsZero() || e.FirstSeen.Before(first)) {
				first = e.FirstSeen
			}
		}
		startKey := sourceStartKey(s, pod, k.container)
		if prev, ok := n.started[startKey]; ok && (first.IsZero() || prev.Before(first)) {
			first = prev
		}
		if first.IsZero() {
			first = time.Now()
		}
		first = first.Truncate(time.Second)
		started[startKey] = first
		src := v1alpha1.Source{
			Node:      n.node,
			Pod:       pod.Name,
			Recording: s.Recording,
			Policy:    s.Policy,
			// What the container ran; a spec naming another image (not
			// started yet) is not what these entries come from.
			Images:    ranImage(pod, k.container),
			Kernel:    n.kernel,
			Routes:    recordedRoutes(n.rec.Choices()),
			FirstSeen: metav1.NewTime(first),
			LastSeen:  metav1.NewTime(time.Now().Truncate(time.Second)),
			Backends:  map[string]string{},
		}
		for _, c := range n.rec.Choices() {
			// Only the kinds this selection records: a generated policy
			// enforces the kinds its profile's sources name.
			if c.Chosen != "" && s.Kinds.Records(c.Kind) {
				src.Backends[c.Kind.String()] = c.Chosen
			}
		}
		for _, e := range es {
			src.Events += int64(e.Count)
		}
		// What this container's cgroup lost, in the kinds this
		// selection records.
		mine := map[bpf.Kind]uint64{}
		for id := range cgroups[k] {
			for kind, c := range lost[id] {
				if s.Kinds.Records(kind) {
					mine[kind] += c
				}
			}
		}
		src.LostByKind = lostByKind(mine)
		for _, c := range src.LostByKind {
			src.LostRecords += c
		}
		out = append(out, Snapshot{Recording: s.Recording, Policy: s.Policy, Pod: pod, Container: k.container, Spec: spec, Source: src})
	}
	n.started = started
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pod.Name != out[j].Pod.Name {
			return out[i].Pod.Name < out[j].Pod.Name
		}
		return out[i].Container < out[j].Container
	})
	return out, nil
}

// sourceStartKey names the source of one snapshot across Snapshots: its
// recording (or policy), pod and container.
func sourceStartKey(s Selection, pod *corev1.Pod, container string) string {
	return s.Recording + "\x00" + s.Policy + "\x00" + pod.Namespace + "\x00" + string(pod.UID) + "\x00" + container
}

// ReadSightings reads the kernel's ring buffer until ctx ends and keeps the
// entries of sightings the kernel's full maps could not keep, for Snapshots.
// Other records are first sightings of entries the maps hold: the sweep
// finds those. While nothing reads the ring buffer it fills up, and the
// kernel then counts unkept sightings as lost: never a silent loss.
func (n *NodeRecorder) ReadSightings(ctx context.Context) error {
	rd, err := n.rec.NewReader()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { rd.Close() })
	defer stop()
	for {
		ev, err := rd.Read()
		switch {
		case errors.Is(err, bpf.ErrClosed):
			return nil
		case err != nil:
			rd.Close()
			return fmt.Errorf("read first sightings: %w", err)
		case ev.Unkept:
			n.keepUnkept(ev.Entry)
		}
	}
}

func (n *NodeRecorder) keepUnkept(e bpf.Entry) {
	n.unkeptMu.Lock()
	defer n.unkeptMu.Unlock()
	if _, have := n.unkept[entryKey(e)]; !have && len(n.unkept) >= maxUnkeptEntries {
		if n.dropped == nil {
			n.dropped = map[uint64]map[bpf.Kind]uint64{}
		}
		if n.dropped[e.CgroupID] == nil {
			n.dropped[e.CgroupID] = map[bpf.Kind]uint64{}
		}
		n.dropped[e.CgroupID][e.Kind]++
		return
	}
	addUnkept(&n.unkept, e)
}

// withUnkept adds to swept the unkept entries of the cgroups owned accepts,
// and lets go of unkept entries the maps hold by now.
func (n *NodeRecorder) withUnkept(swept []bpf.Entry, owned func(cgroupID uint64) bool) []bpf.Entry {
	n.unkeptMu.Lock()
	defer n.unkeptMu.Unlock()
	if len(n.unkept) == 0 {
		return swept
	}
	mine := map[string]bpf.Entry{}
	for k, e := range n.unkept {
		if owned(e.CgroupID) {
			mine[k] = e
		}
	}
	for _, e := range swept {
		delete(n.unkept, entryKey(e))
	}
	return withUnkept(swept, mine)
}

// forgetUnkept lets go of what ReadSightings kept for the cgroups forget
// accepts, as Recorder.Forget does of the kernel's entries.
func (n *NodeRecorder) forgetUnkept(forget func(cgroupID uint64) bool) {
	n.unkeptMu.Lock()
	defer n.unkeptMu.Unlock()
	for k, e := range n.unkept {
		if forget(e.CgroupID) {
			delete(n.unkept, k)
		}
	}
	for id := range n.dropped {
		if forget(id) {
			delete(n.dropped, id)
		}
	}
}

// lost returns, per cgroup and kind, the sightings of entries neither the
// kernel nor this recorder could keep.
func (n *NodeRecorder) lost() map[uint64]map[bpf.Kind]uint64 {
	out, err := n.rec.Lost()
	if err != nil {
		n.log.Error(err, "read the kernel's lost sightings")
		out = map[uint64]map[bpf.Kind]uint64{}
	}
	n.unkeptMu.Lock()
	defer n.unkeptMu.Unlock()
	for id, kinds := range n.dropped {
		if out[id] == nil {
			out[id] = map[bpf.Kind]uint64{}
		}
		for k, c := range kinds {
			out[id][k] += c
		}
	}
	return out
}

// Selections returns what the recordings currently select.
func (n *NodeRecorder) Selections() []Selection {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.selections)
}

// Close stops recording everything this recorder watched.
func (n *NodeRecorder) Close() {
	n.Select(nil)
}

// descendants returns the ids of the cgroups below dir, two levels deep
// (containers of a pod, and a runtime's cgroup inside a container).
func descendants(dir string) []uint64 {
	var ids []uint64
	for _, pattern := range []string{"*", "*/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || !fi.IsDir() {
				continue
			}
			if id, err := cgroupfs.ID(m); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func recordsAny(set bpf.KindSet, counts map[bpf.Kind]uint64) bool {
	for k, c := range counts {
		if c > 0 && set.Records(k) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	return errors.Is(err, containers.ErrNotFound)
}

// KernelRelease is the running kernel's release ("6.1.0-28-amd64"), or ""
// when uname fails: profiles name the kernel each source was recorded on.
func KernelRelease() string {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return ""
	}
	return unix.ByteSliceToString(uts.Release[:])
}

// String describes a selection for logs.
func (s Selection) String() string {
	if s.Policy != "" {
		return fmt.Sprintf("%s/%s (policy, %d pods running images it was not recorded from)", s.Namespace, s.Policy, len(s.Pods))
	}
	return fmt.Sprintf("%s/%s (%d pods)", s.Namespace, s.Recording, len(s.Pods))
}
