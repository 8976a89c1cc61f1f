package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/recorder/profilestore"
)

type kubeEnforceFlags struct {
	mode, action, name string
	allowDirs          []string
	dryRun             bool
}

func newKubeEnforceCommand(kf *kubeFlags) *cobra.Command {
	var f kubeEnforceFlags
	cmd := &cobra.Command{
		Use:   "enforce PROFILE --mode audit|enforce",
		Short: "Create or update the EnforcementPolicy generated from a Profile",
		Long: `Generate an EnforcementPolicy from a Profile in the cluster -- it allows what the
profile shows and nothing more, for the profile's container of its workload -- and
create it, or update the one generated before. The footprint agents install it in
the kernel before the selected containers' first instruction.

Start with --mode audit: operations outside the profile are reported as
PolicyViolation events (see the violations command) and allowed. After a quiet
period, run it again with --mode enforce: they are refused (--action deny, the
default: the call fails with EPERM) or the process is killed (--action kill).

--dry-run prints the policy, after the API server has checked it, and changes
nothing.`,
		Example: `  kubectl footprint enforce web-nginx --mode audit -n shop
  kubectl footprint violations -f -n shop
  kubectl footprint enforce web-nginx --mode enforce -n shop
  kubectl footprint enforce web-nginx --mode enforce --action kill --dry-run -n shop`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one profile name, e.g. %s web-nginx --mode audit (got %d arguments)", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeEnforce(cmd, kf, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", "audit", "audit (report and allow) or enforce")
	fl.StringVar(&f.action, "action", "deny", "in enforce mode: deny (EPERM) or kill (SIGKILL)")
	fl.StringVar(&f.name, "name", "", "name of the EnforcementPolicy (default: the profile's name)")
	fl.StringArrayVar(&f.allowDirs, "allow-dir", nil, "widen the policy on purpose: allow everything below this directory with the access modes seen there (repeatable)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the policy (checked by the API server) instead of applying it")
	return cmd
}

func runKubeEnforce(cmd *cobra.Command, kf *kubeFlags, f kubeEnforceFlags, profileName string) error {
	mode, err := parseMode(f.mode)
	if err != nil {
		return usagef("%v", err)
	}
	action, err := parseAction(f.action)
	if err != nil {
		return usagef("%v", err)
	}
	s, err := kf.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, err := s.getProfile(ctx, profileName)
	if err != nil {
		return err
	}
	if p.Spec.Workload == nil || p.Spec.Container == "" {
		return fmt.Errorf("profile %s does not name its workload and container (it was recorded locally and applied by hand?), so a policy from it would select no pods: export it with %s and set spec.selector yourself",
			profileName, s.hint("export", "policy", profileName, "-n", s.namespace))
	}
	opts := generator.PolicyOptions{Name: f.name, Mode: mode, Action: action, AllowDirectories: f.allowDirs}
	gen, err := generator.Policy(p, opts)
	if err != nil {
		return fmt.Errorf("generate the EnforcementPolicy from profile %s: %w", profileName, err)
	}
	want := gen.Policy
	want.Namespace = s.namespace

	out := cmd.OutOrStdout()
	what, before, err := applyPolicy(ctx, s, want, f.dryRun)
	if err != nil {
		return err
	}
	if f.dryRun {
		data, err := generator.PolicyYAML(p, opts)
		if err != nil {
			return err
		}
		_, err = out.Write(data)
		return err
	}
	if err := printEnforced(out, s, want, before, what); err != nil {
		return err
	}
	warnStillRecording(ctx, cmd.ErrOrStderr(), s, p)
	return nil
}

// warnStillRecording says when the recording that writes the profile is
// still running: what the workload does from now on, including what an
// audit policy reports, joins the profile, and the next policy generated
// from it would allow it.
func warnStillRecording(ctx context.Context, w io.Writer, s *kubeSession, p *v1alpha1.Profile) {
	name := p.Labels[profilestore.LabelRecording]
	if name == "" {
		return
	}
	var rec v1alpha1.ProfileRecording
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, &rec); err != nil {
		return
	}
	if rec.Status.Phase == v1alpha1.RecordingCompleted || rec.Status.Phase == v1alpha1.RecordingFailed || rec.DeletionTimestamp != nil {
		return
	}
	fmt.Fprintf(w, "Warning: recording %s/%s still adds to profile %s: whatever the workload does from now on, violations included, joins the profile, and the next policy generated from it allows it. End the recording first: kubectl delete profilerecording %s -n %s\n",
		rec.Namespace, rec.Name, p.Name, rec.Name, rec.Namespace)
}

