package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/kubepolicy"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/recorder/profilestore"
)

type kubeEnforceFlags struct {
	mode, action, name string
	unpreventable      string
	unknownImages      string
	allowDirs          []string
	dryRun, promote    bool
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

The policy is bound to the images its profile was recorded from. A selected pod
that runs another image (a new version of the app) is held in Audit and recorded
into the same profile, and the policy's status lists the image with its mode
(--unknown-images enforce holds such pods to the policy as it is instead). Once
the new version has run its normal traffic, --promote binds the policy to the
images the profile now holds: it shows what that adds to the policy (images and
rules), then applies it, keeping the policy's mode and action unless --mode or
--action are given. Without --promote, a policy is never bound to new images.

--dry-run prints the policy, after the API server has checked it, and changes
nothing; with --promote it prints what promoting would change.`,
		Example: `  kubectl footprint enforce web-nginx --mode audit -n shop
  kubectl footprint violations -f -n shop
  kubectl footprint enforce web-nginx --mode enforce -n shop
  kubectl footprint enforce web-nginx --mode enforce --action kill --dry-run -n shop
  kubectl footprint enforce web-nginx --promote --dry-run -n shop
  kubectl footprint enforce web-nginx --promote -n shop`,
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
	fl.StringVar(&f.unpreventable, "unpreventable", "audit", unpreventableUsage)
	fl.StringVar(&f.name, "name", "", "name of the EnforcementPolicy (default: the profile's name)")
	fl.StringArrayVar(&f.allowDirs, "allow-dir", nil, "widen the policy on purpose: allow everything below this directory with the access modes seen there (repeatable)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the policy (checked by the API server) instead of applying it; with --promote, what promoting would change")
	fl.BoolVar(&f.promote, "promote", false, "bind the policy to the images its profile now holds, after showing what that changes")
	fl.StringVar(&f.unknownImages, "unknown-images", "", "the mode for pods running an image the policy was not recorded from: audit (hold in Audit and record them; the default) or enforce (default: the policy's current choice)")
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
	unpreventable, err := parseUnpreventable(f.unpreventable)
	if err != nil {
		return usagef("%v", err)
	}
	var unknownImages v1alpha1.EnforcementMode
	if f.unknownImages != "" {
		if unknownImages, err = parseMode(f.unknownImages); err != nil {
			return usagef("--unknown-images %q: use audit (hold such pods in Audit and record them) or enforce", f.unknownImages)
		}
	}
	if f.promote && len(f.allowDirs) > 0 {
		// Promotion is about images; widening is a change of its own.
		return usagef("--promote with --allow-dir: promote first, then widen the policy with --allow-dir in a run of its own")
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
	opts := generator.PolicyOptions{Name: f.name, Mode: mode, Action: action, Unpreventable: unpreventable, AllowDirectories: f.allowDirs, UnknownImages: unknownImages}
	gen, err := generator.Policy(p, opts)
	if err != nil {
		return fmt.Errorf("generate the EnforcementPolicy from profile %s: %w", profileName, err)
	}
	want := gen.Policy
	want.Namespace = s.namespace
	// Stated in full, as the API server defaults it: applying the same
	// choice again changes nothing.
	want.Spec.Unpreventable = unpreventable

	out := cmd.OutOrStdout()
	current, err := s.currentPolicy(ctx, want.Name)
	if err != nil {
		return err
	}
	if unknownImages == "" && current != nil {
		// The choice stays the policy's until it is given again.
		want.Spec.UnknownImages = current.Spec.UnknownImages
		if current.Spec.UnknownImages == v1alpha1.ModeEnforce {
			opts.UnknownImages = v1alpha1.ModeEnforce // not the default: --dry-run shows it
		}
	}
	// A policy of that name generated from elsewhere is kubepolicy.Apply's
	// to refuse, saying so.
	ours := current != nil && kubepolicy.ProfileOf(current) == want.Spec.Profile
	switch {
	case f.promote && current != nil && !ours:
	case f.promote:
		if current == nil {
			return fmt.Errorf("there is no EnforcementPolicy %s in namespace %s to promote: create it with %s",
				want.Name, s.namespace, s.hint("enforce", profileName, "--mode", "audit", "-n", s.namespace))
		}
		if !cmd.Flags().Changed("mode") {
			want.Spec.Mode = current.Spec.Mode
		}
		if !cmd.Flags().Changed("action") {
			want.Spec.Action = current.Spec.Action
		}
		if !cmd.Flags().Changed("unpreventable") {
			want.Spec.Unpreventable = current.Spec.Unpreventable
		}
		printPromotion(out, current, want)
		if f.dryRun {
			fmt.Fprintf(out, "Dry run: nothing changed. Apply with: %s\n", s.hint("enforce", profileName, "--promote", "-n", s.namespace))
			return nil
		}
	case ours && len(current.Spec.Images) > 0:
		if added := profiles.NewImages(current.Spec.Images, want.Spec.Images); len(added) > 0 {
			return fmt.Errorf("profile %s holds images that EnforcementPolicy %s was not recorded from (%s); pods running them are held as its spec.unknownImages says (%s) until a person promotes the policy: review what promoting changes with %s, and apply it with --promote",
				profileName, want.Name, imageList(added), cmp.Or(current.Spec.UnknownImages, v1alpha1.ModeAudit), s.hint("enforce", profileName, "--promote", "--dry-run", "-n", s.namespace))
		}
	}
	what, before, err := kubepolicy.Apply(ctx, s.c, want, f.dryRun)
	var notOurs *kubepolicy.NotFromProfileError
	if errors.As(err, &notOurs) {
		return fmt.Errorf("%w; give the new policy another name with --name", err)
	}
	if err != nil {
		return s.explain(err)
	}
	if f.dryRun {
		data, err := generator.PolicyYAML(p, opts)
		if err != nil {
			return err
		}
		_, err = out.Write(data)
		return err
	}
	if err := printEnforced(out, s, want, before, string(what)); err != nil {
		return err
	}
	warnStillRecording(ctx, cmd.ErrOrStderr(), s, p)
	return nil
}

// currentPolicy is the EnforcementPolicy of that name, or nil when there
// is none.
func (s *kubeSession) currentPolicy(ctx context.Context, name string) (*v1alpha1.EnforcementPolicy, error) {
	var pol v1alpha1.EnforcementPolicy
	err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, &pol)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, s.explain(fmt.Errorf("read EnforcementPolicy %s in namespace %s: %w", name, s.namespace, err))
	}
	return &pol, nil
}

// printPromotion shows what promoting a policy changes: the images it is
// bound to and the rules, before they are applied.
func printPromotion(w io.Writer, current, want *v1alpha1.EnforcementPolicy) {
	changes := policies.Diff(&current.Spec, &want.Spec)
	added := profiles.NewImages(current.Spec.Images, want.Spec.Images)
	fmt.Fprintf(w, "Promoting EnforcementPolicy %s/%s to the images profile %s now holds", want.Namespace, want.Name, want.Spec.Profile)
	if len(added) == 0 {
		fmt.Fprint(w, " (no new image: it was recorded from each already)")
	}
	fmt.Fprintln(w, ":")
	if len(changes) == 0 {
		fmt.Fprintln(w, "  nothing changes")
	}
	for _, c := range changes {
		fmt.Fprintln(w, "  "+c.String())
	}
}

func imageList(images []v1alpha1.Image) string {
	names := make([]string, len(images))
	for i, img := range images {
		names[i] = profiles.ImageString(img)
	}
	return strings.Join(names, ", ")
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
	if s := spec.Sockets; s != nil {
		parts = append(parts, count(len(s.Allow), "socket rule", "socket rules"))
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
