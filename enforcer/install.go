package enforcer

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
)

// Installer writes compiled policies into the kernel's maps (bpf.Enforcer)
// and swaps their versions atomically: a new version's rules are written
// under fresh ids first, then the policy entry is replaced in one update,
// and the old version's rules are deleted a little later (see retireAfter).
type Installer struct {
	enf *bpf.Enforcer

	mu sync.Mutex
	// installed holds, per policy id, the rules of its current version.
	installed map[uint32]*policyRules
	// nextID allocates path node ids and connect set ids; 0 means none.
	nextID uint32
	// retired are replaced versions whose rules are deleted a little
	// later.
	retired []retiredRules
	closed  bool
}

// policyRules are the rule map entries of one policy version.
type policyRules struct {
	paths    []bpf.PathKey
	connects []bpf.ConnectRule
	sockets  []bpf.SocketRule
	// syscalls names the version's system call rules, if it has any.
	syscalls *bpf.SyscallRuleKey
}

// NewInstaller returns an Installer for enf. Where enf's maps are pinned, a
// predecessor's rules may be there: new ids start above theirs.
func NewInstaller(enf *bpf.Enforcer) (*Installer, error) {
	in := &Installer{enf: enf, installed: map[uint32]*policyRules{}}
	if err := in.seedIDs(); err != nil {
		return nil, err
	}
	return in, nil
}

// kernelAccess maps the compiler's access bits to the kernel's.
var kernelAccess = []struct {
	rules  rules.Access
	kernel bpf.Access
}{
	{rules.AccessRead, bpf.AccessRead}, {rules.AccessWrite, bpf.AccessWrite}, {rules.AccessExec, bpf.AccessExec},
	{rules.AccessCreate, bpf.AccessCreate}, {rules.AccessTruncate, bpf.AccessTruncate},
	// Changes made without an open of the path.
	{rules.AccessDelete, bpf.AccessDelete}, {rules.AccessRenameFrom, bpf.AccessRenameFrom},
	{rules.AccessRenameTo, bpf.AccessRenameTo}, {rules.AccessLink, bpf.AccessLink},
	{rules.AccessLinkTarget, bpf.AccessLinkTarget}, {rules.AccessChmod, bpf.AccessChmod},
	{rules.AccessSetID, bpf.AccessSetID}, {rules.AccessChown, bpf.AccessChown},
	{rules.AccessSymlink, bpf.AccessSymlink}, {rules.AccessMknod, bpf.AccessMknod},
	{rules.AccessReceive, bpf.AccessReceive}, {rules.AccessUtimes, bpf.AccessUtimes},
}

func toKernelAccess(a rules.Access) bpf.Access {
	var out bpf.Access
	for _, m := range kernelAccess {
		if a&m.rules != 0 {
			out |= m.kernel
		}
	}
	return out
}

// spare leaves routes alone in kp. Every route a generation added has its
// flag (TestEveryRouteCanBeLeftAlone): a route without one would be governed
// for a policy exported before it, the surprise spec.routes exists to avoid.
func spare(kp *bpf.KernelPolicy, routes []v1alpha1.Route) error {
	for _, r := range routes {
		switch r {
		case v1alpha1.RouteMkdir:
			kp.SpareMkdir = true
		case v1alpha1.RouteUtimes:
			kp.SpareUtimes = true
		default:
			return fmt.Errorf("route %s cannot be left alone for this policy: the agent has no kernel flag for it (a bug; please report it)", r)
		}
	}
	return nil
}

