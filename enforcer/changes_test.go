package enforcer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/filechanges"
	"github.com/footprint-dev/footprint/recorder"
	"github.com/footprint-dev/footprint/test/vm"
)

// changeRoute is what happened to one attacker route: a file change made
// without an open, under the policy exported from the same change made in
// another directory.
type changeRoute struct {
	violation bpf.Violation
	exitCode  int
	happened  bool
}

// tryChangeRoute records op made in root/normal, exports the policy, checks
// the same run is clean under it, then makes op in root/attack under it.
// In the attack the helper expects want (ok, or EPERM where a backend
// prevents).
func tryChangeRoute(t *testing.T, op filechanges.Op, want string) changeRoute {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	normal, attack := filepath.Join(root, "normal"), filepath.Join(root, "attack")
	fresh := func(dir string) {
		t.Helper()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := op.Setup(dir); err != nil {
			t.Fatal(err)
		}
	}
	fresh(normal)
	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: helperCommand(t, "file-change", op.Name, normal)})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce, Unpreventable: v1alpha1.UnpreventableKill})
	if err != nil {
		t.Fatal(err)
	}
	for name, modes := range op.Want {
		c, err := rules.Compile(generated.Policy)
		if err != nil {
			t.Fatal(err)
		}
		if !c.FileAllowed(filepath.Join(normal, name), rules.AccessOf(modes...)) {
			t.Fatalf("the exported policy does not grant %v on %s:\n%+v", modes, name, generated.Policy.Spec.Files)
		}
	}

	fresh(normal)
	res := run(t, generated.Policy.DeepCopy(), helperCommand(t, "file-change", op.Name, normal, "ok"))
	if res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("the recorded run under its own policy: exit code %d, violations %+v; want 0 and none", res.ExitCode, res.Violations)
	}

	// The kernel hooks alone: the seccomp filter must not stop the
	// attack first (it makes the same calls anyway).
	hooksOnly := generated.Policy.DeepCopy()
	hooksOnly.Spec.Syscalls = nil
	fresh(attack)
	res = run(t, hooksOnly, helperCommand(t, "file-change", op.Name, attack, want))
	route := changeRoute{exitCode: res.ExitCode}
	deniedPath := filepath.Join(attack, op.Denied)
	i := slices.IndexFunc(res.Violations, func(v bpf.Violation) bool {
		return v.Kind == bpf.KindFile && v.Path == deniedPath && slices.Contains(v.Access.Names(), string(op.DeniedMode))
	})
	if i < 0 {
		t.Fatalf("violations %+v; want a %s of %s", res.Violations, op.DeniedMode, deniedPath)
	}
	route.violation = res.Violations[i]
	if d := Describe(route.violation); !strings.Contains(d, `("`+deniedPath+`")`) || !strings.Contains(d, string(op.DeniedMode)) {
		t.Errorf("described as %q; want the call, the path and the access", d)
	}
	if route.happened, err = op.Happened(attack); err != nil {
		t.Fatal(err)
	}
	return route
}

// TestFileChangesOutsideThePolicyAreReported makes, for every change a
// process can make to a file without opening its path, the change a policy
// exported from the same program's run allows, with no violation, and then
// the same change to another file, which is reported and stopped: refused
// with EPERM where the backend prevents (then it did not happen), killed
// after the fact where it cannot (this host's syscall tracepoints).
func TestFileChangesOutsideThePolicyAreReported(t *testing.T) {
	for _, op := range filechanges.Ops {
		t.Run(op.Name, func(t *testing.T) {
			// On this host the helper is killed before it can say.
			r := tryChangeRoute(t, op, "ok")
			switch r.violation.Outcome {
			case bpf.Killed:
				if r.exitCode == 0 {
					t.Errorf("outcome killed, but the helper exited 0")
				}
			case bpf.Denied:
				if r.happened {
					t.Errorf("outcome denied, but the change happened")
				}
			default:
				t.Errorf("outcome %v; want killed or denied", r.violation.Outcome)
			}
		})
	}
}

