package bpf

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
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
	// FollowsProcess: the operation (leaving the policy's cgroups) cannot
	// be refused; the policy goes along, holding the process and what it
	// starts wherever it went.
	FollowsProcess Effect = "policy follows the process"
	// ReportedSeccomp: system calls. The policy's seccomp filter refuses
	// the call with EPERM (where the process runs under it); footprint's
	// program reports it.
	ReportedSeccomp Effect = "prevented by seccomp, reported"
	// Unavailable: no backend works; the kind is not enforced.
	Unavailable Effect = "not enforced"
)

// EnforcerChoice is the outcome of probing one kind's enforcement backends.
type EnforcerChoice struct {
	BackendChoice
	Effect Effect
}

// enforcerMaps are the maps every enforcer object declares and the loader
// creates once (enforced_cgroups and runtime_tasks come from the
// lifecycle).
var enforcerMaps = []string{
	"policies", "path_rules", "connect_rules",
	"violations", "violations_seen", "report_budget", "enforce_counters",
	"held_processes", "held_processes_used", "enforced_processes",
}

// Enforcer is footprint's loaded enforcement side: programs that hold
// processes in enforced cgroups to their policies, the maps holding the
// compiled policies, and the ring buffer of violations. It knows the kernel's
// layout of a policy, not what a policy means: package enforcer compiles
// policies into the entries written here.
type Enforcer struct {
	lifecycle *Lifecycle
	// pins are the predecessor's pinned maps this one replaced.
	pins pinLog
	// cgroupRoot is the cgroup v2 mount.
	cgroupRoot string
	maps       map[string]*ebpf.Map
	attached   map[Kind]*attachment
	choices    []EnforcerChoice
	// pinned is true when the maps are pinned and may hold a
	// predecessor's policies.
	pinned bool
	// counterBase is what the counters held after the self-test.
	counterBase map[Kind]EnforcementCounters
	// files attaches the file backend only while a cgroup is held to file
	// rules, where that backend slows every task down.
	files *lazyAttachment
	// syscalls attaches the system call reporter only while a cgroup is
	// held to a policy that governs system calls (it slows every system
	// call of the node down).
	syscalls *lazyAttachment
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
	// policies, their rules and the programs' links are pinned:
	// enforcement holds while no process holds them, and the next
	// LoadEnforcer takes them over.
	PinPath string
	// Lifecycle is the lifecycle programs and maps to share with a
	// Recorder; nil loads them for this Enforcer alone (pinned under
	// PinPath/lifecycle).
	Lifecycle *Lifecycle
}