// Install installs (or replaces) the compiled policy under id.
func (in *Installer) Install(id uint32, c *rules.Compiled) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return errors.New("install policy: the installer is closed")
	}
	next := &policyRules{}
	kp := bpf.KernelPolicy{Mode: bpf.ModeAudit, Action: bpf.ActionDeny, Version: in.allocID()}
	if c.Mode == v1alpha1.ModeEnforce {
		kp.Mode = bpf.ModeEnforce
	}
	if c.Action == v1alpha1.ActionKill {
		kp.Action = bpf.ActionKill
	}
	kp.AuditUnpreventable = c.Unpreventable != v1alpha1.UnpreventableKill
	if err := spare(&kp, c.RoutesLeftAlone); err != nil {
		return fmt.Errorf("install policy %d: %w", id, err)
	}
	// Every policy follows its processes out of its cgroups: a rule that
	// a move to another cgroup sheds holds nothing.
	kp.Governs = kp.Governs.With(bpf.KindCgroup)
	// Nor may its processes trace, or reach the memory of, processes
	// outside it.
	kp.Governs = kp.Governs.With(bpf.KindPtrace)
	var err error
	if c.Capabilities != nil {
		kp.Governs = kp.Governs.With(bpf.KindCapability)
		kp.Capabilities = c.Capabilities.Allowed
		kp.CapabilitiesInUserNamespace = c.Capabilities.AllowedInUserNamespace
	}
	if c.Files != nil {
		kp.Governs = kp.Governs.With(bpf.KindFile)
		if kp.Files, err = in.writeTree(c.Files, next); err != nil {
			in.deleteRules(next)
			return fmt.Errorf("install policy %d: file rules: %w", id, err)
		}
	}
	if c.Executables != nil {
		kp.Governs = kp.Governs.With(bpf.KindExec)
		if kp.Executables, err = in.writeTree(c.Executables, next); err != nil {
			in.deleteRules(next)
			return fmt.Errorf("install policy %d: executable rules: %w", id, err)
		}
	}
	if c.ConnectGoverned {
		kp.Governs = kp.Governs.With(bpf.KindConnect)
		if kp.ConnectSet, err = in.writeConnect(c.Connect, next); err != nil {
			in.deleteRules(next)
			return fmt.Errorf("install policy %d: connect rules: %w", id, err)
		}
	}
	if c.SocketsGoverned {
		kp.Governs = kp.Governs.With(bpf.KindSocket)
		if kp.ConnectSet == 0 {
			kp.ConnectSet = in.allocID()
		}
		if err = in.writeSockets(c.Sockets, kp.ConnectSet, next); err != nil {
			in.deleteRules(next)
			return fmt.Errorf("install policy %d: socket rules: %w", id, err)
		}
	}
	if c.Syscalls != nil {
		kp.Governs = kp.Governs.With(bpf.KindSyscall)
		if err = in.writeSyscalls(c.Syscalls, bpf.SyscallRuleKey{PolicyID: id, Version: kp.Version}, next); err != nil {
			in.deleteRules(next)
			return fmt.Errorf("install policy %d: system call rules: %w", id, err)
		}
	}
	if err := in.enf.PutPolicy(id, kp); err != nil {
		in.deleteRules(next)
		return fmt.Errorf("install policy %d: %w", id, err)
	}
	if old := in.installed[id]; old != nil {
		in.retire(old)
	} else if in.enf.Pinned() {
		// The version this replaced may be a predecessor's, whose rules
		// this process does not know: collect what nothing reaches.
		if err := in.collectGarbage(); err != nil {
			return fmt.Errorf("install policy %d: clean up replaced rules: %w", id, err)
		}
	}
	in.installed[id] = next
	return nil
}

// Remove deletes a policy and its rules. Cgroups still pointing at it are
// no longer restricted.
func (in *Installer) Remove(id uint32) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.enf.DeletePolicy(id); err != nil {
		return fmt.Errorf("remove policy %d: %w", id, err)
	}
	if old := in.installed[id]; old != nil {
		in.retire(old)
	} else if in.enf.Pinned() {
		if err := in.collectGarbage(); err != nil {
			return fmt.Errorf("remove policy %d: %w", id, err)
		}
	}
	delete(in.installed, id)
	return nil
}

// Close deletes the rules of replaced versions now. Call it before closing
// the Enforcer.
func (in *Installer) Close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.reap(true)
	in.closed = true
}

