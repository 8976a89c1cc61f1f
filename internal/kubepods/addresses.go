package kubepods

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
)

// AddressResolver resolves recorded destinations to the cluster's pods and
// Services, for a NetworkPolicy (generator.AddressResolver): a Service's
// ClusterIP to the pods its selector selects (on its target port), a
// pod's IP to the pod's labels.
type AddressResolver struct {
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

// NewAddressResolver lists the Services and pods of the cluster for a
// NetworkPolicy in namespace. Where reader may not list them cluster-wide,
// it lists those of namespace, and calls narrowed with what it listed so
// ("services", "pods") for the user to be told.
func NewAddressResolver(ctx context.Context, reader client.Reader, namespace string, narrowed func(what string)) (*AddressResolver, error) {
	r := &AddressResolver{namespace: namespace, services: map[netip.Addr]*corev1.Service{}, pods: map[netip.Addr]*corev1.Pod{}}
	list := func(l client.ObjectList, what string) error {
		err := reader.List(ctx, l)
		if apierrors.IsForbidden(err) {
			narrowed(what)
			err = reader.List(ctx, l, client.InNamespace(namespace))
		}
		if err != nil {
			return fmt.Errorf("list %s to resolve destinations: %w", what, err)
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
func (r *AddressResolver) ResolveDestination(c v1alpha1.ConnectionEntry) (generator.Destination, bool) {
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
func (r *AddressResolver) namespaceSelector(ns string) *metav1.LabelSelector {
	if ns == r.namespace {
		return nil
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
}
