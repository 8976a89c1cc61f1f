package kubepods

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/test/envtest"
)

// TestAddressResolverNamesThePodsAndServicesBehindAnAddress resolves
// destinations against the pods and Services of a real API server, as a
// cluster admin and as a user who may list them in one namespace only.
func TestAddressResolverNamesThePodsAndServicesBehindAnAddress(t *testing.T) {
	env, ns := apiServer(t)
	other := envtest.Namespace(t, env.Client)
	ctx := testContext(t)
	c := env.Client
	create := func(objs ...client.Object) {
		t.Helper()
		for _, obj := range objs {
			if err := c.Create(ctx, obj); err != nil {
				t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
			}
		}
	}
	pod := func(namespace, name, ip string, labels map[string]string, hostNetwork bool, phase corev1.PodPhase) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}, Spec: podSpec("node-a")}
		p.Spec.HostNetwork = hostNetwork
		if phase == corev1.PodSucceeded {
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
		}
		create(p)
		p.Status = corev1.PodStatus{Phase: phase, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
		if err := c.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Addresses of their own: the control plane is shared with the
	// package's other tests, and the resolver lists every namespace.
	pod(ns, "db-0", "10.250.1.7", map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-0", "controller-revision-hash": "db-5f7c9"}, false, corev1.PodRunning)
	pod(ns, "web-5c4b-x", "fd00:250::8", map[string]string{"app": "web", "pod-template-hash": "5c4b"}, false, corev1.PodRunning)
	pod(ns, "anonymous", "10.250.1.9", map[string]string{"pod-template-hash": "5c4b"}, false, corev1.PodRunning)
	pod(ns, "node-agent", "10.250.1.10", map[string]string{"app": "agent"}, true, corev1.PodRunning)
	pod(ns, "batch-done", "10.250.1.11", map[string]string{"app": "batch"}, false, corev1.PodSucceeded)
	pod(other, "cache-1", "10.250.2.9", map[string]string{"app": "cache"}, false, corev1.PodRunning)
	api := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
			{Name: "dns", Port: 53, TargetPort: intstr.FromInt32(53), Protocol: corev1.ProtocolUDP},
			{Name: "grpc", Port: 9090, TargetPort: intstr.FromString("grpc")},
		}}}
	search := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "search", Namespace: other}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "search"}, Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}}}
	manual := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: ns}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	create(api, search, manual)
	if api.Spec.ClusterIP == "" || search.Spec.ClusterIP == "" || manual.Spec.ClusterIP == "" {
		t.Fatal("the API server gave a Service no ClusterIP")
	}

	tcp := func(addr string, port int32) v1alpha1.ConnectionEntry {
		return v1alpha1.ConnectionEntry{Protocol: v1alpha1.ProtocolTCP, Address: addr, Port: port}
	}
	type want struct {
		pods, namespace, port, description string
	}
	cases := []struct {
		name string
		conn v1alpha1.ConnectionEntry
		// want is nil for an address left an IP block; admin and
		// narrowed are what a cluster admin and alice get.
		admin, narrowed *want
	}{
		{"a Service's target port", tcp(api.Spec.ClusterIP, 80), &want{"app=api", "", "8080", "Service " + ns + "/api"}, &want{"app=api", "", "8080", "Service " + ns + "/api"}},
		{"a Service's port that is its target port", v1alpha1.ConnectionEntry{Protocol: v1alpha1.ProtocolUDP, Address: api.Spec.ClusterIP, Port: 53}, &want{"app=api", "", "", "Service " + ns + "/api"}, &want{"app=api", "", "", "Service " + ns + "/api"}},
		{"a Service's named target port", tcp(api.Spec.ClusterIP, 9090), &want{"app=api", "", "grpc", "Service " + ns + "/api"}, &want{"app=api", "", "grpc", "Service " + ns + "/api"}},
		{"a port the Service does not serve", tcp(api.Spec.ClusterIP, 81), &want{"app=api", "", "", "Service " + ns + "/api"}, &want{"app=api", "", "", "Service " + ns + "/api"}},
		{"a Service in another namespace", tcp(search.Spec.ClusterIP, 443), &want{"app=search", other, "", "Service " + other + "/search"}, nil},
		{"a Service without a selector", tcp(manual.Spec.ClusterIP, 80), nil, nil},
		{"a pod, without the labels of its instance", tcp("10.250.1.7", 5432), &want{"app=db", "", "", "pods app=db"}, &want{"app=db", "", "", "pods app=db"}},
		{"a pod by its IPv6 address", tcp("fd00:250::8", 8080), &want{"app=web", "", "", "pods app=web"}, &want{"app=web", "", "", "pods app=web"}},
		{"a pod by an IPv4-mapped address", tcp("::ffff:10.250.1.7", 5432), &want{"app=db", "", "", "pods app=db"}, &want{"app=db", "", "", "pods app=db"}},
		{"a pod in another namespace", tcp("10.250.2.9", 6379), &want{"app=cache", other, "", "pods app=cache in namespace " + other}, nil},
		{"a pod with instance labels only", tcp("10.250.1.9", 80), nil, nil},
		{"a host-network pod", tcp("10.250.1.10", 80), nil, nil},
		{"a pod that has ended", tcp("10.250.1.11", 80), nil, nil},
		{"an address outside the cluster", tcp("93.184.216.34", 443), nil, nil},
		{"not an address", tcp("example.com", 443), nil, nil},
	}
	check := func(t *testing.T, r *AddressResolver, who string, pick func(int) *want) {
		for i, tc := range cases {
			d, ok := r.ResolveDestination(tc.conn)
			w := pick(i)
			if w == nil {
				if ok {
					t.Errorf("%s, %s: resolved to %+v, want an IP block", who, tc.name, d)
				}
				continue
			}
			var gotNS, gotPort string
			if d.NamespaceSelector != nil {
				gotNS = d.NamespaceSelector.MatchLabels[corev1.LabelMetadataName]
			}
			if d.Port != nil {
				gotPort = d.Port.String()
			}
			got := want{metav1.FormatLabelSelector(&d.PodSelector), gotNS, gotPort, d.Description}
			if !ok || got != *w {
				t.Errorf("%s, %s: resolved %v to %+v, want %+v", who, tc.name, ok, got, *w)
			}
		}
	}

	var narrowed []string
	admin, err := NewAddressResolver(ctx, c, ns, func(what string) { narrowed = append(narrowed, what) })
	if err != nil {
		t.Fatal(err)
	}
	if narrowed != nil {
		t.Errorf("a cluster admin was told the resolution is narrowed to the namespace for %v", narrowed)
	}
	check(t, admin, "admin", func(i int) *want { return cases[i].admin })

	// Alice may list pods and Services in ns alone.
	create(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}})
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
	alice, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	narrowedFor, err := NewAddressResolver(ctx, alice, ns, func(what string) { narrowed = append(narrowed, what) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(narrowed, []string{"services", "pods"}) {
		t.Errorf("alice was told of narrowed lists of %v, want services and pods", narrowed)
	}
	check(t, narrowedFor, "alice", func(i int) *want { return cases[i].narrowed })

	// Bob may list nothing: the error names what could not be listed.
	bobCfg := rest.CopyConfig(env.Config)
	bobCfg.Impersonate = rest.ImpersonationConfig{UserName: "bob"}
	bob, err := client.New(bobCfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAddressResolver(ctx, bob, ns, func(string) {}); err == nil || !strings.Contains(err.Error(), "list services to resolve destinations") || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a user who may list nothing: %v, want an error saying services could not be listed", err)
	}
}
