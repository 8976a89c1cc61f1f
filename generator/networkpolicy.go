package generator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// AddressResolver says what a destination belongs to in the cluster. The
// Kubernetes side of footprint implements it from Services, EndpointSlices
// and pods; without one, every destination becomes an ipBlock.
type AddressResolver interface {
	// ResolveDestination returns the pods a connection reached, or false
	// when the address is not known to belong to the cluster's pods.
	ResolveDestination(c v1alpha1.ConnectionEntry) (Destination, bool)
}

// Destination is the set of pods a connection reached.
type Destination struct {
	// PodSelector selects the destination pods.
	PodSelector metav1.LabelSelector
	// NamespaceSelector selects their namespaces; nil means the policy's own
	// namespace.
	NamespaceSelector *metav1.LabelSelector
	// Port is the port the pods receive on. It differs from the connection's
	// port when the address was a Service whose targetPort differs, and
	// NetworkPolicy sees traffic after that translation. Nil means the
	// connection's port.
	Port *intstr.IntOrString
	// Description names the destination for a comment, e.g.
	// "Service kube-system/kube-dns".
	Description string
}

// NetworkPolicyOptions shape a generated NetworkPolicy.
type NetworkPolicyOptions struct {
	Target
	// Name of the policy; derived from the profile when empty.
	Name string
	// PodSelector selects the workload's pods: the labels of its pod
	// template. Required: a NetworkPolicy selects pods by label only.
	PodSelector *metav1.LabelSelector
	// Resolver turns addresses into pods; nil leaves every destination an
	// ipBlock.
	Resolver AddressResolver
}

// ErrNeedPodSelector is returned when an artifact that selects pods by label
// is asked for without the labels.
var ErrNeedPodSelector = errors.New("this artifact selects pods by label: give the labels of the workload's pods with --pod-selector, e.g. --pod-selector app=web")

// ErrNeedNamespace is returned when a namespaced artifact is generated from
// a profile without a namespace (one recorded from a local command).
var ErrNeedNamespace = errors.New("this artifact lives in a namespace and the profile, recorded from a local command, has none: give the workload's namespace with --namespace")

// GeneratedNetworkPolicy is a NetworkPolicy and the evidence for its rules.
type GeneratedNetworkPolicy struct {
	Policy  *networkingv1.NetworkPolicy
	notes   []string // by egress rule
	skipped []string
}

// egressGroup is one egress rule under construction: one peer, its ports.
type egressGroup struct {
	key   string
	peer  *networkingv1.NetworkPolicyPeer // nil: any destination (DNS)
	ports []networkingv1.NetworkPolicyPort
	what  []string
	note  string
}

