package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/spf13/cobra"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/recorder"
)

func newProbeCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Show which kernel hooks footprint can use on this machine, and why others were refused",
		Long: `probe loads footprint's programs the way footprint record, footprint enforce
and the node agent do and reports, for each kind of event, the backend in use,
what its self-test saw it do, and why each better one was refused: first for
recording, then for enforcement, where it also says what happens to a
violation on this kernel (prevented: the operation fails with EPERM; killed
after the fact: SIGKILL once it has happened).

A backend is used only once a self-test proves it fires: a canary process
does the operation in a cgroup of its own, and the backend must record it, or
refuse it (or kill the canary) and report it. A BPF-LSM program, for one,
loads and attaches where bpf is not in the active LSM list and then never
runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("unknown output format %q (-o/--output): use table or json", format)
			}
			if err := requireRoot("probe"); err != nil {
				return err
			}
			mount, err := cgroupfs.Mount()
			if err != nil {
				return err
			}
			report := probeReport{Kernel: recorder.KernelRelease(), CgroupV2: mount, LSMs: bpf.ActiveLSMs()}
			lc, err := bpf.LoadLifecycle(bpf.LifecycleOptions{CgroupRoot: mount})
			if err != nil {
				return err
			}
			defer lc.Close()
			rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, Lifecycle: lc})
			if err != nil {
				return err
			}
			defer rec.Close()
			report.NoAudit = rec.NoAuditDetection()
			var recorded, enforced []bpf.ChangeCoverage
			var fileEffect bpf.Effect
			for _, c := range rec.Choices() {
				report.Kinds = append(report.Kinds, probeKind{Kind: c.Kind.String(), Backend: c.Chosen, Note: c.Note, Proof: c.Proof, Rejected: c.Rejected})
				if c.Kind == bpf.KindFile {
					recorded = c.Coverage()
					report.ChangeCaveats = appendNew(report.ChangeCaveats, c.ChangeCaveat())
				}
			}
			enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, Lifecycle: lc})
			if err != nil {
				report.EnforcementError = err.Error()
			} else {
				defer enf.Close()
				for _, c := range enf.Choices() {
					report.Enforcement = append(report.Enforcement, probeKind{Kind: c.Kind.String(), Backend: c.Chosen, Note: c.Note, Proof: c.Proof, Rejected: c.Rejected, Effect: string(c.Effect)})
					if c.Kind == bpf.KindFile {
						enforced, fileEffect = c.Coverage(), c.Effect
						report.ChangeCaveats = appendNew(report.ChangeCaveats, c.ChangeCaveat())
					}
				}
			}
			report.FileChanges = fileChanges(recorded, enforced, fileEffect)
			report.NotCovered = bpf.NotCovered
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			default:
				report.print(cmd)
				return nil
			}
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

type probeReport struct {
	Kernel   string `json:"kernel"`
	CgroupV2 string `json:"cgroupV2"`
	// LSMs is the kernel's active LSM list; nil when it cannot be read.
	LSMs    []string    `json:"activeLSMs"`
	NoAudit string      `json:"noAuditProbes"`
	Kinds   []probeKind `json:"kinds"`
	// Enforcement is, per kind, the enforcement backend and what it does
	// about a violation; EnforcementError says why none loads.
	Enforcement      []probeKind `json:"enforcement,omitempty"`
	EnforcementError string      `json:"enforcementError,omitempty"`
	// FileChanges says, per change made to a file without an open of its
	// path, whether it is recorded and what enforcement does about it.
	FileChanges []probeChange `json:"fileChanges,omitempty"`
	// ChangeCaveats say what the file backends' view of changes misses.
	ChangeCaveats []string `json:"fileChangeCaveats,omitempty"`
	// NotCovered are the routes to a file nothing covers yet.
	NotCovered []string `json:"notCovered,omitempty"`
}

func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

type probeChange struct {
	Operation string `json:"operation"`
	Access    string `json:"access"`
	Recorded  bool   `json:"recorded"`
	// Effect is what enforcement does: prevented, killed after the fact,
	// or not covered.
	Effect string `json:"effect"`
	Note   string `json:"note,omitempty"`
}

// fileChanges joins the recording and enforcement coverage of each change.
func fileChanges(recorded, enforced []bpf.ChangeCoverage, effect bpf.Effect) []probeChange {
	var out []probeChange
	for i, fc := range bpf.FileChanges {
		pc := probeChange{Operation: fc.Operation, Access: fc.Access, Effect: "not covered"}
		var notes []string
		if i < len(recorded) && recorded[i].Seen {
			pc.Recorded = true
			notes = appendNew(notes, recorded[i].Note)
		}
		if i < len(enforced) && enforced[i].Seen {
			pc.Effect = string(effect)
			notes = appendNew(notes, enforced[i].Note)
		}
		pc.Note = strings.Join(notes, "; ")
		out = append(out, pc)
	}
	return out
}

type probeKind struct {
	Kind    string `json:"kind"`
	Backend string `json:"backend"`
	Note    string `json:"note,omitempty"`
	// Proof is what the backend's self-test saw it do.
	Proof    string          `json:"selfTest,omitempty"`
	Rejected []bpf.Rejection `json:"rejected,omitempty"`
	// Effect is, for enforcement, what happens to a violation.
	Effect string `json:"effect,omitempty"`
}

func (r probeReport) print(cmd *cobra.Command) {
	w := cmd.OutOrStdout()
	lsms := "unknown (securityfs not readable)"
	if r.LSMs != nil {
		lsms = strings.Join(r.LSMs, ",")
	}
	fmt.Fprintf(w, "kernel %s, cgroup v2 at %s, active LSMs %s\n\nRecording\n", r.Kernel, r.CgroupV2, lsms)
	printBackends(w, "Events", r.Kinds, "not recorded on this kernel")
	fmt.Fprintf(w, "\nno-audit capability probes are told apart %s\n\nEnforcement\n", r.NoAudit)
	if r.EnforcementError != "" {
		fmt.Fprintf(w, "not available: %s\n", r.EnforcementError)
		return
	}
	printBackends(w, "Operations", r.Enforcement, "not enforced on this kernel")
	if len(r.FileChanges) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFiles changed without an open of their path\n")
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"Operation", "Access", "Recorded", "On violation", "Notes"})
	t.SetColumnConfigs([]table.ColumnConfig{{Number: 5, WidthMax: 50, WidthMaxEnforcer: text.WrapSoft}})
	for _, c := range r.FileChanges {
		recorded := "no"
		if c.Recorded {
			recorded = "yes"
		}
		t.AppendRow(table.Row{c.Operation, c.Access, recorded, c.Effect, c.Note})
	}
	t.Render()
	for _, n := range r.ChangeCaveats {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, n := range r.NotCovered {
		fmt.Fprintf(w, "not covered: %s\n", n)
	}
}

// printBackends prints one row per backend: the one in use with what its
// self-test saw, then the better ones refused, with the stage that refused
// them and why.
func printBackends(w io.Writer, header string, kinds []probeKind, none string) {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	enforcement := len(kinds) > 0 && kinds[0].Effect != ""
	if enforcement {
		t.AppendHeader(table.Row{header, "Backend", "On violation", "Self-test, notes"})
	} else {
		t.AppendHeader(table.Row{header, "Backend", "Status"})
	}
	t.SetColumnConfigs([]table.ColumnConfig{{Number: 3, WidthMax: 60, WidthMaxEnforcer: text.WrapSoft}, {Number: 4, WidthMax: 60, WidthMaxEnforcer: text.WrapSoft}})
	for _, k := range kinds {
		backend, status := k.Backend, "in use"
		if k.Proof != "" {
			status += ": " + k.Proof
		}
		if k.Note != "" {
			status += "; " + k.Note
		}
		if backend == "" {
			backend, status = "none", none
		}
		if enforcement {
			t.AppendRow(table.Row{k.Kind, backend, k.Effect, status})
		} else {
			t.AppendRow(table.Row{k.Kind, backend, status})
		}
		for _, rj := range k.Rejected {
			reason := fmt.Sprintf("refused (%s): %s", rj.Stage, rj.Reason)
			if enforcement {
				t.AppendRow(table.Row{"", rj.Backend, "", reason})
			} else {
				t.AppendRow(table.Row{"", rj.Backend, reason})
			}
		}
		t.AppendSeparator()
	}
	t.Render()
}

// requireRoot refuses early, with the fix, when footprint cannot load BPF at
// all.
func requireRoot(verb string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root: loading eBPF programs takes CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN; run it with sudo (sudo footprint %s ...)", verb, verb)
	}
	return nil
}
