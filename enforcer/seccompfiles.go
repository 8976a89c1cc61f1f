package enforcer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/kubepods"
)

// DefaultSeccompDir is kubelet's seccomp directory: Localhost profiles are
// named relative to it.
const DefaultSeccompDir = "/var/lib/kubelet/seccomp"

// SeccompProfiles keeps, on its node, the Localhost seccomp profile of
// every EnforcementPolicy in the cluster that restricts system calls:
// DIR/footprint/NAMESPACE/NAME.json, which pods name with
// seccompProfile {type: Localhost, localhostProfile: footprint/NAMESPACE/NAME.json}.
// Every node gets every profile, so that a pod may be scheduled anywhere,
// nodes that join later included; the runtime reads the file when a
// container starts and holds it to the filter for its life.
//
// A pod whose Localhost file is missing does not start (CreateContainerError;
// kubelet does not fall back), so a profile outlives its policy while any
// pod on this node or any workload's pod template in its namespace still
// names it, and goes only after.
type SeccompProfiles struct {
	Client    client.Client
	APIReader client.Reader
	// Dir is kubelet's seccomp directory; empty means DefaultSeccompDir.
	Dir string
	Log logr.Logger
	// Recheck is how often profiles kept for references are looked at
	// again; 0 means a minute.
	Recheck time.Duration
}

var seccompKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "seccomp"}}

// SetupWithManager reconciles on every policy change and every pod change
// on this node (the manager's cache holds only those).
func (s *SeccompProfiles) SetupWithManager(mgr ctrl.Manager) error {
	if s.Dir == "" {
		s.Dir = DefaultSeccompDir
	}
	if s.Recheck == 0 {
		s.Recheck = time.Minute
	}
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{seccompKey}
	})
	return builder.ControllerManagedBy(mgr).
		Named("seccompprofiles").
		Watches(&v1alpha1.EnforcementPolicy{}, toKey).
		Watches(&corev1.Pod{}, toKey).
		Complete(s)
}

// Reconcile writes the profile of every policy with system call rules and
// removes the profiles nothing needs anymore.
func (s *SeccompProfiles) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var policies v1alpha1.EnforcementPolicyList
	if err := s.Client.List(ctx, &policies); err != nil {
		return reconcile.Result{}, err
	}
	want := map[string][]byte{}
	var errs []error
	for i := range policies.Items {
		p := &policies.Items[i]
		if p.Spec.Syscalls == nil || !p.DeletionTimestamp.IsZero() {
			continue
		}
		profile, err := generator.SeccompFor(p.Spec.Syscalls.Allow, generator.SeccompOptions{Mode: p.Spec.Mode})
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s/%s: %w", p.Namespace, p.Name, err))
			continue
		}
		b, err := profile.JSON()
		if err != nil {
			return reconcile.Result{}, err
		}
		want[generator.SeccompLocalhostProfile(p.Namespace, p.Name)] = b
	}
	for rel, b := range want {
		if err := s.write(rel, b); err != nil {
			errs = append(errs, err)
		}
	}
	installed, err := s.installed()
	if err != nil {
		return reconcile.Result{}, err
	}
	kept := false
	for _, rel := range installed {
		if _, ok := want[rel]; ok {
			continue
		}
		users, err := s.users(ctx, rel)
		if err != nil {
			errs = append(errs, err)
			kept = true
			continue
		}
		if len(users) > 0 {
			s.Log.Info("keeping the seccomp profile of a deleted policy: still named", "profile", rel, "by", strings.Join(users, ", "))
			kept = true
			continue
		}
		if err := os.Remove(filepath.Join(s.Dir, rel)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		s.Log.Info("removed the seccomp profile of a deleted policy", "profile", rel)
	}
	var res reconcile.Result
	if kept {
		res.RequeueAfter = s.Recheck
	}
	return res, errors.Join(errs...)
}

// write installs a profile atomically (a runtime may read it at any time),
// leaving it alone when it holds the same already.
func (s *SeccompProfiles) write(rel string, b []byte) error {
	path := filepath.Join(s.Dir, rel)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install seccomp profile %s: %w", rel, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("install seccomp profile %s: %w", rel, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install seccomp profile %s: %w", rel, err)
	}
	s.Log.Info("installed seccomp profile", "profile", rel)
	return nil
}

// installed lists the profiles footprint has installed, relative to Dir.
func (s *SeccompProfiles) installed() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(s.Dir, "footprint", "*", "*.json"))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i], _ = filepath.Rel(s.Dir, f)
	}
	return out, nil
}

// users names what still refers to a profile: pods on this node, and pod
// templates of the workloads in the profile's namespace (a Deployment that
// names it starts new replicas with it, on any node).
func (s *SeccompProfiles) users(ctx context.Context, rel string) ([]string, error) {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 {
		return nil, nil
	}
	ns := parts[1]
	var users []string
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && namesSeccomp(&p.Spec, rel) {
			users = append(users, "pod "+p.Name)
		}
	}
	// Workloads are not in the node's cache: read them directly.
	templates, err := kubepods.PodTemplates(ctx, s.APIReader, ns)
	if err != nil {
		return nil, err
	}
	for name, spec := range templates {
		if namesSeccomp(spec, rel) {
			users = append(users, name)
		}
	}
	slices.Sort(users)
	return users, nil
}

// namesSeccomp says whether a pod spec names the Localhost profile rel, for
// the pod or any of its containers.
func namesSeccomp(spec *corev1.PodSpec, rel string) bool {
	names := func(p *corev1.SeccompProfile) bool {
		return p != nil && p.Type == corev1.SeccompProfileTypeLocalhost && p.LocalhostProfile != nil && *p.LocalhostProfile == rel
	}
	if spec.SecurityContext != nil && names(spec.SecurityContext.SeccompProfile) {
		return true
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			if c.SecurityContext != nil && names(c.SecurityContext.SeccompProfile) {
				return true
			}
		}
	}
	return false
}
