package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

type kubeListFlags struct {
	output        string
	allNamespaces bool
}

func (f *kubeListFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
}

// listOptions are the namespace options of a list: -A or the namespace.
func (f *kubeListFlags) listOptions(s *kubeSession) []client.ListOption {
	if f.allNamespaces {
		return nil
	}
	return []client.ListOption{client.InNamespace(s.namespace)}
}

// where says where a list looked, for "nothing found" messages.
func (f *kubeListFlags) where(s *kubeSession) string {
	if f.allNamespaces {
		return "in any namespace"
	}
	return "in namespace " + s.namespace
}

func newKubeStatusCommand(kf *kubeFlags) *cobra.Command {
	var f kubeListFlags
	cmd := &cobra.Command{
		Use:   "status [RECORDING]",
		Short: "Show how recordings are going: phase, pods and containers, events, time left",
		Long: `Show the ProfileRecordings of the namespace (or of every namespace with -A): their
phase, the pods and containers they cover, the kernel events seen, ring-buffer
records lost (their entries are recovered from the kernel's maps) and the time
left. With a name, also the containers recorded, the Profiles written and the
conditions that are not met.`,
		Example: `  kubectl footprint status -n shop
  kubectl footprint status web -n shop
  kubectl footprint status -A -o yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("want at most one recording name, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.output); err != nil {
				return err
			}
			if len(args) == 1 && f.allNamespaces {
				return usagef("a recording name and -A do not go together: name the namespace with -n")
			}
			s, err := kf.connect(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			now := time.Now()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				rec := &v1alpha1.ProfileRecording{}
				err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: args[0]}, rec)
				if apierrors.IsNotFound(err) {
					return s.notFound(ctx, &v1alpha1.ProfileRecordingList{}, "recording", "recordings", args[0], s.namespace)
				}
				if err != nil {
					return s.explain(fmt.Errorf("get ProfileRecording %s: %w", args[0], err))
				}
				withKind(rec)
				if f.output != "table" {
					return printObject(out, rec, f.output)
				}
				return renderRecordingDetail(out, rec, now)
			}
			var list v1alpha1.ProfileRecordingList
			if err := s.c.List(ctx, &list, f.listOptions(s)...); err != nil {
				return s.explain(fmt.Errorf("list ProfileRecordings: %w", err))
			}
			sortByNamespaceName(list.Items, func(r v1alpha1.ProfileRecording) (string, string) { return r.Namespace, r.Name })
			if f.output != "table" {
				withKind(&list)
				for i := range list.Items {
					withKind(&list.Items[i])
				}
				return printObject(out, &list, f.output)
			}
			if len(list.Items) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No recordings %s. Start one: %s\n", f.where(s), s.hint("record", "deployment/NAME", "-n", s.namespace))
				return nil
			}
			renderRecordings(out, list.Items, f.allNamespaces, now)
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

func sortByNamespaceName[T any](items []T, key func(T) (string, string)) {
	slices.SortFunc(items, func(a, b T) int {
		an, aname := key(a)
		bn, bname := key(b)
		if c := strings.Compare(an, bn); c != 0 {
			return c
		}
		return strings.Compare(aname, bname)
	})
}

// recordingStop is when a recording stops: the agents' word in
// status.stopTime once they wrote it, else what they will write.
func recordingStop(r *v1alpha1.ProfileRecording) (time.Time, bool) {
	stop, ok := r.Stop()
	if ok && r.Status.StopTime != nil {
		stop = r.Status.StopTime.Time
	}
	return stop, ok
}

// timeLeft says how long a recording still runs.
func timeLeft(r *v1alpha1.ProfileRecording, now time.Time) string {
	switch r.Status.Phase {
	case v1alpha1.RecordingCompleted:
		if r.Status.EndTime != nil {
			return "ended " + ago(*r.Status.EndTime, now) + " ago"
		}
		return "ended"
	case v1alpha1.RecordingFailed:
		return "failed"
	}
	stop, ok := recordingStop(r)
	if !ok {
		return "until deleted"
	}
	left := stop.Sub(now)
	if left <= 0 {
		return "0s (stopping)"
	}
	// HumanDuration cuts off; a recording of 1h created a moment ago has
	// 1h left, not 59m.
	return duration.HumanDuration(left.Round(time.Second))
}

func renderRecordings(w io.Writer, recs []v1alpha1.ProfileRecording, withNamespace bool, now time.Time) {
	t := newTable(w)
	header := table.Row{"Name", "Phase", "Pods", "Containers", "Events", "Lost", "Time left", "Age"}
	if withNamespace {
		header = append(table.Row{"Namespace"}, header...)
	}
	t.AppendHeader(header)
	for i := range recs {
		r := &recs[i]
		row := table.Row{r.Name, string(r.CurrentPhase()), r.Status.MatchedPods, r.Status.MatchedContainers, r.Status.Events, r.Status.LostRecords, timeLeft(r, now), ago(r.CreationTimestamp, now)}
		if withNamespace {
			row = append(table.Row{r.Namespace}, row...)
		}
		t.AppendRow(row)
	}
	if withNamespace {
		rightAligned(t, 4, 5, 6, 7)
	} else {
		rightAligned(t, 3, 4, 5, 6)
	}
	t.Render()
}

func renderRecordingDetail(w io.Writer, r *v1alpha1.ProfileRecording, now time.Time) error {
	renderRecordings(w, []v1alpha1.ProfileRecording{*r}, false, now)
	var b strings.Builder
	sel := metav1.FormatLabelSelector(&r.Spec.PodSelector)
	cs := "all"
	if len(r.Spec.ContainerSelector) > 0 {
		cs = strings.Join(r.Spec.ContainerSelector, ", ")
	}
	fmt.Fprintf(&b, "Pods %s, containers %s", sel, cs)
	if len(r.Spec.Kinds) > 0 {
		var kinds []string
		for _, k := range r.Spec.Kinds {
			kinds = append(kinds, string(k))
		}
		fmt.Fprintf(&b, ", recording %s", strings.Join(kinds, ", "))
	}
	b.WriteString(".\n")
	if r.Spec.Duration != nil {
		stop, _ := recordingStop(r)
		fmt.Fprintf(&b, "Duration %s: stops at %s.\n", r.Spec.Duration.Duration, timestamp(stop))
	} else {
		b.WriteString("No duration: records until deleted.\n")
	}
	for _, c := range r.Status.Conditions {
		if c.Status != metav1.ConditionTrue {
			fmt.Fprintf(&b, "%s is %s: %s (%s)\n", c.Type, c.Status, c.Message, c.Reason)
		}
	}
	if len(r.Status.Profiles) > 0 {
		fmt.Fprintf(&b, "Profiles: %s\n", strings.Join(r.Status.Profiles, ", "))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(r.Status.Containers) > 0 {
		fmt.Fprintln(w, "\nCONTAINERS")
		t := newTable(w)
		t.AppendHeader(table.Row{"Pod", "Container", "Node", "Profile", "Since"})
		for _, c := range r.Status.Containers {
			since := ""
			if c.Since != nil {
				since = timestamp(c.Since.Time)
			}
			t.AppendRow(table.Row{c.Pod, c.Container, c.Node, c.Profile, since})
		}
		t.Render()
	}
	if len(r.Status.Nodes) > 0 {
		fmt.Fprintln(w, "\nNODES")
		t := newTable(w)
		t.AppendHeader(table.Row{"Node", "Containers", "Events", "Lost", "Updated"})
		for _, n := range r.Status.Nodes {
			updated := ""
			if n.LastUpdate != nil {
				updated = ago(*n.LastUpdate, now) + " ago"
			}
			t.AppendRow(table.Row{n.Node, n.Containers, n.Events, n.LostRecords, updated})
		}
		rightAligned(t, 2, 3, 4)
		t.Render()
	}
	return nil
}
