package envtest_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/profiles/profiletest"
	"github.com/footprint-dev/footprint/test/envtest"
)

// applyDryRun sends a generated manifest (YAML with comments, as the user
// gets it) to the API server as a server-side apply with dryRun=All: every
// admission step runs, nothing is stored.
func applyDryRun(t *testing.T, what string, manifest []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(manifest, &u.Object); err != nil {
		t.Fatalf("%s is not YAML: %v\n%s", what, err, manifest)
	}
	if err := env.Client.Patch(ctx(t), u, client.Apply, client.FieldOwner("footprint-test"), client.ForceOwnership, client.DryRunAll); err != nil { //nolint:staticcheck // unstructured apply
		t.Errorf("%s refused by the API server: %v\n%s", what, err, manifest)
	}
	return u
}

// workload makes the smallest object of a kind whose pods run one container.
func workload(kind, ns, name, container string) client.Object {
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: container, Image: "registry.invalid/app:1"}}},
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}
	case "StatefulSet":
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl}}
	case "DaemonSet":
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	case "Job":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}
	case "CronJob":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
	case "Pod":
		return &corev1.Pod{ObjectMeta: meta, Spec: tmpl.Spec}
	}
	panic("no skeleton for " + kind)
}

// checkSecurityContextPatch applies a generated securityContext patch to the
// workload it is for, with dryRun=All, and checks the container got it. A
// bare Pod's securityContext cannot be patched: its fragment is merged into
// the Pod's manifest, which is then created with dryRun=All.
func checkSecurityContextPatch(t *testing.T, what string, patch []byte, kind, ns, name, container string, created map[string]bool) {
	t.Helper()
	patchJSON, err := yaml.YAMLToJSON(patch)
	if err != nil {
		t.Fatalf("%s is not YAML: %v", what, err)
	}
	obj := workload(kind, ns, name, container)
	if kind == "Pod" {
		base, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		baseJSON, err := yaml.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		baseJSON, _ = yaml.YAMLToJSON(baseJSON)
		merged, err := strategicpatch.StrategicMergePatch(baseJSON, patchJSON, &corev1.Pod{})
		if err != nil {
			t.Fatalf("%s does not merge into a Pod manifest: %v", what, err)
		}
		pod := &corev1.Pod{}
		if err := yaml.Unmarshal(merged, pod); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx(t), pod, client.DryRunAll); err != nil {
			t.Errorf("%s: the Pod with it is refused: %v\n%s", what, err, patch)
		}
		checkSecurityContext(t, what, pod.Spec.Containers, container)
		return
	}
	key := kind + "/" + name
	if !created[key] {
		if err := env.Client.Create(ctx(t), obj); err != nil {
			t.Fatal(err)
		}
		created[key] = true
	}
	obj = workload(kind, ns, name, container)
	if err := env.Client.Patch(ctx(t), obj, client.RawPatch(types.StrategicMergePatchType, patchJSON), client.DryRunAll); err != nil {
		t.Errorf("%s refused by the API server: %v\n%s", what, err, patch)
		return
	}
	var containers []corev1.Container
	switch o := obj.(type) {
	case *appsv1.Deployment:
		containers = o.Spec.Template.Spec.Containers
	case *appsv1.StatefulSet:
		containers = o.Spec.Template.Spec.Containers
	case *appsv1.DaemonSet:
		containers = o.Spec.Template.Spec.Containers
	case *batchv1.Job:
		containers = o.Spec.Template.Spec.Containers
	case *batchv1.CronJob:
		containers = o.Spec.JobTemplate.Spec.Template.Spec.Containers
	}
	checkSecurityContext(t, what, containers, container)
}

func checkSecurityContext(t *testing.T, what string, containers []corev1.Container, name string) {
	t.Helper()
	if len(containers) != 1 {
		t.Errorf("%s: the patch changed the containers: %+v", what, containers)
		return
	}
	sc := containers[0].SecurityContext
	if containers[0].Name != name || sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container %s did not get a securityContext dropping ALL: %+v", what, name, containers[0])
	}
}

// checkNetworkPolicy dry-runs the NetworkPolicy generated from a profile,
// unless the generator refuses because connections were not recorded.
func checkNetworkPolicy(t *testing.T, what string, p *v1alpha1.Profile, app string) {
	t.Helper()
	doc, err := generator.NetworkPolicyYAML(p, generator.NetworkPolicyOptions{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}})
	switch {
	case err != nil && strings.Contains(err.Error(), "did not record connections"):
		t.Logf("%s: none: %v", what, err) // right to refuse
	case err != nil:
		t.Fatalf("%s: %v", what, err)
	default:
		applyDryRun(t, what, doc)
	}
}

