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
	"io"
	"os"
	"os/signal"
	"strings"
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
	newRoot := newRootCommand
	if isKubectlPlugin(os.Args[0]) {
		newRoot = newKubectlPluginCommand // run by kubectl as kubectl-footprint
	}
	root := newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(os.Stderr, cmd, err)
}

// report prints err, if any, and returns the exit code for it: 2 for a
// command line footprint cannot use (with where to read the usage), the
// code an exitError carries, 1 for every other failure.
func report(w io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.err != nil {
			fmt.Fprintf(w, "footprint: %v\n", exit.err)
		}
		return exit.code
	}
	msg := strings.TrimSpace(err.Error())
	var usage *usageError
	// cobra does not type its unknown-command errors.
	if errors.As(err, &usage) || strings.HasPrefix(msg, "unknown command ") {
		// cobra's suggestions come on lines of their own; keep them on one.
		if head, sugg, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok {
			msg = fmt.Sprintf("%s (did you mean %s?)", head, strings.Join(strings.Fields(sugg), " or "))
		}
		path := "footprint"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(w, "footprint: %s\nRun '%s --help' for usage.\n", msg, path)
		return 2
	}
	fmt.Fprintf(w, "footprint: %s\n", msg)
	return 1
}

// exitError carries an exit code that is not a failure of footprint itself,
// e.g. the exit code of the command `footprint record` ran, or 127 when that
// command does not exist. err, when set, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit code %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line footprint cannot use: an unknown flag, a
// missing or extra argument, a flag value out of its choices.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// markUsageErrors makes flag-parsing and argument-count errors of cmd and
// its subcommands usage errors.
func markUsageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					var u *usageError
					if errors.As(err, &u) {
						return err
					}
					return &usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
}

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
		newEnforceCommand(),
		newAgentCommand(),
		newKubeCommand(),
	)
	markUsageErrors(root)
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