// LoadEnforcer loads and attaches the enforcement programs, choosing one
// backend per kind: the best one whose self-test shows it refuses (or, where
// nothing better works, kills) a canary's forbidden operation and reports it
// (see choose). Kinds without a working backend are reported in Choices with
// Effect Unavailable; LoadEnforcer fails only when exec cannot be hooked or
// the process may not use BPF at all.
func LoadEnforcer(opts EnforcerOptions) (*Enforcer, error) {
	if err := checkKernel(opts.CgroupRoot); err != nil {
		return nil, err
	}
	if opts.PinPath != "" {
		if err := preparePinPath(opts.PinPath); err != nil {
			return nil, err
		}
	}
	specs := map[string]*ebpf.CollectionSpec{}
	for name, load := range map[string]func() (*ebpf.CollectionSpec, error){
		"enforceexec":       loadEnforceexec,
		"enforcecapability": loadEnforcecapability,
		"enforcefile":       loadEnforcefile,
		"enforceconnect":    loadEnforceconnect,
		"enforcecgroup":     loadEnforcecgroup,
		"enforcesocket":     loadEnforcesocket,
		"enforceptrace":     loadEnforceptrace,
		"enforcesyscall":    loadEnforcesyscall,
	} {
		spec, err := load()
		if err != nil {
			return nil, fmt.Errorf("parse embedded %s object: %w", name, err)
		}
		pinnable(spec, opts.PinPath)
		specs[name] = spec
	}
	configureNoAudit(specs["enforcecapability"], opts.Kallsyms)

	lc, err := lifecycleFor(opts.Lifecycle, opts.CgroupRoot, opts.PinPath)
	if err != nil {
		return nil, err
	}
	e := &Enforcer{lifecycle: lc, cgroupRoot: opts.CgroupRoot, maps: map[string]*ebpf.Map{}, pinned: opts.PinPath != ""}
	for _, name := range enforcerMaps {
		m, err := newSharedMap(specs["enforcefile"].Maps[name], opts.PinPath, &e.pins)
		if err != nil {
			e.Close()
			return nil, mapError(name, err)
		}
		e.maps[name] = m
	}
	// The socket rules are the socket object's alone.
	m, err := newSharedMap(specs["enforcesocket"].Maps["socket_rules"], opts.PinPath, &e.pins)
	if err != nil {
		e.Close()
		return nil, mapError("socket_rules", err)
	}
	e.maps["socket_rules"] = m
	// So are the system call bitmaps the syscall object's.
	if m, err = newSharedMap(specs["enforcesyscall"].Maps["syscall_rules"], opts.PinPath, &e.pins); err != nil {
		e.Close()
		return nil, mapError("syscall_rules", err)
	}
	e.maps["syscall_rules"] = m
	e.maps["enforced_cgroups"] = lc.maps["enforced_cgroups"]
	e.maps["runtime_tasks"] = lc.maps["runtime_tasks"]

	home, err := newCanaryHome()
	if err != nil {
		e.Close()
		return nil, err
	}
	defer home.close()
	load := func(b backend) (*attachment, *Rejection) {
		return loadBackend(specs[b.object], b, e.maps, opts.CgroupRoot, opts.PinPath, &e.pins)
	}
	test := func(trial map[Kind]*attachment) (map[Kind]string, map[Kind]string) { return e.selfTest(home, trial) }
	chosen, choices, err := choose(enforcerBackends, opts.Backends, opts.PinPath, lsmListFor(), load, test)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.attached = chosen
	e.files = newLazyAttachment(chosen[KindFile], func() (bool, error) { return e.holdingKind(KindFile) })
	e.files.Settle()
	e.syscalls = newLazyAttachment(chosen[KindSyscall], func() (bool, error) { return e.holdingKind(KindSyscall) })
	e.syscalls.Settle()
	for _, c := range choices {
		ec := EnforcerChoice{BackendChoice: c, Effect: Unavailable}
		if a := chosen[c.Kind]; a != nil {
			ec.Effect = a.backend.effect
		}
		e.choices = append(e.choices, ec)
	}
	if err := drainRingBuffer(e.maps["violations"]); err != nil {
		e.Close()
		return nil, err
	}
	// Over pinned maps, the processes of a predecessor's cgroups.
	if err := e.trackProcesses(); err != nil {
		e.Close()
		return nil, err
	}
	if e.counterBase, err = e.rawCounters(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Choices reports, per kind, the enforcement backend in use, what it does
// about a violation, and the backends refused.
func (e *Enforcer) Choices() []EnforcerChoice { return slices.Clone(e.choices) }

// Backend returns the enforcement backend in use for a kind, or "" when
// none works.
func (e *Enforcer) Backend(k Kind) string {
	for _, c := range e.choices {
		if c.Kind == k {
			return c.Chosen
		}
	}
	return ""
}

// Effect says what happens to a violation of kind k on this kernel.
func (e *Enforcer) Effect(k Kind) Effect {
	for _, c := range e.choices {
		if c.Kind == k {
			return c.Effect
		}
	}
	return Unavailable
}

// Pinned says whether the maps are pinned, and so may hold a predecessor's
// policies and rules.
func (e *Enforcer) Pinned() bool { return e.pinned }

// Close detaches every program and frees the maps. Processes that were
// enforced are no longer, unless the links are pinned.
func (e *Enforcer) Close() error {
	for _, a := range e.attached {
		for _, l := range a.links {
			l.Close()
		}
		a.coll.Close()
	}
	e.attached = nil
	var errs []error
	for _, name := range append(slices.Clone(enforcerMaps), "socket_rules", "syscall_rules") {
		if m := e.maps[name]; m != nil {
			errs = append(errs, m.Close())
		}
	}
	clear(e.maps)
	if e.lifecycle != nil {
		e.lifecycle.release()
		e.lifecycle = nil
	}
	return errors.Join(errs...)
}

// Mode is a policy's mode in the kernel (enum fp_enforce_mode).
type Mode uint8

// The modes.
const (
	// ModeAudit reports what would be denied and allows it.
	ModeAudit = Mode(typesFpEnforceModeFP_MODE_AUDIT)
	// ModeEnforce applies the action.
	ModeEnforce = Mode(typesFpEnforceModeFP_MODE_ENFORCE)
)

// Action is what a policy in ModeEnforce does to a violation (enum
// fp_enforce_action).
type Action uint8

// The actions.
const (
	// ActionDeny fails the operation with EPERM where the hook can, and
	// kills where it cannot.
	ActionDeny = Action(typesFpEnforceActionFP_ACTION_DENY)
	// ActionKill kills the process (and denies where the hook can).
	ActionKill = Action(typesFpEnforceActionFP_ACTION_KILL)
)

// PathNode is a node of a policy's file or executable tree (struct
// fp_path_node).
type PathNode struct {
	// ID names the node: its children's keys have it as Parent.
	ID uint32
	// Access is granted to the path ending at this node.
	Access Access
	// Descendants is granted to every path strictly below it.
	Descendants Access
}

// PathKey is the key of a tree node: its parent's id and its name, or the
// wildcard that matches any one component without a literal node.
type PathKey struct {
	Parent   uint32
	Name     string
	Wildcard bool
}

// MaxNameLen is the longest component name a PathKey holds.
const MaxNameLen = len(typesFpPathKey{}.Name) - 1

// KernelPolicy is one compiled policy as the kernel holds it (struct
// fp_policy). Its rules live in the rule maps under the ids it names.
type KernelPolicy struct {
	Mode    Mode
	Action  Action
	Governs KindSet
	// Capabilities are allowed; CapabilitiesInUserNamespace are allowed
	// when checked in a child user namespace (bit n: capability n).
	Capabilities, CapabilitiesInUserNamespace uint64
	// Files and Executables are the roots of the path trees.
	Files, Executables PathNode
	// ConnectSet is the id of the policy's destinations in the connect
	// rules.
	ConnectSet uint32
	// Version is new with every installed version: a violation is
	// reported once per version (audit to enforce reports afresh).
	Version uint32
	// AuditUnpreventable audits, in ModeEnforce, what a hook cannot refuse
	// instead of killing after the fact.
	AuditUnpreventable bool
	// SpareMkdir and SpareUtimes leave making directories and setting
	// times alone: the policy was exported before they were governed.
	SpareMkdir, SpareUtimes bool
}

// ConnectRule is one allowed destination of a connect set (struct
// fp_connect_rule_key): a protocol, an IPv6 address prefix (IPv4 ranges
// IPv4-mapped: ::ffff:a.b.c.d/96+n), and a port or any port.
type ConnectRule struct {
	Set      uint32
	Protocol uint8
	Prefix   netip.Prefix
	Port     uint16
	AnyPort  bool
}

func (p KernelPolicy) value() typesFpPolicy {
	return typesFpPolicy{
		CapsAllowed: p.Capabilities, CapsAllowedUserns: p.CapabilitiesInUserNamespace,
		Files: p.Files.value(), Executables: p.Executables.value(),
		ConnectSet: p.ConnectSet, Governs: uint32(p.Governs), Mode: uint8(p.Mode), Action: uint8(p.Action),
		Version: p.Version, Flags: p.flags(),
	}
}

// policyFlags pairs each flag of struct fp_policy with its field.
var policyFlags = []struct {
	flag  typesFpPolicyFlag
	field func(*KernelPolicy) *bool
}{
	{typesFpPolicyFlagFP_POLICY_AUDIT_UNPREVENTABLE, func(p *KernelPolicy) *bool { return &p.AuditUnpreventable }},
	{typesFpPolicyFlagFP_POLICY_SPARE_MKDIR, func(p *KernelPolicy) *bool { return &p.SpareMkdir }},
	{typesFpPolicyFlagFP_POLICY_SPARE_UTIMES, func(p *KernelPolicy) *bool { return &p.SpareUtimes }},
}

func (p KernelPolicy) flags() uint8 {
	var out uint8
	for _, f := range policyFlags {
		if *f.field(&p) {
			out |= uint8(f.flag)
		}
	}
	return out
}

func policyOf(v typesFpPolicy) KernelPolicy {
	p := KernelPolicy{
		Mode: Mode(v.Mode), Action: Action(v.Action), Governs: KindSet(v.Governs),
		Capabilities: v.CapsAllowed, CapabilitiesInUserNamespace: v.CapsAllowedUserns,
		Files: pathNodeOf(v.Files), Executables: pathNodeOf(v.Executables), ConnectSet: v.ConnectSet,
		Version: v.Version,
	}
	for _, f := range policyFlags {
		*f.field(&p) = v.Flags&uint8(f.flag) != 0
	}
	return p
}

func (n PathNode) value() typesFpPathNode {
	return typesFpPathNode{Id: n.ID, Access: uint32(n.Access), Descendants: uint32(n.Descendants)}
}

func pathNodeOf(v typesFpPathNode) PathNode {
	return PathNode{ID: v.Id, Access: Access(v.Access), Descendants: Access(v.Descendants)}
}

func (k PathKey) value() (typesFpPathKey, error) {
	v := typesFpPathKey{Parent: k.Parent}
	if k.Wildcard {
		v.Len = uint32(typesFpPathKeyLenFP_WILDCARD_LEN)
		return v, nil
	}
	if len(k.Name) == 0 || len(k.Name) > MaxNameLen {
		return v, fmt.Errorf("path component %q: must be 1 to %d bytes", k.Name, MaxNameLen)
	}
	v.Len = uint32(len(k.Name))
	for i := 0; i < len(k.Name); i++ {
		v.Name[i] = int8(k.Name[i])
	}
	return v, nil
}

func pathKeyOf(v typesFpPathKey) PathKey {
	if v.Len == uint32(typesFpPathKeyLenFP_WILDCARD_LEN) {
		return PathKey{Parent: v.Parent, Wildcard: true}
	}
	name := make([]byte, min(int(v.Len), len(v.Name)))
	for i := range name {
		name[i] = byte(v.Name[i])
	}
	return PathKey{Parent: v.Parent, Name: string(name)}
}

// connectKeyBits is the bits of fp_connect_rule_key after prefixlen that are
// always matched: set, protocol, any_port and port.
const connectKeyBits = 64

func (r ConnectRule) value() typesFpConnectRuleKey {
	v := typesFpConnectRuleKey{
		Prefixlen: uint32(connectKeyBits + r.Prefix.Bits()),
		Set:       r.Set,
		Protocol:  r.Protocol,
		Port:      r.Port,
		Addr:      r.Prefix.Addr().As16(),
	}
	if r.AnyPort {
		v.AnyPort, v.Port = 1, 0
	}
	return v
}

func connectRuleOf(v typesFpConnectRuleKey) ConnectRule {
	prefix := netip.PrefixFrom(netip.AddrFrom16(v.Addr), int(v.Prefixlen)-connectKeyBits)
	return ConnectRule{Set: v.Set, Protocol: v.Protocol, Prefix: prefix, Port: v.Port, AnyPort: v.AnyPort != 0}
}

// PutPolicy installs or replaces the policy under id in one update: every
// process held to it sees the old version or the new, never a mix.
func (e *Enforcer) PutPolicy(id uint32, p KernelPolicy) error {
	if id == 0 {
		return errors.New("put policy: id 0 is reserved")
	}
	put := func() error {
		if err := e.maps["policies"].Put(id, p.value()); err != nil {
			return fmt.Errorf("put policy %d: %w", id, err)
		}
		return nil
	}
	if e.files == nil { // the self-test, before a backend is chosen
		return put()
	}
	var needs KindSet
	if p.Governs&lazyKinds != 0 {
		held, err := e.holds(id)
		if err != nil {
			return fmt.Errorf("put policy %d: %w", id, err)
		}
		if held {
			needs = p.Governs & lazyKinds
		}
	}
	return e.lazyWrite(needs, put)
}

// lazyKinds are the kinds whose backend may be attached only while a cgroup
// is held to a policy that governs them.
const lazyKinds = KindSet(1<<KindFile | 1<<KindSyscall)

// lazyWrite makes a map change with the lazy backends of the kinds in
// needs attached first; the others are detached after it when nothing in
// the kernel's maps needs them any more.
func (e *Enforcer) lazyWrite(needs KindSet, change func() error) error {
	if e.files == nil || e.syscalls == nil {
		return change()
	}
	return e.files.write(needs.Has(KindFile), func() error {
		return e.syscalls.write(needs.Has(KindSyscall), change)
	})
}

// DeletePolicy deletes the policy under id. Cgroups still pointing at it are
// no longer restricted, nor are the processes it held outside them.
func (e *Enforcer) DeletePolicy(id uint32) error {
	remove := func() error {
		if err := e.maps["policies"].Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete policy %d: %w", id, err)
		}
		return e.releaseHeld(func(h HeldProcess) bool { return h.PolicyID == id })
	}
	return e.lazyWrite(0, remove)
}

// holds says whether some cgroup is held to the policy.
func (e *Enforcer) holds(policyID uint32) (bool, error) {
	var id uint64
	var v typesFpEnforcedCgroup
	it := e.maps["enforced_cgroups"].Iterate()
	for it.Next(&id, &v) {
		if v.PolicyId == policyID {
			return true, nil
		}
	}
	return false, it.Err()
}

// governedLazy is the kinds with lazy backends the installed policy
// governs.
func (e *Enforcer) governedLazy(policyID uint32) KindSet {
	var v typesFpPolicy
	if e.maps["policies"].Lookup(policyID, &v) != nil {
		return 0
	}
	return KindSet(v.Governs) & lazyKinds
}

// holdingKind says whether some cgroup is held to a policy that governs
// kind k.
func (e *Enforcer) holdingKind(k Kind) (bool, error) {
	policies, err := e.Policies()
	if err != nil {
		return false, err
	}
	var id uint64
	var v typesFpEnforcedCgroup
	it := e.maps["enforced_cgroups"].Iterate()
	for it.Next(&id, &v) {
		if p, ok := policies[v.PolicyId]; ok && p.Governs.Has(k) {
			return true, nil
		}
	}
	return false, it.Err()
}

// FileBackendAttached says whether the file backend's programs are
// attached: always, but for a backend attached only while a cgroup is held
// to file rules.
func (e *Enforcer) FileBackendAttached() bool { return e.files == nil || e.files.attached() }

// SyscallBackendAttached says whether the system call reporter is attached:
// only while a cgroup is held to a policy that governs system calls.
func (e *Enforcer) SyscallBackendAttached() bool {
	return e.syscalls == nil || e.syscalls.attached()
}

// hold writes a cgroup's entry, with the file backend attached first when
// its policy governs files.
func (e *Enforcer) hold(cgroupID uint64, v typesFpEnforcedCgroup, what string) error {
	put := func() error {
		if err := e.maps["enforced_cgroups"].Put(cgroupID, &v); err != nil {
			return fmt.Errorf("%s cgroup %d: %w", what, cgroupID, err)
		}
		return nil
	}
	return e.lazyWrite(e.governedLazy(v.PolicyId), put)
}

// Policies returns every installed policy by id.
func (e *Enforcer) Policies() (map[uint32]KernelPolicy, error) {
	out := map[uint32]KernelPolicy{}
	var id uint32
	var v typesFpPolicy
	it := e.maps["policies"].Iterate()
	for it.Next(&id, &v) {
		out[id] = policyOf(v)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	return out, nil
}

// PutPathRule writes one node of a file or executable tree.
func (e *Enforcer) PutPathRule(k PathKey, n PathNode) error {
	key, err := k.value()
	if err != nil {
		return err
	}
	if err := e.maps["path_rules"].Put(&key, n.value()); err != nil {
		return fmt.Errorf("put path rule: %w", err)
	}
	return nil
}

// DeletePathRule deletes one node of a tree.
func (e *Enforcer) DeletePathRule(k PathKey) error {
	key, err := k.value()
	if err != nil {
		return err
	}
	if err := e.maps["path_rules"].Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete path rule: %w", err)
	}
	return nil
}

// PathRule is one node of a tree with its key.
type PathRule struct {
	Key  PathKey
	Node PathNode
}

// PathRules returns every node of every tree.
func (e *Enforcer) PathRules() ([]PathRule, error) {
	var out []PathRule
	var k typesFpPathKey
	var n typesFpPathNode
	it := e.maps["path_rules"].Iterate()
	for it.Next(&k, &n) {
		out = append(out, PathRule{pathKeyOf(k), pathNodeOf(n)})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read path rules: %w", err)
	}
	return out, nil
}

// PutConnectRule allows one destination in a connect set.
func (e *Enforcer) PutConnectRule(r ConnectRule) error {
	key, one := r.value(), uint8(1)
	if err := e.maps["connect_rules"].Put(&key, &one); err != nil {
		return fmt.Errorf("put connect rule: %w", err)
	}
	return nil
}

// DeleteConnectRule deletes one destination of a connect set.
func (e *Enforcer) DeleteConnectRule(r ConnectRule) error {
	key := r.value()
	if err := e.maps["connect_rules"].Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete connect rule: %w", err)
	}
	return nil
}

