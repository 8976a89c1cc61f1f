//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

const ns = "shop"

// webPods selects the Deployment's pods, not the bare pods the steps add with its labels.
const webPods = "app=web,pod-template-hash"

// TestWalkthrough is the README's Kubernetes walkthrough, step by step; a
// step that fails ends the test, as it would end a user's walkthrough.
func TestWalkthrough(t *testing.T) {
	k := newKubectl(t)
	steps := []struct {
		name string
		run  func(t *testing.T, k *kubectl)
	}{
		{"install footprint with kubectl apply -k deploy/", install},
		{"record the app container of a two-replica Deployment", record},
		{"one profile for the app, merged from both replicas, none for the sidecar", profiles},
		{"the exported securityContext patch runs and serves", patchSecurityContext},
		{"audit mode reports misbehaviour and allows it", audit},
		{"enforce mode stops misbehaviour, normal traffic works", enforce},
		{"a new image is audited and recorded into the profile; promoted, it is enforced", newImage},
		{"the recorded system calls, installed as a Localhost seccomp profile, run the app and refuse a call it never made", seccomp},
		{"deleting the policy restores the old behaviour, and the profile the Deployment names stays", deletePolicy},
		{"an agent restart mid-recording loses nothing", agentRestart},
		{"a capability outside the profile, in a workload that still holds it", capability},
		{"a pod created under the policy is held from its first instruction", heldFromFirstInstruction},
		{"a recording that selects nothing says so", selectsNothing},
		{"while no agent runs, enforced pods stay enforced and a new pod runs until an agent is back to hold it", agentAway},
		{"a rollback to the previous agent and an upgrade back: denials hold throughout, no recorded entry is lost", rollbackAndUpgrade},
		{"deleting the agent's DaemonSet uninstalls: nothing of footprint keeps enforcing", uninstall},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(t, k) }) {
			t.FailNow()
		}
	}
}

