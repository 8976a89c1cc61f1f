package enforcer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/internal/kubepods"
	"github.com/footprint-dev/footprint/internal/lossless"
	"github.com/footprint-dev/footprint/internal/violationevents"
)

// Violations counts distinct violations reported on this node, by kind and
// outcome; repeats are counted in the kernel.
var Violations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "footprint_violations_total",
	Help: "Distinct operations outside an EnforcementPolicy, by kind of operation and what was done.",
}, []string{"kind", "outcome", "namespace", "policy"})

// PolicyController is the node agent's EnforcementPolicy controller: it
// compiles each policy, installs it in the kernel, and holds the selected
// containers on this node to it; violations become Events on the pod.
//
// A policy for all of a pod's containers is put on the pod's cgroup, so a
// container started later is held to it from its first instruction (the
// kernel extends it to the container's cgroup when the runtime creates it).
// A policy for named containers holds the pod's cgroup pending: each
// container the runtime creates below it stops at its first exec until
// classify names it and holds or releases it. A pod is held the moment
// kubelet makes its cgroup (containers.PodCgroupSource), before its sandbox
// and containers start.
type PolicyController struct {
	Client    client.Client
	APIReader client.Reader
	Node      string
	Enforcer  *bpf.Enforcer
	Resolver  *containers.Resolver
	Events    record.EventRecorder
	Log       logr.Logger
	// BundleDirs are where container runtimes keep each container's OCI
	// config (a %s stands for the container id), read to learn a new
	// container's name before the pod status says it. Empty: containerd's
	// and CRI-O's defaults.
	BundleDirs []string
	// EventFlush is how often the system calls gathered for a pod's
	// Event are sent, and what went over a pod's Event budget is said
	// (violationEvents). Zero: every 5 seconds.
	EventFlush time.Duration
	// Settled, when set, is called once: after the first Reconcile that
	// read every policy and its pods and applied them. Until then a
	// predecessor's enforcement may be what holds the pods (the agent
	// releases a retired generation from here).
	Settled func()

	settled  sync.Once
	eventsMu sync.Mutex
	events   *violationEvents

	workloadsOnce sync.Once
	workloads     *kubepods.Workloads
	installer     *Installer

	mu sync.Mutex
	// ids are the kernel ids of installed policies, by policy UID, with
	// the generation installed.
	ids        map[types.UID]installed
	enforced   map[uint64]hold   // cgroup id -> how this controller holds it
	cgroupPods map[uint64]podRef // cgroup id -> pod, for violation events
	// named are the container names of each installed policy that names
	// its containers.
	named map[uint32][]string
	// continued are the cgroups classify continued lately, and when.
	continued map[string]time.Time
	// classifyWake wakes the classifier when holds of named containers
	// are installed: idle, it does not tick (see classifyLoop).
	classifyWake chan struct{}
}

type installed struct {
	id         uint32
	generation int64
	namespace  string
	name       string
}

type podRef struct {
	pod    types.NamespacedName
	uid    types.UID
	policy string
	// cgroup is the path of the held cgroup.
	cgroup string
}

var policyNodeKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "node"}}

// SetupWithManager registers the controller and the violation reader.
func (c *PolicyController) SetupWithManager(mgr ctrl.Manager) error {
	if err := c.restore(); err != nil {
		return err
	}
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{policyNodeKey}
	})
	err := builder.ControllerManagedBy(mgr).
		Named("enforcementpolicy").
		Watches(&v1alpha1.EnforcementPolicy{}, toNode).
		Watches(&corev1.Pod{}, toNode).
		WatchesRawSource(containers.PodCgroupSource(c.Resolver, policyNodeKey, c.Log)).
		// Once at start, with no policy or pod to trigger it: holds
		// restored from a predecessor's pins are released or kept, and
		// Settled is called, on a node that runs nothing to enforce.
		WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(policyNodeKey)
			return nil
		})).
		Complete(c)
	if err != nil {
		return err
	}
	return mgr.Add(c)
}

// restore starts the controller's state from the kernel's: after a restart
// over pinned maps, what the predecessor held is ours to keep or release.
func (c *PolicyController) restore() error {
	c.ids = map[types.UID]installed{}
	c.enforced = map[uint64]hold{}
	c.cgroupPods = map[uint64]podRef{}
	c.continued = map[string]time.Time{}
	c.classifyWake = make(chan struct{}, 1)
	var err error
	if c.installer, err = NewInstaller(c.Enforcer); err != nil {
		return err
	}
	held, err := c.Enforcer.EnforcedCgroups()
	if err != nil {
		return err
	}
	for id, policy := range held {
		c.enforced[id] = hold{policy: policy}
	}
	return nil
}