// TestFileChangesOutsideThePolicyArePreventedInVM is the same attack in a VM
// with Debian's kernels, with bpf among the active LSMs (the path_* hooks)
// and without (fmod_ret on the security_path_* functions): every change is
// refused with EPERM before it has any effect, the helper lives on and sees
// the EPERM, and the violation is reported. One process makes every change
// (the VM is slow to load footprint): first each in its own directory of
// normal/ while recorded, then again under the exported policy, then each
// in attack/.
func TestFileChangesOutsideThePolicyArePreventedInVM(t *testing.T) {
	boot, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	normal, attack := filepath.Join(root, "normal"), filepath.Join(root, "attack")
	fresh := func(base string) {
		t.Helper()
		os.RemoveAll(base)
		for _, op := range filechanges.Ops {
			dir := filepath.Join(base, op.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := op.Setup(dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	fresh(normal)
	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: helperCommand(t, "file-changes", normal, "ok")})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	for _, c := range rec.Choices {
		if c.Kind == bpf.KindFile && len(c.MissingChanges) > 0 {
			t.Errorf("recording backend %s lacks %v", c.Chosen, c.MissingChanges)
		}
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce, Unpreventable: v1alpha1.UnpreventableKill})
	if err != nil {
		t.Fatal(err)
	}
	fresh(normal)
	res := run(t, generated.Policy.DeepCopy(), helperCommand(t, "file-changes", normal, "ok"))
	if res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("the recorded run under its own policy: exit code %d, violations %+v; want 0 and none", res.ExitCode, res.Violations)
	}
	want := "fmod_ret/security_file_open"
	if boot.BPFLSM {
		want = "lsm/file_open"
	}
	for _, c := range res.Choices {
		if c.Kind == bpf.KindFile && (c.Chosen != want || len(c.MissingChanges) > 0) {
			t.Errorf("file backend %s lacking %v; want %s with every change hook", c.Chosen, c.MissingChanges, want)
		}
	}

	hooksOnly := generated.Policy.DeepCopy()
	hooksOnly.Spec.Syscalls = nil
	fresh(attack)
	res = run(t, hooksOnly, helperCommand(t, "file-changes", attack, "EPERM"))
	if res.ExitCode != 0 {
		t.Errorf("the attacker exited %d: not every change failed with EPERM", res.ExitCode)
	}
	for _, op := range filechanges.Ops {
		t.Run(op.Name, func(t *testing.T) {
			dir := filepath.Join(attack, op.Name)
			denied := filepath.Join(dir, op.Denied)
			i := slices.IndexFunc(res.Violations, func(v bpf.Violation) bool {
				return v.Kind == bpf.KindFile && v.Path == denied && slices.Contains(v.Access.Names(), string(op.DeniedMode))
			})
			if i < 0 {
				t.Fatalf("violations %+v; want a %s of %s", res.Violations, op.DeniedMode, denied)
			}
			if v := res.Violations[i]; v.Outcome != bpf.Denied {
				t.Errorf("outcome %v; want denied", v.Outcome)
			}
			if d := Describe(res.Violations[i]); !strings.Contains(d, `("`+denied+`")`) {
				t.Errorf("described as %q; want the call and the path", d)
			}
			if happened, err := op.Happened(dir); err != nil || happened {
				t.Errorf("the change happened (%v, %v)", happened, err)
			}
		})
	}
	t.Run("routes-left-alone", func(t *testing.T) {
		checkRoutesLeftAlone(t, generated.Policy, filepath.Join(root, "old-policy"))
	})
}

// routeOps are the changes on routes a generation after the first added.
func routeOps() []filechanges.Op {
	var ops []filechanges.Op
	for _, op := range filechanges.Ops {
		if op.Route != "" {
			ops = append(ops, op)
		}
	}
	return ops
}

// checkRoutesLeftAlone makes every change of a newer route, each in its
// own directory below base, under p exported for the first generation of
// routes: every one succeeds, unreported, as under an agent of the release
// that exported p (which did not govern them, so its recording could not
// show whether the workload needed them).
func checkRoutesLeftAlone(t *testing.T, p *v1alpha1.EnforcementPolicy, base string) {
	t.Helper()
	old := p.DeepCopy()
	old.Spec.Syscalls = nil
	old.Spec.Routes = v1alpha1.FirstRoutes
	if len(old.Spec.RoutesLeftAlone()) == 0 {
		t.Fatal("the first generation leaves no route alone")
	}
	args := []string{base, "ok"}
	for _, op := range routeOps() {
		dir := filepath.Join(base, op.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := op.Setup(dir); err != nil {
			t.Fatal(err)
		}
		args = append(args, op.Name)
	}
	res := run(t, old, helperCommand(t, "file-changes", args...))
	if res.ExitCode != 0 {
		t.Errorf("the command exited %d; want 0, every change allowed", res.ExitCode)
	}
	for _, v := range res.Violations {
		if v.Kind == bpf.KindFile && strings.HasPrefix(v.Path, base+"/") {
			t.Errorf("violation %s; want none: the policy's generation leaves %v alone", Describe(v), old.Spec.RoutesLeftAlone())
		}
	}
	for _, op := range routeOps() {
		if happened, err := op.Happened(filepath.Join(base, op.Name)); err != nil || !happened {
			t.Errorf("%s did not happen (%v)", op.Name, err)
		}
	}
}

// TestRoutesAPolicyWasNotExportedForAreLeftAlone: a policy exported before
// mkdir and time sets were governed (every policy an older release wrote)
// lets its workload make directories and set times outside its rules, while
// the same policy exported now refuses them
// (TestFileChangesOutsideThePolicyAreReported): an upgrade of the agent
// refuses nothing the workload may have done unseen while recorded.
func TestRoutesAPolicyWasNotExportedForAreLeftAlone(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A recording of nothing on these routes: the policy has file rules
	// and allows none of the changes below.
	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: helperCommand(t, "file-changes", root, "ok", "none")})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce, Unpreventable: v1alpha1.UnpreventableKill})
	if err != nil {
		t.Fatal(err)
	}
	if generated.Policy.Spec.Files == nil || generated.Policy.Spec.Routes != v1alpha1.CurrentRoutes {
		t.Fatalf("exported spec.routes %d, files %v; want %d and file rules", generated.Policy.Spec.Routes, generated.Policy.Spec.Files, v1alpha1.CurrentRoutes)
	}
	checkRoutesLeftAlone(t, generated.Policy, filepath.Join(root, "attack"))
}