// ConnectRules returns every destination of every connect set.
func (e *Enforcer) ConnectRules() ([]ConnectRule, error) {
	var out []ConnectRule
	var k typesFpConnectRuleKey
	var one uint8
	it := e.maps["connect_rules"].Iterate()
	for it.Next(&k, &one) {
		out = append(out, connectRuleOf(k))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read connect rules: %w", err)
	}
	return out, nil
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
	if err := e.hold(cgroupID, v, "enforce"); err != nil {
		return err
	}
	if !h.Live {
		// A cgroup about to start a workload: its processes arrive by
		// the fork and move hooks, which track them.
		return nil
	}
	return e.trackProcesses()
}

// trackProcesses enters the processes already in enforced cgroups in the
// kernel's table of them, where a process that moves itself is found to
// have left a policy's cgroups: the kernel's hooks see only the processes
// that come later.
func (e *Enforcer) trackProcesses() error {
	a := e.attached[KindCgroup]
	if a == nil {
		return nil
	}
	prog := a.coll.Programs["fp_enforce_track_processes"]
	it, err := link.AttachIter(link.IterOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("track the processes of enforced cgroups: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("track the processes of enforced cgroups: %w", err)
	}
	defer rd.Close()
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return fmt.Errorf("track the processes of enforced cgroups: %w", err)
	}
	return nil
}