// Reconcile installs every policy and holds the containers each selects on
// this node to it; it releases what no policy selects any more. The API is
// read before, and statuses are written after, the kernel's state changes
// under the lock: API latency must not stall reporting violations or
// classifying a new container (controller-runtime runs one Reconcile at a
// time).
func (c *PolicyController) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var policies v1alpha1.EnforcementPolicyList
	if err := c.Client.List(ctx, &policies); err != nil {
		return reconcile.Result{}, fmt.Errorf("list enforcement policies: %w", err)
	}
	var selections []selection
	var selectErr error
	for i := range policies.Items {
		p := &policies.Items[i]
		if p.DeletionTimestamp != nil || p.Spec.Selector == nil {
			continue
		}
		pods, err := c.selectedPods(ctx, p)
		if err != nil {
			selectErr = errors.Join(selectErr, fmt.Errorf("select the pods of policy %s: %w", client.ObjectKeyFromObject(p), err))
		}
		selections = append(selections, selection{policy: p, pods: pods, failed: err != nil})
	}
	for _, st := range c.apply(selections) {
		c.setStatus(ctx, st.policy, st.images, st.err)
	}
	if selectErr == nil && c.Settled != nil {
		c.settled.Do(c.Settled)
	}
	// Requeued: a policy whose pods could not be read keeps its holds
	// until they can.
	return reconcile.Result{}, selectErr
}

// selection is one policy and the pods it selects on this node; failed:
// they could not be read.
type selection struct {
	policy *v1alpha1.EnforcementPolicy
	pods   []*corev1.Pod
	failed bool
}

// policyStatus is a status to write once the lock is released.
type policyStatus struct {
	policy *v1alpha1.EnforcementPolicy
	images []v1alpha1.ImageEnforcement
	err    error
}

// apply installs the policies and moves the holds to what they select.
func (c *PolicyController) apply(selections []selection) []policyStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var statuses []policyStatus
	want := map[uint64]hold{}
	pods := map[uint64]podRef{}
	seen := map[types.UID]bool{}
	named := map[uint32][]string{}
	for _, sel := range selections {
		p := sel.policy
		seen[p.UID] = true
		id, err := c.install(p)
		if err != nil {
			// A spec this agent cannot compile (a newer agent's, during a
			// rollback, or one naming what this kernel lacks) must not
			// release what the version in force holds.
			if inForce, kept, ok := c.keepInForce(p, want, pods, seen); ok {
				// Pending pods' new containers are still classified
				// by the names the version in force was given.
				names := c.named[inForce]
				if names == nil {
					names = p.Spec.Selector.Containers
				}
				if len(names) > 0 {
					named[inForce] = names
				}
				err = fmt.Errorf("%w; the version installed before keeps holding what it held on this node (%d cgroups), and pods started since are not held until this generation can be installed", err, kept)
			}
			c.Log.Error(err, "install an enforcement policy", "policy", client.ObjectKeyFromObject(p), "generation", p.Generation)
			statuses = append(statuses, policyStatus{policy: p, err: err})
			continue
		}
		if len(p.Spec.Selector.Containers) > 0 {
			named[id] = p.Spec.Selector.Containers
		}
		if sel.failed {
			c.keepHolds(p, id, want, pods, seen)
			continue
		}
		images := imageStatus{}
		c.keepAuditCopy(p, seen)
		for _, pod := range sel.pods {
			podID, err := c.imageHold(p, pod, id, images, seen)
			if err != nil {
				// Enforcing instead could break a new version of the
				// app; unheld, it is only not reported on.
				c.Log.Error(err, "install the Audit copy of a policy for a pod running an image it was not recorded from; the pod is not held", "policy", client.ObjectKeyFromObject(p), "pod", client.ObjectKeyFromObject(pod))
				continue
			}
			if len(p.Spec.Selector.Containers) > 0 {
				named[podID] = p.Spec.Selector.Containers
			}
			c.cgroupsFor(p, pod, podID, want, pods)
		}
		statuses = append(statuses, policyStatus{policy: p, images: images.list()})
	}
	paths := map[uint64]string{}
	for id, ref := range pods {
		paths[id] = ref.cgroup
	}
	changed := applyHolds(c.Enforcer, c.enforced, want, paths, len(named) > 0)
	for _, err := range changed.errs {
		c.Log.Error(err, "enforce")
	}
	for _, dir := range changed.continued {
		continueCgroup(dir)
		c.continued[dir] = time.Now()
	}
	c.cgroupPods = pods
	c.named = named
	if len(named) > 0 || len(changed.continued) > 0 {
		c.wakeClassifier()
	}
	for uid, inst := range c.ids {
		if !seen[uid] {
			c.installer.Remove(inst.id)
			delete(c.ids, uid)
		}
	}
	return statuses
}

