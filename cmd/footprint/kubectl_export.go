package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/kubepods"
	"github.com/footprint-dev/footprint/internal/kubepolicy"
)

func newKubeExportCommand(kf *kubeFlags) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export securitycontext|policy|networkpolicy|tetragon PROFILE",
		Short: "Turn a Profile in the cluster into least privilege: securityContext, EnforcementPolicy, NetworkPolicy, Tetragon",
		Long: `Print, as YAML with the evidence for each line in comments, what footprint export
prints for the Profile, read from the cluster:

  securitycontext  a strategic-merge patch for the workload's pod template:
                   kubectl patch deployment web --patch-file FILE
  policy           an EnforcementPolicy that footprint enforces in the kernel
                   (or let footprint apply it: enforce PROFILE)
  networkpolicy    an egress NetworkPolicy: destinations that are pods or Services
                   of the cluster become pod selectors (with the Service's target
                   port), the rest IP blocks
  tetragon         a Tetragon TracingPolicyNamespaced

The workload's pods are selected with the workload's own selector unless
--pod-selector says otherwise.`,
		Example: `  kubectl footprint export securitycontext web-nginx -n shop > patch.yaml
  kubectl patch deployment web -n shop --patch-file patch.yaml
  kubectl footprint export networkpolicy web-nginx -n shop | kubectl apply -f -
  kubectl footprint export policy web-nginx -n shop --mode enforce --action kill`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("want an artifact and a profile, e.g. %s securitycontext web-nginx (artifacts: %s)", cmd.CommandPath(), artifactList())
			}
			if _, ok := exportArtifacts[args[0]]; !ok {
				return fmt.Errorf("unknown artifact %q: use %s", args[0], artifactList())
			}
			return nil
		},
		ValidArgs: []string{"securitycontext", "policy", "networkpolicy", "tetragon"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKubeExport(cmd, kf, f, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.container, "container", "", "the container's name in the pod template (default: the profile's)")
	fl.StringVar(&f.workload, "workload", "", "the workload as KIND/NAME, e.g. deployment/web (default: the profile's)")
	fl.StringVar(&f.name, "name", "", "name of the generated object (default: the profile's name)")
	fl.StringVar(&f.mode, "mode", "audit", "audit (report and allow) or enforce")
	fl.StringVar(&f.action, "action", "deny", "in enforce mode: deny (EPERM) or kill (SIGKILL)")
	fl.StringVar(&f.podSelector, "pod-selector", "", "label selector of the workload's pods, e.g. app=web (default for networkpolicy and tetragon: the workload's selector)")
	fl.StringArrayVar(&f.allowDirs, "allow-dir", nil, "widen the policy on purpose: allow everything below this directory with the access modes seen there (repeatable)")
	fl.BoolVar(&f.initContainer, "init-container", false, "the container is an init container")
	fl.StringVar(&f.format, "format", "oci", "seccomp only: oci (the JSON runtimes load) or spo (a Security Profiles Operator SeccompProfile)")
	fl.StringVar(&f.seccomp, "seccomp-localhost", "", "securitycontext only: name this Localhost seccomp profile instead of the one the agents install for the profile's EnforcementPolicy (default: that one when the policy restricts system calls, else RuntimeDefault)")
	return cmd
}

func runKubeExport(cmd *cobra.Command, kf *kubeFlags, f exportFlags, artifact, name string) error {
	if err := checkExportFlags(cmd, artifact); err != nil {
		return err
	}
	opts, err := f.options(cmd, artifact)
	if err != nil {
		return err
	}
	s, err := kf.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, err := s.getProfile(ctx, name)
	if err != nil {
		return err
	}
	if opts.PodSelector == nil && (artifact == "networkpolicy" || artifact == "tetragon") {
		if opts.PodSelector, err = s.workloadSelector(ctx, p, opts.Target); err != nil {
			return err
		}
	}
	switch artifact {
	case "securitycontext":
		if opts.SeccompLocalhost == "" {
			if opts.SeccompLocalhost, err = kubepolicy.SeccompProfileOf(ctx, s.c, s.namespace, p.Name); err != nil {
				return err
			}
		}
	case "networkpolicy":
		warn := cmd.ErrOrStderr()
		resolver, err := kubepods.NewAddressResolver(ctx, s.c, s.namespace, func(what string) {
			fmt.Fprintf(warn, "footprint: may not list %s in all namespaces; resolving destinations to %s of namespace %s only\n", what, what, s.namespace)
		})
		if err != nil {
			return s.explain(err)
		}
		opts.Resolver = resolver
	}
	out, err := export(cmd, p, artifact, opts)
	if err != nil {
		return fmt.Errorf("export %s from profile %s in namespace %s: %w", artifact, name, s.namespace, err)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// workloadSelector is the selector of the profile's workload's pods, read
// from the workload in the cluster.
func (s *kubeSession) workloadSelector(ctx context.Context, p *v1alpha1.Profile, t generator.Target) (*metav1.LabelSelector, error) {
	ref := t.Workload
	if ref == nil {
		ref = p.Spec.Workload
	}
	if ref == nil {
		return nil, fmt.Errorf("profile %s names no workload: give the labels of the pods with --pod-selector, or the workload with --workload KIND/NAME", p.Name)
	}
	w, err := s.readWorkload(ctx, p.Namespace, ref)
	if err != nil {
		return nil, fmt.Errorf("the pod selector comes from the profile's workload, and: %w (give one with --pod-selector)", err)
	}
	return w.Selector, nil
}
