package enforcer

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/kubepods"
)

// auditCopySuffix marks, among installed policies, the Audit copy of a
// policy in Enforce mode: the pods on this node that run an image the
// policy holds in Audit (not recorded from, spec.unknownImages Audit) are
// held to it, so that they report what the policy would deny instead of
// being refused, while the recording controller records them.
const auditCopySuffix = "/audit-unrecorded-images"

// keepAuditCopy keeps a policy's Audit copy, once installed on this node,
// for as long as the policy holds pods in Enforce mode to images, its rules
// following the policy's: cgroups the kernel created below a pod held to
// the copy point at it until they go, even after the pod has been moved to
// the policy itself (promoted), and a removed copy would leave them
// unrestricted.
func (c *PolicyController) keepAuditCopy(p *v1alpha1.EnforcementPolicy, seen map[types.UID]bool) {
	uid := p.UID + auditCopySuffix
	if _, ok := c.ids[uid]; !ok || p.Spec.Mode != v1alpha1.ModeEnforce || len(p.Spec.Images) == 0 {
		return
	}
	if _, err := c.install(auditCopy(p)); err != nil {
		c.Log.Error(err, "update the Audit copy of a policy", "policy", p.Namespace+"/"+p.Name)
	}
	seen[uid] = true
}

func auditCopy(p *v1alpha1.EnforcementPolicy) *v1alpha1.EnforcementPolicy {
	audit := p.DeepCopy()
	audit.UID += auditCopySuffix
	audit.Spec.Mode = v1alpha1.ModeAudit
	return audit
}

// imageHold returns the kernel policy a selected pod is held to: the
// policy's own (id), or its Audit copy, installed here when first needed
// and marked seen so that it stays installed while some pod needs it. It
// adds the pod's images to the policy's status on this node.
func (c *PolicyController) imageHold(p *v1alpha1.EnforcementPolicy, pod *corev1.Pod, id uint32, images imageStatus, seen map[types.UID]bool) (uint32, error) {
	d := kubepods.DecidePod(&p.Spec, pod)
	for img, decision := range d.Images {
		images.add(img, decision.Recorded, decision.Mode, decision.Reason)
	}
	if d.Mode != v1alpha1.ModeAudit || p.Spec.Mode != v1alpha1.ModeEnforce {
		return id, nil
	}
	audit := auditCopy(p)
	seen[audit.UID] = true
	return c.install(audit)
}

// imageStatus gathers, for one policy on this node, the images its
// selected containers run and the mode that applies to each.
type imageStatus map[v1alpha1.Image]*v1alpha1.ImageEnforcement

func (s imageStatus) add(img v1alpha1.Image, recorded bool, mode v1alpha1.EnforcementMode, reason string) {
	if e := s[img]; e != nil {
		e.Pods++
		return
	}
	s[img] = &v1alpha1.ImageEnforcement{Image: img, Recorded: recorded, Mode: mode, Reason: reason, Pods: 1}
}

func (s imageStatus) list() []v1alpha1.ImageEnforcement {
	var out []v1alpha1.ImageEnforcement
	for _, e := range s {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b v1alpha1.ImageEnforcement) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Digest, b.Digest))
	})
	return out
}
