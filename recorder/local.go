package recorder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/profiles"
)

// LocalOptions configures a local recording of one command.
type LocalOptions struct {
	// Command is the program and its arguments.
	Command []string
	// Duration stops the command cleanly after this long; 0 means until it
	// exits.
	Duration time.Duration
	// Kinds are the kinds of event to record; 0 means all.
	Kinds bpf.KindSet
	// RingBufferBytes sizes the kernel's ring buffer (0: default).
	RingBufferBytes int
	// FileEntries sizes the kernel's map of distinct file opens (0:
	// default): tests make it small to see it full.
	FileEntries int
	// Backends pins kinds to a backend by name.
	Backends map[bpf.Kind]string
	// Stdin, Stdout and Stderr are the command's; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Progress, if set, is called about every ProgressInterval while the
	// command runs.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// StopGrace is how long the command has to exit after SIGTERM before
	// everything in its cgroup is killed. 0 means 5s.
	StopGrace time.Duration
	// User, when set, is who the command runs as, from its exec on: a
	// daemon recorded without the launcher that would drop its
	// privileges.
	User *cgroupcmd.User
}

// Progress is a live view of a recording.
type Progress struct {
	Elapsed time.Duration
	// Events is every event seen, repeats included.
	Events uint64
	// Unique is first sightings so far, per kind.
	Unique map[bpf.Kind]int
	// Lost is sightings of entries the kernel could neither keep nor
	// deliver: at most this many entries will be missing.
	Lost uint64
}

// LocalResult is the outcome of a local recording.
type LocalResult struct {
	Profile *v1alpha1.Profile
	// ExitCode is the command's, shell style: 128+N when a signal N ended it.
	ExitCode int
	// Stopped says why footprint stopped the command ("" when it exited by
	// itself).
	Stopped string
	// Leftover is how many processes the command left running that were
	// killed when it exited.
	Leftover int
	Counters map[bpf.Kind]bpf.KindCounters
	Choices  []bpf.BackendChoice
	// Notes describe what the profile could not hold.
	Notes []string
}

// RecordCommand runs a command in a fresh cgroup v2 under footprint's
// programs and returns its profile. Recording starts at the command's exec,
// so footprint's own set-up is not in the profile, and covers every process
// the command starts. It ends when the command exits, when Duration elapses
// or when ctx is cancelled (then the command gets SIGTERM and StopGrace to
// exit), and the profile is built either way.
func RecordCommand(ctx context.Context, opts LocalOptions) (*LocalResult, error) {
	if len(opts.Command) == 0 {
		return nil, errors.New("no command to record")
	}
	path, err := cgroupcmd.LookCommand(opts.Command[0])
	if err != nil {
		return nil, err
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		return nil, err
	}
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mount, RingBufferBytes: opts.RingBufferBytes, FileEntries: opts.FileEntries, Backends: opts.Backends})
	if err != nil {
		return nil, err
	}
	defer rec.Close()

	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", "record-"+strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("%w (footprint creates its cgroups under %s)", err, mount)
	}
	defer cg.Remove()
	kinds := opts.Kinds
	if kinds == 0 {
		kinds = bpf.AllKinds
	}
	if err := rec.Watch(cg.ID, bpf.Watch{RecordingID: cg.ID, Kinds: kinds}); err != nil {
		return nil, err
	}
	defer rec.Unwatch(cg.ID)

	s := &session{rec: rec, cg: cg, opts: opts, unique: map[bpf.Kind]int{}}
	return s.run(ctx, path)
}

type session struct {
	rec  *bpf.Recorder
	cg   *cgroupfs.Cgroup
	opts LocalOptions

	mu     sync.Mutex
	unique map[bpf.Kind]int
	// pids are the processes the ring buffer's first sightings came from:
	// the command and every process it started that did something new.
	// Daemons name files after their pid, so these numbers in file names
	// become globs (profiles.GlobPIDs). A sighting the ring buffer lost
	// loses its pid: the name then stays literal, which only narrows.
	pids profiles.PIDs
	// unkept are the entries the kernel's full maps could not keep, by
	// entryKey: their ring-buffer records are their only copy.
	unkept map[string]bpf.Entry
}

