package recorder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/internal/kubepods"
	"github.com/footprint-dev/footprint/recorder/profilestore"
)

// RecordingController is the node agent's ProfileRecording controller: it
// keeps the kernel recording what the ProfileRecordings select on this
// node, and every FlushInterval writes what was recorded into the
// workloads' Profiles and the recordings' status.
//
// The node's whole state is reconciled at once (one work item): a node
// runs a handful of recordings, and recomputing them all is simpler and
// cheaper than tracking which pod belongs to which.
type RecordingController struct {
	// Client reads from the manager's cache, which holds only this
	// node's pods.
	Client client.Client
	// APIReader reads workload owners straight from the API server.
	APIReader client.Reader
	Node      string
	Recorder  *NodeRecorder
	Writer    *profilestore.Writer
	// FlushInterval is how often snapshots are written; 0 means 10s.
	FlushInterval time.Duration
	Log           logr.Logger
	// Now is the clock, for tests.
	Now func() time.Time

	workloadsOnce sync.Once
	workloads     *kubepods.Workloads
}

// workloadOf resolves a pod's workload, remembering owners (kubepods.Workloads).
func (c *RecordingController) workloadOf(ctx context.Context, pod *corev1.Pod) (v1alpha1.WorkloadReference, error) {
	c.workloadsOnce.Do(func() { c.workloads = kubepods.NewWorkloads(c.APIReader) })
	return c.workloads.Of(ctx, pod)
}

// nodeKey is the one work item.
var nodeKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "node"}}

// SetupWithManager registers the controller and its flush loop.
func (c *RecordingController) SetupWithManager(mgr ctrl.Manager) error {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Second
	}
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{nodeKey}
	})
	err := builder.ControllerManagedBy(mgr).
		Named("profilerecording").
		// Their specs, not their statuses: every agent writes its share
		// of a recording's (and a policy's) status each flush, and each
		// write would otherwise have every agent reconcile everything.
		Watches(&v1alpha1.ProfileRecording{}, toNode, builder.WithPredicates(specChanged)).
		Watches(&v1alpha1.EnforcementPolicy{}, toNode, builder.WithPredicates(specChanged)).
		Watches(&corev1.Pod{}, toNode).
		WatchesRawSource(containers.PodCgroupSource(c.Recorder.resolver, nodeKey, c.Log)).
		Complete(c)
	if err != nil {
		return err
	}
	return mgr.Add(c)
}

// specChanged lets through creations, deletions and updates of an object's
// spec (its generation), labels or annotations.
var specChanged = predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{})

// Reconcile recomputes what every active recording selects on this node.
func (c *RecordingController) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var recs v1alpha1.ProfileRecordingList
	if err := c.Client.List(ctx, &recs); err != nil {
		return reconcile.Result{}, fmt.Errorf("list profile recordings: %w", err)
	}
	// Every pod here, selected or not.
	var onNode []*corev1.Pod
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods); err != nil {
		c.Log.Error(err, "list the node's pods")
	} else {
		onNode = make([]*corev1.Pod, len(pods.Items))
		for i := range pods.Items {
			onNode[i] = &pods.Items[i]
		}
	}
	selectErr := false
	now := c.Now()
	var sels []Selection
	var next time.Duration
	for i := range recs.Items {
		r := &recs.Items[i]
		stop, active := recordingWindow(r, now)
		if !active {
			if r.DeletionTimestamp == nil && r.Status.Phase != v1alpha1.RecordingCompleted {
				// Ended: the last word is this node's share as it stands.
				i := slices.IndexFunc(r.Status.Nodes, func(n v1alpha1.RecordingNodeStatus) bool { return n.Node == c.Node })
				s := share{node: v1alpha1.RecordingNodeStatus{Node: c.Node}}
				if i >= 0 {
					s.node = r.Status.Nodes[i]
				}
				if err := c.reportStatus(ctx, client.ObjectKeyFromObject(r), s, now); err != nil {
					c.Log.Error(err, "report recording status", "recording", client.ObjectKeyFromObject(r))
				}
			}
			continue
		}
		if !stop.IsZero() && (next == 0 || stop.Sub(now) < next) {
			next = stop.Sub(now)
		}
		sel, err := c.selection(ctx, r)
		if err != nil {
			c.Log.Error(err, "select pods", "recording", client.ObjectKeyFromObject(r))
			selectErr = true
			continue
		}
		sels = append(sels, sel)
	}
	policySels, err := c.policySelections(ctx)
	if err != nil {
		c.Log.Error(err, "select pods running images their policy was not recorded from")
		selectErr = true
	}
	sels = append(sels, policySels...)
	// A recording that ended or a pod that went: take the last snapshot
	// of what it recorded before the kernel forgets it.
	if dropsSomething(c.Recorder.Selections(), sels) {
		if err := c.collect(ctx); err != nil {
			c.Log.Error(err, "collect the last snapshots")
		}
	}
	// A pod cgroup the kernel watched provisionally is dropped once its
	// pod is known here and unselected: only when every selection was
	// computed, and from the pods listed before them (the cache only
	// grows in between, so a pod listed here was there to be selected).
	if onNode != nil && selectErr {
		onNode = nil
	}
	c.Recorder.SetPodsOnNode(onNode)
	for rec, problems := range c.Recorder.Select(sels) {
		c.Log.Info("cannot record everything selected", "recording", rec, "problems", strings.Join(problems, "; "))
	}
	if next > 0 {
		// Stop on time: the next reconcile after the deadline drops it.
		return reconcile.Result{RequeueAfter: next + time.Second}, nil
	}
	return reconcile.Result{}, nil
}

