// Command footprint records what a program or container really does with
// eBPF and turns it into least privilege that the same engine enforces.
//
// Local use:  footprint record -- CMD, footprint export ..., footprint probe.
// In a cluster the same binary is the node agent (footprint agent) and the
// kubectl plugin (kubectl footprint ...).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process exit code, so tests
// can drive the CLI in-process.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var exit *exitError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case err != nil:
		fmt.Fprintf(os.Stderr, "footprint: %v\n", err)
		return 1
	}
	return 0
}

// exitError carries an exit code that is not a failure of footprint itself,
// e.g. the exit code of the command `footprint record` ran.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit code %d", e.code) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "footprint",
		Short: "Record what a workload does with eBPF and turn it into least privilege",
		Long: `footprint records the capability checks, file opens, outbound connections and
executions of a program or container with eBPF, writes them as a Profile, and
generates least privilege from it: a Kubernetes securityContext patch and an
EnforcementPolicy that footprint enforces in the kernel.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCommand(),
		newProbeCommand(),
		newRecordCommand(),
		newShowCommand(), newDiffCommand(), newExportCommand(),
	)
	return root
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print footprint's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version)
		},
	}
}
