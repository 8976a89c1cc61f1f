package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// profileFormats are the formats renderProfile writes.
var profileFormats = []string{"table", "yaml", "json"}

// renderProfile writes a profile as tables for a person (format "table"), or
// as YAML or JSON for a program. `footprint show` uses it, and so does
// `footprint record` for the summary at the end of a recording.
func renderProfile(w io.Writer, p *v1alpha1.Profile, format string) error {
	switch format {
	case "yaml":
		data, err := yaml.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode profile: %w", err)
		}
		_, err = w.Write(data)
		return err
	case "json":
		data, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return fmt.Errorf("encode profile: %w", err)
		}
		_, err = w.Write(append(data, '\n'))
		return err
	case "table", "":
		return renderProfileTables(w, profiles.Normalize(p))
	}
	return fmt.Errorf("unknown format %q: use %s", format, strings.Join(profileFormats, ", "))
}

// newTable returns a table in footprint's style writing to w.
func newTable(w io.Writer) table.Writer {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatUpper
	return t
}

// rightAligned aligns the given (1-based) columns right: counts and ports.
func rightAligned(t table.Writer, columns ...int) {
	var configs []table.ColumnConfig
	for _, c := range columns {
		configs = append(configs, table.ColumnConfig{Number: c, Align: text.AlignRight, AlignHeader: text.AlignRight})
	}
	t.SetColumnConfigs(configs)
}

