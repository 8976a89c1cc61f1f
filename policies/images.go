package policies

import (
	"cmp"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// ImageDecision is the mode a policy applies to the containers running one
// image, and why.
type ImageDecision struct {
	// Bound is false when the policy names no images: it applies to any.
	Bound bool
	// Recorded is true when the policy was recorded from the image.
	Recorded bool
	// Mode is the mode that applies: the policy's own, or its
	// unknownImages mode for an image it was not recorded from.
	Mode v1alpha1.EnforcementMode
	// Record is true when the container is to be recorded into the
	// policy's profile, to promote the policy to its image later.
	Record bool
	// Reason says why, for the policy's status.
	Reason string
}

// DecideImage is the mode policy applies to a container running image.
func DecideImage(policy *v1alpha1.EnforcementPolicySpec, image v1alpha1.Image) ImageDecision {
	mode := cmp.Or(policy.Mode, v1alpha1.ModeAudit)
	if len(policy.Images) == 0 {
		return ImageDecision{Recorded: true, Mode: mode, Reason: "the policy is not bound to images (spec.images is empty)"}
	}
	if known, how := profiles.MatchImage(policy.Images, image); known {
		return ImageDecision{Bound: true, Recorded: true, Mode: mode, Reason: how}
	}
	unknown := cmp.Or(policy.UnknownImages, v1alpha1.ModeAudit)
	d := ImageDecision{Bound: true, Mode: mode, Record: unknown == v1alpha1.ModeAudit}
	switch {
	case unknown == v1alpha1.ModeEnforce:
		d.Mode = mode
		d.Reason = "not recorded from this image; spec.unknownImages is Enforce"
	case mode == v1alpha1.ModeAudit:
		d.Reason = "not recorded from this image: recorded into the profile until the policy is promoted (kubectl footprint enforce PROFILE --promote)"
	default:
		d.Mode = v1alpha1.ModeAudit
		d.Reason = "not recorded from this image: held in Audit and recorded into the profile until the policy is promoted (kubectl footprint enforce PROFILE --promote)"
	}
	return d
}
