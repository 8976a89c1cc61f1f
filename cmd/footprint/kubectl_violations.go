package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

type kubeViolationsFlags struct {
	follow        bool
	since         time.Duration
	allNamespaces bool
}

func newKubeViolationsCommand(kf *kubeFlags) *cobra.Command {
	var f kubeViolationsFlags
	cmd := &cobra.Command{
		Use:   "violations",
		Short: "List the policy violations the agents reported, and follow new ones with -f",
		Long: `List the PolicyViolation events of the namespace (or of every namespace with -A),
oldest first, one line each: when it last happened, the pod, and what was done
(in audit mode: what would have been refused). With -f, keep printing new ones
until interrupted. Events are kept by the API server for an hour by default.

A pod's system calls outside its policy are one line per 5 seconds (per policy
and outcome), naming the first 10 calls and counting the rest ("and 12 more").
Every other violation is a line of its own, up to 300 per pod and policy, then
one a second; past that, a line says how many of each kind were not listed one
by one. The kernel passes on at most 200 distinct violations a second per
policy and kind; what it leaves out is counted in the agent's
footprint_kernel_violations_unreported_total metric (and reported if it
happens again once the budget allows).`,
		Example: `  kubectl footprint violations -n shop
  kubectl footprint violations -A --since 10m
  kubectl footprint violations -f -n shop`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("violations takes no arguments (got %q): select the namespace with -n or -A", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("since") && f.since <= 0 {
				return usagef("--since %s: give a positive length of time, e.g. 10m or 2h", f.since)
			}
			s, err := kf.connect(cmd)
			if err != nil {
				return err
			}
			return runKubeViolations(cmd.Context(), s, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing new violations until interrupted")
	cmd.Flags().DurationVar(&f.since, "since", 0, "only violations that last happened within this long, e.g. 10m (default: all the API server keeps)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "list violations in every namespace")
	return cmd
}

// eventTime is when an event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// eventCount is how many times an event happened.
func eventCount(e *corev1.Event) int32 {
	if e.Series != nil && e.Series.Count > e.Count {
		return e.Series.Count
	}
	return e.Count
}

// violationLine is one violation for a person: time, pod, message.
func violationLine(e *corev1.Event, withNamespace bool) string {
	pod := e.InvolvedObject.Name
	if e.InvolvedObject.Kind != "" && e.InvolvedObject.Kind != "Pod" {
		pod = strings.ToLower(e.InvolvedObject.Kind) + "/" + pod
	}
	if withNamespace {
		ns := e.InvolvedObject.Namespace
		if ns == "" {
			ns = e.Namespace
		}
		pod = ns + "/" + pod
	}
	msg := strings.Join(strings.Fields(e.Message), " ")
	if n := eventCount(e); n > 1 {
		msg += fmt.Sprintf(" (%d times)", n)
	}
	return fmt.Sprintf("%s  %s  %s", eventTime(e).UTC().Format(time.RFC3339), pod, msg)
}

func runKubeViolations(ctx context.Context, s *kubeSession, f kubeViolationsFlags, out, errOut io.Writer) error {
	opts := []client.ListOption{client.MatchingFields{"reason": v1alpha1.ViolationEventReason}}
	where := "in namespace " + s.namespace
	if f.allNamespaces {
		where = "in any namespace"
	} else {
		opts = append(opts, client.InNamespace(s.namespace))
	}
	var cutoff time.Time
	if f.since > 0 {
		cutoff = time.Now().Add(-f.since)
	}
	// printed remembers what was printed, by event and count, so that a
	// re-list after a broken watch does not print a violation twice.
	printed := map[types.UID]int32{}
	print := func(e *corev1.Event) error {
		if e.Reason != v1alpha1.ViolationEventReason || eventTime(e).Before(cutoff) {
			return nil
		}
		if n, ok := printed[e.UID]; ok && n >= eventCount(e) {
			return nil
		}
		printed[e.UID] = eventCount(e)
		_, err := fmt.Fprintln(out, violationLine(e, f.allNamespaces))
		return err
	}
	list := func() (string, error) {
		var events corev1.EventList
		if err := s.c.List(ctx, &events, opts...); err != nil {
			return "", s.explain(fmt.Errorf("list events: %w", err))
		}
		items := events.Items
		slices.SortStableFunc(items, func(a, b corev1.Event) int { return eventTime(&a).Compare(eventTime(&b)) })
		for i := range items {
			if err := print(&items[i]); err != nil {
				return "", err
			}
		}
		return events.ResourceVersion, nil
	}
	rv, err := list()
	if err != nil {
		return err
	}
	if !f.follow {
		if len(printed) == 0 {
			what := "No policy violations " + where
			if f.since > 0 {
				what += " in the last " + f.since.String()
			}
			fmt.Fprintln(errOut, what+".")
		}
		return nil
	}
	for {
		err := followViolations(ctx, s, opts, rv, print)
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of -f
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || err == nil {
			// The watch ended or fell too far behind: list again, which
			// prints what was missed, and watch from there.
			if rv, err = list(); err == nil {
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// followViolations watches events from resourceVersion rv and prints each
// violation, until the watch ends (nil) or fails.
func followViolations(ctx context.Context, s *kubeSession, opts []client.ListOption, rv string, print func(*corev1.Event) error) error {
	watchOpts := append(slices.Clone(opts), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
	w, err := s.c.Watch(ctx, &corev1.EventList{}, watchOpts...)
	if err != nil {
		return s.explain(fmt.Errorf("watch events: %w", err))
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if e, ok := ev.Object.(*corev1.Event); ok {
					if err := print(e); err != nil {
						return err
					}
				}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				var status apierrors.APIStatus
				if errors.As(err, &status) {
					return err
				}
				return fmt.Errorf("watch events: %v", err)
			}
		}
	}
}