func install(t *testing.T, k *kubectl) {
	k.run(t, "apply", "-k", filepath.Join(k.root, "deploy"))
	// This cluster's kubelet keeps its state in a directory of its own:
	// the agent installs seccomp profiles where this kubelet reads them.
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"volumes":[{"name":"seccomp","hostPath":{"path":%q,"type":"DirectoryOrCreate"}}]}}}}`, seccompDir(t))
	k.run(t, "-n", "footprint-system", "patch", "daemonset", "footprint-agent", "--patch", patch)
	k.run(t, "-n", "footprint-system", "rollout", "status", "daemonset/footprint-agent", "--timeout=120s")
}

// seccompDir is the cluster's kubelet seccomp directory, on this machine.
func seccompDir(t *testing.T) string {
	dir := os.Getenv("FOOTPRINT_E2E_SECCOMP_DIR")
	if dir == "" {
		t.Fatal("FOOTPRINT_E2E_SECCOMP_DIR is not set: run the e2e tests with `make e2e`")
	}
	return dir
}

func record(t *testing.T, k *kubectl) {
	k.run(t, "apply", "-f", filepath.Join(k.root, "examples/webapp/deployment.yaml"))
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	out := k.run(t, "footprint", "record", "deployment/web", "-n", ns, "--containers", "app")
	if !strings.Contains(out, "profiles:    web-app") {
		t.Errorf("record says:\n%s\nwant it to name the profile web-app", out)
	}
	// Pods that start after the recording are recorded from their first
	// instruction: restart them so that the profile has their start-up.
	k.run(t, "-n", ns, "rollout", "restart", "deployment/web")
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	_, ips := k.pods(t, webPods, 2)
	for _, ip := range ips {
		for i := 0; i < 3; i++ {
			get(t, ip)
		}
	}
}

func profiles(t *testing.T, k *kubectl) {
	var p v1alpha1.Profile
	k.eventually(t, "a profile web-app from both replicas, with the traffic's entries", 60*time.Second, func() error {
		var list v1alpha1.ProfileList
		k.json(t, &list, "get", "profiles", "-n", ns)
		if len(list.Items) != 1 {
			return fmt.Errorf("%d profiles, want 1 (the app's)", len(list.Items))
		}
		p = list.Items[0]
		if p.Name != "web-app" || p.Spec.Container != "app" {
			return fmt.Errorf("profile %s of container %q, want web-app of container app", p.Name, p.Spec.Container)
		}
		pods := map[string]bool{}
		for _, s := range p.Spec.Sources {
			pods[s.Pod] = true
		}
		current, _ := k.pods(t, webPods, 2)
		for _, pod := range current {
			if !pods[pod] {
				return fmt.Errorf("sources %v lack replica %s", p.Spec.Sources, pod)
			}
		}
		if !hasFile(&p, "/data/hits") {
			return fmt.Errorf("no /data/hits yet (traffic not flushed)")
		}
		return nil
	})
	out := k.run(t, "get", "profiles", "-n", ns)
	t.Logf("kubectl get profiles:\n%s", out)

	// The workload's own needs, and nothing of the runtime's set-up.
	var granted []string
	for _, c := range p.Spec.Capabilities {
		if c.Verdict == v1alpha1.VerdictGranted && !c.Probe {
			granted = append(granted, c.Name)
		}
	}
	slices.Sort(granted)
	if want := []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}; !slices.Equal(granted, want) {
		t.Errorf("capabilities used: %v, want %v (runc init's set-up must not count)", granted, want)
	}
	for _, f := range []string{"/etc/webapp/config", "/data/hits"} {
		if !hasFile(&p, f) {
			t.Errorf("the profile lacks %s", f)
		}
	}
	for _, f := range p.Spec.Files {
		if strings.Contains(f.Path, "/run/containerd") || strings.Contains(f.Path, "libseccomp") {
			t.Errorf("the profile holds %s, which the container runtime opened", f.Path)
		}
	}
	var exes []string
	for _, e := range p.Spec.Executables {
		exes = append(exes, e.Path)
	}
	if !slices.Equal(exes, []string{"/webapp"}) {
		t.Errorf("executables %v, want [/webapp]", exes)
	}
	if len(p.Spec.Connections) != 1 || p.Spec.Connections[0].Address != "127.0.0.1" || p.Spec.Connections[0].Port != 9000 {
		t.Errorf("connections %+v, want the sidecar's 127.0.0.1:9000 only", p.Spec.Connections)
	}

	// The recording is done: what happens from now on must not join the
	// profile.
	k.run(t, "delete", "profilerecording", "web", "-n", ns, "--wait")
}

func patchSecurityContext(t *testing.T, k *kubectl) {
	patch := k.run(t, "footprint", "export", "securitycontext", "web-app", "-n", ns)
	file := filepath.Join(t.TempDir(), "patch.yaml")
	if err := os.WriteFile(file, []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	k.run(t, "-n", ns, "patch", "deployment", "web", "--patch-file", file)
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	names, ips := k.pods(t, webPods, 2)
	for _, ip := range ips {
		get(t, ip)
	}
	pod := names[0]
	// CAP_CHOWN (0) and CAP_NET_BIND_SERVICE (10), nothing else.
	status := k.run(t, "-n", ns, "exec", pod, "-c", "app", "--", "cat", "/proc/1/status")
	if !strings.Contains(status, "CapBnd:\t0000000000000401") {
		t.Errorf("the patched app's capabilities:\n%s\nwant a bounding set of CAP_CHOWN and CAP_NET_BIND_SERVICE (401)", status)
	}
	// A capability it never used is now the kernel's to refuse.
	out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "capability")
	if err == nil || !strings.Contains(out, "operation not permitted") {
		t.Errorf("chmod of another user's file in the patched app: %v\n%s\nwant EPERM (no CAP_FOWNER)", err, out)
	}
}

// misbehaviour injected into a running app container through kubectl exec.
type misbehaviour struct {
	args []string
	kind v1alpha1.EnforcedKind
	// event is what the PolicyViolation event says.
	event string
}

func misbehaviours(otherIP string) []misbehaviour {
	return []misbehaviour{
		{[]string{"shadow"}, v1alpha1.KindFiles, "opened /etc/shadow for read"},
		{[]string{"connect", otherIP + ":80"}, v1alpha1.KindConnect, "connected to " + otherIP + ":80 TCP"},
		{[]string{"exec"}, v1alpha1.KindExecutables, "executed /bin/busybox"},
	}
}

func audit(t *testing.T, k *kubectl) {
	out := k.run(t, "footprint", "enforce", "web-app", "-n", ns, "--mode", "audit")
	t.Logf("%s", out)
	k.waitPolicyReady(t, "web-app", v1alpha1.ModeAudit)
	pods, ips := k.pods(t, webPods, 2)
	for _, ip := range ips {
		get(t, ip)
	}
	time.Sleep(2 * time.Second)
	if v := k.violations(t); len(v) > 0 {
		t.Fatalf("normal traffic under audit gave violations:\n%s", strings.Join(v, "\n"))
	}

	for _, m := range misbehaviours(ips[1]) {
		out, err := k.try(append([]string{"-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave"}, m.args...)...)
		if err != nil {
			t.Errorf("misbehave %v under audit: %v\n%s\nwant it allowed", m.args, err, out)
		}
	}

	want := []string{}
	for _, m := range misbehaviours(ips[1]) {
		want = append(want, pods[0]+" .* "+m.event+": audited")
	}
	k.waitViolations(t, want)
	// Each is an Event on its pod, too.
	events := k.run(t, "-n", ns, "get", "events", "--field-selector", "reason=PolicyViolation,involvedObject.name="+pods[0], "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
	for _, m := range misbehaviours(ips[1]) {
		if !strings.Contains(events, m.event) {
			t.Errorf("no PolicyViolation event on pod %s for %q:\n%s", pods[0], m.event, events)
		}
	}
}

func enforce(t *testing.T, k *kubectl) {
	// By default a kind the node cannot refuse stays in Audit there, and
	// the status says so; --unpreventable kill accepts killing after the
	// fact.
	k.run(t, "footprint", "enforce", "web-app", "-n", ns, "--mode", "enforce")
	k.waitPolicyReady(t, "web-app", v1alpha1.ModeEnforce)
	k.eventually(t, "the modes in force in the policy's status", 30*time.Second, func() error {
		modes := k.modesInForce(t, "web-app")
		for kind, m := range modes {
			want := string(v1alpha1.ModeEnforce)
			if m[1] == string(v1alpha1.EffectKilledAfter) {
				want = string(v1alpha1.ModeAudit)
			}
			if m[0] != want {
				return fmt.Errorf("%s (%s) in mode %q, want %s", kind, m[1], m[0], want)
			}
		}
		if len(modes) == 0 {
			return fmt.Errorf("no kinds in the status")
		}
		return nil
	})
	k.run(t, "footprint", "enforce", "web-app", "-n", ns, "--mode", "enforce", "--unpreventable", "kill")
	k.waitPolicyReady(t, "web-app", v1alpha1.ModeEnforce)
	k.eventually(t, "every kind in Enforce mode", 30*time.Second, func() error {
		for kind, m := range k.modesInForce(t, "web-app") {
			if m[0] != string(v1alpha1.ModeEnforce) {
				return fmt.Errorf("%s in mode %q, want Enforce", kind, m[0])
			}
		}
		return nil
	})
	pods, ips := k.pods(t, webPods, 2)
	since := time.Now()

	var want []string
	for _, c := range misbehaviours(ips[1]) {
		stopped, outcome := k.stopped(t, "web-app", c.kind)
		out, err := k.try(append([]string{"-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave"}, c.args...)...)
		if err == nil || !strings.Contains(out, stopped) {
			t.Errorf("misbehave %v under enforce: %v\n%s\nwant it stopped (%q)", c.args, err, out, stopped)
		}
		want = append(want, pods[0]+" .* "+c.event+": "+outcome)
	}
	k.waitViolations(t, want)

	// Normal traffic goes on, and the app was never restarted.
	for _, ip := range ips {
		get(t, ip)
	}
	var list corev1.PodList
	k.json(t, &list, "-n", ns, "get", "pods", "-l", webPods)
	for _, p := range list.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount != 0 {
				t.Errorf("container %s of %s restarted %d times under enforcement", cs.Name, p.Name, cs.RestartCount)
			}
		}
	}
	t.Logf("violations since %s:\n%s", since.Format(time.RFC3339), k.run(t, "footprint", "violations", "-n", ns))
}

// newImage rolls out a new version of the app (another image digest): the
// policy was not recorded from it, so its pods are held in Audit, and what
// they do is recorded into the same profile as a source of the policy's,
// until the policy is promoted to the image. Then it is enforced.
func newImage(t *testing.T, k *kubectl) {
	const v2 = "footprint.dev/webapp:v2"
	k.run(t, "-n", ns, "set", "image", "deployment/web", "app="+v2)
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	pods, ips := k.pods(t, webPods, 2)
	imageMode := func(recorded bool, mode v1alpha1.EnforcementMode) func() error {
		return func() error {
			var p v1alpha1.EnforcementPolicy
			if err := k.tryJSON(&p, "-n", ns, "get", "enforcementpolicy", "web-app"); err != nil {
				return err
			}
			for _, n := range p.Status.Nodes {
				for _, img := range n.Images {
					if img.Name == v2 && img.Digest != "" && img.Recorded == recorded && img.Mode == mode {
						return nil
					}
				}
			}
			return fmt.Errorf("status nodes %+v", p.Status.Nodes)
		}
	}
	k.eventually(t, "the policy's status holds "+v2+" in Audit, not recorded", 60*time.Second, imageMode(false, v1alpha1.ModeAudit))
	for _, ip := range ips {
		get(t, ip)
	}
	// What the policy would refuse is reported and allowed.
	if out, err := k.try("-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "shadow"); err != nil {
		t.Fatalf("misbehave shadow in a pod of the new image: %v\n%s\nwant it audited and allowed", err, out)
	}
	k.waitViolations(t, []string{pods[0] + " .* opened /etc/shadow for read: audited"})
	k.eventually(t, "the new image's pods are recorded into profile web-app", 60*time.Second, func() error {
		var p v1alpha1.Profile
		if err := k.tryJSON(&p, "-n", ns, "get", "profile", "web-app"); err != nil {
			return err
		}
		if !hasFile(&p, "/etc/shadow") {
			return fmt.Errorf("no /etc/shadow in the profile yet")
		}
		for _, s := range p.Spec.Sources {
			if s.Policy == "web-app" && s.Pod == pods[0] && len(s.Images) == 1 && s.Images[0].Name == v2 && s.Images[0].Digest != "" {
				return nil
			}
		}
		return fmt.Errorf("no source of policy web-app for pod %s with image %s: %+v", pods[0], v2, p.Spec.Sources)
	})

	// The policy is bound to the new image only by a person's promotion.
	if out, err := k.try("footprint", "enforce", "web-app", "-n", ns, "--mode", "enforce"); err == nil || !strings.Contains(out, "--promote --dry-run") {
		t.Errorf("enforce without --promote after a new image was recorded: %v\n%s\nwant a refusal naming --promote", err, out)
	}
	diff := k.run(t, "footprint", "enforce", "web-app", "-n", ns, "--promote", "--dry-run")
	for _, want := range []string{"+ image " + v2 + "@sha256:", "+ file /etc/shadow (read)", "Dry run: nothing changed."} {
		if !strings.Contains(diff, want) {
			t.Errorf("enforce --promote --dry-run lacks %q:\n%s", want, diff)
		}
	}
	t.Logf("%s", k.run(t, "footprint", "enforce", "web-app", "-n", ns, "--promote"))
	k.waitPolicyReady(t, "web-app", v1alpha1.ModeEnforce)
	k.eventually(t, "the policy's status holds "+v2+" in Enforce, recorded", 60*time.Second, imageMode(true, v1alpha1.ModeEnforce))

	// Enforced: what the new image did is allowed, anything else stopped.
	if out, err := k.try("-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "shadow"); err != nil {
		t.Errorf("misbehave shadow after promotion (the new image did it while recorded): %v\n%s\nwant it allowed", err, out)
	}
	stopped, outcome := k.stopped(t, "web-app", v1alpha1.KindConnect)
	out, err := k.try("-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "connect", ips[1]+":80")
	if err == nil || !strings.Contains(out, stopped) {
		t.Errorf("misbehave connect after promotion: %v\n%s\nwant it stopped (%q)", err, out, stopped)
	}
	k.waitViolations(t, []string{pods[0] + " .* connected to " + ips[1] + ":80 TCP: " + outcome})
	for _, ip := range ips {
		get(t, ip)
	}
}

func seccomp(t *testing.T, k *kubectl) {
	profile := filepath.Join(seccompDir(t), "footprint", ns, "web-app.json")
	// Without the profile, the app may set up an io_uring.
	pods, _ := k.pods(t, webPods, 2)
	if out, err := k.try("-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "io_uring"); err != nil {
		t.Fatalf("io_uring_setup before the seccomp profile: %v\n%s\nwant it allowed", err, out)
	}
	k.eventually(t, "the agent installs the policy's seccomp profile", 30*time.Second, func() error {
		_, err := os.Stat(profile)
		return err
	})
	var p v1alpha1.EnforcementPolicy
	k.json(t, &p, "-n", ns, "get", "enforcementpolicy", "web-app")
	for _, n := range p.Status.Nodes {
		if n.SeccompProfile != "footprint/"+ns+"/web-app.json" {
			t.Errorf("node %s reports seccomp profile %q", n.Node, n.SeccompProfile)
		}
	}
	// The exported patch now names it, and the app runs under it.
	patch := k.run(t, "footprint", "export", "securitycontext", "web-app", "-n", ns)
	if !strings.Contains(patch, "localhostProfile: footprint/"+ns+"/web-app.json") {
		t.Fatalf("the securityContext patch does not name the installed profile:\n%s", patch)
	}
	file := filepath.Join(t.TempDir(), "patch.yaml")
	if err := os.WriteFile(file, []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	k.run(t, "-n", ns, "patch", "deployment", "web", "--patch-file", file)
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	pods, ips := k.pods(t, webPods, 2)
	for _, ip := range ips {
		get(t, ip)
	}
	out, err := k.try("-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "io_uring")
	if err == nil || !strings.Contains(out, "operation not permitted") {
		t.Errorf("io_uring_setup under the recorded system calls: %v\n%s\nwant EPERM", err, out)
	}
}

func deletePolicy(t *testing.T, k *kubectl) {
	k.run(t, "-n", ns, "delete", "enforcementpolicy", "web-app", "--wait")
	// The Deployment still names the policy's seccomp profile: the agent
	// keeps it, so the running pods go on and new replicas start.
	profile := filepath.Join(seccompDir(t), "footprint", ns, "web-app.json")
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(profile); err != nil {
		t.Fatalf("the seccomp profile the Deployment names is gone with its policy: %v", err)
	}
	k.run(t, "-n", ns, "rollout", "restart", "deployment/web")
	k.run(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
	pods, ips := k.pods(t, webPods, 2)
	pod := pods[0]
	k.eventually(t, "reading /etc/shadow works again", 30*time.Second, func() error {
		out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "shadow")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "connect", ips[len(ips)-1]+":80"); err != nil {
		t.Errorf("connect after the policy was deleted: %v\n%s", err, out)
	}
}

func agentRestart(t *testing.T, k *kubectl) {
	k.apply(t, strings.ReplaceAll(strings.ReplaceAll(mustRead(t, filepath.Join(k.root, "examples/webapp/deployment.yaml")),
		"name: web\n", "name: api\n"), "app: web", "app: api"))
	k.run(t, "-n", ns, "rollout", "status", "deployment/api", "--timeout=120s")
	k.run(t, "footprint", "record", "deployment/api", "-n", ns, "--containers", "app")
	k.run(t, "-n", ns, "rollout", "restart", "deployment/api")
	k.run(t, "-n", ns, "rollout", "status", "deployment/api", "--timeout=120s")
	pods, ips := k.pods(t, "app=api", 1)
	// Traffic, then at once (well within the agent's 10 s flush) the agent
	// goes: its pinned maps keep what it had not written yet.
	get(t, ips[0])
	k.run(t, "-n", "footprint-system", "delete", "pod", "-l", "app.kubernetes.io/name=footprint", "--wait=false")
	pod := pods[0]
	if out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "exec"); err != nil {
		t.Fatalf("exec while the agent restarts: %v\n%s", err, out)
	}
	k.run(t, "-n", "footprint-system", "rollout", "status", "daemonset/footprint-agent", "--timeout=120s")
	k.eventually(t, "profile api-app has what happened before, during and after the restart", 60*time.Second, func() error {
		var p v1alpha1.Profile
		if err := k.tryJSON(&p, "-n", ns, "get", "profile", "api-app"); err != nil {
			return err
		}
		var exes []string
		for _, e := range p.Spec.Executables {
			exes = append(exes, e.Path)
		}
		for _, f := range []string{"/etc/webapp/config", "/data/hits"} {
			if !hasFile(&p, f) {
				return fmt.Errorf("no %s (served before the restart)", f)
			}
		}
		if !slices.Contains(exes, "/bin/busybox") {
			return fmt.Errorf("executables %v lack /bin/busybox (run during the restart)", exes)
		}
		return nil
	})
	k.run(t, "delete", "profilerecording", "api", "-n", ns)
}

// capability enforces the profile of Deployment api, which was not
// patched and so still holds the runtime's default capabilities, CAP_FOWNER
// among them: using it is reported under audit and killed under enforce.
func capability(t *testing.T, k *kubectl) {
	pods, _ := k.pods(t, "app=api", 1)
	pod := pods[0]
	k.run(t, "footprint", "enforce", "api-app", "-n", ns, "--mode", "audit")
	k.waitPolicyReady(t, "api-app", v1alpha1.ModeAudit)
	if out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "capability"); err != nil {
		t.Errorf("capability misbehaviour under audit: %v\n%s\nwant it allowed", err, out)
	}
	// The violation names the call and the file that needed it.
	k.waitViolations(t, []string{pod + ` .* used CAP_FOWNER in (chmod|fchmodat|fchmodat2)\(".+"\): audited`})

	k.run(t, "footprint", "enforce", "api-app", "-n", ns, "--mode", "enforce", "--unpreventable", "kill")
	k.waitPolicyReady(t, "api-app", v1alpha1.ModeEnforce)
	stopped, outcome := k.stopped(t, "api-app", v1alpha1.KindCapabilities)
	out, err := k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "capability")
	if err == nil || !strings.Contains(out, stopped) {
		t.Errorf("capability misbehaviour under enforce: %v\n%s\nwant it stopped (%q)", err, out, stopped)
	}
	k.waitViolations(t, []string{pod + ` .* used CAP_FOWNER in (chmod|fchmodat|fchmodat2)\(".+"\): ` + outcome})
}

// heldFromFirstInstruction rolls out a version of Deployment api whose very
// first act breaks its policy: the new pod, created after the policy, is
// stopped at that act (killed, or refused where the kernel has BPF-LSM),
// and the rollout is undone.
func heldFromFirstInstruction(t *testing.T, k *kubectl) {
	_, outcome := k.stopped(t, "api-app", v1alpha1.KindFiles)
	wantCode := int32(137) // SIGKILL
	if outcome == "denied" {
		wantCode = 1 // the read fails and the app exits with its error
	}
	k.run(t, "-n", ns, "patch", "deployment", "api", "--patch",
		`{"spec":{"template":{"spec":{"containers":[{"name":"app","args":["misbehave","shadow"]}]}}}}`)
	k.eventually(t, "the new pod is stopped at its first act", 60*time.Second, func() error {
		var list corev1.PodList
		if err := k.tryJSON(&list, "-n", ns, "get", "pods", "-l", "app=api"); err != nil {
			return err
		}
		for _, p := range list.Items {
			if len(p.Spec.Containers) == 0 || !slices.Contains(p.Spec.Containers[0].Args, "misbehave") {
				continue
			}
			for _, cs := range p.Status.ContainerStatuses {
				for _, st := range []corev1.ContainerState{cs.State, cs.LastTerminationState} {
					if st.Terminated != nil && st.Terminated.ExitCode == wantCode {
						return nil
					}
					if st.Terminated != nil {
						return fmt.Errorf("pod %s exited %d, want %d", p.Name, st.Terminated.ExitCode, wantCode)
					}
				}
			}
		}
		return fmt.Errorf("no pod of the new version has ended yet")
	})
	k.waitViolations(t, []string{`api-\S+ .* opened /etc/shadow for read: ` + outcome + ` \(policy api-app\)`})
	k.run(t, "-n", ns, "rollout", "undo", "deployment/api")
	k.run(t, "-n", ns, "rollout", "status", "deployment/api", "--timeout=120s")
	_, ips := k.pods(t, "app=api", 1)
	for _, ip := range ips {
		get(t, ip)
	}
}

func selectsNothing(t *testing.T, k *kubectl) {
	k.apply(t, `apiVersion: footprint.dev/v1alpha1
