package bpf

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
)

// Effect says what enforcement does about a violation of one kind on this
// kernel.
type Effect string

const (
	// Prevented: the operation fails with EPERM and never happens.
	Prevented Effect = "prevented"
	// KilledAfter: the process is killed with SIGKILL once the operation
	// has happened (it never returns to user space, but an effect such as
	// a chown, or the creation or truncation of a file, remains).
	KilledAfter Effect = "killed after the fact"
	// Unavailable: no backend loads; the kind is not enforced.
	Unavailable Effect = "not enforced"
)

// enforceBackend is a backend of the enforcer and what it can do.
type enforceBackend struct {
	backend
	// prevents is true when the hook can make the operation fail.
	prevents bool
}

// enforceBackends lists each kind's enforcement backends, best first. Exec
// is required: the exec hook is what makes an enforced cgroup live.
var enforceBackends = []struct {
	kind     Kind
	required bool
	choices  []enforceBackend
}{
	{KindCgroup, true, []enforceBackend{
		{backend{name: "tp_btf/cgroup_mkdir", object: "enforcecgroup", programs: []string{"fp_enforce_cgroup_mkdir", "fp_enforce_cgroup_rmdir", "fp_enforce_runtime_attach", "fp_enforce_runtime_fork", "fp_enforce_runtime_exec", "fp_enforce_runtime_exit"}}, false},
	}},
	{KindExec, true, []enforceBackend{
		{backend{name: "lsm/bprm_check_security", object: "enforceexec", programs: []string{"fp_enforce_bprm_lsm"}}, true},
		{backend{name: "tp_btf/sched_process_exec", object: "enforceexec", programs: []string{"fp_enforce_exec_tp_btf"},
			note: "before the new program runs"}, false},
	}},
	{KindCapability, false, []enforceBackend{
		{backend{name: "lsm/capable", object: "enforcecapability", programs: []string{"fp_enforce_capable_lsm"}}, true},
		{backend{name: "tp_btf/cap_capable", object: "enforcecapability", programs: []string{"fp_enforce_capable_tp_btf"},
			note: "after the privileged operation"}, false},
	}},
	{KindFile, false, []enforceBackend{
		{backend{name: "lsm/file_open", object: "enforcefile", programs: []string{"fp_enforce_file_open_lsm"}}, true},
		{backend{name: "tracepoint/syscalls/sys_exit_open*", object: "enforcefile",
			programs: []string{"fp_enforce_exit_openat", "fp_enforce_exit_open", "fp_enforce_exit_openat2", "fp_enforce_exit_creat"},
			optional: map[string]bool{"fp_enforce_exit_open": true, "fp_enforce_exit_openat2": true, "fp_enforce_exit_creat": true},
			note:     "before it reads; O_CREAT, O_TRUNC have taken effect"}, false},
	}},
	{KindConnect, false, []enforceBackend{
		{backend{name: "cgroup/connect4+connect6+sendmsg4+sendmsg6", object: "enforceconnect",
			programs: []string{"fp_enforce_connect4", "fp_enforce_connect6", "fp_enforce_sendmsg4", "fp_enforce_sendmsg6"},
			note:     "the Kill action denies: no signals here"}, true},
	}},
}

// EnforcerChoice is the outcome of probing one kind's enforcement backends.
type EnforcerChoice struct {
	BackendChoice
	Effect Effect
}

// enforcerSharedMaps are the maps every enforcer object declares and the
// loader creates once.
var enforcerSharedMaps = []string{
	"enforced_cgroups", "policies", "path_rules", "connect_rules",
	"violations", "violations_seen", "report_budget", "enforce_counters", "runtime_tasks",
}

// Enforcer is footprint's loaded enforcement side: programs that hold
// processes in enforced cgroups to their policies, the maps holding the
// compiled policies, and the ring buffer of violations.
type Enforcer struct {
	maps        map[string]*ebpf.Map
	collections []*ebpf.Collection
	links       []link.Link
	choices     []EnforcerChoice

	mu sync.Mutex
	// installed holds, per policy id, the map entries of its current
	// version, so that the next version can delete them after the swap.
	installed map[uint32]*installedPolicy
	// nextID allocates path node ids and connect set ids; 0 means none.
	nextID uint32
	// pinned is true when the maps are pinned and may hold a
	// predecessor's policies.
	pinned bool
	// retired are replaced versions whose rules are deleted a little
	// later (see retire).
	retired []retiredPolicy
}

type installedPolicy struct {
	pathKeys    []typesFpPathKey
	connectKeys []typesFpConnectRuleKey
}

