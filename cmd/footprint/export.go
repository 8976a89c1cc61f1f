package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/workloads"
)

// exportFlags are the options of `footprint export`.
type exportFlags struct {
	container     string
	workload      string
	namespace     string
	name          string
	mode          string
	action        string
	unpreventable string
	podSelector   string
	allowDirs     []string
	initContainer bool
	format        string
	seccomp       string
}

// exportArtifacts are what `footprint export` writes, and the flags each
// one takes besides --container, --workload and --namespace.
var exportArtifacts = map[string][]string{
	"securitycontext": {"init-container", "seccomp-localhost"},
	"policy":          {"name", "mode", "action", "unpreventable", "pod-selector", "allow-dir"},
	"networkpolicy":   {"name", "pod-selector"},
	"tetragon":        {"name", "mode", "action", "pod-selector"},
	"seccomp":         {"name", "mode", "format"},
}

func newExportCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export securitycontext|policy|networkpolicy|tetragon|seccomp PROFILE.yaml",
		Short: "Turn a profile into least privilege: securityContext, EnforcementPolicy, NetworkPolicy, Tetragon, seccomp",
		Long: `Write, as YAML on stdout with the evidence for each line in comments:

  securitycontext  a strategic-merge patch for the workload's pod template:
                   kubectl patch deployment web --patch-file FILE
  policy           an EnforcementPolicy that footprint enforces in the kernel
                   (kubectl apply -f FILE, or footprint enforce --policy FILE -- CMD)
  networkpolicy    an egress NetworkPolicy from the destinations (needs --pod-selector)
  tetragon         a Tetragon TracingPolicyNamespaced (needs --pod-selector)
  seccomp          a seccomp profile of the recorded system calls: JSON as runc,
                   crun and containerd load it (a kubelet Localhost profile), or with
                   --format spo a SeccompProfile of the Security Profiles Operator;
                   calls outside it fail with EPERM (--mode audit: logged, allowed)

The workload, container and namespace come from the profile; for a profile recorded
from a local command, say which workload it stands for with --workload and --container.`,
		Example: `  footprint export securitycontext web.yaml > patch.yaml
  kubectl patch deployment web --patch-file patch.yaml
  footprint export policy web.yaml --mode audit | kubectl apply -f -
  footprint export policy server.yaml --allow-dir /var/cache/server > policy.yaml
  footprint export networkpolicy web.yaml --pod-selector app=web
  footprint export securitycontext local.yaml --workload deployment/web --container app
  footprint export seccomp web.yaml > /var/lib/kubelet/seccomp/web.json
  footprint export seccomp web.yaml --format spo | kubectl apply -f -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("want an artifact and a profile, e.g. footprint export securitycontext web.yaml (artifacts: %s)", artifactList())
			}
			if _, ok := exportArtifacts[args[0]]; !ok {
				return fmt.Errorf("unknown artifact %q: use %s", args[0], artifactList())
			}
			return nil
		},
		ValidArgs: []string{"securitycontext", "policy", "networkpolicy", "tetragon", "seccomp"},
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
	fl.StringVar(&f.unpreventable, "unpreventable", "audit", unpreventableUsage)
	fl.StringVar(&f.podSelector, "pod-selector", "", "label selector of the workload's pods, e.g. app=web")
	fl.StringArrayVar(&f.allowDirs, "allow-dir", nil, "widen the policy on purpose: allow everything below this directory with the access modes seen there (repeatable)")
	fl.BoolVar(&f.initContainer, "init-container", false, "the container is an init container")
	fl.StringVar(&f.format, "format", "oci", "seccomp only: oci (the JSON runtimes load) or spo (a Security Profiles Operator SeccompProfile)")
	fl.StringVar(&f.seccomp, "seccomp-localhost", "", "securitycontext only: name this Localhost seccomp profile (relative to kubelet's seccomp directory, e.g. footprint/shop/web.json) instead of RuntimeDefault")
	return cmd
}

func artifactList() string {
	return "securitycontext, policy, networkpolicy, tetragon or seccomp"
}

func runExport(cmd *cobra.Command, f exportFlags, artifact, path string) error {
	if err := checkExportFlags(cmd, artifact); err != nil {
		return err
	}
	p, err := profiles.LoadFile(path)
	if err != nil {
		return err
	}
	opts, err := f.options(cmd, artifact)
	if err != nil {
		return err
	}
	out, err := export(cmd, p, artifact, opts)
	if err != nil {
		return fmt.Errorf("export %s from %s: %w", artifact, path, err)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// options are the generator's options the flags give; --unpreventable
// only where the command has it.
func (f exportFlags) options(cmd *cobra.Command, artifact string) (generator.ExportOptions, error) {
	o := generator.ExportOptions{
		Target: generator.Target{Container: f.container, Namespace: f.namespace},
		Name:   f.name, AllowDirectories: f.allowDirs, InitContainer: f.initContainer, SeccompLocalhost: f.seccomp, SeccompFormat: f.format,
	}
	var err error
	if f.workload != "" {
		if o.Workload, err = workloads.Parse(f.workload); err != nil {
			return o, fmt.Errorf("--workload: %w", err)
		}
	}
	mode := f.mode
	if artifact == "seccomp" && !cmd.Flags().Changed("mode") {
		// A seccomp profile refuses by default: what it is for.
		mode = "enforce"
	}
	if o.Mode, err = parseMode(mode); err != nil {
		return o, err
	}
	if o.Action, err = parseAction(f.action); err != nil {
		return o, err
	}
	if cmd.Flags().Lookup("unpreventable") != nil {
		if o.Unpreventable, err = parseUnpreventable(f.unpreventable); err != nil {
			return o, err
		}
	}
	if f.podSelector != "" {
		if o.PodSelector, err = metav1.ParseToLabelSelector(f.podSelector); err != nil {
			return o, fmt.Errorf("--pod-selector %q: %w (write labels as app=web,tier=front)", f.podSelector, err)
		}
	}
	return o, nil
}

// export writes the artifact, and a seccomp profile's notes (what it
// allows more widely than recorded) on stderr.
func export(cmd *cobra.Command, p *v1alpha1.Profile, artifact string, opts generator.ExportOptions) ([]byte, error) {
	out, notes, err := generator.Export(p, artifact, opts)
	for _, note := range notes {
		fmt.Fprintln(cmd.ErrOrStderr(), "note:", note)
	}
	var format *generator.UnknownFormatError
	if errors.As(err, &format) {
		return nil, usagef("--format %q: use oci (the JSON runtimes load) or spo (a Security Profiles Operator SeccompProfile)", format.Format)
	}
	return out, err
}

// checkExportFlags refuses flags that mean nothing for the artifact, rather
// than ignoring them silently.
func checkExportFlags(cmd *cobra.Command, artifact string) error {
	for _, flag := range []string{"name", "mode", "action", "unpreventable", "pod-selector", "allow-dir", "init-container", "format", "seccomp-localhost"} {
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

// unpreventableUsage is the --unpreventable flag's help.
const unpreventableUsage = "in enforce mode, on a node that cannot refuse an operation of some kind: audit (report and allow it there) or kill (SIGKILL once it has happened)"

func parseUnpreventable(s string) (v1alpha1.UnpreventableAction, error) {
	switch strings.ToLower(s) {
	case "audit":
		return v1alpha1.UnpreventableAudit, nil
	case "kill":
		return v1alpha1.UnpreventableKill, nil
	}
	return "", fmt.Errorf("--unpreventable %q: use audit (report and allow what this node cannot refuse) or kill (kill the process once it has happened)", s)
}