// NetworkPolicy generates an egress NetworkPolicy allowing the connections
// the profile shows: to pods (by label) where opts.Resolver can tell, to the
// address (ipBlock) otherwise, and DNS on port 53 to any destination when DNS
// was used and its server is not resolved to pods.
func NetworkPolicy(p *v1alpha1.Profile, opts NetworkPolicyOptions) (*GeneratedNetworkPolicy, error) {
	if opts.PodSelector == nil {
		return nil, ErrNeedPodSelector
	}
	if !kindRecorded(p, "connections") {
		return nil, errors.New("the profile did not record connections: a NetworkPolicy from it would cut off all egress; record connections too")
	}
	t := resolveTarget(p, opts.Target)
	name := opts.Name
	if name == "" {
		name = artifactName(p, t) + "-egress"
	}
	out := &GeneratedNetworkPolicy{Policy: &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsName(name), Namespace: t.Namespace},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: *opts.PodSelector.DeepCopy(),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{},
		},
	}}
	if p.Name != "" {
		out.Policy.Annotations = map[string]string{AnnotationProfile: p.Name}
	}

	var groups []*egressGroup
	group := func(key string, peer *networkingv1.NetworkPolicyPeer, note string) *egressGroup {
		for _, g := range groups {
			if g.key == key {
				return g
			}
		}
		g := &egressGroup{key: key, peer: peer, note: note}
		groups = append(groups, g)
		return g
	}
	for _, c := range profiles.NormalizeSpec(p.Spec).Connections {
		ip, err := netip.ParseAddr(c.Address)
		switch {
		case err != nil:
			out.skipped = append(out.skipped, fmt.Sprintf("%q is not an address", c.Address))
			continue
		case ip.IsLoopback():
			out.skipped = append(out.skipped, fmt.Sprintf("%s %s stays inside the pod", c.Protocol, hostPort(c)))
			continue
		case c.Port == 0:
			out.skipped = append(out.skipped, fmt.Sprintf("%s connect to %s port 0 sends nothing", c.Protocol, c.Address))
			continue
		}
		port := networkPolicyPort(c.Protocol, intstr.FromInt32(c.Port))
		if opts.Resolver != nil {
			if d, ok := opts.Resolver.ResolveDestination(c); ok {
				if d.Port != nil {
					port = networkPolicyPort(c.Protocol, *d.Port)
				}
				peer := &networkingv1.NetworkPolicyPeer{PodSelector: d.PodSelector.DeepCopy(), NamespaceSelector: d.NamespaceSelector.DeepCopy()}
				desc := d.Description
				if desc == "" {
					desc = "pods " + metav1.FormatLabelSelector(&d.PodSelector)
				}
				g := group("pods "+desc, peer, desc)
				g.add(port, fmt.Sprintf("%s %s (%s)", c.Protocol, hostPort(c), times(c.Count)))
				continue
			}
		}
		if c.Port == 53 {
			g := group("dns", nil, "DNS: allowed to any destination on port 53, because the DNS server "+
				"address is not resolved to pods and NetworkPolicy sees traffic after Service translation; "+
				"TCP as well as UDP, since resolvers retry over TCP when an answer is truncated")
			g.add(networkPolicyPort(v1alpha1.ProtocolUDP, intstr.FromInt32(53)), fmt.Sprintf("%s %s (%s)", c.Protocol, hostPort(c), times(c.Count)))
			g.add(networkPolicyPort(v1alpha1.ProtocolTCP, intstr.FromInt32(53)), "")
			continue
		}
		cidr := netip.PrefixFrom(ip, ip.BitLen()).String()
		g := group("ip "+cidr, &networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}},
			fmt.Sprintf("%s: not resolved to pods. If it is a Service's ClusterIP this rule will not match, because "+
				"NetworkPolicy sees the pod address after translation: generate in the cluster to resolve it", c.Address))
		g.add(port, fmt.Sprintf("%s %s (%s)", c.Protocol, hostPort(c), times(c.Count)))
	}
	slices.SortStableFunc(groups, func(a, b *egressGroup) int { return strings.Compare(a.key, b.key) })
	for _, g := range groups {
		rule := networkingv1.NetworkPolicyEgressRule{Ports: g.ports}
		if g.peer != nil {
			rule.To = []networkingv1.NetworkPolicyPeer{*g.peer}
		}
		out.Policy.Spec.Egress = append(out.Policy.Spec.Egress, rule)
		out.notes = append(out.notes, g.note+".\nSeen: "+strings.Join(slices.DeleteFunc(g.what, func(s string) bool { return s == "" }), ", "))
	}
	return out, nil
}

func (g *egressGroup) add(port networkingv1.NetworkPolicyPort, what string) {
	if !slices.ContainsFunc(g.ports, func(p networkingv1.NetworkPolicyPort) bool {
		return *p.Protocol == *port.Protocol && p.Port.String() == port.Port.String()
	}) {
		g.ports = append(g.ports, port)
	}
	g.what = append(g.what, what)
}

func networkPolicyPort(protocol v1alpha1.Protocol, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	proto := corev1.Protocol(protocol)
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port}
}

func hostPort(c v1alpha1.ConnectionEntry) string {
	return netip.AddrPortFrom(netip.MustParseAddr(c.Address), uint16(c.Port)).String()
}

// NetworkPolicyYAML writes the NetworkPolicy with the evidence for each rule.
func NetworkPolicyYAML(p *v1alpha1.Profile, opts NetworkPolicyOptions) ([]byte, error) {
	g, err := NetworkPolicy(p, opts)
	if err != nil {
		return nil, err
	}
	root, err := fromObject(g.Policy)
	if err != nil {
		return nil, err
	}
	for i, note := range g.notes {
		commentAbove(root, wrap(note, 96), "spec", "egress", i)
	}
	if len(g.Policy.Spec.Egress) == 0 {
		commentLine(root, "no connection left the pod: all egress is denied", "spec", "egress")
	}
	commentLine(root, "the workload's pods", "spec", "podSelector")
	t := resolveTarget(p, opts.Target)
	header := fmt.Sprintf("Egress NetworkPolicy for %s,\nfrom the %s.\n", describeTarget(t), describeProfile(p)) +
		"It takes effect only where the cluster's network plugin enforces NetworkPolicy.\n"
	if len(g.skipped) > 0 {
		header += "Needing no rule: " + listAtMost(g.skipped, 5) + ".\n"
	}
	header += "Apply with:\n  kubectl apply -f THIS_FILE"
	return encodeYAML(document(header, root))
}
