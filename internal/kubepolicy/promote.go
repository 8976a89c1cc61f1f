package kubepolicy

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Given says which of a policy's settings the user gave on this run; the
// others are kept from the policy in force where the rule says so.
type Given struct {
	Mode, Action, Unpreventable, UnknownImages bool
}

// NothingToPromoteError is a promotion asked of a policy that does not
// exist yet.
type NothingToPromoteError struct{ Name, Namespace string }

func (e *NothingToPromoteError) Error() string {
	return fmt.Sprintf("there is no EnforcementPolicy %s in namespace %s to promote", e.Name, e.Namespace)
}

// UnpromotedImagesError is a regenerated policy that would bind the
// policy in force to images it was not recorded from without a promotion:
// pods running them stay held as the policy's spec.unknownImages says
// until a person promotes it.
type UnpromotedImagesError struct {
	Profile, Policy string
	Added           []v1alpha1.Image
	// Held is how pods running the added images are held meanwhile.
	Held v1alpha1.EnforcementMode
}

func (e *UnpromotedImagesError) Error() string {
	names := make([]string, len(e.Added))
	for i, img := range e.Added {
		names[i] = profiles.ImageString(img)
	}
	return fmt.Sprintf("profile %s holds images that EnforcementPolicy %s was not recorded from (%s); pods running them are held as its spec.unknownImages says (%s) until a person promotes the policy",
		e.Profile, e.Policy, strings.Join(names, ", "), e.Held)
}

// Settle decides, from the policy in force (current, nil when there is
// none), what a policy freshly generated from its profile (want) must
// keep, changing want in place:
//   - spec.unknownImages stays the policy's until it is given again;
//   - a promotion keeps the mode, action and unpreventable choice in force
//     unless given, and needs a policy to promote;
//   - without a promotion, want may not bind the policy in force to new
//     images (UnpromotedImagesError).
//
// A policy of that name generated from another profile is Apply's to
// refuse: Settle leaves want as generated for it.
func Settle(current, want *v1alpha1.EnforcementPolicy, promote bool, given Given) error {
	ours := current != nil && ProfileOf(current) == want.Spec.Profile
	if current != nil && !given.UnknownImages {
		want.Spec.UnknownImages = current.Spec.UnknownImages
	}
	switch {
	case promote && current != nil && !ours:
	case promote:
		if current == nil {
			return &NothingToPromoteError{Name: want.Name, Namespace: want.Namespace}
		}
		if !given.Mode {
			want.Spec.Mode = current.Spec.Mode
		}
		if !given.Action {
			want.Spec.Action = current.Spec.Action
		}
		if !given.Unpreventable {
			want.Spec.Unpreventable = current.Spec.Unpreventable
		}
	case ours && len(current.Spec.Images) > 0:
		if added := profiles.NewImages(current.Spec.Images, want.Spec.Images); len(added) > 0 {
			return &UnpromotedImagesError{Profile: want.Spec.Profile, Policy: want.Name, Added: added,
				Held: cmp.Or(current.Spec.UnknownImages, v1alpha1.ModeAudit)}
		}
	}
	return nil
}
