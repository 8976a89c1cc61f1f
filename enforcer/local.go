package enforcer

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

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// LocalOptions configures EnforceCommand.
type LocalOptions struct {
	// Policy is the policy to hold the command to.
	Policy *v1alpha1.EnforcementPolicy
	// Command is the program and its arguments.
	Command []string
	// Duration stops the command after this long; 0 means until it exits.
	Duration time.Duration
	// StopGrace is how long the command has to exit after SIGTERM.
	StopGrace time.Duration
	// Backends pins kinds to an enforcement backend by name.
	Backends map[bpf.Kind]string
	// Stdin, Stdout and Stderr are the command's; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// OnViolation, if set, is called for each distinct violation as it
	// happens, from one goroutine.
	OnViolation func(bpf.Violation)
	// User, when set, is who the command runs as, from its exec on.
	User *cgroupcmd.User
}

// LocalResult is the outcome of running a command under a policy.
type LocalResult struct {
	// ExitCode is the command's, shell style (137 when it was killed).
	ExitCode int
	// Stopped says why footprint stopped the command ("" when it exited).
	Stopped string
	// Violations are the distinct violations, in order.
	Violations []bpf.Violation
	// Counters are the kernel's counts per kind: checks, violations with
	// repeats, reports suppressed by the rate bound.
	Counters map[bpf.Kind]bpf.EnforcementCounters
	// Choices are the enforcement backends in use and what they do.
	Choices []bpf.EnforcerChoice
	// Widened notes where the compiled rules allow more than the policy.
	Widened []string
	// LeftBehind is processes that had left the command's cgroup, held to
	// the policy there, and were killed with it: enforcement ends with the
	// run, and nothing is left running unheld.
	LeftBehind int
}

// localPolicyID is the id of the one policy a local run installs.
const localPolicyID = 1

// EnforceCommand runs a command in a fresh cgroup held to a policy from its
// first instruction: its exec must be allowed, and every other rule applies
// from that exec on. The policy is compiled before anything is loaded, so an
// invalid policy is refused with every bad field named.
func EnforceCommand(ctx context.Context, opts LocalOptions) (*LocalResult, error) {
	if len(opts.Command) == 0 {
		return nil, errors.New("no command to run")
	}
	compiled, err := rules.Compile(opts.Policy)
	if err != nil {
		return nil, err
	}
	path, err := cgroupcmd.LookCommand(opts.Command[0])
	if err != nil {
		return nil, err
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		return nil, err
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, Backends: opts.Backends})
	if err != nil {
		return nil, err
	}
	defer enf.Close()
	installer, err := NewInstaller(enf)
	if err != nil {
		return nil, err
	}
	defer installer.Close()
	if err := installer.Install(localPolicyID, compiled); err != nil {
		return nil, err
	}

	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", "enforce-"+strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("%w (footprint creates its cgroups under %s)", err, mount)
	}
	defer cg.Remove()
	if err := enf.EnforceCgroup(cg.ID, localPolicyID, bpf.Hold{}); err != nil {
		return nil, err
	}
	defer enf.ReleaseCgroup(cg.ID)

	reader, err := enf.NewViolationReader()
	if err != nil {
		return nil, err
	}
	var (
		mu         sync.Mutex
		violations []bpf.Violation
	)
	readDone := make(chan error, 1)
	go func() {
		for {
			v, err := reader.Read()
			if errors.Is(err, bpf.ErrClosed) {
				readDone <- nil
				return
			}
			if err != nil {
				readDone <- err
				return
			}
			mu.Lock()
			violations = append(violations, v)
			mu.Unlock()
			if opts.OnViolation != nil {
				opts.OnViolation(v)
			}
		}
	}()

	run, runErr := cgroupcmd.Run(ctx, cg, cgroupcmd.Options{
		Path: path, Args: opts.Command,
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		Duration: opts.Duration, StopGrace: opts.StopGrace,
		Seccomp: compiled.Seccomp.Bytes(),
		User:    opts.User,
	})
	// Enforcement ends with this run: processes that left the cgroup go
	// with the command, as its other processes did.
	leftBehind, killErr := killHeld(enf, localPolicyID)
	// Reports still in the ring buffer belong to this run.
	drainCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	reader.Drain(drainCtx)
	cancel()
	reader.Close()
	readErr := <-readDone
	if runErr != nil {
		return nil, runErr
	}
	if readErr != nil {
		return nil, fmt.Errorf("read violations: %w", readErr)
	}
	if killErr != nil {
		return nil, killErr
	}
	counters, err := enf.Counters()
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return &LocalResult{
		ExitCode:   run.ExitCode,
		Stopped:    run.Stopped,
		Violations: violations,
		Counters:   counters,
		Choices:    enf.Choices(),
		Widened:    compiled.Widened,
		LeftBehind: leftBehind,
	}, nil
}

// killHeld kills the processes held to a policy outside its cgroups and
// says how many there were.
func killHeld(enf *bpf.Enforcer, policyID uint32) (int, error) {
	held, err := enf.HeldProcesses()
	if err != nil {
		return 0, err
	}
	killed := 0
	for _, h := range held {
		if h.PolicyID != policyID {
			continue
		}
		// A process id names the held process only while its entry is
		// there (the kernel drops it at the exit): look again once the
		// pidfd pins the process.
		fd, err := unix.PidfdOpen(int(h.PID), 0)
		if err != nil {
			continue // gone
		}
		still, err := enf.HeldProcess(h.PID)
		if err == nil && still != nil && still.PolicyID == policyID {
			if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err == nil {
				killed++
			}
		}
		unix.Close(fd)
	}
	return killed, nil
}
