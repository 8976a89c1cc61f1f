// Package kubepolicy holds the kubectl plugin's rules for the
// EnforcementPolicies it writes to a cluster: a generated policy is
// created, or replaces the one of its name only when that was generated
// from the same profile (Apply), and the Localhost seccomp profile the
// agents install for a profile's policy is found by the policy
// (SeccompProfileOf). The plugin parses flags and prints; what it asks the
// API server to change is decided here.
package kubepolicy

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/lossless"
)

// Outcome says what Apply did.
type Outcome string

// What Apply did to the policy.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// NotFromProfileError is a policy of the wanted name that was not
// generated from the same profile: Apply leaves it alone.
type NotFromProfileError struct {
	Name, Namespace string
	// From is the profile the existing policy was generated from, ""
	// when it was not generated from one.
	From string
	// Profile is the one the wanted policy was generated from.
	Profile string
}

func (e *NotFromProfileError) Error() string {
	by := "was not generated from a profile"
	if e.From != "" {
		by = "was generated from profile " + e.From
	}
	return fmt.Sprintf("EnforcementPolicy %s in namespace %s %s, not from %s: footprint leaves it alone", e.Name, e.Namespace, by, e.Profile)
}

// ProfileOf is the profile a policy was generated from, if any: the
// generator's annotation, else its spec.profile.
func ProfileOf(p *v1alpha1.EnforcementPolicy) string {
	if from := p.Annotations[generator.AnnotationProfile]; from != "" {
		return from
	}
	return p.Spec.Profile
}

// Apply creates the policy, or updates the one of its name when that was
// generated from the same profile (ProfileOf), keeping its status and
// annotations others wrote; otherwise it returns a NotFromProfileError.
// before is the spec it replaced (nil when it created the policy). An
// update that races with another writer (the agents write the status) is
// retried. With dryRun the API server checks the change and stores
// nothing.
func Apply(ctx context.Context, c client.Client, want *v1alpha1.EnforcementPolicy, dryRun bool) (what Outcome, before *v1alpha1.EnforcementPolicySpec, err error) {
	var createOpts []client.CreateOption
	var updateOpts []client.UpdateOption
	if dryRun {
		createOpts, updateOpts = []client.CreateOption{client.DryRunAll}, []client.UpdateOption{client.DryRunAll}
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current := &v1alpha1.EnforcementPolicy{}
		err := lossless.Get(ctx, c, c.Scheme(), client.ObjectKeyFromObject(want), current)
		if apierrors.IsNotFound(err) {
			what, before = Created, nil
			err := c.Create(ctx, want.DeepCopy(), createOpts...)
			if apierrors.IsAlreadyExists(err) {
				// Created meanwhile: update it on the next round.
				return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("enforcementpolicies").GroupResource(), want.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if from := ProfileOf(current); from != want.Spec.Profile {
			return &NotFromProfileError{Name: want.Name, Namespace: want.Namespace, From: from, Profile: want.Spec.Profile}
		}
		before = current.Spec.DeepCopy()
		updated := current.DeepCopy()
		updated.Spec = want.Spec
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		maps.Copy(updated.Annotations, want.Annotations)
		if equality.Semantic.DeepEqual(current, updated) {
			what = Unchanged
			return nil
		}
		what = Updated
		return c.Update(ctx, updated, updateOpts...)
	})
	var notOurs *NotFromProfileError
	if errors.As(err, &notOurs) {
		return "", nil, err
	}
	if err != nil {
		return "", nil, fmt.Errorf("apply EnforcementPolicy %s in namespace %s: %w", want.Name, want.Namespace, err)
	}
	return what, before, nil
}

// SeccompProfileOf returns the Localhost seccomp profile the node agents
// install for a profile's system calls: that of an EnforcementPolicy in
// namespace made from the profile with system call rules; "" when there is
// none.
func SeccompProfileOf(ctx context.Context, reader client.Reader, namespace, profile string) (string, error) {
	var policies v1alpha1.EnforcementPolicyList
	if err := reader.List(ctx, &policies, client.InNamespace(namespace)); err != nil {
		return "", fmt.Errorf("list EnforcementPolicies in namespace %s: %w", namespace, err)
	}
	for _, pol := range policies.Items {
		if pol.Spec.Profile == profile && pol.Spec.Syscalls != nil {
			return generator.SeccompLocalhostProfile(pol.Namespace, pol.Name), nil
		}
	}
	return "", nil
}