// policySelections are the pods on this node that run an image their
// EnforcementPolicy was not recorded from, with the containers that run
// it: they are recorded into the policy's profile, as a source of their
// own, until a person promotes the policy to the image. One selection per
// pod, because pods of one workload differ in the middle of a rollout.
func (c *RecordingController) policySelections(ctx context.Context) ([]Selection, error) {
	var policies v1alpha1.EnforcementPolicyList
	if err := c.Client.List(ctx, &policies); err != nil {
		return nil, fmt.Errorf("list enforcement policies: %w", err)
	}
	c.workloadsOnce.Do(func() { c.workloads = kubepods.NewWorkloads(c.APIReader) })
	var sels []Selection
	var errs []error
	for i := range policies.Items {
		p := &policies.Items[i]
		if p.DeletionTimestamp != nil || p.Spec.Selector == nil || len(p.Spec.Images) == 0 {
			continue
		}
		pods, err := kubepods.PolicyPods(ctx, c.Client, c.workloads, c.Node, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kinds := policyKinds(&p.Spec)
		if kinds == 0 {
			continue // it enforces nothing the kernel records
		}
		for _, pod := range pods {
			if d := kubepods.DecidePod(&p.Spec, pod); len(d.Record) > 0 {
				sels = append(sels, Selection{Policy: p.Name, Namespace: p.Namespace, Kinds: kinds, Containers: d.Record, Pods: []*corev1.Pod{pod}})
			}
		}
	}
	return sels, errors.Join(errs...)
}

// policyKinds are the kinds a policy enforces, the ones recorded for it:
// a kind its profile did not record stays unrecorded, or promoting the
// policy would enforce it from the new image's pods alone.
func policyKinds(spec *v1alpha1.EnforcementPolicySpec) bpf.KindSet {
	var kinds []v1alpha1.RecordedKind
	for kind, enforced := range map[v1alpha1.RecordedKind]bool{
		v1alpha1.RecordCapabilities: spec.Capabilities != nil,
		v1alpha1.RecordFiles:        spec.Files != nil,
		// Sockets are recorded with connections.
		v1alpha1.RecordConnections: spec.Connect != nil || spec.Sockets != nil,
		v1alpha1.RecordExecutables: spec.Executables != nil,
		v1alpha1.RecordSyscalls:    spec.Syscalls != nil,
	} {
		if enforced {
			kinds = append(kinds, kind)
		}
	}
	if len(kinds) == 0 {
		return 0
	}
	return kindsOf(kinds)
}

// selectionKey names what a selection records of a pod.
func selectionKey(s Selection, pod *corev1.Pod) string {
	return s.Namespace + "/" + s.Recording + "/" + s.Policy + "/" + string(pod.UID)
}

// dropsSomething says whether going from old to new selections stops
// recording a pod of some recording.
func dropsSomething(old, new []Selection) bool {
	kept := map[string]bool{}
	for _, s := range new {
		for _, p := range s.Pods {
			kept[selectionKey(s, p)] = true
		}
	}
	for _, s := range old {
		for _, p := range s.Pods {
			if !kept[selectionKey(s, p)] {
				return true
			}
		}
	}
	return false
}

// recordingWindow says whether a recording is active now and when it stops
// (zero: when deleted). It starts when created.
func recordingWindow(r *v1alpha1.ProfileRecording, now time.Time) (time.Time, bool) {
	if r.DeletionTimestamp != nil {
		return time.Time{}, false
	}
	stop, ok := r.Stop()
	if !ok {
		return time.Time{}, true
	}
	return stop, now.Before(stop)
}

func (c *RecordingController) selection(ctx context.Context, r *v1alpha1.ProfileRecording) (Selection, error) {
	selector, err := metav1.LabelSelectorAsSelector(&r.Spec.PodSelector)
	if err != nil {
		return Selection{}, fmt.Errorf("spec.podSelector: %w", err)
	}
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.InNamespace(r.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return Selection{}, fmt.Errorf("list pods: %w", err)
	}
	sel := Selection{Recording: r.Name, Namespace: r.Namespace, Containers: r.Spec.ContainerSelector, Kinds: kindsOf(r.Spec.Kinds)}
	for i := range pods.Items {
		if pods.Items[i].Spec.NodeName == c.Node {
			sel.Pods = append(sel.Pods, &pods.Items[i])
		}
	}
	return sel, nil
}

func kindsOf(kinds []v1alpha1.RecordedKind) bpf.KindSet {
	if len(kinds) == 0 {
		return bpf.AllKinds
	}
	var set bpf.KindSet
	for _, k := range kinds {
		if kind, err := bpf.ParseKind(string(k)); err == nil {
			set = set.With(kind)
		}
	}
	return set
}

// Start hands snapshots to the Writer every FlushInterval until ctx ends;
// the Writer's own loop (Writer.Run) delivers them. When ctx ends, the last
// snapshots are written at once (within shutdownFlush): the Writer's final
// flush may have run already.
func (c *RecordingController) Start(ctx context.Context) error {
	t := time.NewTicker(c.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlush)
			defer cancel()
			return c.Flush(final)
		case <-t.C:
			if err := c.collect(ctx); err != nil {
				c.Log.Error(err, "collect snapshots")
			}
		}
	}
}

