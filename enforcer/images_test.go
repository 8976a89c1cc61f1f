package enforcer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/kubelettest"
)

// TestAPodRunningAnImageThePolicyWasNotRecordedFromIsAudited runs the
// policy controller against a real API server and the real kernel: a
// policy in Enforce mode, recorded from image app:v1, selects a pod whose
// container runs app:v2. The pod is held in Audit from its first
// instruction (the connect outside the policy works and is reported), and
// the status says so for app:v2. Once the policy is promoted to app:v2 the
// same container is held to it in Enforce mode and the connect fails.
func TestAPodRunningAnImageThePolicyWasNotRecordedFromIsAudited(t *testing.T) {
	n, startManager := newPolicyNode(t)
	env, ns, layout, node := n.env, n.ns, n.layout, testNode
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.startedController(t, startManager)

	v1 := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: "sha256:" + strings.Repeat("1", 64)}
	v2 := v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: "sha256:" + strings.Repeat("2", 64)}
	allowed, other := listen(t), listen(t)
	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.EnforcementPolicySpec{
			Selector: &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Mode:     v1alpha1.ModeEnforce,
			Images:   []v1alpha1.Image{v1},
			Connect:  &v1alpha1.ConnectRules{Allow: []v1alpha1.ConnectRule{{CIDR: "127.0.0.1/32", Protocol: "TCP", Port: int32(mustAtoi(t, port(allowed)))}}},
		},
	}
	must(t, env.Client.Create(ctx, policy))
	if policy.Spec.UnknownImages != v1alpha1.ModeAudit {
		t.Errorf("spec.unknownImages defaults to %q, want Audit", policy.Spec.UnknownImages)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-2", Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app:v2"}}},
	}
	must(t, env.Client.Create(ctx, pod))
	podDir := "kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID)
	podCg := layout.Mkdir(podDir)
	idOf := func(uid string) (uint32, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		inst, ok := c.ids[types.UID(uid)]
		return inst.id, ok
	}
	untilHeld(t, ctx, c, podCg.ID, "the pod's cgroup is held to the policy's Audit copy", func(h hold) bool {
		audit, ok := idOf(string(policy.UID) + auditCopySuffix)
		return ok && h.policy == audit
	})

	// The runtime starts the container: app:v2 is audited, not refused.
	ctrID := kubelettest.ContainerID(t)
	app := layout.Mkdir(podDir + "/" + ctrID)
	runIn := func(args ...string) {
		t.Helper()
		cmd := helperCommand(t, args[0], args[1:]...)
		path, _ := exec.LookPath(cmd[0])
		res, err := cgroupcmd.Run(ctx, app, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr, MountNamespace: true})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%v in the container: exit %d, %v", args, res.ExitCode, err)
		}
	}
	runIn("connect", allowed, "ok", other, "ok")
	eventually(t, "the audited connect is reported on the pod", func() bool {
		var events corev1.EventList
		must(t, env.Client.List(ctx, &events, client.InNamespace(ns)))
		return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
			return e.InvolvedObject.Name == pod.Name && e.Reason == "PolicyViolation" && strings.Contains(e.Message, fmt.Sprintf("connected to %s", other))
		})
	})

	// Kubelet reports the container and its digest.
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + ctrID,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Image: v2.Name, ImageID: "docker.io/library/app@" + v2.Digest}}
	must(t, env.Client.Status().Update(ctx, pod))
	var got v1alpha1.EnforcementPolicy
	eventually(t, "the status says app:v2 is held in Audit", func() bool {
		c.Reconcile(ctx, policyNodeKey)
		must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(policy), &got))
		if len(got.Status.Nodes) != 1 {
			return false
		}
		imgs := got.Status.Nodes[0].Images
		return len(imgs) == 1 && imgs[0].Image == v2 && !imgs[0].Recorded && imgs[0].Mode == v1alpha1.ModeAudit && imgs[0].Pods == 1
	})
	if r := got.Status.Nodes[0].Images[0].Reason; !strings.Contains(r, "--promote") {
		t.Errorf("the status reason %q does not say how to promote the policy", r)
	}

	// Promoted: the same container is held to the policy in Enforce mode.
	// The Audit copy stays while the policy holds pods in Enforce mode to
	// images (cgroups the kernel made below the pod may still point at it),
	// and goes with the policy.
	got.Spec.Images = append(got.Spec.Images, v2)
	must(t, env.Client.Update(ctx, &got))
	own, _ := idOf(string(policy.UID))
	untilHeld(t, ctx, c, podCg.ID, "the container is held to the policy itself", func(h hold) bool { return h.policy == own })
	runIn("connect", allowed, "ok", other, "EPERM")
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(policy), &got))
	if imgs := got.Status.Nodes[0].Images; len(imgs) != 1 || !imgs[0].Recorded || imgs[0].Mode != v1alpha1.ModeEnforce {
		t.Errorf("status images after promotion = %+v, want app:v2 recorded and enforced", imgs)
	}
	if _, kept := idOf(string(policy.UID) + auditCopySuffix); !kept {
		t.Error("the Audit copy went while the policy still holds pods to images")
	}
	must(t, env.Client.Delete(ctx, &got))
	eventually(t, "the policy and its Audit copy are removed", func() bool {
		c.Reconcile(ctx, policyNodeKey)
		_, policyLeft := idOf(string(policy.UID))
		_, copyLeft := idOf(string(policy.UID) + auditCopySuffix)
		return !policyLeft && !copyLeft
	})
}