func renderProfileTables(w io.Writer, p *v1alpha1.Profile) error {
	spec := p.Spec
	var errs []error
	write := func(format string, args ...any) {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			errs = append(errs, err)
		}
	}
	write("%s\n", profileTitle(p))
	if summary := sourcesSummary(spec.Sources); summary != "" {
		write("%s\n", summary)
	}
	write("%s, %s, %s, %s, %s\n",
		count(len(spec.Capabilities), "capability check", "capability checks"), count(len(spec.Files), "file", "files"),
		count(len(spec.Connections), "destination", "destinations"), count(len(spec.Executables), "program", "programs"),
		count(syscallCount(spec), "system call", "system calls"))
	recorded, known := recordedKinds(spec.Sources)
	section := func(title, kind string, n int) bool {
		write("\n%s (%d)\n", title, n)
		if n > 0 {
			return true
		}
		if known && !recorded[kind] {
			write("  not recorded\n")
		} else {
			write("  none\n")
		}
		return false
	}

	if section("CAPABILITIES", "capabilities", len(spec.Capabilities)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"Capability", "Verdict", "Probe", "User namespace", "Count", "securityContext"})
		for _, c := range spec.Capabilities {
			t.AppendRow(table.Row{c.Name, c.Verdict, yes(c.Probe), yes(c.UserNamespace), c.Count, capabilityUse(c)})
		}
		rightAligned(t, 5)
		t.Render()
	}
	if section("FILES", "files", len(spec.Files)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"Path", "Access", "Filesystem", "Root filesystem", "Count"})
		for _, f := range spec.Files {
			t.AppendRow(table.Row{f.Path, joinAccess(f.Access), f.Filesystem, rootFilesystem(f), f.Count})
		}
		rightAligned(t, 5)
		t.Render()
	}
	if section("CONNECTIONS", "connections", len(spec.Connections)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"Protocol", "Address", "Port", "Count", "Note"})
		for _, c := range spec.Connections {
			t.AppendRow(table.Row{c.Protocol, c.Address, c.Port, c.Count, connectionNote(c)})
		}
		rightAligned(t, 3, 4)
		t.Render()
	}
	// Profiles from before sockets were recorded show no section for them.
	if (len(spec.Sockets) > 0 || recorded["sockets"]) && section("SOCKETS", "sockets", len(spec.Sockets)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"Operation", "Path / Address", "Family", "Protocol", "Port", "Count"})
		for _, s := range spec.Sockets {
			where, port := s.Path, ""
			if s.Operation == v1alpha1.SocketBind {
				where, port = s.Address, fmt.Sprint(s.Port)
			}
			t.AppendRow(table.Row{s.Operation, where, s.Family, s.Protocol, port, s.Count})
		}
		rightAligned(t, 5, 6)
		t.Render()
	}
	if section("EXECUTABLES", "executables", len(spec.Executables)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"Path", "Set-ID", "Privilege gain", "UIDs", "GIDs", "Count"})
		for _, e := range spec.Executables {
			t.AppendRow(table.Row{e.Path, setID(e), yes(e.PrivilegeGain), joinIDs(e.UIDs), joinIDs(e.GIDs), e.Count})
		}
		rightAligned(t, 6)
		t.Render()
	}
	if section("SYSCALLS", "syscalls", syscallCount(spec)) {
		t := newTable(w)
		t.AppendHeader(table.Row{"ABI", "System calls", "Names"})
		t.SetColumnConfigs([]table.ColumnConfig{
			{Number: 2, Align: text.AlignRight, AlignHeader: text.AlignRight},
			{Number: 3, WidthMax: 100, WidthMaxEnforcer: text.WrapSoft}})
		for _, set := range spec.Syscalls {
			names := strings.Join(set.Names, " ")
			if len(set.SocketFamilies) > 0 {
				names += "; socket families: " + strings.Join(set.SocketFamilies, " ")
			}
			t.AppendRow(table.Row{set.Arch, len(set.Names), names})
		}
		t.Render()
	}
	if len(spec.Collapsed) > 0 {
		write("\nCOLLAPSED (the profile is wider than what was observed here)\n")
		t := newTable(w)
		t.AppendHeader(table.Row{"Glob", "Entries", "Reason"})
		for _, c := range spec.Collapsed {
			t.AppendRow(table.Row{c.Glob, c.Entries, c.Reason})
		}
		rightAligned(t, 2)
		t.Render()
	}
	if len(spec.Sources) > 0 {
		write("\nSOURCES\n")
		t := newTable(w)
		// Images only where some source names them: a local run has none.
		withImages := slices.ContainsFunc(spec.Sources, func(s v1alpha1.Source) bool { return len(s.Images) > 0 })
		header := table.Row{"Node", "Pod", "Recording", "Kernel", "From", "To", "Events", "Lost"}
		if withImages {
			header = append(header, "Images")
		}
		t.AppendHeader(header)
		for _, s := range spec.Sources {
			by := s.Recording
			if s.Policy != "" {
				// Recorded because it ran an image the policy was not
				// recorded from.
				by = "policy " + s.Policy
			}
			row := table.Row{s.Node, s.Pod, by, s.Kernel, timestamp(s.FirstSeen.Time), timestamp(s.LastSeen.Time), s.Events, s.LostRecords}
			if withImages {
				row = append(row, imageList(s.Images))
			}
			t.AppendRow(row)
		}
		rightAligned(t, 7, 8)
		t.Render()
		if backends := backendsLine(spec.Sources); backends != "" {
			write("Backends: %s\n", backends)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("write profile: %w", errs[0])
	}
	return nil
}

// profileTitle writes what the profile is of: "Profile shop/web-nginx:
// container "nginx" of Deployment web" or the command a local run recorded.
func profileTitle(p *v1alpha1.Profile) string {
	name := p.Name
	if p.Namespace != "" {
		name = p.Namespace + "/" + name
	}
	title := "Profile"
	if name != "" {
		title += " " + name
	}
	var of []string
	if p.Spec.Container != "" {
		of = append(of, fmt.Sprintf("container %q", p.Spec.Container))
	}
	if w := p.Spec.Workload; w != nil {
		of = append(of, w.Kind+" "+w.Name)
	}
	if len(p.Spec.Command) > 0 {
		of = append(of, "`"+strings.Join(p.Spec.Command, " ")+"`")
	}
	if len(of) > 0 {
		title += ": " + strings.Join(of, " of ")
	}
	return title
}

