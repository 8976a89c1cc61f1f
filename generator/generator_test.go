package generator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/profiles/profiletest"
	"github.com/footprint-dev/footprint/workloads"
)

// strictDecoder decodes YAML into registered types and refuses unknown and
// duplicate fields, as `kubectl apply --validate=strict` does.
func strictDecoder(s *runtime.Scheme) *serializerjson.Serializer {
	return serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, s, s,
		serializerjson.SerializerOptions{Yaml: true, Strict: true})
}

func footprintScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

var kindGVK = map[string]schema.GroupVersionKind{
	"Deployment":  appsv1.SchemeGroupVersion.WithKind("Deployment"),
	"StatefulSet": appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
	"DaemonSet":   appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
	"Job":         batchv1.SchemeGroupVersion.WithKind("Job"),
	"CronJob":     batchv1.SchemeGroupVersion.WithKind("CronJob"),
	"Pod":         corev1.SchemeGroupVersion.WithKind("Pod"),
}

func TestGeneratedObjectsDecodeStrictly(t *testing.T) {
	k8s := strictDecoder(scheme.Scheme)
	ours := strictDecoder(footprintScheme(t))
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			p := loadFixture(t, tc.fixture)
			out, err := tc.generate(p)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasSuffix(tc.name, "securitycontext") || strings.Contains(tc.name, "securitycontext-"):
				// A patch is a partial object of the workload's kind.
				kind := "Pod"
				if p.Spec.Workload != nil {
					kind = p.Spec.Workload.Kind
				}
				gvk := kindGVK[kind]
				obj, _, err := k8s.Decode(out, &gvk, nil)
				if err != nil {
					t.Fatalf("patch does not decode as a %s: %v", kind, err)
				}
				if _, ok := obj.(runtime.Object); !ok {
					t.Fatalf("decoded %T", obj)
				}
			case strings.Contains(tc.name, "networkpolicy"):
				obj, _, err := k8s.Decode(out, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := obj.(*networkingv1.NetworkPolicy); !ok {
					t.Fatalf("decoded %T, want a NetworkPolicy", obj)
				}
			case strings.Contains(tc.name, "policy"):
				obj, _, err := ours.Decode(out, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				policy, ok := obj.(*v1alpha1.EnforcementPolicy)
				if !ok {
					t.Fatalf("decoded %T, want an EnforcementPolicy", obj)
				}
				if errs := policies.Validate(policy); len(errs) > 0 {
					t.Fatalf("generated policy does not validate: %v", errs)
				}
				if _, err := policies.Load(out); err != nil {
					t.Fatalf("footprint enforce would refuse it: %v", err)
				}
			case strings.Contains(tc.name, "tetragon"):
				var tp TracingPolicyNamespaced
				if err := yaml.UnmarshalStrict(out, &tp); err != nil {
					t.Fatal(err)
				}
				if tp.APIVersion != TetragonAPIVersion || tp.Kind != "TracingPolicyNamespaced" {
					t.Fatalf("apiVersion/kind = %s/%s", tp.APIVersion, tp.Kind)
				}
				for _, k := range tp.Spec.KProbes {
					if len(k.Selectors) > maxTetragonSelectors {
						t.Errorf("%s has %d selectors; Tetragon allows %d", k.Call, len(k.Selectors), maxTetragonSelectors)
					}
				}
			default:
				t.Fatalf("no strict decoding for %s", tc.name)
			}
		})
	}
}

// sampleWorkload returns a workload of each kind with two containers, as
// the API server would store it, in JSON.
func sampleWorkload(t *testing.T, kind string) []byte {
	t.Helper()
	podSpec := corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "example/app:1", SecurityContext: &corev1.SecurityContext{
			Privileged:   ptr(true),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}},
		}},
		{Name: "sidecar", Image: "example/proxy:1", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr(int64(1337))}},
	}}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: podSpec}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	var obj any
	switch kind {
	case "Deployment":
		obj = appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: selector, Template: template}}
	case "StatefulSet":
		obj = appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template}}
	case "DaemonSet":
		obj = appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}}
	case "Job":
		obj = batchv1.Job{Spec: batchv1.JobSpec{Template: template}}
	case "CronJob":
		obj = batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}}
	case "Pod":
		obj = corev1.Pod{Spec: podSpec}
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func typedZero(kind string) any {
	switch kind {
	case "Deployment":
		return appsv1.Deployment{}
	case "StatefulSet":
		return appsv1.StatefulSet{}
	case "DaemonSet":
		return appsv1.DaemonSet{}
	case "Job":
		return batchv1.Job{}
	case "CronJob":
		return batchv1.CronJob{}
	}
	return corev1.Pod{}
}

