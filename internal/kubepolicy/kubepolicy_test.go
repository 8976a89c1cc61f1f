package kubepolicy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/envtest"
)

// env is one control plane shared by the tests of this package; each test
// works in a namespace of its own.
var env *envtest.Environment

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the control plane's start logs nothing a test needs
	e, err := envtest.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
	}
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// generated is the policy the plugin generates from a fixture profile, in
// namespace, as it states it to the API server.
func generated(t *testing.T, fixture, namespace string, opts generator.PolicyOptions) *v1alpha1.EnforcementPolicy {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.LoadFile(filepath.Join(root, "generator", "testdata", "profiles", fixture+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := generator.Policy(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	g.Policy.Namespace = namespace
	// Stated in full, as the API server defaults them (the plugin states
	// the first, and carries the policy's current choice of the second
	// over): applying the same policy again changes nothing.
	g.Policy.Spec.Unpreventable = v1alpha1.UnpreventableAudit
	if g.Policy.Spec.UnknownImages == "" {
		g.Policy.Spec.UnknownImages = v1alpha1.ModeAudit
	}
	return g.Policy
}

func stored(t *testing.T, ctx context.Context, key client.ObjectKey) *v1alpha1.EnforcementPolicy {
	t.Helper()
	var p v1alpha1.EnforcementPolicy
	if err := env.Client.Get(ctx, key, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestApplyCreatesThenUpdatesOnlyWhatItGenerated runs the plugin's
// create-or-update rule against a real API server.
func TestApplyCreatesThenUpdatesOnlyWhatItGenerated(t *testing.T) {
	ctx := testContext(t)
	c := env.Client
	ns := envtest.Namespace(t, c)
	want := generated(t, "web", ns, generator.PolicyOptions{})
	key := client.ObjectKeyFromObject(want)

	// A dry run creates nothing.
	what, before, err := Apply(ctx, c, want, true)
	if err != nil || what != Created || before != nil {
		t.Fatalf("dry-run create: %s, %v, %v; want created", what, before, err)
	}
	if err := c.Get(ctx, key, &v1alpha1.EnforcementPolicy{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a dry run the policy exists (%v)", err)
	}

	what, before, err = Apply(ctx, c, want, false)
	if err != nil || what != Created || before != nil {
		t.Fatalf("create: %s, %v, %v; want created", what, before, err)
	}
	if got := stored(t, ctx, key); got.Spec.Mode != v1alpha1.ModeAudit || got.Annotations[generator.AnnotationProfile] != want.Spec.Profile {
		t.Fatalf("stored policy: mode %s, annotations %v; want Audit, from profile %s", got.Spec.Mode, got.Annotations, want.Spec.Profile)
	}
	if what, _, err := Apply(ctx, c, want, false); err != nil || what != Unchanged {
		t.Fatalf("the same policy again: %s, %v; want unchanged", what, err)
	}

	// What others wrote -- an annotation, the agents' status -- stays.
	cur := stored(t, ctx, key)
	cur.Annotations["team"] = "shop"
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.ObservedGeneration = cur.Generation
	cur.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Loaded", Message: "loaded", LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	enforce := generated(t, "web", ns, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if what, before, err := Apply(ctx, c, enforce, true); err != nil || what != Updated || before == nil || before.Mode != v1alpha1.ModeAudit {
		t.Fatalf("dry-run update: %s, %+v, %v; want updated from Audit", what, before, err)
	}
	if got := stored(t, ctx, key); got.Spec.Mode != v1alpha1.ModeAudit {
		t.Fatalf("a dry-run update changed the mode to %s", got.Spec.Mode)
	}
	what, before, err = Apply(ctx, c, enforce, false)
	if err != nil || what != Updated || before == nil || before.Mode != v1alpha1.ModeAudit {
		t.Fatalf("update: %s, %+v, %v; want updated from Audit", what, before, err)
	}
	got := stored(t, ctx, key)
	if got.Spec.Mode != v1alpha1.ModeEnforce || got.Annotations["team"] != "shop" || len(got.Status.Conditions) != 1 {
		t.Errorf("updated policy: mode %s, annotations %v, conditions %v; want Enforce with the team annotation and the Ready condition kept",
			got.Spec.Mode, got.Annotations, got.Status.Conditions)
	}
}

func TestApplyLeavesAPolicyOfAnotherOriginAlone(t *testing.T) {
	ctx := testContext(t)
	c := env.Client
	ns := envtest.Namespace(t, c)
	handmade := generated(t, "web", ns, generator.PolicyOptions{Name: "handmade"})
	handmade.Annotations = nil
	handmade.Spec.Profile = ""
	if err := c.Create(ctx, handmade); err != nil {
		t.Fatal(err)
	}
	other := generated(t, "worker", ns, generator.PolicyOptions{Name: "shared"})
	if err := c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, says string }{
		{"handmade", "", "was not generated from a profile"},
		{"shared", other.Spec.Profile, "was generated from profile " + other.Spec.Profile},
	} {
		want := generated(t, "web", ns, generator.PolicyOptions{Name: tc.name})
		what, _, err := Apply(ctx, c, want, false)
		var notOurs *NotFromProfileError
		if !errors.As(err, &notOurs) || notOurs.From != tc.from || !strings.Contains(err.Error(), tc.says+", not from "+want.Spec.Profile+": footprint leaves it alone") {
			t.Errorf("apply over %s: %s, %v; want a NotFromProfileError saying it %s", tc.name, what, err, tc.says)
		}
	}
	if got := stored(t, ctx, client.ObjectKeyFromObject(handmade)); got.Spec.Profile != "" || got.Annotations[generator.AnnotationProfile] != "" {
		t.Errorf("the handmade policy was changed: %+v", got)
	}
}

func TestSeccompProfileOfIsThatOfThePolicyWithSystemCallRules(t *testing.T) {
	ctx := testContext(t)
	c := env.Client
	ns := envtest.Namespace(t, c)
	web := generated(t, "web", ns, generator.PolicyOptions{})
	api := generated(t, "api", ns, generator.PolicyOptions{})
	if web.Spec.Syscalls != nil || api.Spec.Syscalls == nil {
		t.Fatalf("fixtures: the web policy restricts system calls (%v) or the api policy does not (%v)", web.Spec.Syscalls != nil, api.Spec.Syscalls != nil)
	}
	for _, p := range []*v1alpha1.EnforcementPolicy{web, api} {
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for profile, want := range map[string]string{
		api.Spec.Profile: generator.SeccompLocalhostProfile(ns, api.Name),
		web.Spec.Profile: "",
		"nothing":        "",
	} {
		if got, err := SeccompProfileOf(ctx, c, ns, profile); err != nil || got != want {
			t.Errorf("SeccompProfileOf(%s) = %q, %v; want %q", profile, got, err, want)
		}
	}
}
