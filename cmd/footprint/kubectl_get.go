package main

import (
	"fmt"
	"io"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
)

func newKubeGetCommand(kf *kubeFlags) *cobra.Command {
	get := &cobra.Command{
		Use:   "get profiles [NAME]",
		Short: "List the Profiles, or show one",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("get what? footprint gets profiles: %s profiles [NAME]", cmd.CommandPath())
			}
			return usagef("unknown resource %q: footprint gets profiles (%s profiles [NAME])", args[0], cmd.CommandPath())
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	var f kubeListFlags
	var selector, workloadFilter string
	profilesCmd := &cobra.Command{
		Use:     "profiles [NAME]",
		Aliases: []string{"profile", "prof", "fpp"},
		Short:   "List the Profiles (one per workload container), or show one",
		Long: `List the Profiles of the namespace (or of every namespace with -A): the workload
and container each one is of, how many capabilities, files, connections and
executables it holds, the recording that last added to it, the nodes and pods it
was observed on, and its age. With a NAME, show the whole profile as tables.
-o yaml and -o json print the objects.`,
		Example: `  kubectl footprint get profiles -n shop
  kubectl footprint get profiles -A --workload deployment/web
  kubectl footprint get profile web-nginx -n shop
  kubectl footprint get profile web-nginx -n shop -o yaml > web-nginx.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("want at most one profile name, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.output); err != nil {
				return err
			}
			if len(args) == 1 && (f.allNamespaces || selector != "" || workloadFilter != "") {
				return usagef("a profile name does not go with -A, -l or --workload: name the namespace with -n")
			}
			var sel labels.Selector
			if selector != "" {
				var err error
				if sel, err = labels.Parse(selector); err != nil {
					return usagef("-l %q: %v", selector, err)
				}
			}
			var wref *v1alpha1.WorkloadReference
			if workloadFilter != "" {
				var err error
				if wref, err = workloads.Parse(workloadFilter); err != nil {
					return usagef("--workload: %v", err)
				}
			}
			s, err := kf.connect(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				p, err := s.getProfile(ctx, args[0])
				if err != nil {
					return err
				}
				withKind(p)
				return renderProfile(out, p, f.output)
			}
			opts := f.listOptions(s)
			if sel != nil {
				opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
			}
			var list v1alpha1.ProfileList
			if err := s.c.List(ctx, &list, opts...); err != nil {
				return s.explain(fmt.Errorf("list Profiles: %w", err))
			}
			if wref != nil {
				items := list.Items[:0]
				for _, p := range list.Items {
					if w := p.Spec.Workload; w != nil && w.Kind == wref.Kind && w.Name == wref.Name {
						items = append(items, p)
					}
				}
				list.Items = items
			}
			sortByNamespaceName(list.Items, func(p v1alpha1.Profile) (string, string) { return p.Namespace, p.Name })
			if f.output != "table" {
				withKind(&list)
				for i := range list.Items {
					withKind(&list.Items[i])
				}
				return printObject(out, &list, f.output)
			}
			if len(list.Items) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No profiles %s. Record some: %s\n", f.where(s), s.hint("record", "deployment/NAME", "-n", s.namespace))
				return nil
			}
			renderProfileList(out, list.Items, f.allNamespaces, time.Now())
			return nil
		},
	}
	f.bind(profilesCmd)
	profilesCmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector, e.g. footprint.dev/recording=web")
	profilesCmd.Flags().StringVar(&workloadFilter, "workload", "", "only the profiles of this workload, as KIND/NAME, e.g. deployment/web")
	get.AddCommand(profilesCmd)
	return get
}

// profileSummary is the profile's status summary, or, when no writer has
// stored one (a profile applied by hand), the same counts from its spec.
func profileSummary(p *v1alpha1.Profile) *v1alpha1.ProfileSummary {
	if p.Status.Summary != nil {
		return p.Status.Summary
	}
	return p.Spec.Summarize()
}

func renderProfileList(w io.Writer, items []v1alpha1.Profile, withNamespace bool, now time.Time) {
	t := newTable(w)
	header := table.Row{"Name", "Workload", "Container", "Capabilities", "Files", "Connections", "Executables", "Syscalls", "Recording", "Nodes/Pods", "Age"}
	if withNamespace {
		header = append(table.Row{"Namespace"}, header...)
	}
	t.AppendHeader(header)
	for i := range items {
		p := &items[i]
		sum := profileSummary(p)
		workload := ""
		if wl := p.Spec.Workload; wl != nil {
			workload = wl.Kind + "/" + wl.Name
		}
		row := table.Row{p.Name, workload, p.Spec.Container, sum.Capabilities, sum.Files, sum.Connections, sum.Executables, sum.Syscalls,
			sum.Recording, fmt.Sprintf("%d/%d", sum.Nodes, sum.Pods), ago(p.CreationTimestamp, now)}
		if withNamespace {
			row = append(table.Row{p.Namespace}, row...)
		}
		t.AppendRow(row)
	}
	first := 4
	if withNamespace {
		first = 5
	}
	rightAligned(t, first, first+1, first+2, first+3, first+4, first+6)
	t.Render()
}
