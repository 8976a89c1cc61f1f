package kubepolicy

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestPureSettleKeepsWhatThePolicyInForceChoseAndRefusesUnpromotedImages(t *testing.T) {
	v1 := v1alpha1.Image{Name: "app:1", Digest: "sha256:1111"}
	v2 := v1alpha1.Image{Name: "app:2", Digest: "sha256:2222"}
	policy := func(profile string, mode v1alpha1.EnforcementMode, unknown v1alpha1.EnforcementMode, images ...v1alpha1.Image) *v1alpha1.EnforcementPolicy {
		return &v1alpha1.EnforcementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: "shop"},
			Spec: v1alpha1.EnforcementPolicySpec{Profile: profile, Mode: mode, Action: v1alpha1.ActionDeny, UnknownImages: unknown, Images: images}}
	}
	cases := []struct {
		name    string
		current *v1alpha1.EnforcementPolicy
		want    *v1alpha1.EnforcementPolicy
		promote bool
		given   Given
		err     any
		mode    v1alpha1.EnforcementMode
		unknown v1alpha1.EnforcementMode
	}{
		{name: "a new policy is created as generated",
			want: policy("web-app", v1alpha1.ModeAudit, ""), mode: v1alpha1.ModeAudit},
		{name: "regenerated from the same images: the generated mode, the unknown-images choice in force",
			current: policy("web-app", v1alpha1.ModeAudit, v1alpha1.ModeEnforce, v1),
			want:    policy("web-app", v1alpha1.ModeEnforce, "", v1), given: Given{Mode: true},
			mode: v1alpha1.ModeEnforce, unknown: v1alpha1.ModeEnforce},
		{name: "an unknown-images choice given replaces the one in force",
			current: policy("web-app", v1alpha1.ModeAudit, v1alpha1.ModeEnforce, v1),
			want:    policy("web-app", v1alpha1.ModeAudit, v1alpha1.ModeAudit, v1), given: Given{UnknownImages: true},
			mode: v1alpha1.ModeAudit, unknown: v1alpha1.ModeAudit},
		{name: "a new image without a promotion is refused",
			current: policy("web-app", v1alpha1.ModeEnforce, "", v1),
			want:    policy("web-app", v1alpha1.ModeAudit, "", v1, v2),
			err:     new(*UnpromotedImagesError)},
		{name: "a promotion keeps the mode in force unless given",
			current: policy("web-app", v1alpha1.ModeEnforce, "", v1),
			want:    policy("web-app", v1alpha1.ModeAudit, "", v1, v2), promote: true,
			mode: v1alpha1.ModeEnforce},
		{name: "a promotion with a mode given takes it",
			current: policy("web-app", v1alpha1.ModeEnforce, "", v1),
			want:    policy("web-app", v1alpha1.ModeAudit, "", v1, v2), promote: true, given: Given{Mode: true},
			mode: v1alpha1.ModeAudit},
		{name: "a promotion needs a policy",
			want: policy("web-app", v1alpha1.ModeAudit, "", v1), promote: true,
			err: new(*NothingToPromoteError)},
		{name: "a policy of that name from another profile is left for Apply to refuse",
			current: policy("other", v1alpha1.ModeEnforce, "", v1),
			want:    policy("web-app", v1alpha1.ModeAudit, "", v1, v2), promote: true,
			mode: v1alpha1.ModeAudit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Settle(c.current, c.want, c.promote, c.given)
			if c.err != nil {
				if err == nil || !errors.As(err, c.err) {
					t.Fatalf("error %v, want a %T", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.want.Spec.Mode != c.mode || c.want.Spec.UnknownImages != c.unknown {
				t.Errorf("mode %q, unknown images %q; want %q, %q", c.want.Spec.Mode, c.want.Spec.UnknownImages, c.mode, c.unknown)
			}
		})
	}
}