// keepHolds keeps what a policy (id, or its Audit copy) holds now, for a
// reconcile that could not read the pods it selects.
func (c *PolicyController) keepHolds(p *v1alpha1.EnforcementPolicy, id uint32, want map[uint64]hold, pods map[uint64]podRef, seen map[types.UID]bool) {
	ids := map[uint32]bool{id: true}
	if audit, ok := c.ids[p.UID+auditCopySuffix]; ok {
		ids[audit.id] = true
		seen[p.UID+auditCopySuffix] = true
	}
	for cg, h := range c.enforced {
		if ids[h.policy] {
			want[cg] = h
			if ref, ok := c.cgroupPods[cg]; ok {
				pods[cg] = ref
			}
		}
	}
}

// keepInForce keeps the holds of the version of a policy in force on this
// node, for a reconcile that cannot install the policy's spec: the version
// this controller installed, or one a predecessor left in the pinned maps
// under the policy's id (adopted: it is removed with the policy). It
// returns how many cgroups stay held, and false where no version is in
// force.
func (c *PolicyController) keepInForce(p *v1alpha1.EnforcementPolicy, want map[uint64]hold, pods map[uint64]podRef, seen map[types.UID]bool) (id uint32, kept int, ok bool) {
	inst, ok := c.ids[p.UID]
	if !ok {
		id := c.policyID(p.UID)
		inKernel, err := c.Enforcer.Policies()
		if err != nil {
			c.Log.Error(err, "read the policies in force", "policy", client.ObjectKeyFromObject(p))
			return 0, 0, false
		}
		if _, ok := inKernel[id]; !ok {
			return 0, 0, false
		}
		// Generation 0 is never a spec's: the next one that compiles
		// replaces it.
		inst = installed{id: id, namespace: p.Namespace, name: p.Name}
		c.ids[p.UID] = inst
	}
	before := len(want)
	c.keepHolds(p, inst.id, want, pods, seen)
	return inst.id, len(want) - before, true
}

// install compiles and installs a policy when it is new or changed.
func (c *PolicyController) install(p *v1alpha1.EnforcementPolicy) (uint32, error) {
	inst, ok := c.ids[p.UID]
	if ok && inst.generation == p.Generation {
		return inst.id, nil
	}
	compiled, err := rules.Compile(p)
	if err != nil {
		return 0, err
	}
	if !ok {
		inst = installed{id: c.policyID(p.UID), namespace: p.Namespace, name: p.Name}
	}
	if err := c.installer.Install(inst.id, compiled); err != nil {
		return 0, err
	}
	inst.generation = p.Generation
	c.ids[p.UID] = inst
	return inst.id, nil
}

// policyID derives a policy's kernel id from its UID, so that an agent that
// restarts over pinned maps installs each policy under the id its cgroups
// already point to; a clash with another policy moves to the next free id.
func (c *PolicyController) policyID(uid types.UID) uint32 {
	h := fnv.New32a()
	h.Write([]byte(uid))
	id := h.Sum32()
	for {
		if id >= bpf.FirstReservedPolicyID {
			id = 1
		}
		taken := id == 0
		for other, inst := range c.ids {
			if other != uid && inst.id == id {
				taken = true
			}
		}
		if !taken {
			return id
		}
		id++
	}
}

// selectedPods lists the pods on this node a policy selects.
func (c *PolicyController) selectedPods(ctx context.Context, p *v1alpha1.EnforcementPolicy) ([]*corev1.Pod, error) {
	c.workloadsOnce.Do(func() { c.workloads = kubepods.NewWorkloads(c.APIReader) })
	return kubepods.PolicyPods(ctx, c.Client, c.workloads, c.Node, p)
}

