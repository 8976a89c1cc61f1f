package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/spf13/cobra"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

type enforceFlags struct {
	policyFile    string
	profileFile   string
	mode          string
	action        string
	duration      time.Duration
	stopGrace     time.Duration
	user          string
	unpreventable string
}

func newEnforceCommand() *cobra.Command {
	var f enforceFlags
	cmd := &cobra.Command{
		Use:   "enforce (--policy FILE | --profile FILE) [flags] -- CMD [ARGS...]",
		Short: "Run a command held to an EnforcementPolicy in the kernel",
		Long: `enforce runs CMD in a fresh cgroup held to an EnforcementPolicy from its first
instruction: CMD's own exec must be allowed, and the file, capability and connect
rules apply from that exec on, to CMD and every process it starts.

Each distinct violation is printed as it happens, one line each; repeats are
counted in the kernel. In audit mode violations are reported and allowed; in
enforce mode they are stopped. What "stopped" means depends on the kernel:
where bpf is an active LSM, or where fmod_ret programs load (Linux 5.7+), every
kind is prevented (the operation fails with EPERM); elsewhere connects are still
prevented, and file opens, executions and capability uses are killed after the
fact with SIGKILL. Every backend is used only once a self-test has seen it
work; the summary and footprint probe say which is used and why.

--profile generates the policy from a profile on the fly (as footprint export
policy would). footprint exits with CMD's exit code (137 when it was killed).`,
		Example: `  sudo footprint export policy app.profile.yaml --mode enforce > policy.yaml
  sudo footprint enforce --policy policy.yaml -- ./app --port 8080
  sudo footprint enforce --profile app.profile.yaml --mode audit -- ./app --port 8080`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnforce(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policyFile, "policy", "", "the EnforcementPolicy to enforce (YAML)")
	fl.StringVar(&f.profileFile, "profile", "", "a Profile to generate the policy from")
	fl.StringVar(&f.mode, "mode", "", "audit (report and allow) or enforce (default: the policy's; audit with --profile)")
	fl.StringVar(&f.action, "action", "", "in enforce mode: deny (EPERM where the kernel can) or kill (SIGKILL) (default: the policy's; deny with --profile)")
	fl.DurationVar(&f.duration, "duration", 0, "stop CMD after this long (default: when it exits)")
	fl.DurationVar(&f.stopGrace, "stop-grace", 5*time.Second, "how long CMD has to exit after SIGTERM before it is killed")
	fl.StringVar(&f.unpreventable, "unpreventable", "", unpreventableUsage+" (default: the policy's; audit with --profile)")
	fl.StringVar(&f.user, "user", "", "run CMD as USER[:GROUP] (names or numbers), as its service manager would; the switch is not held to the policy")
	return cmd
}

func runEnforce(cmd *cobra.Command, f enforceFlags, args []string) error {
	runAs, err := parseUser(f.user)
	if err != nil {
		return err
	}
	policy, err := enforcedPolicy(f)
	if err != nil {
		return err
	}
	if _, err := cgroupcmd.LookCommand(args[0]); err != nil {
		code := 127
		if errors.Is(err, cgroupcmd.ErrCommandNotExecutable) {
			code = 126
		}
		return &exitError{code: code, err: err}
	}
	if err := requireRoot("enforce"); err != nil {
		return err
	}

	stderr := cmd.ErrOrStderr()
	var mu sync.Mutex
	res, err := enforcer.EnforceCommand(cmd.Context(), enforcer.LocalOptions{
		Policy:    policy,
		Command:   args,
		Duration:  f.duration,
		StopGrace: f.stopGrace,
		User:      runAs,
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		OnViolation: func(v bpf.Violation) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "footprint: violation: %s\n", enforcer.Describe(v))
		},
	})
	if err != nil {
		return err
	}
	printEnforceSummary(stderr, policy, res)
	if res.Stopped != "" {
		fmt.Fprintf(stderr, "footprint: %s: stopped %s\n", res.Stopped, args[0])
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

// enforcedPolicy reads the policy (or generates it from the profile) and
// applies --mode and --action.
func enforcedPolicy(f enforceFlags) (*v1alpha1.EnforcementPolicy, error) {
	var policy *v1alpha1.EnforcementPolicy
	switch {
	case f.policyFile != "" && f.profileFile != "":
		return nil, usagef("give either --policy or --profile, not both")
	case f.policyFile != "":
		p, err := policies.LoadFile(f.policyFile)
		if err != nil {
			return nil, err
		}
		policy = p
	case f.profileFile != "":
		profile, err := profiles.LoadFile(f.profileFile)
		if err != nil {
			return nil, err
		}
		g, err := generator.Policy(profile, generator.PolicyOptions{})
		if err != nil {
			return nil, fmt.Errorf("generate a policy from %s: %w", f.profileFile, err)
		}
		policy = g.Policy
	default:
		return nil, usagef("enforce needs a policy: give --policy FILE (from footprint export policy) or --profile FILE (from footprint record)")
	}
	if f.mode != "" {
		mode, err := parseMode(f.mode)
		if err != nil {
			return nil, err
		}
		policy.Spec.Mode = mode
	}
	if f.action != "" {
		action, err := parseAction(f.action)
		if err != nil {
			return nil, err
		}
		policy.Spec.Action = action
	}
	if f.unpreventable != "" {
		u, err := parseUnpreventable(f.unpreventable)
		if err != nil {
			return nil, err
		}
		policy.Spec.Unpreventable = u
	}
	return policy, nil
}

// printEnforceSummary prints, per kind, whether the policy governs it, what
// this kernel does about a violation, and the counts.
func printEnforceSummary(w io.Writer, policy *v1alpha1.EnforcementPolicy, res *enforcer.LocalResult) {
	mode := policy.Spec.Mode
	if mode == "" {
		mode = v1alpha1.ModeAudit
	}
	killAfter := policy.Spec.Unpreventable == v1alpha1.UnpreventableKill
	fmt.Fprintf(w, "\nfootprint: %d distinct violations (mode %s)\n", len(res.Violations), mode)
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"KIND", "RULES", "ON VIOLATION", "BACKEND", "CHECKED", "VIOLATIONS", "DISTINCT"})
	t.SetColumnConfigs([]table.ColumnConfig{{Number: 5, Align: text.AlignRight}, {Number: 6, Align: text.AlignRight}, {Number: 7, Align: text.AlignRight}})
	for _, c := range res.Choices {
		governed := governs(policy, c.Kind)
		effect := string(c.Effect)
		switch {
		case !governed:
			effect = "-"
		case mode == v1alpha1.ModeAudit:
			effect = "reported (audit)"
		case c.Effect == bpf.KilledAfter && !killAfter:
			effect = "reported (cannot prevent here)"
		case c.Kind == bpf.KindSyscall && c.Chosen == "":
			// The filter refuses all the same: nobody reports.
			effect = "prevented by seccomp, not reported (no reporter here)"
		}
		counts := res.Counters[c.Kind]
		rules := "not governed"
		switch {
		case c.Kind == bpf.KindCgroup:
			rules = "its own cgroups"
		case c.Kind == bpf.KindPtrace:
			rules = "its own processes"
		case governed:
			rules = "allow-list"
		}
		t.AppendRow(table.Row{c.Kind.String(), rules, effect, c.Chosen, counts.Checked, counts.Violations, counts.Reported + counts.Suppressed + counts.RingBufferLost})
	}
	t.Render()
	for _, n := range res.Widened {
		fmt.Fprintf(w, "footprint: note: wider than the policy text: %s\n", n)
	}
	if left := policy.Spec.RoutesLeftAlone(); len(left) > 0 {
		fmt.Fprintf(w, "footprint: note: the policy was exported for routes generation %d (spec.routes), before %s were governed: they were left alone, neither reported nor refused; record again and export, or set spec.routes to %d once the policy allows what they need, to govern them\n",
			v1alpha1.RoutesOrFirst(policy.Spec.Routes), v1alpha1.JoinRoutes(left), v1alpha1.CurrentRoutes)
	}
	var unreported []string
	for _, c := range res.Choices {
		if n := res.Counters[c.Kind].Suppressed + res.Counters[c.Kind].RingBufferLost; n > 0 {
			unreported = append(unreported, fmt.Sprintf("%d %s", n, c.Kind))
		}
	}
	if len(unreported) > 0 {
		fmt.Fprintf(w, "footprint: distinct violations acted on but not reported (over the report rate): %s\n", strings.Join(unreported, ", "))
	}
	if n := res.Counters[bpf.KindCgroup].Unheld; n > 0 {
		fmt.Fprintf(w, "footprint: warning: %d processes left the command's cgroup when the kernel's table of them was full: they were not held to the policy\n", n)
	}
	if res.LeftBehind > 0 {
		fmt.Fprintf(w, "footprint: %d processes that had left the command's cgroup were killed with it\n", res.LeftBehind)
	}
	var after []string
	for _, c := range res.Choices {
		if governs(policy, c.Kind) && c.Effect == bpf.KilledAfter && mode == v1alpha1.ModeEnforce {
			after = append(after, c.Kind.String())
		}
	}
	switch {
	case len(after) > 0 && killAfter:
		fmt.Fprintf(w, "footprint: on this kernel %s are killed after the fact, not prevented: no backend that prevents them passed its self-test (see footprint probe)\n", strings.Join(after, ", "))
	case len(after) > 0:
		fmt.Fprintf(w, "footprint: on this kernel %s cannot be prevented (no backend that prevents them passed its self-test; see footprint probe): violations were reported and allowed; --unpreventable kill kills the process once the operation has happened\n", strings.Join(after, ", "))
	}
}

func governs(p *v1alpha1.EnforcementPolicy, k bpf.Kind) bool {
	switch k {
	case bpf.KindCapability:
		return p.Spec.Capabilities != nil
	case bpf.KindFile:
		return p.Spec.Files != nil
	case bpf.KindConnect:
		return p.Spec.Connect != nil
	case bpf.KindExec:
		return p.Spec.Executables != nil
	case bpf.KindCgroup:
		return true // every policy follows its processes
	case bpf.KindSocket:
		return p.Spec.Sockets != nil
	case bpf.KindPtrace:
		return true // every policy keeps its processes from tracing others
	case bpf.KindSyscall:
		return p.Spec.Syscalls != nil
	}
	return false
}