// EnforcerOptions configures LoadEnforcer.
type EnforcerOptions struct {
	// CgroupRoot is the cgroup v2 mount the connect hooks attach to.
	CgroupRoot string
	// Backends pins kinds to one backend each, by the name `footprint
	// probe` shows.
	Backends map[Kind]string
	// Kallsyms is the kernel symbol table to find no-audit callers in.
	// Empty means /proc/kallsyms.
	Kallsyms string
	// PinPath, when set, is a directory on the BPF filesystem where the
	// policies, their rules, the enforced cgroups and the programs' links
	// are pinned: enforcement holds while no process holds them, and the
	// next LoadEnforcer takes them over.
	PinPath string
}

// LoadEnforcer loads and attaches the enforcement programs, choosing one
// backend per kind. Kinds without a working backend are reported in Choices
// with Effect Unavailable; LoadEnforcer fails only when exec or cgroup
// tracking cannot be hooked or the process may not use BPF at all.
func LoadEnforcer(opts EnforcerOptions) (*Enforcer, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, ErrNoBTF
	}
	if opts.CgroupRoot == "" {
		return nil, errors.New("load BPF programs: no cgroup v2 mount given")
	}
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("lift memlock rlimit: %w", err)
	}
	if opts.PinPath != "" {
		if err := preparePinPath(opts.PinPath); err != nil {
			return nil, err
		}
	}
	specs := map[string]*ebpf.CollectionSpec{}
	for name, load := range map[string]func() (*ebpf.CollectionSpec, error){
		"enforcecgroup":     loadEnforcecgroup,
		"enforceexec":       loadEnforceexec,
		"enforcecapability": loadEnforcecapability,
		"enforcefile":       loadEnforcefile,
		"enforceconnect":    loadEnforceconnect,
	} {
		spec, err := load()
		if err != nil {
			return nil, fmt.Errorf("parse embedded %s object: %w", name, err)
		}
		pinnable(spec, opts.PinPath)
		specs[name] = spec
	}
	configureNoAudit(specs["enforcecapability"], opts.Kallsyms)

	e := &Enforcer{maps: map[string]*ebpf.Map{}, installed: map[uint32]*installedPolicy{}, pinned: opts.PinPath != ""}
	for _, name := range enforcerSharedMaps {
		m, err := newSharedMap(specs["enforcefile"].Maps[name], opts.PinPath)
		if err != nil {
			e.Close()
			return nil, mapError(name, err)
		}
		e.maps[name] = m
	}
	// Rules a predecessor pinned keep their ids: new ones start above.
	if err := e.seedIDs(); err != nil {
		e.Close()
		return nil, err
	}
	for _, b := range enforceBackends {
		choice := EnforcerChoice{BackendChoice: BackendChoice{Kind: b.kind}, Effect: Unavailable}
		pinned := opts.Backends[b.kind]
		for _, c := range b.choices {
			if pinned != "" && c.name != pinned {
				choice.Rejected = append(choice.Rejected, Rejection{c.name, "not tried: another backend was chosen with --backend"})
				continue
			}
			coll, links, reason := loadBackend(specs[c.object], c.backend, e.maps, opts.CgroupRoot, opts.PinPath)
			if reason != "" {
				choice.Rejected = append(choice.Rejected, Rejection{c.name, reason})
				continue
			}
			e.collections = append(e.collections, coll)
			e.links = append(e.links, links...)
			choice.Chosen, choice.Note = c.name, c.note
			choice.Effect = KilledAfter
			if c.prevents {
				choice.Effect = Prevented
			}
			break
		}
		e.choices = append(e.choices, choice)
		if choice.Chosen == "" && b.required {
			e.Close()
			return nil, fmt.Errorf("no enforcement backend for %s loads on this kernel: %s", b.kind, rejections(choice.BackendChoice))
		}
	}
	return e, nil
}

// EnforcerBackendNames lists the enforcement backends footprint knows for a
// kind, best first.
func EnforcerBackendNames(k Kind) []string {
	for _, b := range enforceBackends {
		if b.kind == k {
			var names []string
			for _, c := range b.choices {
				names = append(names, c.name)
			}
			return names
		}
	}
	return nil
}

// Choices reports, per kind, the enforcement backend in use, what it does
// about a violation, and the backends refused.
func (e *Enforcer) Choices() []EnforcerChoice { return slices.Clone(e.choices) }

// Effect says what happens to a violation of kind k on this kernel.
func (e *Enforcer) Effect(k Kind) Effect {
	for _, c := range e.choices {
		if c.Kind == k {
			return c.Effect
		}
	}
	return Unavailable
}

