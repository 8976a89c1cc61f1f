package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/kubepods"
	"github.com/footprint-dev/footprint/recorder/profilestore"
	"github.com/footprint-dev/footprint/workloads"
)

// recordingDurationBounds are the bounds the ProfileRecording CRD puts on
// spec.duration, checked here first so the message can name the flag.
const (
	minRecordingDuration = time.Second
	maxRecordingDuration = 8760 * time.Hour
)

type kubeRecordFlags struct {
	duration   time.Duration
	containers []string
	kinds      []string
	name       string
	dryRun     bool
}

func newKubeRecordCommand(kf *kubeFlags) *cobra.Command {
	var f kubeRecordFlags
	cmd := &cobra.Command{
		Use:   "record WORKLOAD",
		Short: "Record a workload's containers: create a ProfileRecording from its selector",
		Long: `Create a ProfileRecording for a workload: its pods are selected with the workload's
own selector (for a CronJob, the labels of its pod template; for a bare Pod, its
labels). Running pods are picked up at once, pods that start later are recorded
from their first instruction. The footprint agents write one Profile per workload
container.

WORKLOAD is KIND/NAME as kubectl writes it: deployment/web, statefulset/db,
daemonset/agent, job/migrate, cronjob/report, pod/debug.

Without --duration the recording runs until it is deleted.`,
		Example: `  kubectl footprint record deployment/web -n shop --duration 1h
  kubectl footprint record statefulset/db --containers postgres --kinds capabilities,files
  kubectl footprint record cronjob/report --duration 24h --name report-day`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one workload as KIND/NAME, e.g. deployment/web (got %d arguments)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeRecord(cmd, kf, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "how long to record, e.g. 30m, 2h (1s to 8760h; default: until the recording is deleted)")
	fl.StringSliceVar(&f.containers, "containers", nil, "record only these containers of the pod template, comma-separated (default: all, init containers included)")
	fl.StringSliceVar(&f.kinds, "kinds", nil, "kinds of event to record, comma-separated: capabilities, files, connections, executables (default: all four)")
	fl.StringVar(&f.name, "name", "", "name of the ProfileRecording (default: the workload's name)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the ProfileRecording as YAML instead of creating it")
	return cmd
}

func runKubeRecord(cmd *cobra.Command, kf *kubeFlags, f kubeRecordFlags, arg string) error {
	ref, err := workloads.Parse(arg)
	if err != nil {
		return usagef("%v", err)
	}
	if cmd.Flags().Changed("duration") && (f.duration < minRecordingDuration || f.duration > maxRecordingDuration) {
		return usagef("--duration %s: give at least 1s and at most 8760h (a year), or leave it out to record until the recording is deleted", f.duration)
	}
	kinds, err := parseRecordedKinds(f.kinds)
	if err != nil {
		return err
	}
	name := f.name
	if name == "" {
		name = ref.Name
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return usagef("--name %q: %s", name, strings.Join(msgs, "; "))
	}

	s, err := kf.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	w, err := s.readWorkload(ctx, s.namespace, ref)
	if err != nil {
		return err
	}
	containers, err := selectContainers(w, f.containers)
	if err != nil {
		return err
	}
	rec := &v1alpha1.ProfileRecording{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.namespace, Labels: recordingLabels(ref)},
		Spec: v1alpha1.ProfileRecordingSpec{
			PodSelector:       *w.Selector.DeepCopy(),
			ContainerSelector: f.containers,
			Kinds:             kinds,
		},
	}
	if f.duration > 0 {
		rec.Spec.Duration = &metav1.Duration{Duration: f.duration}
	}
	if f.dryRun {
		withKind(rec)
		return printObject(cmd.OutOrStdout(), rec, "yaml")
	}
	if err := s.c.Create(ctx, rec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return recordingExists(ctx, s, name)
		}
		return s.explain(fmt.Errorf("create ProfileRecording %s in namespace %s: %w", name, s.namespace, err))
	}
	var pods corev1.PodList
	sel, err := metav1.LabelSelectorAsSelector(w.Selector)
	if err == nil {
		err = s.c.List(ctx, &pods, client.InNamespace(s.namespace), client.MatchingLabelsSelector{Selector: sel})
	}
	var running []string
	if err == nil {
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
				running = append(running, p.Name)
			}
		}
	}
	return printRecordingCreated(cmd.OutOrStdout(), s, rec, w, containers, running, err == nil)
}