// seedIDs starts id allocation above every id in the rule maps, which a
// predecessor may have filled.
func (in *Installer) seedIDs() error {
	nodes, err := in.enf.PathRules()
	if err != nil {
		return err
	}
	for _, r := range nodes {
		in.nextID = max(in.nextID, r.Key.Parent, r.Node.ID)
	}
	policies, err := in.enf.Policies()
	if err != nil {
		return err
	}
	for _, p := range policies {
		in.nextID = max(in.nextID, p.Files.ID, p.Executables.ID, p.ConnectSet, p.Version)
	}
	return nil
}

// collectGarbage deletes the rules no installed policy reaches: those of
// versions a predecessor replaced or removed without cleaning up.
func (in *Installer) collectGarbage() error {
	policies, err := in.enf.Policies()
	if err != nil {
		return err
	}
	reachable, sets := map[uint32]bool{}, map[uint32]bool{}
	for _, p := range policies {
		reachable[p.Files.ID], reachable[p.Executables.ID], sets[p.ConnectSet] = true, true, true
	}
	nodes, err := in.enf.PathRules()
	if err != nil {
		return err
	}
	for grew := true; grew; {
		grew = false
		for _, r := range nodes {
			if reachable[r.Key.Parent] && !reachable[r.Node.ID] {
				reachable[r.Node.ID], grew = true, true
			}
		}
	}
	for _, r := range nodes {
		if !reachable[r.Key.Parent] {
			_ = in.enf.DeletePathRule(r.Key)
		}
	}
	connects, err := in.enf.ConnectRules()
	if err != nil {
		return err
	}
	for _, r := range connects {
		if !sets[r.Set] {
			_ = in.enf.DeleteConnectRule(r)
		}
	}
	sockets, err := in.enf.SocketRules()
	if err != nil {
		return err
	}
	for _, r := range sockets {
		if !sets[r.Set] {
			_ = in.enf.DeleteSocketRule(r)
		}
	}
	syscalls, err := in.enf.SyscallRuleKeys()
	if err != nil {
		return err
	}
	for _, k := range syscalls {
		if p, ok := policies[k.PolicyID]; !ok || p.Version != k.Version {
			_ = in.enf.DeleteSyscallRules(k)
		}
	}
	return nil
}

func (in *Installer) allocID() uint32 {
	in.nextID++
	if in.nextID == 0 || in.nextID >= bpf.FirstReservedRuleID {
		in.nextID = 1
	}
	return in.nextID
}

// writeTree writes a path tree's nodes under fresh ids and returns its root.
func (in *Installer) writeTree(t *rules.PathTree, into *policyRules) (bpf.PathNode, error) {
	if len(t.Nodes) == 0 {
		return bpf.PathNode{ID: in.allocID()}, nil
	}
	ids := make([]uint32, len(t.Nodes))
	for i := range t.Nodes {
		ids[i] = in.allocID()
	}
	root := bpf.PathNode{ID: ids[0], Access: toKernelAccess(t.Nodes[0].Access), Descendants: toKernelAccess(t.Nodes[0].Descendants)}
	for i := 1; i < len(t.Nodes); i++ {
		n := t.Nodes[i]
		key := bpf.PathKey{Parent: ids[n.Parent], Name: n.Name, Wildcard: n.Wildcard}
		node := bpf.PathNode{ID: ids[i], Access: toKernelAccess(n.Access), Descendants: toKernelAccess(n.Descendants)}
		if err := in.enf.PutPathRule(key, node); err != nil {
			return root, fmt.Errorf("write rule %s: %w", t.Pattern(i), err)
		}
		into.paths = append(into.paths, key)
	}
	return root, nil
}

// writeConnect writes a policy version's destinations under a fresh set id.
func (in *Installer) writeConnect(rs []rules.ConnectRule, into *policyRules) (uint32, error) {
	set := in.allocID()
	for _, r := range rs {
		kr := bpf.ConnectRule{Set: set, Protocol: r.Protocol, Prefix: r.Prefix, Port: r.Port, AnyPort: r.AnyPort}
		if err := in.enf.PutConnectRule(kr); err != nil {
			return 0, fmt.Errorf("write rule %s: %w", r, err)
		}
		into.connects = append(into.connects, kr)
	}
	return set, nil
}