// HoldPending holds a pod's cgroup for a policy of named containers: each
// container cgroup the runtime creates below it stops at its first exec
// (before its first instruction) until Classify keeps it under the policy
// or releases it, and continues it.
func (e *Enforcer) HoldPending(cgroupID uint64, policyID uint32) error {
	// A pod's cgroup just made: its processes arrive by the runtime's
	// moves and clones, which the hooks track.
	return e.hold(cgroupID, typesFpEnforcedCgroup{PolicyId: policyID, Flags: enforcePending | enforceContainers}, "hold")
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
	remove := func() error {
		if err := e.maps["enforced_cgroups"].Delete(cgroupID); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("release cgroup %d: %w", cgroupID, err)
		}
		return nil
	}
	return e.lazyWrite(0, remove)
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

// HeldProcess is a process held to a policy outside the policy's cgroups:
// it left them (moved, or was cloned, to another cgroup), or descends from
// one that did.
type HeldProcess struct {
	PID      uint32
	PolicyID uint32
	// LeftCgroupID is the cgroup it (or its ancestor) left; its violations
	// are that cgroup's.
	LeftCgroupID uint64
}

// HeldProcesses returns the processes held to a policy outside its
// cgroups. The kernel drops each one at its exit.
func (e *Enforcer) HeldProcesses() ([]HeldProcess, error) {
	var out []HeldProcess
	var pid uint32
	var v typesFpHeldProcess
	it := e.maps["held_processes"].Iterate()
	for it.Next(&pid, &v) {
		out = append(out, HeldProcess{PID: pid, PolicyID: v.Held.PolicyId, LeftCgroupID: v.CgroupId})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read held processes: %w", err)
	}
	return out, nil
}