// Close detaches every program and frees the maps. Processes that were
// enforced are no longer.
func (e *Enforcer) Close() error {
	e.mu.Lock()
	e.reap(true)
	e.mu.Unlock()
	var errs []error
	for _, l := range e.links {
		errs = append(errs, l.Close())
	}
	e.links = nil
	for _, c := range e.collections {
		c.Close()
	}
	e.collections = nil
	for name, m := range e.maps {
		errs = append(errs, m.Close())
		delete(e.maps, name)
	}
	return errors.Join(errs...)
}

// Kernel values of enum fp_enforce_mode and enum fp_enforce_action.
const (
	modeAudit   = 1
	modeEnforce = 2
	actionDeny  = 1
	actionKill  = 2
)

// InstallPolicy installs (or replaces) the compiled policy under id. A
// replacement is atomic for every process held to it: the new version's
// rules are written under fresh ids first, then the policy entry is swapped
// in one update, then the old version's rules are deleted.
func (e *Enforcer) InstallPolicy(id uint32, c *rules.Compiled) error {
	if id == 0 {
		return errors.New("install policy: id 0 is reserved")
	}
	e.mu.Lock()
	defer e.mu.Unlock()

	next := &installedPolicy{}
	var kp typesFpPolicy
	kp.Mode = modeAudit
	if c.Mode == v1alpha1.ModeEnforce {
		kp.Mode = modeEnforce
	}
	kp.Action = actionDeny
	if c.Action == v1alpha1.ActionKill {
		kp.Action = actionKill
	}
	var err error
	if c.Capabilities != nil {
		kp.Governs |= 1 << KindCapability
		kp.CapsAllowed = c.Capabilities.Allowed
		kp.CapsAllowedUserns = c.Capabilities.AllowedInUserNamespace
	}
	if c.Files != nil {
		kp.Governs |= 1 << KindFile
		if kp.Files, err = e.writeTree(c.Files, next); err != nil {
			e.deleteEntries(next)
			return fmt.Errorf("install policy %d: file rules: %w", id, err)
		}
	}
	if c.Executables != nil {
		kp.Governs |= 1 << KindExec
		if kp.Executables, err = e.writeTree(c.Executables, next); err != nil {
			e.deleteEntries(next)
			return fmt.Errorf("install policy %d: executable rules: %w", id, err)
		}
	}
	if c.ConnectGoverned {
		kp.Governs |= 1 << KindConnect
		if kp.ConnectSet, err = e.writeConnect(c.Connect, next); err != nil {
			e.deleteEntries(next)
			return fmt.Errorf("install policy %d: connect rules: %w", id, err)
		}
	}
	if err := e.maps["policies"].Put(id, &kp); err != nil {
		e.deleteEntries(next)
		return fmt.Errorf("install policy %d: %w", id, err)
	}
	if old := e.installed[id]; old != nil {
		e.retire(old)
	} else if e.pinned {
		// The version this replaced may be a predecessor's, whose rules
		// this process does not know: collect what nothing reaches.
		if err := e.collectGarbage(); err != nil {
			return fmt.Errorf("install policy %d: clean up replaced rules: %w", id, err)
		}
	}
	e.installed[id] = next
	return nil
}

// RemovePolicy deletes a policy and its rules. Cgroups still pointing at it
// are no longer restricted.
func (e *Enforcer) RemovePolicy(id uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.maps["policies"].Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("remove policy %d: %w", id, err)
	}
	if old := e.installed[id]; old != nil {
		e.retire(old)
	} else if e.pinned {
		if err := e.collectGarbage(); err != nil {
			return fmt.Errorf("remove policy %d: %w", id, err)
		}
	}
	delete(e.installed, id)
	return nil
}

// seedIDs starts id allocation above every id in the rule maps, which a
// predecessor may have filled.
func (e *Enforcer) seedIDs() error {
	var key typesFpPathKey
	var node typesFpPathNode
	it := e.maps["path_rules"].Iterate()
	for it.Next(&key, &node) {
		e.nextID = max(e.nextID, key.Parent, node.Id)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read pinned rules: %w", err)
	}
	var id uint32
	var p typesFpPolicy
	pit := e.maps["policies"].Iterate()
	for pit.Next(&id, &p) {
		e.nextID = max(e.nextID, p.Files.Id, p.Executables.Id, p.ConnectSet)
	}
	if err := pit.Err(); err != nil {
		return fmt.Errorf("read pinned policies: %w", err)
	}
	return nil
}

