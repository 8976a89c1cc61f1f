package recorder

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/lossless"
	"github.com/footprint-dev/footprint/recorder/profilestore"
)

// Condition types of a ProfileRecording.
const (
	// ConditionMatched is False when the selector matches no pod at all
	// in the namespace, on any node.
	ConditionMatched = "Matched"
)

// share is one node's part of a recording's status.
type share struct {
	node       v1alpha1.RecordingNodeStatus
	containers []v1alpha1.RecordedContainer
	profiles   []string
}

// reportStatus writes this node's share of a recording's status and
// recomputes the totals over every node's share, retrying on conflicts with
// the other nodes' agents.
func (c *RecordingController) reportStatus(ctx context.Context, key client.ObjectKey, s share, now time.Time) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var r v1alpha1.ProfileRecording
		if err := lossless.Get(ctx, c.APIReader, c.Client.Scheme(), key, &r); err != nil {
			return client.IgnoreNotFound(err)
		}
		before := r.Status.DeepCopy()
		st := &r.Status
		st.ObservedGeneration = r.Generation
		start := r.CreationTimestamp
		st.StartTime = &start
		stop, active := recordingWindow(&r, now)
		if !stop.IsZero() {
			t := metav1.NewTime(stop)
			st.StopTime = &t
		}

		// This node's share replaces its previous one.
		i := slices.IndexFunc(st.Nodes, func(n v1alpha1.RecordingNodeStatus) bool { return n.Node == c.Node })
		if i >= 0 && s.node.Events == st.Nodes[i].Events && s.node.LostRecords == st.Nodes[i].LostRecords && s.node.Containers == st.Nodes[i].Containers {
			s.node.LastUpdate = st.Nodes[i].LastUpdate
		} else {
			t := metav1.NewTime(now.Truncate(time.Second))
			s.node.LastUpdate = &t
		}
		if i >= 0 {
			st.Nodes[i] = s.node
		} else {
			st.Nodes = append(st.Nodes, s.node)
		}
		slices.SortFunc(st.Nodes, func(a, b v1alpha1.RecordingNodeStatus) int { return strings.Compare(a.Node, b.Node) })
		st.Containers = slices.DeleteFunc(st.Containers, func(rc v1alpha1.RecordedContainer) bool { return rc.Node == c.Node })
		st.Containers = append(st.Containers, s.containers...)
		slices.SortFunc(st.Containers, func(a, b v1alpha1.RecordedContainer) int {
			return strings.Compare(a.Pod+"/"+a.Container, b.Pod+"/"+b.Container)
		})
		for _, p := range s.profiles {
			if !slices.Contains(st.Profiles, p) {
				st.Profiles = append(st.Profiles, p)
			}
		}
		slices.Sort(st.Profiles)

		// Totals over every node's share.
		st.Events, st.LostRecords, st.MatchedContainers = 0, 0, 0
		pods := map[string]bool{}
		for _, n := range st.Nodes {
			st.Events += n.Events
			st.LostRecords += n.LostRecords
			st.MatchedContainers += n.Containers
		}
		for _, rc := range st.Containers {
			pods[rc.Pod] = true
		}
		st.MatchedPods = int32(len(pods))

		switch {
		case !active:
			st.Phase = v1alpha1.RecordingCompleted
			if st.EndTime == nil {
				end := metav1.NewTime(now.Truncate(time.Second))
				if !stop.IsZero() && stop.Before(now) {
					end = metav1.NewTime(stop)
				}
				st.EndTime = &end
			}
		case st.MatchedContainers > 0:
			st.Phase = v1alpha1.RecordingActive
		default:
			st.Phase = v1alpha1.RecordingPending
		}
		if cond, err := c.matched(ctx, &r); err == nil {
			cond.ObservedGeneration = r.Generation
			apimeta.SetStatusCondition(&st.Conditions, cond)
		}
		if equality.Semantic.DeepEqual(before, st) {
			return nil
		}
		return c.Client.Status().Update(ctx, &r)
	})
}

// matched says whether the recording's selector matches any pod in its
// namespace, on any node: a recording that matches nothing says so.
func (c *RecordingController) matched(ctx context.Context, r *v1alpha1.ProfileRecording) (metav1.Condition, error) {
	selector, err := metav1.LabelSelectorAsSelector(&r.Spec.PodSelector)
	if err != nil {
		return metav1.Condition{Type: ConditionMatched, Status: metav1.ConditionFalse, Reason: "InvalidSelector", Message: err.Error()}, nil
	}
	var pods corev1.PodList
	if err := c.APIReader.List(ctx, &pods, client.InNamespace(r.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return metav1.Condition{}, err
	}
	if len(pods.Items) == 0 {
		return metav1.Condition{Type: ConditionMatched, Status: metav1.ConditionFalse, Reason: "NoPodsMatched",
			Message: fmt.Sprintf("podSelector %s matches no pod in namespace %s: check the labels (kubectl get pods -n %s --show-labels)", selector, r.Namespace, r.Namespace)}, nil
	}
	return metav1.Condition{Type: ConditionMatched, Status: metav1.ConditionTrue, Reason: "PodsMatched",
		Message: fmt.Sprintf("podSelector %s matches %d pods in namespace %s", selector, len(pods.Items), r.Namespace)}, nil
}

// shareOf is this node's share of a recording: its selected running
// containers, the profiles they feed, and what was recorded of them.
func (c *RecordingController) shareOf(ctx context.Context, sel Selection, snaps []Snapshot, backends map[string]string) share {
	s := share{node: v1alpha1.RecordingNodeStatus{Node: c.Node, Backends: backends}}
	for _, pod := range sel.Pods {
		workload, err := c.workloadOf(ctx, pod)
		if err != nil {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Running == nil || !sel.selects(cs.Name) {
				continue
			}
			name := profilestore.ProfileName(profilestore.WorkloadContainer{Namespace: pod.Namespace, Workload: workload, Container: cs.Name})
			since := cs.State.Running.StartedAt
			s.containers = append(s.containers, v1alpha1.RecordedContainer{Pod: pod.Name, Container: cs.Name, Node: c.Node, Profile: name, Since: &since})
			if !slices.Contains(s.profiles, name) {
				s.profiles = append(s.profiles, name)
			}
		}
	}
	s.node.Containers = int32(len(s.containers))
	for _, snap := range snaps {
		if snap.Recording == sel.Recording && snap.Pod.Namespace == sel.Namespace {
			s.node.Events += snap.Source.Events
			s.node.LostRecords += snap.Source.LostRecords
		}
	}
	return s
}