// cgroupsFor adds the cgroups that hold a pod's selected containers to a
// policy: the pod's when the policy is for all its containers, else each
// named container's that exists.
func (c *PolicyController) cgroupsFor(p *v1alpha1.EnforcementPolicy, pod *corev1.Pod, id uint32, want map[uint64]hold, pods map[uint64]podRef) {
	ref := podRef{pod: client.ObjectKeyFromObject(pod), uid: pod.UID, policy: p.Name}
	named := p.Spec.Selector.Containers
	// The pod's cgroup, so that containers started later are covered from
	// their first instruction: held by the policy itself when it is for
	// all containers, pending classification when it names some.
	podCg, err := c.Resolver.PodCgroup(pod)
	if err != nil {
		if !errors.Is(err, containers.ErrNotFound) {
			c.Log.Error(err, "find pod cgroup", "pod", ref.pod)
		}
		return
	}
	want[podCg.ID] = hold{policy: id, pending: len(named) > 0}
	podRef := ref
	podRef.cgroup = podCg.Path
	pods[podCg.ID] = podRef
	ctrs, err := c.Resolver.ContainerCgroups(pod)
	if err != nil {
		return
	}
	for _, ctr := range ctrs {
		if ctr.State != containers.CgroupPresent || (len(named) > 0 && !slices.Contains(named, ctr.Name)) {
			continue
		}
		want[ctr.Cgroup.ID] = hold{policy: id, container: true}
		ref.cgroup = ctr.Cgroup.Path
		pods[ctr.Cgroup.ID] = ref
	}
}

// setStatus reports this node's enforcement of a policy: the backend and
// effect per kind, or why the policy cannot be installed.
func (c *PolicyController) setStatus(ctx context.Context, p *v1alpha1.EnforcementPolicy, images []v1alpha1.ImageEnforcement, installErr error) {
	node := v1alpha1.NodeEnforcement{Node: c.Node, Images: images}
	node.RoutesLeftAlone = p.Spec.RoutesLeftAlone()
	if p.Spec.Syscalls != nil {
		node.SeccompProfile = generator.SeccompLocalhostProfile(p.Namespace, p.Name)
	}
	for _, ch := range c.Enforcer.Choices() {
		kind, ok := enforcedKind(ch.Kind)
		if !ok {
			continue
		}
		effect := v1alpha1.EffectUnavailable
		switch ch.Effect {
		case bpf.Prevented:
			effect = v1alpha1.EffectPrevented
		case bpf.KilledAfter:
			effect = v1alpha1.EffectKilledAfter
		case bpf.FollowsProcess:
			effect = v1alpha1.EffectFollowsProcess
		}
		if ch.Kind == bpf.KindSyscall {
			// The seccomp profile refuses, reporter or not; without
			// one (Backend empty) nothing is reported.
			effect = v1alpha1.EffectPrevented
		}
		ke := v1alpha1.KindEnforcement{Kind: kind, Backend: ch.Chosen, Effect: effect, SelfTest: ch.Proof, Mode: modeInForce(p.Spec, ch.Effect)}
		for _, rj := range ch.Rejected {
			ke.Refused = append(ke.Refused, v1alpha1.RefusedBackend{Backend: rj.Backend, Stage: string(rj.Stage), Reason: rj.Reason})
		}
		node.Kinds = append(node.Kinds, ke)
	}
	cond := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Installed",
		Message: "compiled and installed on node " + c.Node, ObservedGeneration: p.Generation}
	if installErr != nil {
		cond = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Invalid",
			Message: installErr.Error(), ObservedGeneration: p.Generation}
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.EnforcementPolicy
		if err := lossless.Get(ctx, c.APIReader, c.Client.Scheme(), client.ObjectKeyFromObject(p), &cur); err != nil {
			return err
		}
		before := cur.Status.DeepCopy()
		i := slices.IndexFunc(cur.Status.Nodes, func(n v1alpha1.NodeEnforcement) bool { return n.Node == c.Node })
		if i < 0 {
			cur.Status.Nodes = append(cur.Status.Nodes, node)
		} else {
			node.Violations = cur.Status.Nodes[i].Violations
			cur.Status.Nodes[i] = node
		}
		apimeta.SetStatusCondition(&cur.Status.Conditions, cond)
		cur.Status.ObservedGeneration = p.Generation
		if equalStatus(before, &cur.Status) {
			return nil
		}
		return c.Client.Status().Update(ctx, &cur)
	})
	if err != nil {
		c.Log.Error(err, "update policy status", "policy", client.ObjectKeyFromObject(p))
	}
}