// sourcesSummary says where and when the entries were observed.
func sourcesSummary(sources []v1alpha1.Source) string {
	if len(sources) == 0 {
		return ""
	}
	var nodes, pods []string
	var events, lost int64
	first, last := sources[0].FirstSeen.Time, sources[0].LastSeen.Time
	for _, s := range sources {
		if s.Node != "" && !slices.Contains(nodes, s.Node) {
			nodes = append(nodes, s.Node)
		}
		if s.Pod != "" && !slices.Contains(pods, s.Pod) {
			pods = append(pods, s.Pod)
		}
		events += s.Events
		lost += s.LostRecords
		if s.FirstSeen.Time.Before(first) {
			first = s.FirstSeen.Time
		}
		if s.LastSeen.Time.After(last) {
			last = s.LastSeen.Time
		}
	}
	where := "Recorded in " + count(len(sources), "run", "runs")
	if len(pods) > 0 {
		where = "Recorded on " + count(len(pods), "pod", "pods")
	}
	if len(nodes) > 0 {
		where += " on " + strings.Join(nodes, ", ")
	}
	parts := []string{where}
	if !first.IsZero() {
		parts = append(parts, fmt.Sprintf("%s to %s (%s)", timestamp(first), timestamp(last), last.Sub(first).Round(time.Second)))
	}
	if events > 0 {
		parts = append(parts, count(int(events), "event", "events"))
	}
	if lost > 0 {
		parts = append(parts, fmt.Sprintf("%d ring-buffer records lost (their entries were recovered from the kernel's maps)", lost))
	}
	return strings.Join(parts, ", ")
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func backendsLine(sources []v1alpha1.Source) string {
	byKind := map[string][]string{}
	for _, s := range sources {
		for kind, backend := range s.Backends {
			if !slices.Contains(byKind[kind], backend) {
				byKind[kind] = append(byKind[kind], backend)
			}
		}
	}
	var parts []string
	for _, kind := range []string{"capabilities", "files", "connections", "executables", "syscalls"} {
		if b := byKind[kind]; len(b) > 0 {
			parts = append(parts, kind+" "+strings.Join(b, " or "))
			delete(byKind, kind)
		}
	}
	var rest []string
	for kind := range byKind {
		rest = append(rest, kind+" "+strings.Join(byKind[kind], " or "))
	}
	slices.Sort(rest)
	return strings.Join(append(parts, rest...), "; ")
}

// recordedKinds says which kinds the sources recorded; known is false when
// no source says.
func recordedKinds(sources []v1alpha1.Source) (map[string]bool, bool) {
	kinds := map[string]bool{}
	for _, s := range sources {
		for kind := range s.Backends {
			kinds[kind] = true
		}
	}
	return kinds, len(kinds) > 0
}

// capabilityUse says what a securityContext generated from the profile does
// with a capability entry.
func capabilityUse(c v1alpha1.CapabilityEntry) string {
	switch {
	case c.Probe:
		return "not added: probe"
	case c.Verdict == v1alpha1.VerdictDenied:
		return "not added: denied, coped"
	case c.UserNamespace:
		return "not added: own user namespace"
	}
	if _, err := profiles.ParseCapability(c.Name); err != nil {
		return "not added: unknown name"
	}
	return "add " + profiles.KubernetesCapability(c.Name)
}

func rootFilesystem(f v1alpha1.FileEntry) string {
	if !f.RootFilesystem {
		return ""
	}
	for _, m := range f.Access {
		if m.Modifies() {
			return "yes, written"
		}
	}
	return "yes"
}

func connectionNote(c v1alpha1.ConnectionEntry) string {
	ip, err := netip.ParseAddr(c.Address)
	switch {
	case c.Port == 53:
		return "DNS"
	case err == nil && ip.IsLoopback():
		return "loopback"
	case c.Port == 0 && c.Protocol == v1alpha1.ProtocolUDP:
		return "source-address probe"
	}
	return ""
}

func setID(e v1alpha1.ExecutableEntry) string {
	switch {
	case e.Setuid && e.Setgid:
		return "setuid, setgid"
	case e.Setuid:
		return "setuid"
	case e.Setgid:
		return "setgid"
	}
	return ""
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func joinAccess(modes []v1alpha1.FileAccessMode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func syscallCount(spec v1alpha1.ProfileSpec) int {
	n := 0
	for _, set := range spec.Syscalls {
		n += len(set.Names)
	}
	return n
}
