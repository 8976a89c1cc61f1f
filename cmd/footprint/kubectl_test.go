package main

// The kubectl plugin against a real kube-apiserver (envtest): every verb run
// in-process as `footprint kube ...`, and the binary run as kubectl-footprint.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/agenttest"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// kubeRun is one in-process run of `footprint kube ...`.
type kubeRun struct {
	code           int
	stdout, stderr string
}

// kubeCLI runs the plugin's verbs in-process against one cluster, as run()
// does but with the output captured.
type kubeCLI struct {
	t          *testing.T
	kubeconfig string
}

func (k kubeCLI) runContext(ctx context.Context, stdout *agenttest.SyncBuffer, args ...string) kubeRun {
	k.t.Helper()
	root := newRootCommand()
	var stderr bytes.Buffer
	root.SetOut(stdout)
	root.SetErr(&stderr)
	root.SetArgs(append(append([]string{"kube"}, args...), "--kubeconfig", k.kubeconfig))
	cmd, err := root.ExecuteContextC(ctx)
	code := report(&stderr, cmd, err)
	return kubeRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (k kubeCLI) run(args ...string) kubeRun {
	k.t.Helper()
	return k.runContext(context.Background(), &agenttest.SyncBuffer{}, args...)
}

// ok runs a command that must succeed and returns its stdout.
func (k kubeCLI) ok(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.code != 0 {
		k.t.Fatalf("footprint kube %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// fails runs a command that must fail with a one-line message holding every want.
func (k kubeCLI) fails(code int, args []string, wants ...string) kubeRun {
	k.t.Helper()
	r := k.run(args...)
	if r.code != code {
		k.t.Errorf("footprint kube %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), r.code, code, r.stderr)
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			k.t.Errorf("footprint kube %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "panic") || !strings.HasPrefix(r.stderr, "footprint: ") {
		k.t.Errorf("stderr is not a footprint message:\n%s", r.stderr)
	}
	return r
}

func TestKubectlPlugin(t *testing.T) {
	env := envtest.StartEnvironment(t)
	c := env.Client
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	create := func(t *testing.T, objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
	}

	t.Run("record", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns), reportCronJob(ns))
		for _, tc := range []struct {
			name       string
			args       []string
			recording  string
			selector   metav1.LabelSelector
			containers []string
			kinds      []v1alpha1.RecordedKind
			duration   *metav1.Duration
			stdout     []string
		}{
			{
				name: "deployment", recording: "web",
				args:       []string{"record", "deployment/web", "-n", ns, "--duration", "30m", "--containers", "app", "--kinds", "capabilities,files"},
				selector:   metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				containers: []string{"app"},
				kinds:      []v1alpha1.RecordedKind{v1alpha1.RecordCapabilities, v1alpha1.RecordFiles},
				duration:   &metav1.Duration{Duration: 30 * time.Minute},
				stdout: []string{"Created ProfileRecording " + ns + "/web for Deployment web.", "app=web (its selector)",
					"app (of app, sidecar (init: setup))", "30m0s", "profiles:    web-app", "footprint kube status web -n " + ns},
			},
			{
				name: "cronjob", recording: "report-day",
				args:     []string{"record", "cj/report", "--name", "report-day", "-n", ns},
				selector: metav1.LabelSelector{MatchLabels: map[string]string{"job": "report", "team": "finance"}},
				// The API server fills in the default: all four kinds.
				kinds:  v1alpha1.AllRecordedKinds,
				stdout: []string{"for CronJob report.", "(the labels of its pod template)", "report (all)", "until deleted", "profiles:    report-report"},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out := k.ok(tc.args...)
				for _, want := range tc.stdout {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				rec := &v1alpha1.ProfileRecording{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.recording}, rec); err != nil {
					t.Fatalf("the recording was not created: %v", err)
				}
				if sel := metav1.FormatLabelSelector(&rec.Spec.PodSelector); sel != metav1.FormatLabelSelector(&tc.selector) {
					t.Errorf("podSelector %s, want %s", sel, metav1.FormatLabelSelector(&tc.selector))
				}
				if !slices.Equal(rec.Spec.ContainerSelector, tc.containers) {
					t.Errorf("containerSelector %v, want %v", rec.Spec.ContainerSelector, tc.containers)
				}
				if !slices.Equal(rec.Spec.Kinds, tc.kinds) {
					t.Errorf("kinds %v, want %v", rec.Spec.Kinds, tc.kinds)
				}
				if fmt.Sprint(rec.Spec.Duration) != fmt.Sprint(tc.duration) {
					t.Errorf("duration %v, want %v", rec.Spec.Duration, tc.duration)
				}
			})
		}
		t.Run("refuses bad input", func(t *testing.T) {
			for _, tc := range []struct {
				args  []string
				code  int
				wants []string
			}{
				{[]string{"record", "deployment/web", "-n", ns, "--containers", "app,nope", "--name", "bad"}, 1,
					[]string{`--containers: Deployment web has no container "nope"; its containers: app, sidecar (init: setup)`}},
				{[]string{"record", "deployment/nothere", "-n", ns}, 1,
					[]string{"no deployment nothere in namespace " + ns + "; deployments there: web"}},
				{[]string{"record", "statefulset/db", "-n", ns}, 1,
					[]string{"no statefulset db in namespace " + ns + "; there are no statefulsets there"}},
				{[]string{"record", "deployment/web", "-n", ns}, 1,
					[]string{"a ProfileRecording web already exists in namespace " + ns, "--name"}},
				{[]string{"record", "web", "-n", ns}, 2, []string{`workload "web": want KIND/NAME`, "footprint kube record --help"}},
				{[]string{"record", "deployment/web", "--duration", "100000h", "-n", ns}, 2, []string{"--duration 100000h0m0s: give at least 1s"}},
				{[]string{"record", "deployment/web", "--kinds", "sockets", "-n", ns}, 2, []string{`--kinds: unknown kind "sockets"`}},
			} {
				k.fails(tc.code, tc.args, tc.wants...)
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bad"}, &v1alpha1.ProfileRecording{}); !apierrors.IsNotFound(err) {
				t.Errorf("a refused record created its recording anyway (get: %v)", err)
			}
		})
		t.Run("dry run", func(t *testing.T) {
			out := k.ok("record", "deployment/web", "--name", "web-dry", "--containers", "sidecar", "--dry-run", "-n", ns)
			var rec v1alpha1.ProfileRecording
			if err := yaml.UnmarshalStrict([]byte(out), &rec); err != nil {
				t.Fatalf("--dry-run did not print a ProfileRecording: %v\n%s", err, out)
			}
			if rec.Kind != "ProfileRecording" || rec.Name != "web-dry" || !slices.Equal(rec.Spec.ContainerSelector, []string{"sidecar"}) {
				t.Errorf("dry-run printed %+v", rec)
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-dry"}, &v1alpha1.ProfileRecording{}); !apierrors.IsNotFound(err) {
				t.Errorf("--dry-run created the recording (get: %v)", err)
			}
		})
	})

	t.Run("status", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		k.ok("record", "deployment/web", "-n", ns, "--duration", "1h")
		k.ok("record", "deployment/web", "-n", ns, "--name", "forever")
		rec := &v1alpha1.ProfileRecording{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, rec); err != nil {
			t.Fatal(err)
		}
		rec.Status = v1alpha1.ProfileRecordingStatus{
			Phase: v1alpha1.RecordingActive, MatchedPods: 3, MatchedContainers: 6, Events: 48213, LostRecords: 7,
			Profiles:   []string{"web-app", "web-sidecar"},
			Containers: []v1alpha1.RecordedContainer{{Pod: "web-1", Container: "app", Node: "node-a", Profile: "web-app"}},
		}
		if err := c.Status().Update(ctx, rec); err != nil {
			t.Fatal(err)
		}
		out := k.ok("status", "-n", ns)
		if got := cells(lineWith(t, out, "NAME")); !slices.Equal(got, []string{"NAME", "PHASE", "PODS", "CONTAINERS", "EVENTS", "LOST", "TIME LEFT", "AGE"}) {
			t.Errorf("header %q", got)
		}
		row := cells(lineWith(t, out, "│ web "))
		if !slices.Equal(row[:6], []string{"web", "Recording", "3", "6", "48213", "7"}) {
			t.Errorf("status row %q", row)
		}
		// Created a moment ago with a duration of 1h.
		if !regexp.MustCompile(`^(59m|60m)$`).MatchString(row[6]) {
			t.Errorf("status row does not show an hour left: %q", row)
		}
		if row := cells(lineWith(t, out, "forever")); row[1] != "Pending" || row[6] != "until deleted" {
			t.Errorf("status row of a recording without duration or agent: %q", row)
		}
		detail := k.ok("status", "web", "-n", ns)
		for _, want := range []string{"Profiles: web-app, web-sidecar", "CONTAINERS", "node-a", "Duration 1h0m0s: stops at"} {
			if !strings.Contains(detail, want) {
				t.Errorf("status web lacks %q:\n%s", want, detail)
			}
		}
		var list v1alpha1.ProfileRecordingList
		if err := json.Unmarshal([]byte(k.ok("status", "-A", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range list.Items {
			found = found || r.Namespace == ns && r.Name == "web" && r.Status.Events == 48213 && r.Kind == "ProfileRecording"
		}
		if !found {
			t.Errorf("status -A -o json lacks recording web with its status: %+v", list.Items)
		}
		k.fails(1, []string{"status", "nope", "-n", ns}, "no recording nope in namespace "+ns+"; recordings there: forever, web")
		k.fails(2, []string{"status", "-o", "wide", "-n", ns}, `-o "wide": use table, yaml or json`)
	})

	t.Run("time left", func(t *testing.T) {
		now := time.Now()
		created := metav1.NewTime(now.Add(-10 * time.Minute))
		for _, tc := range []struct {
			name string
			rec  v1alpha1.ProfileRecording
			want string
		}{
			{"from creation", recordingAt(created, 30*time.Minute, v1alpha1.ProfileRecordingStatus{}), "20m"},
			// The agents stop a recording its duration after its creation,
			// whatever startTime says.
			{"not from the start", recordingAt(created, 30*time.Minute, v1alpha1.ProfileRecordingStatus{StartTime: ptrTo(metav1.NewTime(now.Add(-5 * time.Minute)))}), "20m"},
			{"from stopTime", recordingAt(created, 30*time.Minute, v1alpha1.ProfileRecordingStatus{StopTime: ptrTo(metav1.NewTime(now.Add(2 * time.Hour)))}), "120m"},
			{"past", recordingAt(created, time.Minute, v1alpha1.ProfileRecordingStatus{Phase: v1alpha1.RecordingActive}), "0s (stopping)"},
			{"no duration", recordingAt(created, 0, v1alpha1.ProfileRecordingStatus{}), "until deleted"},
			{"completed", recordingAt(created, time.Minute, v1alpha1.ProfileRecordingStatus{Phase: v1alpha1.RecordingCompleted, EndTime: ptrTo(metav1.NewTime(now.Add(-3 * time.Minute)))}), "ended 3m ago"},
		} {
			got := timeLeft(&tc.rec, now)
			if got != tc.want {
				t.Errorf("%s: time left %q, want %q", tc.name, got, tc.want)
			}
		}
	})

	t.Run("get profiles", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		web := clusterProfile(t, c, ns, "web", true)
		worker := clusterProfile(t, c, ns, "worker", false) // no summary: counted from the spec
		out := k.ok("get", "profiles", "-n", ns)
		if got := cells(lineWith(t, out, "NAME")); !slices.Equal(got, []string{"NAME", "WORKLOAD", "CONTAINER", "CAPABILITIES", "FILES", "CONNECTIONS", "EXECUTABLES", "SYSCALLS", "RECORDING", "NODES/PODS", "AGE"}) {
			t.Errorf("header %q", got)
		}
		// From the summary: 6 distinct capabilities, 13 files, 4
		// destinations, 3 programs, recording web, 2 nodes and 2 pods.
		if got := cells(lineWith(t, out, "web-nginx")); !slices.Equal(got[:10], []string{"web-nginx", "Deployment/web", "nginx", "6", "13", "4", "3", "0", "web", "2/2"}) {
			t.Errorf("profile row %q", got)
		}
		sum := worker.Spec.Summarize()
		wantRow := []string{worker.Name, worker.Spec.Workload.Kind + "/" + worker.Spec.Workload.Name, worker.Spec.Container,
			fmt.Sprint(sum.Capabilities), fmt.Sprint(sum.Files), fmt.Sprint(sum.Connections), fmt.Sprint(sum.Executables),
			fmt.Sprint(sum.Syscalls), sum.Recording, fmt.Sprintf("%d/%d", sum.Nodes, sum.Pods)}
		if got := cells(lineWith(t, out, worker.Name)); !slices.Equal(got[:10], wantRow) {
			t.Errorf("profile row without a summary %q, want the counts of the spec %q", got, wantRow)
		}
		if all := k.ok("get", "profile", "-A", "--workload", "deployment/web"); !strings.Contains(all, ns) || strings.Contains(all, worker.Name) {
			t.Errorf("get profile -A --workload deployment/web:\n%s", all)
		}

		var got v1alpha1.Profile
		if err := yaml.UnmarshalStrict([]byte(k.ok("get", "profile", "web-nginx", "-n", ns, "-o", "yaml")), &got); err != nil {
			t.Fatal(err)
		}
		if got.Kind != "Profile" || got.APIVersion != "footprint.dev/v1alpha1" || got.Name != web.Name || got.Namespace != ns {
			t.Errorf("-o yaml printed %s %s %s/%s", got.APIVersion, got.Kind, got.Namespace, got.Name)
		}
		if a, b := mustJSON(t, got.Spec), mustJSON(t, web.Spec); a != b {
			t.Errorf("-o yaml does not round-trip the spec:\n%s\nwant\n%s", a, b)
		}
		if a, b := mustJSON(t, got.Status), mustJSON(t, web.Status); a != b {
			t.Errorf("-o yaml does not round-trip the status:\n%s\nwant\n%s", a, b)
		}
		if len(got.ManagedFields) > 0 {
			t.Error("-o yaml prints managedFields")
		}
		var list v1alpha1.ProfileList
		if err := json.Unmarshal([]byte(k.ok("get", "profiles", "-n", ns, "-o", "json")), &list); err != nil || len(list.Items) != 2 {
			t.Errorf("-o json: %v, %d items", err, len(list.Items))
		}

		detail := k.ok("get", "profile", "web-nginx", "-n", ns)
		var want bytes.Buffer
		if err := renderProfile(&want, web, "table"); err != nil {
			t.Fatal(err)
		}
		if detail != want.String() {
			t.Errorf("get profile NAME is not the detailed view:\n%s\nwant\n%s", detail, want.String())
		}
		k.fails(1, []string{"get", "profile", "web-app", "-n", ns},
			"no profile web-app in namespace "+ns+"; profiles there: "+worker.Name+", web-nginx")
		k.fails(2, []string{"get", "pods", "-n", ns}, `unknown resource "pods"`)
	})

	t.Run("export", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		p := clusterProfile(t, c, ns, "web", true)
		file := filepath.Join(t.TempDir(), "web-nginx.yaml")
		withKind(p)
		data, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"securitycontext"},
			{"policy", "--mode", "enforce", "--action", "kill"},
			{"tetragon", "--pod-selector", "app=web"},
		} {
			t.Run(args[0], func(t *testing.T) {
				want, err := runCLI(t, append([]string{"export", args[0], file}, args[1:]...)...)
				if err != nil {
					t.Fatal(err)
				}
				got := k.ok(append([]string{"export", args[0], "web-nginx", "-n", ns}, args[1:]...)...)
				if got != want {
					t.Errorf("kube export %s differs from footprint export of the same profile:\n%s\nwant\n%s", args[0], got, want)
				}
			})
		}
		k.fails(1, []string{"export", "securitycontext", "web", "-n", ns}, "no profile web in namespace "+ns+"; profiles there: web-nginx")
		k.fails(2, []string{"export", "apparmor", "web-nginx", "-n", ns}, `unknown artifact "apparmor"`)
		k.fails(1, []string{"export", "securitycontext", "web-nginx", "--mode", "enforce", "-n", ns}, "--mode does not apply to securitycontext")
	})

	t.Run("export networkpolicy", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		other := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		db := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: ns, Labels: map[string]string{
				"app": "db", "statefulset.kubernetes.io/pod-name": "db-0", "controller-revision-hash": "db-5f7c9"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "postgres", Image: "postgres"}}},
		}
		cache := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "cache-1", Namespace: other, Labels: map[string]string{"app": "cache"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: "redis"}}},
		}
		api := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
		}
		create(t, db, cache, api)
		for pod, ip := range map[*corev1.Pod]string{db: "10.244.1.7", cache: "10.244.2.9"} {
			pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
			if err := c.Status().Update(ctx, pod); err != nil {
				t.Fatal(err)
			}
		}
		if api.Spec.ClusterIP == "" {
			t.Fatal("the API server gave the Service no ClusterIP")
		}
		p := &v1alpha1.Profile{
			ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns},
			Spec: v1alpha1.ProfileSpec{
				Workload:  &v1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
				Container: "app",
				Connections: []v1alpha1.ConnectionEntry{
					{Protocol: v1alpha1.ProtocolTCP, Address: "10.244.1.7", Port: 5432, Count: 12},
					{Protocol: v1alpha1.ProtocolTCP, Address: "10.244.2.9", Port: 6379, Count: 3},
					{Protocol: v1alpha1.ProtocolTCP, Address: api.Spec.ClusterIP, Port: 80, Count: 40},
					{Protocol: v1alpha1.ProtocolTCP, Address: "93.184.216.34", Port: 443, Count: 2},
				},
			},
		}
		create(t, p)
		out := k.ok("export", "networkpolicy", "web-app", "-n", ns)
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(out), &np); err != nil {
			t.Fatalf("not a NetworkPolicy: %v\n%s", err, out)
		}
		if got := metav1.FormatLabelSelector(&np.Spec.PodSelector); got != "app=web" {
			t.Errorf("spec.podSelector %s, want the Deployment's selector app=web", got)
		}
		rules := map[string]string{}
		for _, r := range np.Spec.Egress {
			var to, ports []string
			for _, peer := range r.To {
				switch {
				case peer.IPBlock != nil:
					to = append(to, "ip "+peer.IPBlock.CIDR)
				case peer.NamespaceSelector != nil:
					to = append(to, metav1.FormatLabelSelector(peer.PodSelector)+" in "+metav1.FormatLabelSelector(peer.NamespaceSelector))
				default:
					to = append(to, metav1.FormatLabelSelector(peer.PodSelector))
				}
			}
			for _, port := range r.Ports {
				ports = append(ports, fmt.Sprintf("%s/%s", *port.Protocol, port.Port))
			}
			rules[strings.Join(to, ",")] = strings.Join(ports, ",")
		}
		for to, port := range map[string]string{
			"app=db": "TCP/5432", // the pod's labels, without those of one pod
			"app=cache in kubernetes.io/metadata.name=" + other: "TCP/6379",
			"app=api":             "TCP/8080", // the Service's pods, on its target port
			"ip 93.184.216.34/32": "TCP/443",
		} {
			if rules[to] != port {
				t.Errorf("egress to %s: ports %q, want %q (rules: %v)", to, rules[to], port, rules)
			}
		}
		if !strings.Contains(out, "Service "+ns+"/api") {
			t.Errorf("the rule for the Service does not name it:\n%s", out)
		}

		// A user who may list pods and Services in the namespace only gets
		// destinations there resolved, and is told so.
		create(t, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "footprint-reader", Namespace: ns},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"footprint.dev"}, Resources: []string{"profiles"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"get", "list"}},
			},
		}, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "footprint-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "alice"}},
		})
		r := k.run("export", "networkpolicy", "web-app", "-n", ns, "--as", "alice")
		if r.code != 0 {
			t.Fatalf("export as alice: %s", r.stderr)
		}
		for _, want := range []string{"may not list services in all namespaces; resolving destinations to services of namespace " + ns + " only", "pods of namespace " + ns + " only"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("export as a user of one namespace: stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if !strings.Contains(r.stdout, "app: db") || !strings.Contains(r.stdout, "cidr: 10.244.2.9/32") {
			t.Errorf("export as a user of one namespace should resolve the pod there and not the one elsewhere:\n%s", r.stdout)
		}
		k.fails(1, []string{"enforce", "web-app", "-n", ns, "--as", "alice"}, `User "alice" cannot get resource "enforcementpolicies"`)

		k.fails(1, []string{"export", "networkpolicy", "web-app", "--workload", "deployment/gone", "-n", ns},
			"no deployment gone in namespace "+ns+"; deployments there: web", "--pod-selector")
	})

	t.Run("enforce", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		clusterProfile(t, c, ns, "web", true)
		get := func() *v1alpha1.EnforcementPolicy {
			t.Helper()
			pol := &v1alpha1.EnforcementPolicy{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-nginx"}, pol); err != nil {
				t.Fatalf("get the EnforcementPolicy: %v", err)
			}
			return pol
		}
		for _, tc := range []struct {
			args   []string
			stdout []string
			mode   v1alpha1.EnforcementMode
			action v1alpha1.EnforcementAction
		}{
			{[]string{"--mode", "audit"}, []string{"EnforcementPolicy " + ns + "/web-nginx created: mode Audit, for container \"nginx\" of Deployment web, from profile web-nginx.",
				"footprint kube violations -f -n " + ns, "footprint kube enforce web-nginx --mode enforce -n " + ns}, v1alpha1.ModeAudit, v1alpha1.ActionDeny},
			{[]string{"--mode", "enforce"}, []string{"web-nginx updated: mode Audit -> Enforce, action Deny"}, v1alpha1.ModeEnforce, v1alpha1.ActionDeny},
			{[]string{"--mode", "enforce"}, []string{"web-nginx unchanged: mode Enforce, action Deny"}, v1alpha1.ModeEnforce, v1alpha1.ActionDeny},
			{[]string{"--mode", "enforce", "--action", "kill"}, []string{"updated: mode Enforce, action Deny -> Enforce, action Kill"}, v1alpha1.ModeEnforce, v1alpha1.ActionKill},
		} {
			out := k.ok(append([]string{"enforce", "web-nginx", "-n", ns}, tc.args...)...)
			for _, want := range tc.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("enforce %v: output lacks %q:\n%s", tc.args, want, out)
				}
			}
			pol := get()
			if pol.Spec.Mode != tc.mode || pol.Spec.Action != tc.action {
				t.Errorf("enforce %v: policy has mode %s action %s, want %s %s", tc.args, pol.Spec.Mode, pol.Spec.Action, tc.mode, tc.action)
			}
			if sel := pol.Spec.Selector; sel == nil || sel.Workload == nil || sel.Workload.Kind != "Deployment" || sel.Workload.Name != "web" || !slices.Equal(sel.Containers, []string{"nginx"}) {
				t.Errorf("policy selector %+v, want container nginx of Deployment web", pol.Spec.Selector)
			}
			if pol.Spec.Capabilities == nil || len(pol.Spec.Files.Allow) == 0 {
				t.Errorf("policy without rules: %+v", pol.Spec)
			}
		}
		before := get()
		out := k.ok("enforce", "web-nginx", "-n", ns, "--mode", "audit", "--dry-run")
		if !strings.Contains(out, "kind: EnforcementPolicy") || !strings.Contains(out, "mode: Audit") {
			t.Errorf("--dry-run did not print the policy:\n%s", out)
		}
		if after := get(); after.ResourceVersion != before.ResourceVersion || after.Spec.Mode != v1alpha1.ModeEnforce {
			t.Error("--dry-run changed the policy")
		}
		if want, err := runCLI(t, "export", "policy", writeProfileFile(t, c, ns, "web-nginx"), "--mode", "audit"); err != nil || out != want {
			t.Errorf("enforce --dry-run differs from export policy (%v):\n%s\nwant\n%s", err, out, want)
		}

		// A policy of the same name from elsewhere is left alone.
		create(t, &v1alpha1.EnforcementPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "handmade", Namespace: ns},
			Spec:       v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeAudit, Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}},
		})
		k.fails(1, []string{"enforce", "web-nginx", "--name", "handmade", "-n", ns}, "EnforcementPolicy handmade in namespace "+ns+" was not generated from a profile", "--name")
		k.fails(2, []string{"enforce", "web-nginx", "--mode", "strict", "-n", ns}, `--mode "strict": use audit`)
		k.fails(1, []string{"enforce", "web", "-n", ns}, "no profile web in namespace "+ns+"; profiles there: web-nginx")
	})

	t.Run("promote to a new image", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		v1 := v1alpha1.Image{Name: "docker.io/library/nginx:1.26", Digest: "sha256:" + strings.Repeat("1", 64)}
		v2 := v1alpha1.Image{Name: "docker.io/library/nginx:1.27", Digest: "sha256:" + strings.Repeat("2", 64)}
		prof, err := profiles.LoadFile(fixture("web"))
		if err != nil {
			t.Fatal(err)
		}
		prof.Namespace = ns
		for i := range prof.Spec.Sources {
			prof.Spec.Sources[i].Images = []v1alpha1.Image{v1}
		}
		create(t, prof)
		get := func() *v1alpha1.EnforcementPolicy {
			t.Helper()
			pol := &v1alpha1.EnforcementPolicy{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-nginx"}, pol); err != nil {
				t.Fatalf("get the EnforcementPolicy: %v", err)
			}
			return pol
		}
		k.fails(1, []string{"enforce", "web-nginx", "--promote", "-n", ns}, "there is no EnforcementPolicy web-nginx in namespace "+ns+" to promote", "--mode audit")
		k.ok("enforce", "web-nginx", "--mode", "enforce", "-n", ns)
		if pol := get(); !slices.Equal(pol.Spec.Images, []v1alpha1.Image{v1}) || pol.Spec.UnknownImages != v1alpha1.ModeAudit {
			t.Fatalf("policy images %+v, unknownImages %q: want the profile's image and Audit", pol.Spec.Images, pol.Spec.UnknownImages)
		}

		// The agents held a pod running 1.27 in Audit and recorded it into
		// the profile, as a source of the policy's.
		if err := c.Get(ctx, client.ObjectKeyFromObject(prof), prof); err != nil {
			t.Fatal(err)
		}
		at := metav1.NewTime(time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC))
		prof.Spec.Sources = append(prof.Spec.Sources, v1alpha1.Source{Node: "node-a", Pod: "web-5c4b-q7z", Policy: "web-nginx", FirstSeen: at, LastSeen: at, Images: []v1alpha1.Image{v2}})
		prof.Spec.Files = append(prof.Spec.Files, v1alpha1.FileEntry{Path: "/etc/nginx/v2.conf", Access: []v1alpha1.FileAccessMode{"read"}, Count: 1})
		if err := c.Update(ctx, prof); err != nil {
			t.Fatal(err)
		}
		before := get()
		k.fails(1, []string{"enforce", "web-nginx", "--mode", "enforce", "-n", ns},
			"profile web-nginx holds images that EnforcementPolicy web-nginx was not recorded from (docker.io/library/nginx:1.27@sha256:222222222222)",
			"held as its spec.unknownImages says (Audit)", "footprint kube enforce web-nginx --promote --dry-run -n "+ns)
		out := k.ok("enforce", "web-nginx", "--promote", "--dry-run", "-n", ns)
		for _, want := range []string{"Promoting EnforcementPolicy " + ns + "/web-nginx to the images profile web-nginx now holds:",
			"+ image docker.io/library/nginx:1.27@sha256:222222222222", "+ file /etc/nginx/v2.conf (read)", "Dry run: nothing changed."} {
			if !strings.Contains(out, want) {
				t.Errorf("promote --dry-run lacks %q:\n%s", want, out)
			}
		}
		if after := get(); after.ResourceVersion != before.ResourceVersion {
			t.Error("promote --dry-run changed the policy")
		}
		out = k.ok("enforce", "web-nginx", "--promote", "-n", ns)
		for _, want := range []string{"+ image docker.io/library/nginx:1.27", "web-nginx updated: mode Enforce, action Deny"} {
			if !strings.Contains(out, want) {
				t.Errorf("promote lacks %q:\n%s", want, out)
			}
		}
		pol := get()
		if !slices.Equal(pol.Spec.Images, []v1alpha1.Image{v1, v2}) || pol.Spec.Mode != v1alpha1.ModeEnforce {
			t.Errorf("promoted policy: images %+v, mode %s; want both images, still Enforce", pol.Spec.Images, pol.Spec.Mode)
		}
		if !slices.ContainsFunc(pol.Spec.Files.Allow, func(r v1alpha1.FileRule) bool { return r.Path == "/etc/nginx/v2.conf" }) {
			t.Errorf("the promoted policy does not allow what the new image did: %+v", pol.Spec.Files.Allow)
		}
		// The choice of mode for unknown images stays until given again.
		k.ok("enforce", "web-nginx", "--mode", "enforce", "--unknown-images", "enforce", "-n", ns)
		k.ok("enforce", "web-nginx", "--mode", "enforce", "-n", ns)
		if pol := get(); pol.Spec.UnknownImages != v1alpha1.ModeEnforce {
			t.Errorf("unknownImages %q after an enforce without --unknown-images, want Enforce kept", pol.Spec.UnknownImages)
		}
		k.fails(2, []string{"enforce", "web-nginx", "--unknown-images", "kill", "-n", ns}, `--unknown-images "kill": use audit`)
		// A policy of the name from elsewhere is not promoted either.
		create(t, &v1alpha1.EnforcementPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "handmade", Namespace: ns},
			Spec:       v1alpha1.EnforcementPolicySpec{Images: []v1alpha1.Image{v1}, Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}},
		})
		r := k.fails(1, []string{"enforce", "web-nginx", "--name", "handmade", "--promote", "-n", ns}, "EnforcementPolicy handmade in namespace "+ns+" was not generated from a profile")
		if strings.Contains(r.stdout, "Promoting") {
			t.Errorf("a policy that is not the profile's was shown as promoted:\n%s", r.stdout)
		}
	})

	t.Run("violations", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		now := time.Now().Truncate(time.Second)
		create(t,
			violationEvent(ns, "v2", "web-1", "open /etc/shadow (read): not in the policy, denied (policy web-nginx)", now.Add(-5*time.Minute), 3),
			violationEvent(ns, "v1", "web-2", "exec /bin/sh: not in the policy, would be denied (policy web-nginx)", now.Add(-2*time.Hour), 1),
		)
		other := violationEvent(ns, "pulled", "web-1", "Successfully pulled image", now, 1)
		other.Reason = "Pulled"
		create(t, other)

		out := k.ok("violations", "-n", ns)
		want := now.Add(-2*time.Hour).UTC().Format(time.RFC3339) + "  web-2  exec /bin/sh: not in the policy, would be denied (policy web-nginx)\n" +
			now.Add(-5*time.Minute).UTC().Format(time.RFC3339) + "  web-1  open /etc/shadow (read): not in the policy, denied (policy web-nginx) (3 times)\n"
		if out != want {
			t.Errorf("violations:\n%s\nwant\n%s", out, want)
		}
		if out := k.ok("violations", "-n", ns, "--since", "30m"); strings.Contains(out, "web-2") || !strings.Contains(out, "web-1") {
			t.Errorf("violations --since 30m:\n%s", out)
		}
		if out := k.ok("violations", "-A"); !strings.Contains(out, ns+"/web-1") {
			t.Errorf("violations -A does not name the namespace:\n%s", out)
		}
		empty := envtest.Namespace(t, c)
		if r := k.run("violations", "-n", empty); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No policy violations in namespace "+empty) {
			t.Errorf("violations in an empty namespace: %+v", r)
		}

		// -f prints what there is, then each new violation, until interrupted.
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stdout := &agenttest.SyncBuffer{}
		done := make(chan kubeRun, 1)
		go func() { done <- k.runContext(fctx, stdout, "violations", "-f", "-n", ns) }()
		waitFor(t, stdout, "web-1")
		create(t, violationEvent(ns, "v3", "web-3", "connect 203.0.113.5:443 (TCP): not in the policy, denied (policy web-nginx)", time.Now(), 1))
		waitFor(t, stdout, "web-3  connect 203.0.113.5:443")
		cancel()
		select {
		case r := <-done:
			if r.code != 0 {
				t.Errorf("violations -f ended with exit %d on interrupt: %s", r.code, r.stderr)
			}
			if n := strings.Count(r.stdout, "\n"); n != 3 {
				t.Errorf("violations -f printed %d lines, want 3:\n%s", n, r.stdout)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("violations -f did not stop when interrupted")
		}
	})

	t.Run("unreachable cluster", func(t *testing.T) {
		addr := agenttest.FreeAddr(t) // nothing listens there
		bad := filepath.Join(t.TempDir(), "unreachable")
		server := regexp.MustCompile(`(?m)^(\s*server:\s*).*$`)
		if !server.Match(env.KubeConfig()) {
			t.Fatalf("the kubeconfig names no server:\n%s", env.KubeConfig())
		}
		cfg := server.ReplaceAllString(string(env.KubeConfig()), "${1}https://"+addr)
		if err := os.WriteFile(bad, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		k := kubeCLI{t, bad}
		for _, args := range [][]string{{"get", "profiles"}, {"status"}, {"violations"}, {"record", "deployment/web"}} {
			k.fails(1, args, "cannot reach the API server at https://"+addr+" (kubeconfig "+bad)
		}
		k = kubeCLI{t, filepath.Join(t.TempDir(), "missing")}
		k.fails(1, []string{"status"}, "kubeconfig "+k.kubeconfig)
	})

	t.Run("as kubectl-footprint", func(t *testing.T) {
		k := kubeCLI{t, kubeconfig}
		ns := envtest.Namespace(t, c)
		create(t, webDeployment(ns))
		clusterProfile(t, c, ns, "web", true)
		dir := t.TempDir()
		plugin := filepath.Join(dir, kubectlPluginName)
		if err := os.Symlink(footprintBinary(t), plugin); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			args []string
			same []string // the same verb in-process under footprint kube
		}{
			{[]string{"get", "profiles", "-n", ns}, nil},
			{[]string{"export", "securitycontext", "web-nginx", "-n", ns}, nil},
			{[]string{"record", "deployment/web", "-n", ns, "--duration", "10m"}, nil},
			{[]string{"status", "-n", ns, "-o", "yaml"}, []string{"status", "-n", ns, "-o", "yaml"}},
		} {
			r := runBinary(t, []string{plugin}, nil, append(tc.args, "--kubeconfig", kubeconfig)...)
			if r.code != 0 {
				t.Fatalf("kubectl-footprint %v: exit %d: %s", tc.args, r.code, r.stderr)
			}
			if tc.same == nil {
				tc.same = tc.args
			}
			if tc.args[0] == "record" {
				if !strings.Contains(r.stdout, "Follow it:     kubectl footprint status web -n "+ns) {
					t.Errorf("kubectl-footprint record does not say how to follow it with kubectl:\n%s", r.stdout)
				}
				continue
			}
			want := k.ok(tc.same...)
			for retry := 0; r.stdout != want && retry < 2 && strings.Contains(want, " AGE "); retry++ {
				// Each run reads the ages anew: a second may turn
				// between the two (0s against 1s).
				r = runBinary(t, []string{plugin}, nil, append(tc.args, "--kubeconfig", kubeconfig)...)
				want = k.ok(tc.same...)
			}
			if r.stdout != want {
				t.Errorf("kubectl-footprint %v printed\n%s\nwant what footprint kube prints:\n%s", tc.args, r.stdout, want)
			}
		}
		help := runBinary(t, []string{plugin}, nil, "--help")
		if !strings.Contains(help.stdout, "kubectl footprint [command]") || strings.Contains(help.stdout, "footprint kube") {
			t.Errorf("kubectl-footprint --help does not present itself as kubectl footprint:\n%s", help.stdout)
		}
		r := runBinary(t, []string{plugin}, nil, "get", "profiles", "-o", "wide", "--kubeconfig", kubeconfig)
		failsClearly(t, r, 2, `-o "wide"`, "Run 'kubectl footprint get profiles --help' for usage.")

		// kubectl itself finds the plugin on $PATH, when there is a kubectl.
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Log("no kubectl on $PATH: not running the plugin through kubectl")
			return
		}
		cmd := exec.Command(kubectl, "footprint", "get", "profiles", "-n", ns, "--kubeconfig", kubeconfig)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
		before := k.ok("get", "profiles", "-n", ns)
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl footprint get profiles: %v", err)
		}
		// The AGE column may turn a second between the two.
		if after := k.ok("get", "profiles", "-n", ns); string(got) != before && string(got) != after {
			t.Errorf("kubectl footprint get profiles printed\n%s\nwant\n%s", got, after)
		}
	})
}