// parseRecordedKinds checks --kinds; nil means the API's default, all four.
func parseRecordedKinds(names []string) ([]v1alpha1.RecordedKind, error) {
	var kinds []v1alpha1.RecordedKind
	for _, n := range names {
		k := v1alpha1.RecordedKind(strings.ToLower(strings.TrimSpace(n)))
		if !slices.Contains(v1alpha1.AllRecordedKinds, k) {
			return nil, usagef("--kinds: unknown kind %q: use capabilities, files, connections or executables", n)
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// selectContainers checks --containers against the pod template and returns
// the containers the recording covers.
func selectContainers(w *kubepods.Workload, wanted []string) ([]string, error) {
	all := append(slices.Clone(w.Containers), w.InitContainers...)
	if len(wanted) == 0 {
		return all, nil
	}
	var unknown []string
	for _, c := range wanted {
		if !slices.Contains(all, c) {
			unknown = append(unknown, fmt.Sprintf("%q", c))
		}
	}
	if len(unknown) > 0 {
		what := "no container"
		if len(unknown) > 1 {
			what = "no containers"
		}
		return nil, fmt.Errorf("--containers: %s has %s %s; its containers: %s", w, what, strings.Join(unknown, ", "), w.DescribeContainers())
	}
	return wanted, nil
}

// recordingLabels mark a recording with its workload, with the labels the
// agents put on Profiles, where the names fit in a label value.
func recordingLabels(ref *v1alpha1.WorkloadReference) map[string]string {
	labels := map[string]string{}
	for k, v := range map[string]string{profilestore.LabelWorkloadKind: ref.Kind, profilestore.LabelWorkload: ref.Name} {
		if len(validation.IsValidLabelValue(v)) == 0 {
			labels[k] = v
		}
	}
	return labels
}

func recordingExists(ctx context.Context, s *kubeSession, name string) error {
	old := &v1alpha1.ProfileRecording{}
	state := ""
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, old); err == nil {
		state = fmt.Sprintf(" (%s, created %s ago)", old.CurrentPhase(), ago(old.CreationTimestamp, time.Now()))
	}
	return fmt.Errorf("a ProfileRecording %s already exists in namespace %s%s: see it with %s, delete it with kubectl delete profilerecording %s -n %s, or choose another name with --name",
		name, s.namespace, state, s.hint("status", name, "-n", s.namespace), name, s.namespace)
}

func printRecordingCreated(w io.Writer, s *kubeSession, rec *v1alpha1.ProfileRecording, wl *kubepods.Workload, containers, running []string, listed bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Created ProfileRecording %s/%s for %s.\n", rec.Namespace, rec.Name, wl)
	pods := fmt.Sprintf("%s (%s)", metav1.FormatLabelSelector(&rec.Spec.PodSelector), wl.SelectorFrom)
	switch {
	case !listed:
	case len(running) == 0:
		pods += "; none runs now: pods that start are recorded from their first instruction"
	default:
		pods += fmt.Sprintf("; %s now: %s", count(len(running), "pod runs", "pods run"), listAtMostNames(running, 5))
	}
	fmt.Fprintf(&b, "  pods:        %s\n", pods)
	cs := strings.Join(containers, ", ")
	if len(rec.Spec.ContainerSelector) > 0 {
		cs += " (of " + wl.DescribeContainers() + ")"
	} else {
		cs += " (all)"
	}
	fmt.Fprintf(&b, "  containers:  %s\n", cs)
	kinds := "capabilities, files, connections, executables"
	if len(rec.Spec.Kinds) > 0 {
		var k []string
		for _, kind := range rec.Spec.Kinds {
			k = append(k, string(kind))
		}
		kinds = strings.Join(k, ", ")
	}
	fmt.Fprintf(&b, "  records:     %s\n", kinds)
	if d := rec.Spec.Duration; d != nil {
		fmt.Fprintf(&b, "  duration:    %s, from when the first agent starts\n", d.Duration)
	} else {
		fmt.Fprintf(&b, "  duration:    until deleted (kubectl delete profilerecording %s -n %s)\n", rec.Name, rec.Namespace)
	}
	var names []string
	for _, c := range containers {
		names = append(names, profilestore.ProfileName(profilestore.WorkloadContainer{Namespace: rec.Namespace, Workload: *wl.Ref, Container: c}))
	}
	fmt.Fprintf(&b, "  profiles:    %s\n", strings.Join(names, ", "))
	fmt.Fprintf(&b, "Follow it:     %s\n", s.hint("status", rec.Name, "-n", rec.Namespace))
	fmt.Fprintf(&b, "See profiles:  %s\n", s.hint("get", "profiles", "-n", rec.Namespace))
	_, err := io.WriteString(w, b.String())
	return err
}

func listAtMostNames(names []string, most int) string {
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
}
