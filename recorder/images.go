package recorder

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/kubepods"
)

// ranImage is the image a container ran, for a profile's source: the
// first of kubepods.ContainerImages, as a list.
func ranImage(pod *corev1.Pod, container string) []v1alpha1.Image {
	images := kubepods.ContainerImages(pod, container)
	if len(images) == 0 {
		return nil
	}
	return images[:1]
}
