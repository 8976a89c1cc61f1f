package envtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// wantColumns are the columns `kubectl get` shows for each resource (the
// name column comes first and is not listed); wide ones (-o wide) are marked.
var wantColumns = map[string][]string{
	"profiles.footprint.dev":            {"Workload", "Kind (wide)", "Container", "Caps", "Files", "Conns", "Execs", "Syscalls", "Recording", "Pods (wide)", "Nodes (wide)", "Images (wide)", "Last Seen (wide)", "Age"},
	"profilerecordings.footprint.dev":   {"Phase", "Pods", "Containers", "Duration", "Stops", "Ended", "Events (wide)", "Lost (wide)", "Age"},
	"enforcementpolicies.footprint.dev": {"Mode", "Action", "Profile", "Workload", "Unknown Images (wide)", "Routes (wide)", "Containers (wide)", "Ready", "Age"},
}

func TestPrinterColumnsAreServed(t *testing.T) {
	for name, want := range wantColumns {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx(t), types.NamespacedName{Name: name}, &crd); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			n := c.Name
			if c.Priority > 0 {
				n += " (wide)"
			}
			got = append(got, n)
			if c.Description == "" && c.Name != "Age" && c.Name != "Container" {
				t.Errorf("%s: column %s has no description", name, c.Name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s columns:\n got  %v\n want %v", name, got, want)
		}
		if crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
			t.Errorf("%s has no status subresource", name)
		}
	}
}

// table asks the API server for what `kubectl get` prints: the server-side
// Table of a resource in a namespace.
func table(t *testing.T, cfg *rest.Config, resource, ns string) *metav1.Table {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/apis/footprint.dev/v1alpha1/namespaces/%s/%s?includeObject=None", strings.TrimRight(cfg.Host, "/"), ns, resource)
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	var tab metav1.Table
	if err := json.Unmarshal(body, &tab); err != nil {
		t.Fatal(err)
	}
	return &tab
}

// row returns the named row of a table as column name -> printed cell.
func row(t *testing.T, tab *metav1.Table, name string) map[string]string {
	t.Helper()
	for _, r := range tab.Rows {
		if fmt.Sprint(r.Cells[0]) != name {
			continue
		}
		out := map[string]string{}
		for i, c := range tab.ColumnDefinitions {
			if r.Cells[i] == nil {
				out[c.Name] = "<none>"
			} else {
				out[c.Name] = fmt.Sprint(r.Cells[i])
			}
		}
		return out
	}
	t.Fatalf("no row %s in the table", name)
	return nil
}

func checkRow(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: column %s is %q, want %q (row %v)", what, k, got[k], v, got)
		}
	}
}