// containersOf digs the containers out of a patched workload.
func containersOf(t *testing.T, kind string, data []byte) []corev1.Container {
	t.Helper()
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	podSpec := generic["spec"].(map[string]any)
	k, _ := workloads.ByName(kind)
	for _, step := range k.PodSpecPath[1:] {
		podSpec = podSpec[step].(map[string]any)
	}
	raw, _ := json.Marshal(podSpec["containers"])
	var containers []corev1.Container
	if err := json.Unmarshal(raw, &containers); err != nil {
		t.Fatal(err)
	}
	return containers
}

// TestPatchAppliesToEveryWorkloadKind applies the patch the way
// `kubectl patch --patch-file` does (a strategic merge with the kind's
// patch metadata) and checks the container it names, and only that one.
func TestPatchAppliesToEveryWorkloadKind(t *testing.T) {
	p := loadFixture(t, "web")
	for _, kind := range workloads.Kinds {
		t.Run(kind, func(t *testing.T) {
			patchYAML, err := SecurityContextPatch(p, SecurityContextOptions{Target: Target{
				Workload: &v1alpha1.WorkloadReference{Kind: kind, Name: "web"}, Container: "app",
			}})
			if err != nil {
				t.Fatal(err)
			}
			patch, err := yaml.YAMLToJSON(patchYAML)
			if err != nil {
				t.Fatal(err)
			}
			patched, err := strategicpatch.StrategicMergePatch(sampleWorkload(t, kind), patch, typedZero(kind))
			if err != nil {
				t.Fatalf("kubectl patch would refuse it: %v", err)
			}
			containers := containersOf(t, kind, patched)
			if len(containers) != 2 {
				t.Fatalf("want the two containers kept, got %d", len(containers))
			}
			app, sidecar := containers[0], containers[1]
			sc := app.SecurityContext
			if app.Image != "example/app:1" || *sc.Privileged || *sc.AllowPrivilegeEscalation || *sc.ReadOnlyRootFilesystem ||
				!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
				!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"}) ||
				sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("app after the patch: %+v", sc)
			}
			if sidecar.SecurityContext == nil || *sidecar.SecurityContext.RunAsUser != 1337 || sidecar.SecurityContext.Capabilities != nil {
				t.Errorf("the sidecar was changed: %+v", sidecar.SecurityContext)
			}
		})
	}
}

