package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
)

// exportFlags are the options of `footprint export`.
type exportFlags struct {
	container     string
	workload      string
	namespace     string
	name          string
	mode          string
	action        string
	podSelector   string
	allowDirs     []string
	initContainer bool
}

// exportArtifacts are what `footprint export` writes, and the flags each
// one takes besides --container, --workload and --namespace.
var exportArtifacts = map[string][]string{
	"securitycontext": {"init-container"},
	"policy":          {"name", "mode", "action", "pod-selector", "allow-dir"},
	"networkpolicy":   {"name", "pod-selector"},
	"tetragon":        {"name", "mode", "action", "pod-selector"},
}

func newExportCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export securitycontext|policy|networkpolicy|tetragon PROFILE.yaml",
		Short: "Turn a profile into least privilege: securityContext, EnforcementPolicy, NetworkPolicy, Tetragon",
		Long: `Write, as YAML on stdout with the evidence for each line in comments:

  securitycontext  a strategic-merge patch for the workload's pod template:
                   kubectl patch deployment web --patch-file FILE
  policy           an EnforcementPolicy that footprint enforces in the kernel
                   (kubectl apply -f FILE, or footprint enforce --policy FILE -- CMD)
  networkpolicy    an egress NetworkPolicy from the destinations (needs --pod-selector)
  tetragon         a Tetragon TracingPolicyNamespaced (needs --pod-selector)

The workload, container and namespace come from the profile; for a profile recorded
from a local command, say which workload it stands for with --workload and --container.`,
		Example: `  footprint export securitycontext web.yaml > patch.yaml
  kubectl patch deployment web --patch-file patch.yaml
  footprint export policy web.yaml --mode audit | kubectl apply -f -
  footprint export policy server.yaml --allow-dir /var/cache/server > policy.yaml
  footprint export networkpolicy web.yaml --pod-selector app=web
  footprint export securitycontext local.yaml --workload deployment/web --container app`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("want an artifact and a profile, e.g. footprint export securitycontext web.yaml (artifacts: %s)", artifactList())
			}
			if _, ok := exportArtifacts[args[0]]; !ok {
				return fmt.Errorf("unknown artifact %q: use %s", args[0], artifactList())
			}
			return nil
		},
		ValidArgs: []string{"securitycontext", "policy", "networkpolicy", "tetragon"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, f, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.container, "container", "", "the container's name in the pod template (default: the profile's)")
	fl.StringVar(&f.workload, "workload", "", "the workload as KIND/NAME, e.g. deployment/web (default: the profile's)")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "the workload's namespace (default: the profile's)")
	fl.StringVar(&f.name, "name", "", "name of the generated object (default: the profile's name)")
	fl.StringVar(&f.mode, "mode", "audit", "audit (report and allow) or enforce")
	fl.StringVar(&f.action, "action", "deny", "in enforce mode: deny (EPERM) or kill (SIGKILL)")
	fl.StringVar(&f.podSelector, "pod-selector", "", "label selector of the workload's pods, e.g. app=web")
	fl.StringArrayVar(&f.allowDirs, "allow-dir", nil, "widen the policy on purpose: allow everything below this directory with the access modes seen there (repeatable)")
	fl.BoolVar(&f.initContainer, "init-container", false, "the container is an init container")
	return cmd
}

func artifactList() string {
	return "securitycontext, policy, networkpolicy or tetragon"
}

func runExport(cmd *cobra.Command, f exportFlags, artifact, path string) error {
	if err := checkExportFlags(cmd, artifact); err != nil {
		return err
	}
	p, err := profiles.LoadFile(path)
	if err != nil {
		return err
	}
	target := generator.Target{Container: f.container, Namespace: f.namespace}
	if f.workload != "" {
		if target.Workload, err = generator.ParseWorkload(f.workload); err != nil {
			return fmt.Errorf("--workload: %w", err)
		}
	}
	mode, err := parseMode(f.mode)
	if err != nil {
		return err
	}
	action, err := parseAction(f.action)
	if err != nil {
		return err
	}
	var selector *metav1.LabelSelector
	if f.podSelector != "" {
		if selector, err = metav1.ParseToLabelSelector(f.podSelector); err != nil {
			return fmt.Errorf("--pod-selector %q: %w (write labels as app=web,tier=front)", f.podSelector, err)
		}
	}
	var out []byte
	switch artifact {
	case "securitycontext":
		out, err = generator.SecurityContextPatch(p, generator.SecurityContextOptions{Target: target, InitContainer: f.initContainer})
	case "policy":
		out, err = generator.PolicyYAML(p, generator.PolicyOptions{Target: target, Name: f.name, Mode: mode, Action: action, PodSelector: selector, AllowDirectories: f.allowDirs})
	case "networkpolicy":
		out, err = generator.NetworkPolicyYAML(p, generator.NetworkPolicyOptions{Target: target, Name: f.name, PodSelector: selector})
	case "tetragon":
		out, err = generator.TetragonYAML(p, generator.TetragonOptions{Target: target, Name: f.name, Mode: mode, Action: action, PodSelector: selector})
	}
	if err != nil {
		return fmt.Errorf("export %s from %s: %w", artifact, path, err)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// checkExportFlags refuses flags that mean nothing for the artifact, rather
// than ignoring them silently.
func checkExportFlags(cmd *cobra.Command, artifact string) error {
	for _, flag := range []string{"name", "mode", "action", "pod-selector", "allow-dir", "init-container"} {
		if cmd.Flags().Changed(flag) && !slices.Contains(exportArtifacts[artifact], flag) {
			var takes []string
			for a, flags := range exportArtifacts {
				if slices.Contains(flags, flag) {
					takes = append(takes, a)
				}
			}
			return fmt.Errorf("--%s does not apply to %s (only to %s)", flag, artifact, strings.Join(slices.Sorted(slices.Values(takes)), ", "))
		}
	}
	return nil
}

func parseMode(s string) (v1alpha1.EnforcementMode, error) {
	switch strings.ToLower(s) {
	case "audit":
		return v1alpha1.ModeAudit, nil
	case "enforce":
		return v1alpha1.ModeEnforce, nil
	}
	return "", fmt.Errorf("--mode %q: use audit (report and allow) or enforce", s)
}

func parseAction(s string) (v1alpha1.EnforcementAction, error) {
	switch strings.ToLower(s) {
	case "deny":
		return v1alpha1.ActionDeny, nil
	case "kill":
		return v1alpha1.ActionKill, nil
	}
	return "", fmt.Errorf("--action %q: use deny (the operation fails with EPERM) or kill (SIGKILL)", s)
}
