package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/test/envtest"
)

// TestSeccompProfilesAreInstalledAndKeptWhileNamed runs the agent's seccomp
// profile installer against a real API server: a policy with system call
// rules gets its Localhost profile on the node, a change of mode rewrites
// it, and once the policy is deleted the profile stays while a Deployment's
// pod template still names it (new replicas would not start without it),
// and goes when nothing names it.
func TestSeccompProfilesAreInstalledAndKeptWhileNamed(t *testing.T) {
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	mgr, startManager := envtest.NodeManager(t, env, "node-a")
	s := &SeccompProfiles{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Dir: dir, Log: logr.Discard(), Recheck: 200 * time.Millisecond}
	if err := s.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager()

	rel := generator.SeccompLocalhostProfile(ns, "web")
	file := filepath.Join(dir, rel)
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	profile := func() *generator.SeccompProfile {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil
		}
		var p generator.SeccompProfile
		if json.Unmarshal(b, &p) != nil {
			return nil
		}
		return &p
	}

	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeAudit, Syscalls: &v1alpha1.SyscallRules{
			Allow: []v1alpha1.SyscallSet{{Arch: v1alpha1.ArchX86_64, Names: []string{"read", "write", "exit_group"}}},
		}},
	}
	if err := env.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	eventually("the audit profile is installed", func() bool {
		p := profile()
		return p != nil && p.DefaultAction == generator.ScmpActLog && slices.Contains(p.Syscalls[0].Names, "write")
	})
	policy.Spec.Mode = v1alpha1.ModeEnforce
	if err := env.Client.Update(ctx, policy); err != nil {
		t.Fatal(err)
	}
	eventually("the profile refuses in Enforce mode", func() bool {
		p := profile()
		return p != nil && p.DefaultAction == generator.ScmpActErrno
	})

	// A Deployment names the profile; the policy goes.
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app",
				SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &rel}}}}},
		}},
	}
	if err := env.Client.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, policy); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if profile() == nil {
		t.Fatal("the profile was removed while a Deployment's pod template names it")
	}
	if err := env.Client.Delete(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	eventually("the profile nothing names is removed", func() bool {
		_, err := os.Stat(file)
		return errors.Is(err, os.ErrNotExist)
	})
}