func TestPatchWithNoCapabilityNeededRemovesExistingAdds(t *testing.T) {
	p := loadFixture(t, "worker")
	patchYAML, err := SecurityContextPatch(p, SecurityContextOptions{Target: Target{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, Container: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	patch, _ := yaml.YAMLToJSON(patchYAML)
	patched, err := strategicpatch.StrategicMergePatch(sampleWorkload(t, "Deployment"), patch, appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	sc := containersOf(t, "Deployment", patched)[0].SecurityContext
	if len(sc.Capabilities.Add) != 0 || !*sc.RunAsNonRoot || *sc.RunAsUser != 1000 || !*sc.ReadOnlyRootFilesystem {
		t.Fatalf("securityContext after the patch: %+v", sc)
	}
}

func TestSecurityContextPatchExplainsWhatIsMissing(t *testing.T) {
	local := loadFixture(t, "local")
	if _, err := SecurityContextPatch(local, SecurityContextOptions{}); err == nil || !strings.Contains(err.Error(), "--workload KIND/NAME") {
		t.Errorf("want a hint to pass --workload, got %v", err)
	}
	_, err := SecurityContextPatch(local, SecurityContextOptions{Target: Target{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "--container NAME") {
		t.Errorf("want a hint to pass --container, got %v", err)
	}
	_, err = SecurityContextPatch(local, SecurityContextOptions{Target: Target{Workload: &v1alpha1.WorkloadReference{Kind: "ReplicationController", Name: "x"}, Container: "c"}})
	if err == nil || !strings.Contains(err.Error(), "Deployment, StatefulSet") {
		t.Errorf("want the supported kinds listed, got %v", err)
	}
}

func TestInitContainerPatch(t *testing.T) {
	out, err := SecurityContextPatch(loadFixture(t, "web"), SecurityContextOptions{InitContainer: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "initContainers:") || strings.Contains(string(out), "\n      containers:") {
		t.Fatalf("want the initContainers list patched:\n%s", out)
	}
}

func TestAllowDirectoryWidensOnPurposeAndSaysSo(t *testing.T) {
	p := loadFixture(t, "web")
	g, err := Policy(p, PolicyOptions{AllowDirectories: []string{"/etc/nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	var rule *v1alpha1.FileRule
	for i, r := range g.Policy.Spec.Files.Allow {
		if strings.HasPrefix(r.Path, "/etc/nginx") {
			if rule != nil {
				t.Fatalf("want one rule for /etc/nginx, got %s and %s", rule.Path, r.Path)
			}
			rule = &g.Policy.Spec.Files.Allow[i]
		}
	}
	if rule == nil || rule.Path != "/etc/nginx/**" || !slices.Equal(rule.Access, []v1alpha1.FileAccessMode{"read"}) {
		t.Fatalf("rule = %+v", rule)
	}
	out, err := PolicyYAML(p, PolicyOptions{AllowDirectories: []string{"/etc/nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "WIDER than observed: --allow-dir /etc/nginx") {
		t.Fatalf("the widening is not explained:\n%s", out)
	}
	if _, err := Policy(p, PolicyOptions{AllowDirectories: []string{"/opt/nothing"}}); err == nil || !strings.Contains(err.Error(), "shows no file under /opt/nothing") {
		t.Errorf("want an error for a directory the profile never touched, got %v", err)
	}
	if _, err := Policy(p, PolicyOptions{AllowDirectories: []string{"/"}}); err == nil {
		t.Error("allowing / must be refused")
	}
}

func TestNetworkPolicyNeedsAPodSelectorAndRecordedConnections(t *testing.T) {
	if _, err := NetworkPolicy(loadFixture(t, "web"), NetworkPolicyOptions{}); err != ErrNeedPodSelector {
		t.Errorf("got %v, want ErrNeedPodSelector", err)
	}
	_, err := NetworkPolicy(loadFixture(t, "local"), NetworkPolicyOptions{PodSelector: webSelector})
	if err == nil || !strings.Contains(err.Error(), "did not record connections") {
		t.Errorf("got %v", err)
	}
}

// widenedPath restates the documented widening of the policy generator
// independently of its code: a component holding `*` matches any single
// component, and a `**` inside a path covers everything below the part
// before it.
func widenedPath(p string) string {
	components := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, c := range components {
		if strings.Contains(c, "**") {
			return "/" + strings.Join(append(components[:i:i], "**"), "/")
		}
		if strings.Contains(c, "*") {
			components[i] = "*"
		}
	}
	return "/" + strings.Join(components, "/")
}

// profileAllows says whether the profile, widened as documented, shows an
// access. It is the specification the generated policy is checked against.
// Besides widenedPath, the documented widening is the read-only system tree
// (profiles.FoldFiles): an entry that only read or mapped files in a tree
// allows those same modes, and no other, on every file of the tree.
func profileAllowsFile(spec v1alpha1.ProfileSpec, path string, mode v1alpha1.FileAccessMode) bool {
	tree, _, inTree := profiles.ReadOnlyTree(path)
	for _, f := range spec.Files {
		if !strings.HasPrefix(f.Path, "/") || !slices.Contains(f.Access, mode) {
			continue
		}
		if profiles.MatchProfilePath(widenedPath(f.Path), path) {
			return true
		}
		if root, _, ok := profiles.ReadOnlyTree(f.Path); inTree && ok && root == tree && onlyReadOrExec(f.Access) {
			return true
		}
	}
	return false
}

func onlyReadOrExec(modes []v1alpha1.FileAccessMode) bool {
	for _, m := range modes {
		if m != v1alpha1.AccessRead && m != v1alpha1.AccessExec {
			return false
		}
	}
	return len(modes) > 0
}

func profileAllowsExec(spec v1alpha1.ProfileSpec, path string) bool {
	for _, e := range spec.Executables {
		if profiles.MatchProfilePath(widenedPath(e.Path), path) {
			return true
		}
	}
	return false
}

var nameVocabulary = []string{"status", "token", "passwd", "x", "..2025_01_01_00_00_00.1", "..data", "tmpa8Xk2L", "app.sock", "lib", "..", "."}

// instantiate returns a concrete path a profile pattern stands for, or
// (when near) a path next to it.
func instantiate(r *rand.Rand, pattern string, near bool) string {
	var out []string
	for _, c := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		switch {
		case c == "**":
			for range r.IntN(3) {
				out = append(out, nameVocabulary[r.IntN(len(nameVocabulary)-2)])
			}
		case strings.Contains(c, "*"):
			if r.IntN(2) == 0 {
				out = append(out, strings.ReplaceAll(c, "*", "2025_x"))
			} else {
				out = append(out, nameVocabulary[r.IntN(len(nameVocabulary)-2)])
			}
		default:
			out = append(out, c)
		}
	}
	if near {
		switch r.IntN(4) {
		case 0:
			out = append(out, nameVocabulary[r.IntN(len(nameVocabulary))])
		case 1:
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case 2:
			if len(out) > 0 {
				out[r.IntN(len(out))] = nameVocabulary[r.IntN(len(nameVocabulary))]
			}
		case 3:
			out = append([]string{"etc"}, out...)
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return "/" + strings.Join(out, "/")
}

var allModes = []v1alpha1.FileAccessMode{"read", "write", "exec", "create", "truncate"}

// TestGeneratedPolicyAllowsExactlyTheProfile is the generator's guarantee,
// checked on random profiles with the policy's reference matcher: every
// operation the profile shows is allowed (the workload keeps working), and
// nothing is allowed that the profile, widened only as documented, does not
// show.
func TestGeneratedPolicyAllowsExactlyTheProfile(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	for run := range 300 {
		p := profiletest.Profile(r)
		g, err := Policy(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
		if err != nil {
			t.Fatal(err)
		}
		m, err := policies.NewMatcher(&g.Policy.Spec)
		if err != nil {
			t.Fatalf("run %d: the matcher refuses the generated policy: %v", run, err)
		}
		spec := profiles.NormalizeSpec(p.Spec)
		// A kind the recording did not cover is left unenforced, never
		// denied wholesale; the remaining checks are about enforced kinds.
		enforced := map[string]bool{
			"capabilities": g.Policy.Spec.Capabilities != nil, "files": g.Policy.Spec.Files != nil,
			"connections": g.Policy.Spec.Connect != nil, "executables": g.Policy.Spec.Executables != nil,
		}
		for kind, on := range enforced {
			if on != kindRecorded(p, kind) {
				t.Fatalf("run %d: %s enforced=%v but recorded=%v", run, kind, on, kindRecorded(p, kind))
			}
		}
		fail := func(format string, args ...any) {
			t.Helper()
			policy, _ := yaml.Marshal(g.Policy.Spec)
			profile, _ := yaml.Marshal(spec)
			t.Fatalf("run %d: %s\nprofile:\n%s\npolicy:\n%s", run, fmt.Sprintf(format, args...), profile, policy)
		}

		for _, f := range spec.Files {
			if !enforced["files"] {
				break
			}
			if !strings.HasPrefix(f.Path, "/") {
				continue
			}
			for range 4 {
				path := instantiate(r, f.Path, false)
				if profiles.MatchProfilePath(f.Path, path) {
					if d := m.FileOpen(path, f.Access...); !d.Allowed {
						fail("%s (%v) is in the profile as %s but refused: %s", path, f.Access, f.Path, d.Reason)
					}
				}
				near := instantiate(r, f.Path, true)
				mode := allModes[r.IntN(len(allModes))]
				if d := m.FileOpen(near, mode); d.Allowed && !profileAllowsFile(spec, near, mode) {
					fail("%s of %s is allowed (%s) but not in the profile", mode, near, d.Reason)
				}
			}
		}
		for _, e := range spec.Executables {
			if !enforced["executables"] {
				break
			}
			path := instantiate(r, e.Path, false)
			if d := m.Exec(path); profiles.MatchProfilePath(e.Path, path) && !d.Allowed {
				fail("exec of %s is in the profile but refused: %s", path, d.Reason)
			}
			near := instantiate(r, e.Path, true)
			if d := m.Exec(near); d.Allowed && !profileAllowsExec(spec, near) {
				fail("exec of %s is allowed (%s) but not in the profile", near, d.Reason)
			}
		}
		for n := 0; n <= profiles.MaxCapability; n++ {
			if !enforced["capabilities"] {
				break
			}
			name := profiles.CapabilityName(n)
			for _, userNS := range []bool{false, true} {
				d := m.Capability(policies.CapabilityCheck{Capability: n, UserNamespace: userNS, WouldBeGranted: true})
				used := slices.ContainsFunc(spec.Capabilities, func(c v1alpha1.CapabilityEntry) bool {
					return c.Name == name && c.Verdict == v1alpha1.VerdictGranted && !c.Probe && c.UserNamespace == userNS
				})
				if d.Allowed != used {
					fail("%s (user namespace %v): allowed=%v but used in the profile=%v", name, userNS, d.Allowed, used)
				}
			}
		}
		for _, address := range append(slices.Clone(profiletest.Addresses), "10.0.3.9", "fd00::2") {
			if !enforced["connections"] {
				break
			}
			for _, port := range []uint16{0, 53, 443, 5432, 8080, 9999} {
				for _, proto := range []v1alpha1.Protocol{"TCP", "UDP"} {
					ip := netip.MustParseAddr(address)
					d := m.Connect(proto, ip, port)
					seen := slices.ContainsFunc(spec.Connections, func(c v1alpha1.ConnectionEntry) bool {
						return c.Protocol == proto && c.Address == profiles.NormalizeAddress(address) && c.Port == int32(port)
					})
					if d.Allowed != seen {
						fail("%s %s port %d: allowed=%v but seen in the profile=%v", proto, address, port, d.Allowed, seen)
					}
				}
			}
		}
	}
}

// TestWouldDenyIsEmptyForTheProfileAPolicyCameFrom ties diff and generator
// together: re-running the recorded workload under its own policy reports
// nothing.
func TestWouldDenyIsEmptyForTheProfileAPolicyCameFrom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		p := profiletest.Profile(r)
		g, err := Policy(p, PolicyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		denials, err := policies.WouldDeny(p, g.Policy)
		if err != nil {
			t.Fatal(err)
		}
		if len(denials) > 0 {
			t.Fatalf("the profile's own policy would deny %+v", denials)
		}
	}
}

// A policy is bound to the images its profile was recorded from, and its
// YAML says what happens to a pod running another.
func TestPolicyCarriesTheProfilesImages(t *testing.T) {
	v1 := v1alpha1.Image{Name: "docker.io/library/web:v1", Digest: "sha256:" + strings.Repeat("a", 64)}
	v2 := v1alpha1.Image{Name: "docker.io/library/web:v2", Digest: "sha256:" + strings.Repeat("b", 64)}
	p := &v1alpha1.Profile{
		ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: "shop"},
		Spec: v1alpha1.ProfileSpec{
			Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, Container: "app",
			Sources: []v1alpha1.Source{
				{Node: "n1", Pod: "web-1", Images: []v1alpha1.Image{v2}},
				{Node: "n2", Pod: "web-2", Images: []v1alpha1.Image{{Name: v1.Name}, v1}},
			},
		},
	}
	g, err := Policy(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Policy.Spec.Images, []v1alpha1.Image{v1, v2}; !slices.Equal(got, want) {
		t.Errorf("spec.images = %+v, want %+v", got, want)
	}
	data, err := PolicyYAML(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "held\n  # in Audit and recorded into the profile until the policy is promoted") {
		t.Errorf("the policy's YAML does not say what happens to another image:\n%s", data)
	}
	p.Spec.Sources = nil
	if g, err := Policy(p, PolicyOptions{}); err != nil || g.Policy.Spec.Images != nil {
		t.Errorf("a profile without images made spec.images %+v (err %v), want none: the policy is not bound", g.Policy.Spec.Images, err)
	}
}
