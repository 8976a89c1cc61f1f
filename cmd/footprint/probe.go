package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/cobra"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/recorder/cgroupfs"
)

func newProbeCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Show which kernel hooks footprint can use on this machine, and why others were refused",
		Long: `probe loads footprint's programs the way footprint record does and reports,
for each kind of event, the backend in use and why each better one was refused.`,
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
			rec, err := bpf.Load(bpf.Options{CgroupRoot: mount})
			if err != nil {
				return err
			}
			defer rec.Close()
			report := probeReport{Kernel: kernelRelease(), CgroupV2: mount, NoAudit: rec.NoAuditDetection()}
			for _, c := range rec.Choices() {
				report.Kinds = append(report.Kinds, probeKind{Kind: c.Kind.String(), Backend: c.Chosen, Note: c.Note, Rejected: c.Rejected})
			}
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
	Kernel   string      `json:"kernel"`
	CgroupV2 string      `json:"cgroupV2"`
	NoAudit  string      `json:"noAuditProbes"`
	Kinds    []probeKind `json:"kinds"`
}

type probeKind struct {
	Kind     string          `json:"kind"`
	Backend  string          `json:"backend"`
	Note     string          `json:"note,omitempty"`
	Rejected []bpf.Rejection `json:"rejected,omitempty"`
}

func (r probeReport) print(cmd *cobra.Command) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "kernel %s, cgroup v2 at %s\n\n", r.Kernel, r.CgroupV2)
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"Events", "Backend", "Status"})
	for _, k := range r.Kinds {
		status := "in use"
		if k.Note != "" {
			status += ": " + k.Note
		}
		backend := k.Backend
		if backend == "" {
			backend, status = "none", "not recorded on this kernel"
		}
		t.AppendRow(table.Row{k.Kind, backend, status})
		for _, rj := range k.Rejected {
			t.AppendRow(table.Row{"", rj.Backend, rj.Reason})
		}
		t.AppendSeparator()
	}
	t.Render()
	fmt.Fprintf(w, "\nno-audit capability probes are told apart %s\n", r.NoAudit)
}

func kernelRelease() string {
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		return "unknown"
	}
	b := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// requireRoot refuses early, with the fix, when footprint cannot load BPF at
// all.
func requireRoot(verb string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root: loading eBPF programs takes CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN; run it with sudo (sudo footprint %s ...)", verb, verb)
	}
	return nil
}