// applyPolicy creates the policy, or updates the one of its name when that
// was generated from the same profile; what says which it did ("created",
// "updated", "unchanged"), before is the spec it replaced. An update that
// races with another writer (the agents write the status) is retried.
func applyPolicy(ctx context.Context, s *kubeSession, want *v1alpha1.EnforcementPolicy, dryRun bool) (what string, before *v1alpha1.EnforcementPolicySpec, err error) {
	var createOpts []client.CreateOption
	var updateOpts []client.UpdateOption
	if dryRun {
		createOpts, updateOpts = []client.CreateOption{client.DryRunAll}, []client.UpdateOption{client.DryRunAll}
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current := &v1alpha1.EnforcementPolicy{}
		err := s.c.Get(ctx, client.ObjectKeyFromObject(want), current)
		if apierrors.IsNotFound(err) {
			what, before = "created", nil
			err := s.c.Create(ctx, want.DeepCopy(), createOpts...)
			if apierrors.IsAlreadyExists(err) {
				// Created meanwhile: update it on the next round.
				return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("enforcementpolicies").GroupResource(), want.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if from := policyProfile(current); from != want.Spec.Profile {
			by := "was not generated from a profile"
			if from != "" {
				by = "was generated from profile " + from
			}
			return &notOursError{fmt.Errorf("EnforcementPolicy %s in namespace %s %s, not from %s: footprint leaves it alone; give the new policy another name with --name",
				want.Name, want.Namespace, by, want.Spec.Profile)}
		}
		before = current.Spec.DeepCopy()
		updated := current.DeepCopy()
		updated.Spec = want.Spec
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		maps.Copy(updated.Annotations, want.Annotations)
		if equality.Semantic.DeepEqual(current, updated) {
			what = "unchanged"
			return nil
		}
		what = "updated"
		return s.c.Update(ctx, updated, updateOpts...)
	})
	var notOurs *notOursError
	if errors.As(err, &notOurs) {
		return "", nil, notOurs.err
	}
	if err != nil {
		return "", nil, s.explain(fmt.Errorf("apply EnforcementPolicy %s in namespace %s: %w", want.Name, want.Namespace, err))
	}
	return what, before, nil
}

// notOursError is a policy of the wanted name that footprint did not
// generate from the same profile.
type notOursError struct{ err error }

func (e *notOursError) Error() string { return e.err.Error() }

// policyProfile is the profile a policy was generated from, if any.
func policyProfile(p *v1alpha1.EnforcementPolicy) string {
	if from := p.Annotations[generator.AnnotationProfile]; from != "" {
		return from
	}
	return p.Spec.Profile
}

func printEnforced(w io.Writer, s *kubeSession, pol *v1alpha1.EnforcementPolicy, before *v1alpha1.EnforcementPolicySpec, what string) error {
	spec := pol.Spec
	var b strings.Builder
	mode := "mode " + string(spec.Mode)
	if spec.Mode == v1alpha1.ModeEnforce {
		mode += ", action " + string(spec.Action)
	}
	if before != nil && (before.Mode != spec.Mode || before.Action != spec.Action) {
		was := string(before.Mode)
		if before.Mode == v1alpha1.ModeEnforce {
			was += ", action " + string(before.Action)
		}
		mode = "mode " + was + " -> " + strings.TrimPrefix(mode, "mode ")
	}
	who := "every container"
	if sel := spec.Selector; sel != nil {
		if sel.Workload != nil {
			who = sel.Workload.Kind + " " + sel.Workload.Name
		}
		if len(sel.Containers) > 0 {
			who = fmt.Sprintf("container %q of %s", strings.Join(sel.Containers, ", "), who)
		}
	}
	fmt.Fprintf(&b, "EnforcementPolicy %s/%s %s: %s, for %s, from profile %s.\n", pol.Namespace, pol.Name, what, mode, who, spec.Profile)
	fmt.Fprintf(&b, "  allows: %s\n", describeRules(&spec))
	switch spec.Mode {
	case v1alpha1.ModeAudit:
		fmt.Fprintf(&b, "What it would refuse:  %s\n", s.hint("violations", "-f", "-n", pol.Namespace))
		fmt.Fprintf(&b, "After a quiet period:  %s\n", s.hint("enforce", spec.Profile, "--mode", "enforce", "-n", pol.Namespace))
	default:
		fmt.Fprintf(&b, "What it refuses:  %s\n", s.hint("violations", "-f", "-n", pol.Namespace))
		fmt.Fprintf(&b, "Back to audit:    %s\n", s.hint("enforce", spec.Profile, "--mode", "audit", "-n", pol.Namespace))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describeRules counts a policy's rules: "3 capabilities, 12 file rules,
// 2 destinations, 4 programs; files not enforced".
func describeRules(spec *v1alpha1.EnforcementPolicySpec) string {
	var parts, unenforced []string
	if c := spec.Capabilities; c != nil {
		parts = append(parts, count(len(c.Allow)+len(c.AllowInUserNamespace), "capability", "capabilities"))
	} else {
		unenforced = append(unenforced, "capabilities")
	}
	if f := spec.Files; f != nil {
		parts = append(parts, count(len(f.Allow), "file rule", "file rules"))
	} else {
		unenforced = append(unenforced, "files")
	}
	if c := spec.Connect; c != nil {
		parts = append(parts, count(len(c.Allow), "destination", "destinations"))
	} else {
		unenforced = append(unenforced, "connections")
	}
	if e := spec.Executables; e != nil {
		parts = append(parts, count(len(e.Allow), "program", "programs"))
	} else {
		unenforced = append(unenforced, "executables")
	}
	s := strings.Join(parts, ", ")
	if len(unenforced) > 0 {
		if s != "" {
			s += "; "
		}
		s += strings.Join(unenforced, ", ") + " not enforced (not recorded)"
	}
	return s
}