// writeSockets writes a policy version's socket operations under its set
// id (shared with its destinations: the maps are apart).
func (in *Installer) writeSockets(rs []rules.SocketRule, set uint32, into *policyRules) error {
	for _, r := range rs {
		kr := bpf.SocketRule{Set: set, Op: kernelSocketOps[r.Op], Family: r.Family, Protocol: r.Protocol, Port: r.Port, Addr: r.Addr, Path: r.Path}
		if err := in.enf.PutSocketRule(kr); err != nil {
			return fmt.Errorf("write rule %s: %w", r, err)
		}
		into.sockets = append(into.sockets, kr)
	}
	return nil
}

// writeSyscalls writes a policy version's allowed system calls under its
// key.
func (in *Installer) writeSyscalls(list rules.SyscallAllowList, key bpf.SyscallRuleKey, into *policyRules) error {
	var r bpf.SyscallRules
	for arch, allowed := range list {
		compat := arch == v1alpha1.ArchX86
		if !compat && arch != v1alpha1.ArchX86_64 {
			return fmt.Errorf("architecture %s: the reporter knows x86-64 and i386 (X86) only", arch)
		}
		for _, nr := range allowed.Numbers {
			if err := r.Allow(compat, int(nr)); err != nil {
				return fmt.Errorf("%s: %w", arch, err)
			}
		}
		var families uint64
		for _, f := range allowed.Families {
			if f >= 64 {
				return fmt.Errorf("%s: address family %d does not fit the reporter's 64-bit mask", arch, f)
			}
			families |= 1 << f
		}
		if compat {
			r.CompatFamilies = families
		} else {
			r.NativeFamilies = families
		}
	}
	if err := in.enf.PutSyscallRules(key, r); err != nil {
		return err
	}
	into.syscalls = &key
	return nil
}

// kernelSocketOps maps the compiler's socket operations to the kernel's.
var kernelSocketOps = map[rules.SocketOp]bpf.SocketRuleOp{
	rules.SocketUnix: bpf.SocketRuleUnix, rules.SocketBind: bpf.SocketRuleBind,
	rules.SocketRaw: bpf.SocketRuleRaw, rules.SocketListen: bpf.SocketRuleListen,
}

// retireAfter is how long a replaced version's rules outlive it. A program
// that looked the policy up just before the swap may still be reading it:
// a preallocated hash map recycles the replaced value at once, so what it
// reads may mix the old and new versions' ids, and each of them must still
// find its rules.
const retireAfter = time.Second

type retiredRules struct {
	at    time.Time
	rules *policyRules
}

// retire deletes a replaced version's rules once no program can still be
// using them. Called with in.mu held.
func (in *Installer) retire(p *policyRules) {
	in.retired = append(in.retired, retiredRules{at: time.Now(), rules: p})
	in.reap(false)
	time.AfterFunc(retireAfter+100*time.Millisecond, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if !in.closed {
			in.reap(false)
		}
	})
}

// reap deletes the rules retired long enough ago, or all of them. Called
// with in.mu held.
func (in *Installer) reap(all bool) {
	kept := in.retired[:0]
	for _, r := range in.retired {
		if all || time.Since(r.at) >= retireAfter {
			in.deleteRules(r.rules)
			continue
		}
		kept = append(kept, r)
	}
	in.retired = kept
}

func (in *Installer) deleteRules(p *policyRules) {
	for _, k := range p.paths {
		_ = in.enf.DeletePathRule(k)
	}
	for _, r := range p.connects {
		_ = in.enf.DeleteConnectRule(r)
	}
	for _, r := range p.sockets {
		_ = in.enf.DeleteSocketRule(r)
	}
	if p.syscalls != nil {
		_ = in.enf.DeleteSyscallRules(*p.syscalls)
	}
}
