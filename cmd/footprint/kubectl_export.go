package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/workloads"
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
	target := generator.Target{Container: f.container}
	var err error
	if f.workload != "" {
		if target.Workload, err = workloads.Parse(f.workload); err != nil {
			return fmt.Errorf("--workload: %w", err)
		}
	}
	if artifact == "seccomp" && !cmd.Flags().Changed("mode") {
		f.mode = "enforce"
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

	s, err := kf.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, err := s.getProfile(ctx, name)
	if err != nil {
		return err
	}
	if selector == nil && (artifact == "networkpolicy" || artifact == "tetragon") {
		if selector, err = s.workloadSelector(ctx, p, target); err != nil {
			return err
		}
	}
	var out []byte
	switch artifact {
	case "securitycontext":
		if f.seccomp == "" {
			if f.seccomp, err = s.seccompProfileOf(ctx, p); err != nil {
				return err
			}
		}
		out, err = generator.SecurityContextPatch(p, generator.SecurityContextOptions{Target: target, InitContainer: f.initContainer, SeccompLocalhost: f.seccomp})
	case "policy":
		out, err = generator.PolicyYAML(p, generator.PolicyOptions{Target: target, Name: f.name, Mode: mode, Action: action, PodSelector: selector, AllowDirectories: f.allowDirs})
	case "networkpolicy":
		var resolver generator.AddressResolver
		if resolver, err = s.newAddressResolver(ctx, cmd.ErrOrStderr()); err != nil {
			return err
		}
		out, err = generator.NetworkPolicyYAML(p, generator.NetworkPolicyOptions{Target: target, Name: f.name, PodSelector: selector, Resolver: resolver})
	case "tetragon":
		out, err = generator.TetragonYAML(p, generator.TetragonOptions{Target: target, Name: f.name, Mode: mode, Action: action, PodSelector: selector})
	case "seccomp":
		out, err = exportSeccomp(p, f, target, mode, cmd.ErrOrStderr())
	}
	if err != nil {
		return fmt.Errorf("export %s from profile %s in namespace %s: %w", artifact, name, s.namespace, err)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// seccompProfileOf returns the Localhost seccomp profile the node agents
// install for the profile's system calls: that of an EnforcementPolicy
// made from the profile with system call rules; "" when there is none.
func (s *kubeSession) seccompProfileOf(ctx context.Context, p *v1alpha1.Profile) (string, error) {
	var policies v1alpha1.EnforcementPolicyList
	if err := s.c.List(ctx, &policies, client.InNamespace(s.namespace)); err != nil {
		return "", fmt.Errorf("list EnforcementPolicies in namespace %s: %w", s.namespace, err)
	}
	for _, pol := range policies.Items {
		if pol.Spec.Profile == p.Name && pol.Spec.Syscalls != nil {
			return generator.SeccompLocalhostProfile(pol.Namespace, pol.Name), nil
		}
	}
	return "", nil
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

// clusterResolver resolves recorded destinations to the cluster's pods and
// Services: a Service's ClusterIP to the pods its selector selects (on its
// target port), a pod's IP to the pod's labels.
type clusterResolver struct {
	// namespace is the profile's, where the NetworkPolicy goes.
	namespace string
	services  map[netip.Addr]*corev1.Service
	pods      map[netip.Addr]*corev1.Pod
}

// podInstanceLabels are labels that differ between the pods of one workload
// (a revision, an ordinal, a Job's uid): a NetworkPolicy that kept them
// would miss the workload's next pods.
var podInstanceLabels = []string{
	"pod-template-hash",
	"controller-revision-hash",
	"statefulset.kubernetes.io/pod-name",
	"apps.kubernetes.io/pod-index",
	"controller-uid",
	"batch.kubernetes.io/controller-uid",
	"batch.kubernetes.io/job-completion-index",
	"pod-template-generation",
}

// newAddressResolver lists the Services and pods of the cluster; where the
// user may not list them cluster-wide, those of the namespace.
func (s *kubeSession) newAddressResolver(ctx context.Context, warn io.Writer) (*clusterResolver, error) {
	r := &clusterResolver{namespace: s.namespace, services: map[netip.Addr]*corev1.Service{}, pods: map[netip.Addr]*corev1.Pod{}}
	list := func(l client.ObjectList, what string) error {
		err := s.c.List(ctx, l)
		if apierrors.IsForbidden(err) {
			fmt.Fprintf(warn, "footprint: may not list %s in all namespaces; resolving destinations to %s of namespace %s only\n", what, what, s.namespace)
			err = s.c.List(ctx, l, client.InNamespace(s.namespace))
		}
		if err != nil {
			return s.explain(fmt.Errorf("list %s to resolve destinations: %w", what, err))
		}
		return nil
	}
	var services corev1.ServiceList
	if err := list(&services, "services"); err != nil {
		return nil, err
	}
	for i := range services.Items {
		svc := &services.Items[i]
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				r.services[a] = svc
			}
		}
	}
	var pods corev1.PodList
	if err := list(&pods, "pods"); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		// A host-network pod's address is its node's, shared with every
		// other such pod: it does not name one.
		if pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ips := []string{pod.Status.PodIP}
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				r.pods[a] = pod
			}
		}
	}
	return r, nil
}

// ResolveDestination implements generator.AddressResolver.
func (r *clusterResolver) ResolveDestination(c v1alpha1.ConnectionEntry) (generator.Destination, bool) {
	addr, err := netip.ParseAddr(profiles.NormalizeAddress(c.Address))
	if err != nil {
		return generator.Destination{}, false
	}
	addr = addr.Unmap()
	if svc, ok := r.services[addr]; ok {
		// A Service without a selector (its endpoints kept by hand, or
		// the API server's own) has no pods to select.
		if len(svc.Spec.Selector) == 0 {
			return generator.Destination{}, false
		}
		d := generator.Destination{
			PodSelector:       metav1.LabelSelector{MatchLabels: svc.Spec.Selector},
			NamespaceSelector: r.namespaceSelector(svc.Namespace),
			Description:       "Service " + svc.Namespace + "/" + svc.Name,
		}
		for _, sp := range svc.Spec.Ports {
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if sp.Port != c.Port || string(proto) != string(c.Protocol) {
				continue
			}
			target := sp.TargetPort
			switch {
			case target.Type == intstr.String && target.StrVal != "":
				d.Port = &target
			case target.Type == intstr.Int && target.IntVal != 0 && target.IntVal != c.Port:
				d.Port = &target
			}
			break
		}
		return d, true
	}
	if pod, ok := r.pods[addr]; ok {
		labels := map[string]string{}
		for k, v := range pod.Labels {
			if !slices.Contains(podInstanceLabels, k) {
				labels[k] = v
			}
		}
		if len(labels) == 0 {
			return generator.Destination{}, false
		}
		d := generator.Destination{
			PodSelector:       metav1.LabelSelector{MatchLabels: labels},
			NamespaceSelector: r.namespaceSelector(pod.Namespace),
		}
		// Named by the selector, not the pod, so that the pods of one
		// workload share one rule.
		d.Description = "pods " + metav1.FormatLabelSelector(&d.PodSelector)
		if pod.Namespace != r.namespace {
			d.Description += " in namespace " + pod.Namespace
		}
		return d, true
	}
	return generator.Destination{}, false
}

// namespaceSelector selects a destination's namespace; nil for the
// policy's own.
func (r *clusterResolver) namespaceSelector(ns string) *metav1.LabelSelector {
	if ns == r.namespace {
		return nil
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
}
