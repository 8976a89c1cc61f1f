package kubepods

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

var (
	imageV1 = v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: "sha256:" + strings.Repeat("1", 64)}
	imageV2 = v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: "sha256:" + strings.Repeat("2", 64)}
)

func TestPureContainerImages(t *testing.T) {
	status := func(image, id string) corev1.PodStatus {
		return corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: image, ImageID: id}}}
	}
	for _, tc := range []struct {
		name   string
		spec   string
		status corev1.PodStatus
		want   []v1alpha1.Image
	}{
		{"not started: the spec's name", "app:v1", corev1.PodStatus{}, []v1alpha1.Image{{Name: imageV1.Name}}},
		{"started: the status' name and digest", "app:v1", status("docker.io/library/app:v1", "docker.io/library/app@"+imageV1.Digest), []v1alpha1.Image{imageV1}},
		{"the spec changed, the container not restarted yet: both", "app:v2", status("docker.io/library/app:v1", "docker.io/library/app@"+imageV1.Digest), []v1alpha1.Image{imageV1, {Name: imageV2.Name}}},
		{"a spec by digest", "app@" + imageV2.Digest, status("docker.io/library/app@"+imageV2.Digest, "docker.io/library/app@"+imageV2.Digest), []v1alpha1.Image{{Name: "docker.io/library/app", Digest: imageV2.Digest}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: tc.spec}}}, Status: tc.status}
			if got := ContainerImages(pod, "app"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ContainerImages = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPureDecidePodAuditsTheWholePodForOneNewImage(t *testing.T) {
	policy := &v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Images: []v1alpha1.Image{imageV1, {Name: "docker.io/library/sidecar:v1"}}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v2"}, {Name: "sidecar", Image: "sidecar:v1"}}}}
	d := DecidePod(policy, pod)
	if d.Mode != v1alpha1.ModeAudit || !reflect.DeepEqual(d.Record, []string{"app"}) {
		t.Errorf("DecidePod = mode %s, record %v; want Audit, record the app container", d.Mode, d.Record)
	}
	if len(d.Images) != 2 || d.Images[v1alpha1.Image{Name: "docker.io/library/sidecar:v1"}].Mode != v1alpha1.ModeEnforce {
		t.Errorf("images = %+v, want app:v2 audited and sidecar:v1 enforced", d.Images)
	}
	policy.Selector = &v1alpha1.PolicySelector{Containers: []string{"sidecar"}}
	if d := DecidePod(policy, pod); d.Mode != v1alpha1.ModeEnforce || d.Record != nil {
		t.Errorf("a policy for the sidecar alone: mode %s, record %v; want Enforce, nothing recorded", d.Mode, d.Record)
	}
	policy.Selector, policy.UnknownImages = nil, v1alpha1.ModeEnforce
	if d := DecidePod(policy, pod); d.Mode != v1alpha1.ModeEnforce || d.Record != nil {
		t.Errorf("unknownImages Enforce: mode %s, record %v; want Enforce, nothing recorded", d.Mode, d.Record)
	}
}