// collectGarbage deletes the rules no installed policy reaches: those of
// versions a predecessor replaced or removed without cleaning up.
func (e *Enforcer) collectGarbage() error {
	reachable := map[uint32]bool{}
	sets := map[uint32]bool{}
	var id uint32
	var p typesFpPolicy
	pit := e.maps["policies"].Iterate()
	for pit.Next(&id, &p) {
		reachable[p.Files.Id], reachable[p.Executables.Id], sets[p.ConnectSet] = true, true, true
	}
	if err := pit.Err(); err != nil {
		return err
	}
	type entry struct {
		key  typesFpPathKey
		node typesFpPathNode
	}
	var entries []entry
	var key typesFpPathKey
	var node typesFpPathNode
	it := e.maps["path_rules"].Iterate()
	for it.Next(&key, &node) {
		entries = append(entries, entry{key, node})
	}
	if err := it.Err(); err != nil {
		return err
	}
	for grew := true; grew; {
		grew = false
		for _, en := range entries {
			if reachable[en.key.Parent] && !reachable[en.node.Id] {
				reachable[en.node.Id], grew = true, true
			}
		}
	}
	for i := range entries {
		if !reachable[entries[i].key.Parent] {
			_ = e.maps["path_rules"].Delete(&entries[i].key)
		}
	}
	var ckey typesFpConnectRuleKey
	var one uint8
	var doomed []typesFpConnectRuleKey
	cit := e.maps["connect_rules"].Iterate()
	for cit.Next(&ckey, &one) {
		if !sets[ckey.Set] {
			doomed = append(doomed, ckey)
		}
	}
	for i := range doomed {
		_ = e.maps["connect_rules"].Delete(&doomed[i])
	}
	return cit.Err()
}

func (e *Enforcer) allocID() uint32 {
	e.nextID++
	if e.nextID == 0 {
		e.nextID = 1
	}
	return e.nextID
}

// writeTree writes a path tree's nodes under fresh ids and returns its root.
func (e *Enforcer) writeTree(t *rules.PathTree, into *installedPolicy) (typesFpPathNode, error) {
	if len(t.Nodes) == 0 {
		return typesFpPathNode{Id: e.allocID()}, nil
	}
	ids := make([]uint32, len(t.Nodes))
	for i := range t.Nodes {
		ids[i] = e.allocID()
	}
	root := typesFpPathNode{Id: ids[0], Access: uint8(t.Nodes[0].Access), Descendants: uint8(t.Nodes[0].Descendants)}
	for i, n := range t.Nodes[1:] {
		i++
		key := typesFpPathKey{Parent: ids[n.Parent]}
		if n.Wildcard {
			key.Len = wildcardLen
		} else {
			if len(n.Name) == 0 || len(n.Name) >= len(key.Name) {
				return root, fmt.Errorf("path component %q: must be 1 to %d bytes", n.Name, len(key.Name)-1)
			}
			key.Len = uint32(len(n.Name))
			for j := 0; j < len(n.Name); j++ {
				key.Name[j] = int8(n.Name[j])
			}
		}
		value := typesFpPathNode{Id: ids[i], Access: uint8(n.Access), Descendants: uint8(n.Descendants)}
		if err := e.maps["path_rules"].Put(&key, &value); err != nil {
			return root, fmt.Errorf("write rule %s: %w", t.Pattern(i), err)
		}
		into.pathKeys = append(into.pathKeys, key)
	}
	return root, nil
}

// wildcardLen is FP_WILDCARD_LEN.
const wildcardLen = 0xffff

// connectKeyBits is the bits of fp_connect_rule_key after prefixlen that are
// always matched: set, protocol, any_port and port.
const connectKeyBits = 64

// writeConnect writes a policy version's destinations under a fresh set id.
func (e *Enforcer) writeConnect(rs []rules.ConnectRule, into *installedPolicy) (uint32, error) {
	set := e.allocID()
	one := uint8(1)
	for _, r := range rs {
		key := typesFpConnectRuleKey{
			Prefixlen: uint32(connectKeyBits + r.Prefix.Bits()),
			Set:       set,
			Protocol:  r.Protocol,
			Port:      r.Port,
			Addr:      r.Prefix.Addr().As16(),
		}
		if r.AnyPort {
			key.AnyPort, key.Port = 1, 0
		}
		if err := e.maps["connect_rules"].Put(&key, &one); err != nil {
			return 0, fmt.Errorf("write rule %s: %w", r, err)
		}
		into.connectKeys = append(into.connectKeys, key)
	}
	return set, nil
}