kind: ProfileRecording
metadata: {name: nobody, namespace: `+ns+`}
spec:
  podSelector: {matchLabels: {app: does-not-exist}}
`)
	k.eventually(t, "the recording reports that it matches no pod", 30*time.Second, func() error {
		var r v1alpha1.ProfileRecording
		if err := k.tryJSON(&r, "-n", ns, "get", "profilerecording", "nobody"); err != nil {
			return err
		}
		for _, c := range r.Status.Conditions {
			if c.Type == "Matched" && c.Status == "False" && c.Reason == "NoPodsMatched" {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", r.Status.Conditions)
	})
	t.Logf("%s", k.run(t, "footprint", "status", "nobody", "-n", ns))
}

// agentAway schedules the agent nowhere (its DaemonSet stays: a restart,
// not an uninstall) while policy api-app is enforced. The kernel side it
// pinned keeps the running pod held; a pod created while no agent runs is
// not held (footprint fails open for what it cannot judge: a rollout is never
// stopped because the agent is away) until an agent is back and holds it.
func agentAway(t *testing.T, k *kubectl) {
	stoppedOut, _ := k.stopped(t, "api-app", v1alpha1.KindFiles)
	shadow := func(pod string) (string, error) {
		return k.try("-n", ns, "exec", pod, "-c", "app", "--", "/webapp", "misbehave", "shadow")
	}
	before, _ := k.pods(t, "app=api", 1)
	k.run(t, "-n", "footprint-system", "patch", "daemonset", "footprint-agent", "--patch",
		`{"spec":{"template":{"spec":{"nodeSelector":{"footprint.dev/e2e-agent-away":"true"}}}}}`)
	noAgent := func() error {
		out, err := k.try("-n", "footprint-system", "get", "pods", "-l", "app.kubernetes.io/name=footprint", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("still running: %s", out)
		}
		return nil
	}
	k.eventually(t, "no agent runs", 90*time.Second, noAgent)

	if out, err := shadow(before[0]); err == nil || !strings.Contains(out, stoppedOut) {
		t.Errorf("reading /etc/shadow in %s while no agent runs: %v\n%s\nwant it still stopped (%q)", before[0], err, out, stoppedOut)
	}
	replicas := strings.Trim(k.run(t, "-n", ns, "get", "deployment", "api", "-o", "jsonpath={.spec.replicas}"), "' \n")
	k.run(t, "-n", ns, "scale", "deployment/api", "--replicas", fmt.Sprint(len(before)+1))
	k.run(t, "-n", ns, "rollout", "status", "deployment/api", "--timeout=120s")
	after, _ := k.pods(t, "app=api", len(before)+1)
	var fresh string
	for _, p := range after {
		if !slices.Contains(before, p) {
			fresh = p
		}
	}
	if fresh == "" {
		t.Fatalf("no new pod among %v (before: %v)", after, before)
	}
	if out, err := shadow(fresh); err != nil {
		t.Errorf("reading /etc/shadow in %s, created while no agent runs: %v\n%s\nwant it allowed until an agent is back (as the README says)", fresh, err, out)
	}

	k.run(t, "-n", "footprint-system", "patch", "daemonset", "footprint-agent", "--patch",
		`{"spec":{"template":{"spec":{"nodeSelector":null}}}}`)
	k.run(t, "-n", "footprint-system", "rollout", "status", "daemonset/footprint-agent", "--timeout=120s")
	k.eventually(t, "the agent, back, holds the pod created while it was away", 90*time.Second, func() error {
		if out, err := shadow(fresh); err == nil || !strings.Contains(out, stoppedOut) {
			return fmt.Errorf("reading /etc/shadow in %s: %v\n%s", fresh, err, out)
		}
		return nil
	})
	k.run(t, "-n", ns, "scale", "deployment/api", "--replicas", replicas)
}

// previousAgentImage is the agent of the previous version, which
// hack/cluster.sh builds from the project's history and imports.
const previousAgentImage = "footprint.dev/footprint:previous"

// rollbackAndUpgrade rolls the agent DaemonSet back to the previous
// version (image and the arguments that version knows) and then forward
// again, while a probe reads /etc/shadow in a pod policy api-app stops
// (every read must be stopped, during both rollouts) and a recorded pod
// does something new in each phase, right as each rollout starts (every
// one of those entries must reach its profile).
func rollbackAndUpgrade(t *testing.T, k *kubectl) {
	// policy api-app stops reads of /etc/shadow (the enforce steps checked how).
	api, _ := k.pods(t, "app=api", 1)

	k.apply(t, strings.ReplaceAll(strings.ReplaceAll(mustRead(t, filepath.Join(k.root, "examples/webapp/deployment.yaml")),
		"name: web\n", "name: upg\n"), "app: web", "app: upg"))
	k.run(t, "-n", ns, "rollout", "status", "deployment/upg", "--timeout=120s")
	k.run(t, "footprint", "record", "deployment/upg", "-n", ns, "--containers", "app")
	defer k.run(t, "delete", "profilerecording", "upg", "-n", ns)
	upg, _ := k.pods(t, "app=upg", 1)
	touch := func(name string) {
		t.Helper()
		if out, err := k.try("-n", ns, "exec", upg[0], "-c", "app", "--", "/bin/busybox", "touch", "/tmp/"+name); err != nil {
			t.Fatalf("touch /tmp/%s in %s: %v\n%s", name, upg[0], err, out)
		}
	}
	// Recording starts with the pod's next exec: give the agent a moment
	// to watch the pod, then the first mark.
	k.eventually(t, "the recording watches the pod", 60*time.Second, func() error {
		var r v1alpha1.ProfileRecording
		if err := k.tryJSON(&r, "-n", ns, "get", "profilerecording", "upg"); err != nil {
			return err
		}
		if r.Status.MatchedContainers < 1 {
			return fmt.Errorf("matched containers %d", r.Status.MatchedContainers)
		}
		return nil
	})
	touch("mark-before")

	// The probe: every read of /etc/shadow in the enforced pod is stopped.
	stop := make(chan struct{})
	probed := make(chan []string, 1)
	go func() {
		var leaks []string
		n := 0
		for {
			select {
			case <-stop:
				probed <- append(leaks, fmt.Sprint(n))
				return
			default:
			}
			out, err := k.try("-n", ns, "exec", api[0], "-c", "app", "--", "/webapp", "misbehave", "shadow")
			n++
			// A failure is a stopped read (or kubectl failing, which
			// reads nothing either); only a success is a leak.
			if err == nil {
				leaks = append(leaks, time.Now().Format(time.RFC3339Nano)+": "+strings.TrimSpace(out))
			}
			time.Sleep(300 * time.Millisecond)
		}
	}()

	ds := []string{"-n", "footprint-system"}
	image := k.run(t, append(ds, "get", "daemonset", "footprint-agent", "-o", "jsonpath={.spec.template.spec.containers[0].image}")...)
	args := k.run(t, append(ds, "get", "daemonset", "footprint-agent", "-o", "jsonpath={.spec.template.spec.containers[0].args}")...)
	var current []string
	if err := json.Unmarshal([]byte(args), &current); err != nil {
		t.Fatalf("the agent's args %q: %v", args, err)
	}
	// The previous version does not know the flags added since.
	var previous []string
	for _, a := range current {
		if !strings.HasPrefix(a, "--uninstall-when-deleted") {
			previous = append(previous, a)
		}
	}
	setAgent := func(image string, args []string) {
		t.Helper()
		argsJSON, _ := json.Marshal(args)
		patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q},`+
			`{"op":"replace","path":"/spec/template/spec/containers/0/args","value":%s}]`, image, argsJSON)
		k.run(t, append(ds, "patch", "daemonset", "footprint-agent", "--type", "json", "--patch", patch)...)
	}

	setAgent(previousAgentImage, previous)
	touch("mark-during-rollback")
	k.run(t, append(ds, "rollout", "status", "daemonset/footprint-agent", "--timeout=120s")...)
	touch("mark-on-the-previous-agent")
	setAgent(strings.Trim(image, "'"), current)
	touch("mark-during-upgrade")
	k.run(t, append(ds, "rollout", "status", "daemonset/footprint-agent", "--timeout=120s")...)
	touch("mark-after")
	time.Sleep(2 * time.Second) // a few more probes on the upgraded agent
	close(stop)
	result := <-probed
	leaks, probes := result[:len(result)-1], result[len(result)-1]
	t.Logf("%s probes of /etc/shadow during the rollback and the upgrade", probes)
	if len(leaks) > 0 {
		t.Errorf("reads of /etc/shadow that were not stopped: %v", leaks)
	}

	k.eventually(t, "every mark reached profile upg-app", 60*time.Second, func() error {
		var p v1alpha1.Profile
		if err := k.tryJSON(&p, "-n", ns, "get", "profile", "upg-app"); err != nil {
			return err
		}
		var missing []string
		for _, mark := range []string{"before", "during-rollback", "on-the-previous-agent", "during-upgrade", "after"} {
			if !hasFile(&p, "/tmp/mark-"+mark) {
				missing = append(missing, mark)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no /tmp/mark-%s", strings.Join(missing, ", /tmp/mark-"))
		}
		return nil
	})
	k.run(t, "-n", ns, "delete", "deployment", "upg")
}