func equalStatus(a, b *v1alpha1.EnforcementPolicyStatus) bool {
	ac, bc := a.DeepCopy(), b.DeepCopy()
	for i := range ac.Conditions {
		ac.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	for i := range bc.Conditions {
		bc.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return fmt.Sprint(ac) == fmt.Sprint(bc)
}

// modeInForce is the mode a kind is enforced in on this node: the policy's,
// but Audit where the node can only kill after the fact and the policy did
// not accept that.
func modeInForce(spec v1alpha1.EnforcementPolicySpec, effect bpf.Effect) v1alpha1.EnforcementMode {
	if spec.Mode != v1alpha1.ModeEnforce {
		return v1alpha1.ModeAudit
	}
	if effect == bpf.KilledAfter && spec.Unpreventable != v1alpha1.UnpreventableKill {
		return v1alpha1.ModeAudit
	}
	return v1alpha1.ModeEnforce
}

func enforcedKind(k bpf.Kind) (v1alpha1.EnforcedKind, bool) {
	switch k {
	case bpf.KindCapability:
		return v1alpha1.KindCapabilities, true
	case bpf.KindFile:
		return v1alpha1.KindFiles, true
	case bpf.KindConnect:
		return v1alpha1.KindConnect, true
	case bpf.KindExec:
		return v1alpha1.KindExecutables, true
	case bpf.KindCgroup:
		return v1alpha1.KindCgroups, true
	case bpf.KindSocket:
		return v1alpha1.KindSockets, true
	case bpf.KindPtrace:
		return v1alpha1.KindPtrace, true
	case bpf.KindSyscall:
		return v1alpha1.KindSyscalls, true
	}
	return "", false
}

// Start reads violations until ctx ends and reports each as an Event on
// its pod and in the metrics.
func (c *PolicyController) Start(ctx context.Context) error {
	rd, err := c.Enforcer.NewViolationReader()
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		// Before the Enforcer closes: a replaced version's rules are
		// otherwise deleted by a timer, from maps that are gone by then.
		c.installer.Close()
		rd.Close()
	}()
	go c.classifyLoop(ctx)
	go c.flushEvents(ctx)
	for {
		v, err := rd.Read()
		if errors.Is(err, bpf.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		c.report(v)
	}
}

func (c *PolicyController) report(v bpf.Violation) {
	c.mu.Lock()
	ref, ok := c.cgroupPods[v.CgroupID]
	if !ok {
		// A cgroup the kernel added below a held one (a container the
		// runtime started since the last reconcile).
		ref, ok = c.heldAncestor(v.CgroupID)
	}
	c.mu.Unlock()
	Violations.WithLabelValues(v.Kind.String(), v.Outcome.String(), ref.pod.Namespace, ref.policy).Inc()
	if !ok {
		c.Log.Info("violation in a cgroup no longer mapped to a pod", "violation", Describe(v))
		return
	}
	c.eventsMu.Lock()
	e, ok := c.violationEvents().add(ref, v, time.Now())
	c.eventsMu.Unlock()
	if ok {
		c.event(e)
	}
}

func (c *PolicyController) violationEvents() *violationEvents {
	if c.events == nil {
		c.events = newViolationEvents(violationevents.PerPodBurst, violationevents.PerPodPerSecond)
	}
	return c.events
}

// flushEvents sends, every EventFlush, the system calls gathered for each
// pod and what went over a pod's Event budget, until ctx ends.
func (c *PolicyController) flushEvents(ctx context.Context) {
	every := c.EventFlush
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.eventsMu.Lock()
			due := c.violationEvents().flush(now)
			c.eventsMu.Unlock()
			for _, e := range due {
				c.event(e)
			}
		}
	}
}

// event makes a PolicyViolation Event on a pod.
func (c *PolicyController) event(e pendingEvent) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: e.ref.pod.Name, Namespace: e.ref.pod.Namespace, UID: e.ref.uid}}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	c.Events.Event(pod, corev1.EventTypeWarning, v1alpha1.ViolationEventReason, e.message)
}

// heldAncestor finds the held cgroup a cgroup was created below, two
// levels deep at most (a container, and a runtime's cgroup inside it).
func (c *PolicyController) heldAncestor(id uint64) (podRef, bool) {
	for _, ref := range c.cgroupPods {
		for _, pattern := range []string{"*", "*/*"} {
			matches, _ := filepath.Glob(filepath.Join(ref.cgroup, pattern))
			for _, m := range matches {
				if got, err := cgroupfs.ID(m); err == nil && got == id {
					c.cgroupPods[id] = ref
					return ref, true
				}
			}
		}
	}
	return podRef{}, false
}