// Every artifact generated from the fixture profiles passes the API
// server's admission: the Profile itself, the EnforcementPolicy (in both
// modes), the NetworkPolicy, and the securityContext patch against the kind
// of workload it is for.
func TestGeneratedArtifactsPassServerSideDryRun(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	created := map[string]bool{}
	for _, name := range []string{"web", "worker", "local", "api"} {
		t.Run(name, func(t *testing.T) {
			p, err := profiles.LoadFile(repoPath(t, "generator/testdata/profiles/"+name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			p.Namespace = ns
			stored := p.DeepCopy()
			if err := env.Client.Create(ctx(t), stored); err != nil {
				t.Fatalf("the Profile is refused: %v", err)
			}
			stored.Summarize()
			if err := env.Client.Status().Update(ctx(t), stored); err != nil {
				t.Fatalf("the Profile's summary is refused: %v", err)
			}

			for _, opts := range []generator.PolicyOptions{{}, {Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}} {
				doc, err := generator.PolicyYAML(p, opts)
				if err != nil {
					t.Fatal(err)
				}
				if p.Namespace == "" || !strings.Contains(string(doc), "namespace: "+ns) {
					t.Fatalf("the policy has no namespace:\n%s", doc)
				}
				applyDryRun(t, fmt.Sprintf("EnforcementPolicy (%s/%s)", opts.Mode, opts.Action), doc)
			}

			checkNetworkPolicy(t, "NetworkPolicy", p, name)

			// The peers' CRDs are installed: Tetragon's policy and, for
			// a profile with system calls, SPO's SeccompProfile must
			// pass their schemas.
			tp, err := generator.TetragonYAML(p, generator.TetragonOptions{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}})
			if err != nil {
				t.Fatal(err)
			}
			applyDryRun(t, "Tetragon TracingPolicyNamespaced", tp)
			if len(p.Spec.Syscalls) > 0 {
				for _, mode := range []v1alpha1.EnforcementMode{v1alpha1.ModeEnforce, v1alpha1.ModeAudit} {
					s, err := generator.Seccomp(p, generator.SeccompOptions{Mode: mode})
					if err != nil {
						t.Fatal(err)
					}
					doc, err := yaml.Marshal(generator.SPOSeccomp(s, p.Name, ns))
					if err != nil {
						t.Fatal(err)
					}
					applyDryRun(t, "Security Profiles Operator SeccompProfile ("+string(mode)+")", doc)
				}
			}

			target := generator.Target{}
			if p.Spec.Workload == nil {
				target = generator.Target{Workload: &v1alpha1.WorkloadReference{Kind: "Pod", Name: "server"}, Container: "server"}
			}
			patch, err := generator.SecurityContextPatch(p, generator.SecurityContextOptions{Target: target})
			if err != nil {
				t.Fatal(err)
			}
			w := p.Spec.Workload
			if w == nil {
				w = target.Workload
			}
			container := p.Spec.Container
			if container == "" {
				container = target.Container
			}
			checkSecurityContextPatch(t, "securityContext patch for "+w.Kind+" "+w.Name, patch, w.Kind, ns, w.Name, container, created)
		})
	}
}

// The same holds for random profiles of the kind recorders produce: the
// server accepts the profile and everything generated from it.
func TestRandomProfilesAndTheirArtifactsPassServerSideDryRun(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	created := map[string]bool{}
	r := rand.New(rand.NewPCG(5, 1))
	n := 60
	if testing.Short() {
		n = 10
	}
	for i := range n {
		// What an agent writes: normalised (sorted, without duplicates).
		p := profiletest.Profile(r)
		p.Spec = profiles.NormalizeSpec(p.Spec)
		p.Namespace = ns
		p.Name = fmt.Sprintf("random-%d", i)
		if errs := profiles.ValidateProfile(p); len(errs) > 0 {
			t.Fatalf("profiletest made an invalid profile: %v", errs)
		}
		if err := env.Client.Create(ctx(t), p.DeepCopy(), client.DryRunAll); err != nil {
			t.Fatalf("random profile %d refused: %v", i, err)
		}
		doc, err := generator.PolicyYAML(p, generator.PolicyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		applyDryRun(t, fmt.Sprintf("EnforcementPolicy of random profile %d", i), doc)
		checkNetworkPolicy(t, fmt.Sprintf("NetworkPolicy of random profile %d", i), p, "web")
		patch, err := generator.SecurityContextPatch(p, generator.SecurityContextOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkSecurityContextPatch(t, fmt.Sprintf("securityContext patch of random profile %d", i), patch, p.Spec.Workload.Kind, ns, p.Spec.Workload.Name, p.Spec.Container, created)
		if t.Failed() {
			return
		}
	}
}
