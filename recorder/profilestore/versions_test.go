package profilestore

import (
	"errors"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/lossless"
	"github.com/footprint-dev/footprint/test/envtest"
)

// newerProfileSchema gives the Profile CRD a field this build's types lack,
// as a newer footprint's CRD would (a new kind of entry), until the test
// ends.
func newerProfileSchema(t *testing.T, e *envtest.Environment) {
	t.Helper()
	ctx := testContext(t)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: "profiles.footprint.dev"}, crd); err != nil {
		t.Fatal(err)
	}
	original := crd.DeepCopy()
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	spec.Properties["futureEntries"] = apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{
		Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"name": {Type: "string"}}},
	}}
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	if err := e.Client.Update(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cur := &apiextensionsv1.CustomResourceDefinition{}
		if err := e.Client.Get(testContext(t), client.ObjectKey{Name: crd.Name}, cur); err == nil {
			cur.Spec = original.Spec
			e.Client.Update(testContext(t), cur)
		}
	})
}

// During a rolling upgrade or after a rollback, an agent of this version
// (the "old" writer: its types lack the field) meets a Profile a newer one
// wrote a new field into. It must not write the profile (its typed
// read-merge-update would remove the field): the field stays, the write
// fails saying why, and the agent's writer keeps its entries queued.
func TestAnOlderWriterNeverRemovesWhatANewerOneWrote(t *testing.T) {
	e := apiServer(t)
	ns := envtest.Namespace(t, e.Client)
	key := webApp(ns)
	ctx := testContext(t)
	old := NewStore(newClient(t, e.Config), Options{})
	if err := old.Merge(ctx, key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/etc/hosts", 1, "read")}}, source("node-a", "web-1", 1, time.Minute)); err != nil {
		t.Fatalf("the old writer cannot write a profile with nothing it does not know: %v", err)
	}

	newerProfileSchema(t, e)
	// The newer writer adds its field; the API server keeps it once the
	// new schema is in force.
	name := types.NamespacedName{Namespace: ns, Name: stored(t, key).Name}
	patch := []byte(`{"spec":{"futureEntries":[{"name":"from-a-newer-agent"}]}}`)
	hasFuture := func() bool {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Profile"))
		if err := e.Client.Get(ctx, name, u); err != nil {
			t.Fatal(err)
		}
		entries, _, _ := unstructured.NestedSlice(u.Object, "spec", "futureEntries")
		return len(entries) == 1
	}
	for deadline := time.Now().Add(30 * time.Second); !hasFuture(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the API server never kept the newer field")
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Profile"))
		u.SetNamespace(name.Namespace)
		u.SetName(name.Name)
		if err := e.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}

	err := old.Merge(ctx, key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/etc/passwd", 1, "read")}}, source("node-a", "web-1", 2, time.Minute))
	if !errors.Is(err, lossless.ErrUnknownFields) {
		t.Fatalf("the old writer's merge returned %v, want an error wrapping lossless.ErrUnknownFields", err)
	}
	t.Logf("the old writer says: %v", err)
	if !hasFuture() {
		t.Fatal("the old writer removed the field the newer one wrote")
	}
	if _, ok := fileCounts(stored(t, key))["/etc/passwd"]; ok {
		t.Error("the old writer wrote the profile anyway")
	}

	// Its writer keeps the entries for when it is upgraded.
	w := NewWriter(old, WriterOptions{})
	if err := w.Add(key, "rec", v1alpha1.ProfileSpec{Files: []v1alpha1.FileEntry{file("/etc/passwd", 1, "read")}}, source("node-a", "web-1", 2, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err == nil {
		t.Error("the flush succeeded although the profile is a newer writer's")
	}
	if !slices.Contains(w.Pending(), key) {
		t.Errorf("the writer dropped the entries it could not write: pending %v", w.Pending())
	}
	if !hasFuture() {
		t.Fatal("the old writer's flush removed the field the newer one wrote")
	}
}