func TestKubectlGetShowsTheColumns(t *testing.T) {
	ns := envtest.Namespace(t, env.Client)
	c := env.Client

	// kubectl get profiles: a recorded Profile with its summary.
	p, err := profiles.LoadFile(repoPath(t, "generator/testdata/profiles/web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.Namespace = ns
	if err := c.Create(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	p.Summarize()
	if err := c.Status().Update(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	checkRow(t, "kubectl get profiles", row(t, table(t, env.Config, "profiles", ns), "web-nginx"), map[string]string{
		"Workload": "web", "Kind": "Deployment", "Container": "nginx", "Caps": "6", "Files": "13",
		"Conns": "4", "Execs": "3", "Recording": "web", "Pods": "2", "Nodes": "2",
	})

	// kubectl get profilerecordings: one recording, and one finished.
	rec := &v1alpha1.ProfileRecording{Spec: v1alpha1.ProfileRecordingSpec{Duration: &metav1.Duration{Duration: time.Hour}}}
	rec.Name, rec.Namespace = "web", ns
	if err := c.Create(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	start := metav1.Now()
	stop := metav1.NewTime(start.Add(time.Hour))
	rec.Status = v1alpha1.ProfileRecordingStatus{
		Phase: v1alpha1.RecordingActive, StartTime: &start, StopTime: &stop, MatchedPods: 2, MatchedContainers: 3,
		Containers: []v1alpha1.RecordedContainer{
			{Pod: "web-1", Container: "nginx", Node: "node-a", Profile: "web-nginx"},
			{Pod: "web-1", Container: "sidecar", Node: "node-a", Profile: "web-sidecar"},
			{Pod: "web-2", Container: "nginx", Node: "node-b", Profile: "web-nginx"},
		},
		Profiles: []string{"web-nginx", "web-sidecar"},
		Events:   1234, LostRecords: 1,
		Nodes: []v1alpha1.RecordingNodeStatus{{Node: "node-a", Containers: 2, Events: 1000}, {Node: "node-b", Containers: 1, Events: 234, LostRecords: 1}},
	}
	if err := c.Status().Update(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	done := &v1alpha1.ProfileRecording{}
	done.Name, done.Namespace = "batch", ns
	if err := c.Create(ctx(t), done); err != nil {
		t.Fatal(err)
	}
	ended := metav1.NewTime(time.Now().Add(-30 * time.Hour))
	done.Status = v1alpha1.ProfileRecordingStatus{Phase: v1alpha1.RecordingCompleted, StartTime: &ended, EndTime: &ended, MatchedPods: 1, MatchedContainers: 1}
	if err := c.Status().Update(ctx(t), done); err != nil {
		t.Fatal(err)
	}
	tab := table(t, env.Config, "profilerecordings", ns)
	checkRow(t, "kubectl get profilerecordings", row(t, tab, "web"), map[string]string{
		"Phase": "Recording", "Pods": "2", "Containers": "3", "Duration": "1h0m0s",
		"Stops": stop.UTC().Format(time.RFC3339), "Ended": "<none>", "Events": "1234", "Lost": "1",
	})
	checkRow(t, "kubectl get profilerecordings", row(t, tab, "batch"), map[string]string{
		"Phase": "Completed", "Containers": "1", "Duration": "<none>", "Ended": "30h",
	})

	// kubectl get enforcementpolicies
	pol := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{
		Selector: &v1alpha1.PolicySelector{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, Containers: []string{"nginx"}},
		Mode:     v1alpha1.ModeEnforce, Profile: "web-nginx",
	}}
	pol.Name, pol.Namespace = "web-nginx", ns
	if err := c.Create(ctx(t), pol); err != nil {
		t.Fatal(err)
	}
	pol.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Loaded", Message: "loaded on 2 nodes", LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx(t), pol); err != nil {
		t.Fatal(err)
	}
	checkRow(t, "kubectl get enforcementpolicies", row(t, table(t, env.Config, "enforcementpolicies", ns), "web-nginx"), map[string]string{
		"Mode": "Enforce", "Action": "Deny", "Profile": "web-nginx", "Workload": "web", "Containers": `["nginx"]`, "Ready": "True",
	})
}

// kubectl get footprint lists all three kinds; each has short names and a
// status subresource, and is namespaced.
func TestDiscoveryShowsCategoryShortNamesAndStatus(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"profilerecordings":   {"prec", "fpr"},
		"profiles":            {"prof", "fpp"},
		"enforcementpolicies": {"epol", "fpe"},
	}
	seen := map[string]bool{}
	for _, r := range list.APIResources {
		seen[r.Name] = true
		short, ok := want[r.Name]
		if !ok {
			continue
		}
		if !slices.Equal(r.ShortNames, short) {
			t.Errorf("%s: short names %v, want %v", r.Name, r.ShortNames, short)
		}
		if !slices.Contains(r.Categories, "footprint") {
			t.Errorf("%s: categories %v lack footprint", r.Name, r.Categories)
		}
		if !r.Namespaced {
			t.Errorf("%s is cluster-scoped", r.Name)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s is not served", name)
		}
		if !seen[name+"/status"] {
			t.Errorf("%s/status is not served", name)
		}
	}
}

// kubectl explain teaches the API only when every field says what it is.
func TestEveryFieldIsDocumented(t *testing.T) {
	var list apiextensionsv1.CustomResourceDefinitionList
	if err := env.Client.List(ctx(t), &list, client.MatchingLabels{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, crd := range list.Items {
		if crd.Spec.Group != v1alpha1.GroupVersion.Group {
			continue
		}
		for _, v := range crd.Spec.Versions {
			n++
			var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
			walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
				if s.Description == "" && path != "metadata" {
					t.Errorf("%s %s: no description (kubectl explain %s.%s shows nothing)", crd.Spec.Names.Kind, path, crd.Spec.Names.Singular, path)
				}
				if path == "metadata" {
					return
				}
				for name, p := range s.Properties {
					p := p
					sub := name
					if path != "" {
						sub = path + "." + name
					}
					walk(sub, &p)
				}
				if s.Items != nil && s.Items.Schema != nil {
					for name, p := range s.Items.Schema.Properties {
						p := p
						walk(path+"."+name, &p)
					}
				}
				if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
					for name, p := range s.AdditionalProperties.Schema.Properties {
						p := p
						walk(path+".*."+name, &p)
					}
				}
			}
			root := v.Schema.OpenAPIV3Schema
			for name, p := range root.Properties {
				p := p
				walk(name, &p)
			}
			if root.Description == "" {
				t.Errorf("%s: no description of the kind", crd.Spec.Names.Kind)
			}
		}
	}
	if n != 3 {
		t.Errorf("found %d footprint CRD versions, want 3", n)
	}
}