// shutdownFlush bounds the last write when the agent stops: within a
// DaemonSet's grace period. What it cannot write stays in the kernel's
// pinned maps for the agent's successor.
const shutdownFlush = 5 * time.Second

// collect queues every container's snapshot for its workload's Profile and
// reports this node's share of each recording's status.
func (c *RecordingController) collect(ctx context.Context) error {
	snaps, err := c.Recorder.Snapshots()
	if err != nil {
		return err
	}
	backends := map[string]string{}
	for _, ch := range c.Recorder.rec.Choices() {
		if ch.Chosen != "" {
			backends[ch.Kind.String()] = ch.Chosen
		}
	}
	for _, sel := range c.Recorder.Selections() {
		if sel.Recording == "" {
			continue // a policy's: no recording to report to
		}
		key := client.ObjectKey{Namespace: sel.Namespace, Name: sel.Recording}
		if err := c.reportStatus(ctx, key, c.shareOf(ctx, sel, snaps, backends), c.Now()); err != nil {
			c.Log.Error(err, "report recording status", "recording", key)
		}
	}
	for _, s := range snaps {
		workload, err := c.workloadOf(ctx, s.Pod)
		if err != nil {
			c.Log.Error(err, "find the workload of a pod", "pod", client.ObjectKeyFromObject(s.Pod))
			continue
		}
		key := profilestore.WorkloadContainer{Namespace: s.Pod.Namespace, Workload: workload, Container: s.Container}
		if err := c.Writer.Add(key, s.Recording, s.Spec, s.Source); err != nil {
			c.Log.Error(err, "queue a profile", "profile", key.String())
		}
	}
	return nil
}

// Flush queues the current snapshots and writes them now.
func (c *RecordingController) Flush(ctx context.Context) error {
	if err := c.collect(ctx); err != nil {
		return err
	}
	return c.Writer.Flush(ctx)
}
