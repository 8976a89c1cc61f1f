//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// kubectl runs the real kubectl (and through it the kubectl-footprint
// plugin) against the cluster KUBECONFIG names.
type kubectl struct {
	root string // the repository, for deploy/ and examples/
}

func newKubectl(t *testing.T) *kubectl {
	if os.Getenv("KUBECONFIG") == "" {
		t.Fatal("KUBECONFIG is not set: run the e2e tests with `make e2e`, which brings up a cluster")
	}
	for _, bin := range []string{"kubectl", "kubectl-footprint"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not on PATH: run the e2e tests with `make e2e`", bin)
		}
	}
	return &kubectl{root: repoRoot()}
}

// try runs kubectl and returns its combined output.
func (k *kubectl) try(args ...string) (string, error) {
	return k.tryInput("", args...)
}

func (k *kubectl) tryInput(stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// run runs kubectl and fails the test when it fails.
func (k *kubectl) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.try(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *kubectl) apply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := k.tryInput(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s\n%s", err, out, manifest)
	}
}

func (k *kubectl) tryJSON(v any, args ...string) error {
	cmd := exec.Command("kubectl", append(args, "-o", "json")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return json.Unmarshal(out, v)
}

func (k *kubectl) json(t *testing.T, v any, args ...string) {
	t.Helper()
	if err := k.tryJSON(v, args...); err != nil {
		t.Fatal(err)
	}
}

// eventually retries check until it succeeds or timeout passes.
func (k *kubectl) eventually(t *testing.T, what string, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readyPods are the running, ready, not terminating pods the selector
// selects in the walkthrough's namespace, by name.
func (k *kubectl) readyPods(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	k.json(t, &list, "-n", ns, "get", "pods", "-l", selector)
	var ready []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, p)
			}
		}
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	if len(ready) == 0 {
		t.Fatalf("no ready pods match %s", selector)
	}
	return ready
}

// pods are the names and addresses of the ready pods selector selects, in
// the same order, from one listing; fewer than least fails the test.
func (k *kubectl) pods(t *testing.T, selector string, least int) (names, ips []string) {
	t.Helper()
	for _, p := range k.readyPods(t, selector) {
		names = append(names, p.Name)
		ips = append(ips, p.Status.PodIP)
	}
	if len(names) < least {
		t.Fatalf("%d ready pods match %s, want at least %d", len(names), selector, least)
	}
	return names, ips
}

func (k *kubectl) waitPolicyReady(t *testing.T, name string, mode v1alpha1.EnforcementMode) {
	t.Helper()
	k.eventually(t, "policy "+name+" installed in "+string(mode)+" mode", 30*time.Second, func() error {
		var p v1alpha1.EnforcementPolicy
		if err := k.tryJSON(&p, "-n", ns, "get", "enforcementpolicy", name); err != nil {
			return err
		}
		if p.Spec.Mode != mode {
			return fmt.Errorf("mode %s", p.Spec.Mode)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" && c.ObservedGeneration == p.Generation {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", p.Status.Conditions)
	})
}

// stopped is how an operation of kind outside policy name is stopped on
// this cluster's node, as the policy's status reports: what kubectl exec
// prints when it is, and the outcome the violation names. Killed after the
// fact where the kernel has no BPF-LSM, prevented with EPERM where it has.
func (k *kubectl) stopped(t *testing.T, name string, kind v1alpha1.EnforcedKind) (out, outcome string) {
	t.Helper()
	var p v1alpha1.EnforcementPolicy
	k.json(t, &p, "-n", ns, "get", "enforcementpolicy", name)
	for _, n := range p.Status.Nodes {
		for _, ke := range n.Kinds {
			if ke.Kind != kind {
				continue
			}
			// The node relies on a backend only once its self-test
			// saw it stop a canary, and says so.
			if !strings.Contains(ke.SelfTest, "self-test canary") || !strings.HasSuffix(ke.SelfTest, "and reported it") {
				t.Errorf("policy %s on node %s: %s enforced by %s with self-test %q, want what the self-test saw", name, n.Node, kind, ke.Backend, ke.SelfTest)
			}
			if ke.Mode != v1alpha1.ModeEnforce {
				t.Errorf("policy %s on node %s: %s in mode %q, want Enforce", name, n.Node, kind, ke.Mode)
			}
			switch {
			case ke.Effect == v1alpha1.EffectPrevented:
				return "operation not permitted", "denied"
			case ke.Effect == v1alpha1.EffectKilledAfter && kind == v1alpha1.KindExecutables:
				// the program is killed; the misbehaving process, its parent, goes on
				return "signal: killed", "killed"
			case ke.Effect == v1alpha1.EffectKilledAfter:
				return "exit code 137", "killed"
			}
		}
	}
	t.Fatalf("policy %s reports no way to stop %s: %+v", name, kind, p.Status.Nodes)
	return "", ""
}

// modesInForce is the mode each kind of policy name is enforced in on each
// node, as its status reports, with the kind's effect there.
func (k *kubectl) modesInForce(t *testing.T, name string) map[v1alpha1.EnforcedKind][2]string {
	t.Helper()
	var p v1alpha1.EnforcementPolicy
	k.json(t, &p, "-n", ns, "get", "enforcementpolicy", name)
	out := map[v1alpha1.EnforcedKind][2]string{}
	for _, n := range p.Status.Nodes {
		for _, ke := range n.Kinds {
			out[ke.Kind] = [2]string{string(ke.Mode), string(ke.Effect)}
		}
	}
	return out
}

// violations are the lines kubectl footprint violations prints.
func (k *kubectl) violations(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("kubectl", "footprint", "violations", "-n", ns)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl footprint violations: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// waitViolations waits until every pattern matches a line of kubectl
// footprint violations.
func (k *kubectl) waitViolations(t *testing.T, patterns []string) {
	t.Helper()
	k.eventually(t, "the violations are reported", 30*time.Second, func() error {
		lines := k.violations(t)
		for _, p := range patterns {
			re := regexp.MustCompile(p)
			if !slices.ContainsFunc(lines, re.MatchString) {
				return fmt.Errorf("no line matches %q in:\n%s", p, strings.Join(lines, "\n"))
			}
		}
		return nil
	})
}
