package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/cobra"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

func newDiffCommand() *cobra.Command {
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two profiles, or a profile with a policy",
		Long: `Compare two profiles (say, last week's and today's): every capability, file,
destination and program that appeared, disappeared or changed how it is used. Counts
are not compared; they differ between any two runs.

Given a profile and an EnforcementPolicy (in either order), list what the workload
did, according to the profile, that the policy would not allow: the violations it
would report in Audit mode, or stop in Enforce mode.`,
		Example: `  footprint diff web-monday.yaml web-friday.yaml
  footprint diff web.yaml web-policy.yaml --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := policies.LoadObjectFile(args[0])
			if err != nil {
				return err
			}
			b, err := policies.LoadObjectFile(args[1])
			if err != nil {
				return err
			}
			var differ bool
			switch a := a.(type) {
			case *v1alpha1.Profile:
				switch b := b.(type) {
				case *v1alpha1.Profile:
					differ, err = diffProfiles(cmd.OutOrStdout(), args[0], args[1], a, b)
				case *v1alpha1.EnforcementPolicy:
					differ, err = diffPolicy(cmd.OutOrStdout(), a, b)
				}
			case *v1alpha1.EnforcementPolicy:
				p, ok := b.(*v1alpha1.Profile)
				if !ok {
					return fmt.Errorf("%s and %s are both EnforcementPolicies: diff compares two profiles, or a profile with a policy", args[0], args[1])
				}
				differ, err = diffPolicy(cmd.OutOrStdout(), p, a)
			}
			if err != nil {
				return err
			}
			if differ && exitCode {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit with 1 when there are differences (or violations), as diff(1) does")
	return cmd
}

var changeSigns = map[profiles.ChangeOp]string{profiles.Added: "+", profiles.Removed: "-", profiles.Changed: "~"}

func diffProfiles(w io.Writer, nameA, nameB string, a, b *v1alpha1.Profile) (bool, error) {
	changes := profiles.Diff(a, b)
	if len(changes) == 0 {
		_, err := fmt.Fprintf(w, "No differences between %s and %s (counts aside).\n", nameA, nameB)
		return false, err
	}
	if _, err := fmt.Fprintf(w, "From %s to %s: %s (+ added, - removed, ~ changed)\n", nameA, nameB, count(len(changes), "change", "changes")); err != nil {
		return true, err
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"", "Kind", "Entry", "Details"})
	for _, c := range changes {
		details := c.Before + c.After
		if c.Op == profiles.Changed {
			details = orNone(c.Before) + " → " + orNone(c.After)
		}
		t.AppendRow(table.Row{changeSigns[c.Op], c.Kind, c.Entry, details})
	}
	t.Render()
	return true, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func diffPolicy(w io.Writer, p *v1alpha1.Profile, policy *v1alpha1.EnforcementPolicy) (bool, error) {
	denials, err := policies.WouldDeny(p, policy)
	if err != nil {
		return false, err
	}
	mode, action := policy.Spec.Mode, policy.Spec.Action
	if mode == "" {
		mode = v1alpha1.ModeAudit
	}
	if action == "" {
		action = v1alpha1.ActionDeny
	}
	name := policy.Name
	if name == "" {
		name = "(unnamed)"
	}
	if len(denials) == 0 {
		_, err := fmt.Fprintf(w, "Policy %s (%s, %s) allows everything the profile shows.\n", name, mode, action)
		return false, err
	}
	what := "would report and allow"
	if mode == v1alpha1.ModeEnforce {
		what = "would stop"
	}
	if _, err := fmt.Fprintf(w, "Policy %s (%s, %s) %s %s the profile shows:\n", name, mode, action, what, count(len(denials), "operation", "operations")); err != nil {
		return true, err
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"Verdict", "Kind", "Entry", "Count", "Why"})
	for _, d := range denials {
		t.AppendRow(table.Row{strings.ToLower(string(d.Verdict)), d.Kind, d.Entry, d.Count, d.Reason})
	}
	rightAligned(t, 4)
	t.Render()
	return true, nil
}