// retireAfter is how long a replaced version's rules outlive it. A program
// that looked the policy up just before the swap may still be reading it:
// a preallocated hash map recycles the replaced value at once, so what it
// reads may mix the old and new versions' ids, and each of them must still
// find its rules.
const retireAfter = time.Second

type retiredPolicy struct {
	at    time.Time
	rules *installedPolicy
}

// retire deletes a replaced version's rules once no program can still be
// using them. Called with e.mu held.
func (e *Enforcer) retire(p *installedPolicy) {
	e.retired = append(e.retired, retiredPolicy{at: time.Now(), rules: p})
	e.reap(false)
	time.AfterFunc(retireAfter+100*time.Millisecond, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.reap(false)
	})
}

// reap deletes the rules retired long enough ago, or all of them. Called
// with e.mu held.
func (e *Enforcer) reap(all bool) {
	kept := e.retired[:0]
	for _, r := range e.retired {
		if all || time.Since(r.at) >= retireAfter {
			if e.maps["path_rules"] != nil {
				e.deleteEntries(r.rules)
			}
			continue
		}
		kept = append(kept, r)
	}
	e.retired = kept
}

func (e *Enforcer) deleteEntries(p *installedPolicy) {
	for i := range p.pathKeys {
		_ = e.maps["path_rules"].Delete(&p.pathKeys[i])
	}
	for i := range p.connectKeys {
		_ = e.maps["connect_rules"].Delete(&p.connectKeys[i])
	}
}

// Hold says how a cgroup is held to a policy.
type Hold struct {
	// Live applies the rules other than exec at once (a cgroup with a
	// workload already running) rather than from the cgroup's first exec
	// (a cgroup about to start one, so that its set-up is not held).
	Live bool
	// Containers marks a pod's or a container's cgroup: the container
	// runtime's own tasks there (runc init setting a container up, the
	// init of kubectl exec and of exec probes) are never held.
	Containers bool
}

// EnforceCgroup holds the processes of a cgroup, and of every cgroup later
// created below it, to a policy.
func (e *Enforcer) EnforceCgroup(cgroupID uint64, policyID uint32, h Hold) error {
	v := typesFpEnforcedCgroup{PolicyId: policyID}
	if h.Live {
		v.Flags |= enforceLive
	}
	if h.Containers {
		v.Flags |= enforceContainers
	}
	if err := e.maps["enforced_cgroups"].Put(cgroupID, &v); err != nil {
		return fmt.Errorf("enforce cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// HoldPending holds a pod's cgroup for a policy of named containers: each
// container cgroup the runtime creates below it stops at its first exec
// (before its first instruction) until Classify keeps it under the policy
// or releases it, and continues it.
func (e *Enforcer) HoldPending(cgroupID uint64, policyID uint32) error {
	v := typesFpEnforcedCgroup{PolicyId: policyID, Flags: enforcePending | enforceContainers}
	if err := e.maps["enforced_cgroups"].Put(cgroupID, &v); err != nil {
		return fmt.Errorf("hold cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// PendingCgroups returns the cgroups the kernel added below a pending hold
// and nobody classified yet.
func (e *Enforcer) PendingCgroups() (map[uint64]uint32, error) {
	out := map[uint64]uint32{}
	var id uint64
	var v typesFpEnforcedCgroup
	it := e.maps["enforced_cgroups"].Iterate()
	for it.Next(&id, &v) {
		if v.Flags&enforceInherited != 0 && v.Flags&enforcePending != 0 {
			out[id] = v.PolicyId
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read enforced cgroups: %w", err)
	}
	return out, nil
}

// ReleaseCgroup stops enforcing a cgroup and the cgroups the kernel added
// below it.
func (e *Enforcer) ReleaseCgroup(cgroupID uint64) error {
	if err := e.maps["enforced_cgroups"].Delete(cgroupID); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("release cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// EnforcedCgroups returns the cgroups user space holds to a policy (not
// those the kernel added below them), with their policy ids: after a
// restart over pinned maps, what a predecessor set up.
func (e *Enforcer) EnforcedCgroups() (map[uint64]uint32, error) {
	out := map[uint64]uint32{}
	var id uint64
	var v typesFpEnforcedCgroup
	it := e.maps["enforced_cgroups"].Iterate()
	for it.Next(&id, &v) {
		if v.Flags&enforceInherited == 0 {
			out[id] = v.PolicyId
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read enforced cgroups: %w", err)
	}
	return out, nil
}

// The flags of enum fp_enforce_flag.
const (
	enforceLive       = 1
	enforceInherited  = 2
	enforcePending    = 4
	enforceContainers = 8
)
