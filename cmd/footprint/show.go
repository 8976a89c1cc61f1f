package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/footprint-dev/footprint/profiles"
)

func newShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show PROFILE.yaml",
		Short: "Show what a profile says a workload did",
		Long: `Show a profile: the capability checks with their verdicts (and whether a generated
securityContext would add each one), the files with how they were opened and whether
they live on the root filesystem, the destinations, the programs, and where and when
it was all recorded. -o yaml and -o json print the profile itself, normalised.`,
		Example: `  footprint show web.yaml
  footprint show web.yaml -o json | jq '.spec.files[].path'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profiles.LoadFile(args[0])
			if err != nil {
				return err
			}
			if format != "table" {
				p = profiles.Normalize(p)
			}
			return renderProfile(cmd.OutOrStdout(), p, format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", fmt.Sprintf("output format: %s", strings.Join(profileFormats, ", ")))
	return cmd
}