// HeldProcess returns process pid's entry, or nil when it is not held.
func (e *Enforcer) HeldProcess(pid uint32) (*HeldProcess, error) {
	var v typesFpHeldProcess
	if err := e.maps["held_processes"].Lookup(pid, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read held process %d: %w", pid, err)
	}
	return &HeldProcess{PID: pid, PolicyID: v.Held.PolicyId, LeftCgroupID: v.CgroupId}, nil
}

// releaseHeld drops the held processes drop says to.
func (e *Enforcer) releaseHeld(drop func(HeldProcess) bool) error {
	held, err := e.HeldProcesses()
	if err != nil {
		return err
	}
	for _, h := range held {
		if !drop(h) {
			continue
		}
		if err := e.maps["held_processes"].Delete(h.PID); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("release held process %d: %w", h.PID, err)
		}
	}
	return nil
}

// The flags of enum fp_enforce_flag.
const (
	enforceLive       = uint32(typesFpEnforceFlagFP_ENFORCE_LIVE)
	enforceInherited  = uint32(typesFpEnforceFlagFP_ENFORCE_INHERITED)
	enforcePending    = uint32(typesFpEnforceFlagFP_ENFORCE_PENDING)
	enforceContainers = uint32(typesFpEnforceFlagFP_ENFORCE_CONTAINERS)
)