// webDeployment is Deployment web with containers app and sidecar and an
// init container setup, selecting app=web.
func webDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "setup", Image: "busybox"}},
					Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}},
				},
			},
		},
	}
}

// reportCronJob is CronJob report, whose pods are labelled job=report,team=finance.
func reportCronJob(ns string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": "report", "team": "finance"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "report", Image: "report"}},
				},
			}}},
		},
	}
}

// clusterProfile creates the generator's fixture profile in namespace ns,
// with its status summary when summarize is set.
func clusterProfile(t *testing.T, c client.Client, ns, fixtureName string, summarize bool) *v1alpha1.Profile {
	t.Helper()
	p, err := profiles.LoadFile(fixture(fixtureName))
	if err != nil {
		t.Fatal(err)
	}
	p.Namespace = ns
	if err := c.Create(context.Background(), p); err != nil {
		t.Fatalf("create profile %s: %v", p.Name, err)
	}
	if summarize {
		p.Summarize()
		if err := c.Status().Update(context.Background(), p); err != nil {
			t.Fatalf("store the summary of profile %s: %v", p.Name, err)
		}
	}
	return p
}

// writeProfileFile writes a Profile of the cluster to a file, as a user
// would with kubectl get -o yaml.
func writeProfileFile(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	p := &v1alpha1.Profile{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	withKind(p)
	data, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// violationEvent is an Event as the agents report a violation.
func violationEvent(ns, name, pod, message string, last time.Time, count int32) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: ns, Name: pod},
		Reason:         v1alpha1.ViolationEventReason,
		Message:        message,
		Type:           corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "footprint-agent", Host: "node-a"},
		FirstTimestamp: metav1.NewTime(last.Add(-time.Minute)),
		LastTimestamp:  metav1.NewTime(last),
		Count:          count,
	}
}

func recordingAt(created metav1.Time, d time.Duration, status v1alpha1.ProfileRecordingStatus) v1alpha1.ProfileRecording {
	r := v1alpha1.ProfileRecording{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}, Status: status}
	if d > 0 {
		r.Spec.Duration = &metav1.Duration{Duration: d}
	}
	return r
}

func ptrTo[T any](v T) *T { return &v }

// cells splits a table row into its trimmed cells.
func cells(row string) []string {
	var out []string
	for _, c := range strings.Split(strings.Trim(strings.TrimSpace(row), "│"), "│") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// lineWith returns the line of out that contains s.
func lineWith(t *testing.T, out, s string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	t.Fatalf("no line with %q in:\n%s", s, out)
	return ""
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitFor waits until a running command has printed want.
func waitFor(t *testing.T, out *agenttest.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %q; printed so far:\n%s", want, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