// uninstall deletes the agent's DaemonSet while policy api-app is enforced:
// the agents see it go and remove the kernel side on their way out, so the
// pod the policy stopped from reading /etc/shadow now reads it, and no
// footprint program or pin is left on the node. (A restart keeps them: see
// agentRestart.)
func uninstall(t *testing.T, k *kubectl) {
	pods, _ := k.pods(t, "app=api", 1)
	shadow := []string{"-n", ns, "exec", pods[0], "-c", "app", "--", "/webapp", "misbehave", "shadow"}
	if out, err := k.try(shadow...); err == nil {
		t.Fatalf("reading /etc/shadow under policy api-app succeeded before the uninstall:\n%s", out)
	}
	programs := pinnedPrograms(t, "/sys/fs/bpf/footprint")
	if len(programs) == 0 {
		t.Fatal("no footprint program is pinned before the uninstall: the check after it would test nothing")
	}
	k.run(t, "-n", "footprint-system", "delete", "daemonset", "footprint-agent", "--wait=true")
	k.eventually(t, "every agent pod is gone", 90*time.Second, func() error {
		out, err := k.try("-n", "footprint-system", "get", "pods", "-l", "app.kubernetes.io/name=footprint", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("still running: %s", out)
		}
		return nil
	})
	if entries, err := os.ReadDir("/sys/fs/bpf/footprint"); err == nil && len(entries) > 0 {
		t.Errorf("pins left under /sys/fs/bpf/footprint after the uninstall: %v", entries)
	}
	var left []string
	for id, name := range programs {
		if prog, err := ebpf.NewProgramFromID(id); err == nil {
			prog.Close()
			left = append(left, fmt.Sprintf("%s (id %d)", name, id))
		}
	}
	if len(left) > 0 {
		t.Errorf("of the agent's %d programs, these are still loaded after the uninstall: %v", len(programs), left)
	}
	if out, err := k.try(shadow...); err != nil {
		t.Errorf("reading /etc/shadow after the uninstall: %v\n%s\nwant it to work: nothing of footprint may enforce any more", err, out)
	}
}

// pinnedPrograms returns the programs the links pinned under dir keep
// attached (the agent's), by id: a program id is never reused, so one that
// still exists later is the same program.
func pinnedPrograms(t *testing.T, dir string) map[ebpf.ProgramID]string {
	t.Helper()
	programs := map[ebpf.ProgramID]string{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "links" {
			return nil
		}
		l, err := link.LoadPinnedLink(path, nil)
		if err != nil {
			t.Errorf("load pinned link %s: %v", path, err)
			return nil
		}
		defer l.Close()
		info, err := l.Info()
		if err != nil {
			t.Errorf("pinned link %s: %v", path, err)
			return nil
		}
		programs[info.Program] = d.Name()
		return nil
	})
	return programs
}

// ---------------------------------------------------------------------------

func hasFile(p *v1alpha1.Profile, path string) bool {
	for _, f := range p.Spec.Files {
		if f.Path == path {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get asks the app at ip for its page, from this host over the pod bridge.
func get(t *testing.T, ip string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ip + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", ip, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "backend says stock 42") {
		t.Fatalf("GET %s: %s %q, want the page with the backend's answer", ip, resp.Status, body)
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
