package policies

import (
	"fmt"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestDecideImage(t *testing.T) {
	v1 := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: digestA}
	v2 := v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: digestB}
	retagged := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: digestB}
	for _, tc := range []struct {
		name    string
		policy  v1alpha1.EnforcementPolicySpec
		running v1alpha1.Image
		want    ImageDecision
		reason  string
	}{
		{"unbound policy applies to any image",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce}, v2,
			ImageDecision{Recorded: true, Mode: v1alpha1.ModeEnforce}, "not bound"},
		{"recorded digest is enforced",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v1,
			ImageDecision{Bound: true, Recorded: true, Mode: v1alpha1.ModeEnforce}, "digest"},
		{"same content under another name is recorded",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v1alpha1.Image{Name: "mirror.example/app:v1", Digest: digestA},
			ImageDecision{Bound: true, Recorded: true, Mode: v1alpha1.ModeEnforce}, "digest"},
		{"new image is held in audit and recorded by default",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v2,
			ImageDecision{Bound: true, Mode: v1alpha1.ModeAudit, Record: true}, "held in Audit"},
		{"a tag pushed again with other content is a new image",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, retagged,
			ImageDecision{Bound: true, Mode: v1alpha1.ModeAudit, Record: true}, "held in Audit"},
		{"not started yet: the name stands in for the digest",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v1alpha1.Image{Name: v1.Name},
			ImageDecision{Bound: true, Recorded: true, Mode: v1alpha1.ModeEnforce}, "checked once the container has started"},
		{"not started yet, under a new name: audited from the first instruction",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v1alpha1.Image{Name: v2.Name},
			ImageDecision{Bound: true, Mode: v1alpha1.ModeAudit, Record: true}, "held in Audit"},
		{"recorded before its digest was known: by name",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{{Name: v1.Name}}}, retagged,
			ImageDecision{Bound: true, Recorded: true, Mode: v1alpha1.ModeEnforce}, "digest was not known"},
		{"unknownImages Enforce holds a new image to the policy",
			v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, UnknownImages: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{v1}}, v2,
			ImageDecision{Bound: true, Mode: v1alpha1.ModeEnforce}, "unknownImages is Enforce"},
		{"an audit policy audits a new image and records it",
			v1alpha1.EnforcementPolicySpec{Images: []v1alpha1.Image{v1}}, v2,
			ImageDecision{Bound: true, Mode: v1alpha1.ModeAudit, Record: true}, "recorded into the profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideImage(&tc.policy, tc.running)
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", got.Reason, tc.reason)
			}
			got.Reason = ""
			if got != tc.want {
				t.Errorf("DecideImage = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidateRefusesBadImages(t *testing.T) {
	pol := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{UnknownImages: "Deny", Images: []v1alpha1.Image{{Digest: "sha256:short"}}}}
	var got []string
	for _, e := range Validate(pol) {
		got = append(got, e.Error())
	}
	for _, want := range []string{"spec.unknownImages: Unsupported value", "spec.images[0].digest: Invalid"} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("errors %q do not include %q", got, want)
		}
	}
}

// BenchmarkDecideImage is the agent's cost per selected container and
// reconcile, with a policy bound to as many images as its schema allows.
func BenchmarkDecideImage(b *testing.B) {
	policy := &v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce}
	for i := range 256 {
		policy.Images = append(policy.Images, v1alpha1.Image{Name: fmt.Sprintf("docker.io/library/app:v%d", i), Digest: fmt.Sprintf("sha256:%064x", i)})
	}
	unknown := profiles.ImageFromStatus("docker.io/library/app:next", "docker.io/library/app@"+digestB)
	b.ReportAllocs()
	for b.Loop() {
		if d := DecideImage(policy, unknown); d.Recorded {
			b.Fatal("an unknown image was taken for a recorded one")
		}
	}
}
