package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/recorder"
)

type recordFlags struct {
	duration   time.Duration
	outputFile string
	format     string
	kinds      []string
	backends   []string
	ringBuffer int
	stopGrace  time.Duration
	user       string
	appendTo   bool
}

func newRecordCommand() *cobra.Command {
	var f recordFlags
	cmd := &cobra.Command{
		Use:   "record [flags] -- CMD [ARGS...]",
		Short: "Run a command and record what it does into a Profile",
		Long: `record runs CMD in a fresh cgroup and records, with eBPF, every capability
check the kernel makes for it (with the verdict), every file it opens and how,
every outbound connection and every program it executes, for its whole process
tree, until CMD exits, --duration elapses or you press Ctrl-C (CMD is then asked
to stop with SIGTERM and the profile is still written).

It prints a summary and writes the profile as a footprint.dev/v1alpha1 Profile
in YAML (to CMD-NAME.profile.yaml unless --output says otherwise). footprint
exits with CMD's exit code.`,
		Example: `  sudo footprint record -- curl -s http://127.0.0.1:8080/
  sudo footprint record --duration 30s --output web.yaml -- ./web-server --port 8080`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("record needs a command to run: footprint record [flags] -- CMD [ARGS...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecord(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "stop CMD after this long (default: when it exits)")
	fl.StringVar(&f.outputFile, "output", "", `file to write the profile to ("-" for stdout; default CMD-NAME.profile.yaml)`)
	fl.StringVarP(&f.format, "format", "o", "table", "summary format on stdout: table, yaml or json")
	fl.StringSliceVar(&f.kinds, "kinds", nil, "event kinds to record: capabilities, files, connections, executables (default all)")
	fl.StringArrayVar(&f.backends, "backend", nil, "pin a kind to a backend, e.g. executables=tracepoint/sched/sched_process_exec (see footprint probe)")
	fl.IntVar(&f.ringBuffer, "ring-buffer-size", 0, "kernel ring buffer size in bytes, a power of two (default 256 KiB)")
	fl.DurationVar(&f.stopGrace, "stop-grace", 5*time.Second, "how long CMD has to exit after SIGTERM before it is killed")
	fl.StringVar(&f.user, "user", "", "run CMD as USER[:GROUP] (names or numbers), as its service manager would; the switch is not recorded")
	fl.BoolVar(&f.appendTo, "append", false, "fold this run into the profile already in --output (one source per run), e.g. a daemon's start, reload, rotation and restart")
	return cmd
}

// parseUser looks up --user; "" is the caller's own.
func parseUser(spec string) (*cgroupcmd.User, error) {
	if spec == "" {
		return nil, nil
	}
	u, err := cgroupcmd.LookupUser(spec)
	if err != nil {
		return nil, usagef("--user: %v", err)
	}
	return u, nil
}

func runRecord(cmd *cobra.Command, f recordFlags, args []string) error {
	// Check everything the user typed before running anything.
	if f.format != "table" && f.format != "yaml" && f.format != "json" {
		return usagef("unknown summary format %q (-o/--format): use table, yaml or json", f.format)
	}
	kinds, err := parseKinds(f.kinds)
	if err != nil {
		return &usageError{err}
	}
	backends, err := parseBackends(f.backends)
	if err != nil {
		return &usageError{err}
	}
	runAs, err := parseUser(f.user)
	if err != nil {
		return err
	}
	// Like a shell: 127 when the command does not exist, 126 when it cannot
	// be executed. Nothing is written, and an existing --output is kept.
	if _, err := cgroupcmd.LookCommand(args[0]); err != nil {
		code := 127
		if errors.Is(err, cgroupcmd.ErrCommandNotExecutable) {
			code = 126
		}
		return &exitError{code: code, err: err}
	}
	if err := requireRoot("record"); err != nil {
		return err
	}
	outPath := f.outputFile
	if outPath == "" {
		outPath = recorder.ProfileName(args) + ".profile.yaml"
	}
	// With --append, the profile to fold this run into must be there and
	// sound before anything runs.
	var earlier *v1alpha1.Profile
	if f.appendTo {
		if outPath == "-" {
			return usagef("--append folds the run into a profile file: give it with --output FILE, not -")
		}
		if earlier, err = profiles.LoadFile(outPath); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return usagef("--append: %s does not exist: record the first run without --append", outPath)
			}
			return usagef("--append: %v", err)
		}
	}
	// Open the output now: a profile that cannot be written at the end
	// would be a recording lost. An existing file is only truncated once
	// there is a profile to replace it with.
	var out io.WriteCloser = nopCloser{cmd.OutOrStdout()}
	var file *os.File
	created := false
	if outPath != "-" {
		_, statErr := os.Stat(outPath)
		created = errors.Is(statErr, os.ErrNotExist)
		file, err = os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("cannot write the profile: %w (choose another file with --output)", err)
		}
		out = file
	}
	defer out.Close()

	stderr := cmd.ErrOrStderr()
	opts := recorder.LocalOptions{
		Command:         args,
		Duration:        f.duration,
		Kinds:           kinds,
		RingBufferBytes: f.ringBuffer,
		Backends:        backends,
		User:            runAs,
		Stdin:           os.Stdin,
		Stdout:          os.Stdout,
		Stderr:          os.Stderr,
		StopGrace:       f.stopGrace,
	}
	progress := newProgressLine(stderr)
	if progress != nil {
		opts.Progress = progress.update
	}
	res, err := recorder.RecordCommand(cmd.Context(), opts)
	progress.clear()
	if err != nil {
		if created {
			os.Remove(outPath)
		}
		return err
	}
	profile := res.Profile
	if earlier != nil {
		if profile, err = profiles.Merge(earlier, res.Profile); err != nil {
			// The new run is not lost: it goes next to the profile.
			aside := outPath + ".run-" + time.Now().Format("20060102T150405")
			if data, merr := yaml.Marshal(res.Profile); merr == nil && os.WriteFile(aside, data, 0o644) == nil {
				return fmt.Errorf("--append: %w; this run's profile is in %s", err, aside)
			}
			return fmt.Errorf("--append: %w", err)
		}
	}
	if file != nil {
		if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
			if err := file.Truncate(0); err != nil {
				return fmt.Errorf("write profile to %s: %w", outPath, err)
			}
		}
	}

	data, err := yaml.Marshal(profile)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	if _, err := out.Write(data); err != nil {
		return fmt.Errorf("write profile to %s: %w", outPath, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("write profile to %s: %w", outPath, err)
	}

	// With --output -, stdout carries the profile; the summary moves to
	// stderr, as a table only.
	switch {
	case outPath != "-":
		if err := renderProfile(cmd.OutOrStdout(), profile, f.format); err != nil {
			return err
		}
	case f.format == "table":
		if err := renderProfile(stderr, res.Profile, "table"); err != nil {
			return err
		}
	}
	if res.Stopped != "" {
		fmt.Fprintf(stderr, "footprint: %s: stopped %s\n", res.Stopped, args[0])
	}
	if res.Leftover > 0 {
		fmt.Fprintf(stderr, "footprint: %s left %d processes running; they were stopped with it\n", args[0], res.Leftover)
	}
	for _, c := range res.Choices {
		if c.Chosen == "" && kinds.Has(c.Kind) {
			fmt.Fprintf(stderr, "footprint: %s were not recorded: no backend works on this kernel (see footprint probe)\n", c.Kind)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "footprint: note: %s\n", n)
	}
	switch {
	case earlier != nil:
		fmt.Fprintf(stderr, "footprint: run folded into %s (%d runs)\n", outPath, len(profile.Spec.Sources))
	case outPath != "-":
		fmt.Fprintf(stderr, "footprint: profile written to %s\n", outPath)
	}
	if res.ExitCode != 0 {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func parseKinds(names []string) (bpf.KindSet, error) {
	if len(names) == 0 {
		return bpf.AllKinds, nil
	}
	var set bpf.KindSet
	for _, n := range names {
		k, err := bpf.ParseKind(strings.TrimSpace(n))
		if err != nil {
			return 0, fmt.Errorf("--kinds: unknown event kind %q: use capabilities, files, connections or executables", n)
		}
		set = set.With(k)
	}
	return set, nil
}

func parseBackends(specs []string) (map[bpf.Kind]string, error) {
	out := map[bpf.Kind]string{}
	for _, s := range specs {
		kind, name, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--backend %q: use KIND=BACKEND, e.g. executables=tp_btf/sched_process_exec", s)
		}
		k, err := bpf.ParseKind(kind)
		if err != nil {
			return nil, fmt.Errorf("--backend %q: %w", s, err)
		}
		names := bpf.BackendNames(k)
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("--backend %q: %s has no backend %q; choose one of %s", s, k, name, strings.Join(names, ", "))
		}
		out[k] = name
	}
	return out, nil
}

// progressLine redraws one status line on a terminal.
type progressLine struct {
	w io.Writer
}

// newProgressLine returns nil unless w is a terminal: progress is for
// people, not for logs.
func newProgressLine(w io.Writer) *progressLine {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progressLine{w: w}
}

func (p *progressLine) update(pr recorder.Progress) {
	unique := 0
	for _, n := range pr.Unique {
		unique += n
	}
	fmt.Fprintf(p.w, "\r\033[Krecording %s: %d events, %d unique (%d capabilities, %d files, %d connections, %d executables)",
		pr.Elapsed.Truncate(100*time.Millisecond), pr.Events, unique,
		pr.Unique[bpf.KindCapability], pr.Unique[bpf.KindFile], pr.Unique[bpf.KindConnect], pr.Unique[bpf.KindExec])
}

func (p *progressLine) clear() {
	if p != nil {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