func (s *session) run(ctx context.Context, path string) (*LocalResult, error) {
	reader, err := s.rec.NewReader()
	if err != nil {
		return nil, err
	}
	readDone := make(chan error, 1)
	stopReading := make(chan struct{})
	go func() { readDone <- s.readEvents(reader, stopReading) }()
	reading := true
	defer func() {
		reader.Close()
		if reading {
			<-readDone
		}
	}()

	run, err := cgroupcmd.Run(ctx, s.cg, cgroupcmd.Options{
		Path: path, Args: s.opts.Command,
		Stdin: s.opts.Stdin, Stdout: s.opts.Stdout, Stderr: s.opts.Stderr,
		Duration: s.opts.Duration, StopGrace: s.opts.StopGrace, User: s.opts.User,
		Tick: s.report, TickInterval: s.opts.ProgressInterval,
	})
	if err != nil {
		return nil, err
	}
	result := &LocalResult{ExitCode: run.ExitCode, Stopped: run.Stopped, Leftover: run.Leftover}
	started, finished := run.Started, run.Finished

	// Everything in the cgroup has exited: read what is left in the ring
	// buffer, so that the pids of the last sightings are known too.
	close(stopReading)
	reading = false
	readErr := <-readDone

	// The maps are the truth, but for the entries a full map could not
	// keep: those come from their first sightings.
	entries, err := s.rec.Sweep(nil)
	if err != nil {
		return nil, err
	}
	counters, err := s.rec.Counters()
	if err != nil {
		return nil, err
	}
	entries = withUnkept(entries, s.unkept)
	spec, notes := BuildSpec(entries)
	profiles.GlobRecordedPIDs(&spec, s.pids)
	spec.Command = s.opts.Command
	spec.Sources = []v1alpha1.Source{s.source(started, finished, counters)}
	result.Profile = &v1alpha1.Profile{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Profile"},
		ObjectMeta: metav1.ObjectMeta{Name: ProfileName(s.opts.Command)},
		Spec:       spec,
	}
	result.Counters = counters
	result.Choices = s.rec.Choices()
	result.Notes = notes
	if readErr != nil {
		// The profile comes from the maps and is whole; only the pids the
		// unread sightings named are missing.
		result.Notes = append(result.Notes, fmt.Sprintf("the ring buffer could not be read to the end (%v): process ids in file names may have stayed literal", readErr))
	}
	for k, c := range counters {
		switch {
		case c.MapFull == 0:
		case k == bpf.KindSyscall:
			// The system call bitmaps have no ring-buffer record.
			result.Notes = append(result.Notes, fmt.Sprintf("the kernel's system call map was full %d times: system calls of the command are missing from the profile", c.MapFull))
		case c.Lost > 0:
			result.Notes = append(result.Notes, fmt.Sprintf("the kernel's %s map was full %d times and the ring buffer had no room for %d sightings of entries it could not keep: up to %d entries are missing from the profile (a larger --ring-buffer-size helps)", k, c.MapFull, c.Lost, c.Lost))
		default:
			result.Notes = append(result.Notes, fmt.Sprintf("the kernel's %s map was full %d times: the entries it could not keep were taken from their ring-buffer records", k, c.MapFull))
		}
	}
	return result, nil
}

// readPollInterval bounds how long readEvents waits in the kernel before it
// looks whether it was told to stop: a Read blocked in the ring buffer does
// not notice a deadline set after it started waiting.
const readPollInterval = 100 * time.Millisecond

// readEvents counts first sightings for the progress display and collects
// the pids they came from. Once stop is closed (nothing is left in the
// cgroup to add records) it reads what remains in the ring buffer and
// returns; it also returns when the reader is closed.
func (s *session) readEvents(rd *bpf.Reader, stop <-chan struct{}) error {
	draining := false
	for {
		if !draining {
			select {
			case <-stop:
				draining = true
			default:
			}
		}
		if draining {
			rd.SetDeadline(time.Now()) // what is there, then ErrDeadlineExceeded
		} else {
			rd.SetDeadline(time.Now().Add(readPollInterval))
		}
		ev, err := rd.Read()
		switch {
		case errors.Is(err, bpf.ErrClosed):
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if draining {
				return nil
			}
			continue
		case err != nil:
			return err
		}
		s.mu.Lock()
		if !ev.Unkept || addUnkept(&s.unkept, ev.Entry) {
			s.unique[ev.Kind]++
		}
		if s.pids == nil {
			s.pids = profiles.PIDs{}
		}
		s.pids[int(ev.PID)] = true
		s.mu.Unlock()
	}
}

func (s *session) report(elapsed time.Duration) {
	if s.opts.Progress == nil {
		return
	}
	p := Progress{Elapsed: elapsed, Unique: map[bpf.Kind]int{}}
	if counters, err := s.rec.Counters(); err == nil {
		for _, c := range counters {
			p.Events += c.Events
			p.Lost += c.Lost
		}
	}
	s.mu.Lock()
	for k, n := range s.unique {
		p.Unique[k] = n
	}
	s.mu.Unlock()
	s.opts.Progress(p)
}

func (s *session) source(started, finished time.Time, counters map[bpf.Kind]bpf.KindCounters) v1alpha1.Source {
	src := v1alpha1.Source{
		FirstSeen: metav1.NewTime(started.Truncate(time.Second)),
		LastSeen:  metav1.NewTime(finished.Truncate(time.Second)),
		Backends:  map[string]string{},
		Routes:    recordedRoutes(s.rec.Choices()),
	}
	src.Node, _ = os.Hostname()
	src.Kernel = KernelRelease()
	for _, c := range s.rec.Choices() {
		if c.Chosen != "" {
			src.Backends[c.Kind.String()] = c.Chosen
		}
	}
	for _, c := range counters {
		src.Events += int64(c.Events)
		src.LostRecords += int64(c.Lost)
	}
	lost := map[bpf.Kind]uint64{}
	for k, c := range counters {
		lost[k] = c.Lost
	}
	src.LostByKind = lostByKind(lost)
	return src
}
