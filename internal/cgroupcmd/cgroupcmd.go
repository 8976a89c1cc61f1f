// Package cgroupcmd runs one command in a cgroup of its own, from its first
// instruction, and stops it cleanly: what `footprint record` and `footprint
// enforce` do with the command they are given.
package cgroupcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// Options configures Run.
type Options struct {
	// Path is the program to execute; Args its arguments, Args[0] included.
	Path string
	Args []string
	// Stdin, Stdout and Stderr are the command's; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Duration stops the command after this long; 0 means until it exits.
	Duration time.Duration
	// StopGrace is how long the command has to exit after SIGTERM before
	// everything in its cgroup is killed. 0 means 5s.
	StopGrace time.Duration
	// Tick, if set, is called about every TickInterval while the command
	// runs, and once more when it is over.
	Tick         func(elapsed time.Duration)
	TickInterval time.Duration
	// MountNamespace starts the command in a mount namespace of its own,
	// as a container runtime starts a container (tests use it to stand in
	// for one).
	MountNamespace bool
	// Seccomp, when set, is a seccomp filter (struct sock_filter
	// instructions in native byte order) the command is held to from its
	// first instruction.
	Seccomp []byte
	// User, when set, is who the command runs as; the change happens
	// before its exec, so it is neither recorded nor held to a policy.
	User *User
}

// Result is how the command ended.
type Result struct {
	// ExitCode is the command's, shell style: 128+N when signal N ended it.
	ExitCode int
	// Signaled is true when a signal ended the command.
	Signaled bool
	// Stopped says why the command was stopped ("" when it exited by
	// itself).
	Stopped string
	// Leftover is how many processes the command left running that were
	// killed when it exited.
	Leftover          int
	Started, Finished time.Time
}

// Run starts the command directly in cg with clone3(CLONE_INTO_CGROUP), so
// nothing of the caller ever runs there, and waits until it exits, Duration
// elapses or ctx is cancelled; in the last two cases the command gets
// SIGTERM and StopGrace to exit. Processes it leaves behind are killed and
// Run returns once the cgroup is empty.
func Run(ctx context.Context, cg *cgroupfs.Cgroup, opts Options) (Result, error) {
	dir, err := cg.Open()
	if err != nil {
		return Result{}, err
	}
	cmd := exec.Command(opts.Path)
	cmd.Args = opts.Args
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if opts.User != nil {
		cmd.SysProcAttr.Credential = opts.User.credential()
		cmd.Env = opts.User.environ(os.Environ())
	}
	if opts.Seccomp != nil {
		// The shim enters the cgroup itself, after its own exec, and only
		// then becomes the user: the cgroup is root's to enter.
		if cmd, err = shimCommand(cg.Path, opts); err != nil {
			dir.Close()
			return Result{}, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	// A process that left the cgroup may hold the command's output open
	// for as long as it lives: once the command has exited, its output is
	// waited for this long only.
	cmd.WaitDelay = outputGrace
	if opts.MountNamespace {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS
	}
	res := Result{Started: time.Now()}
	err = cmd.Start()
	dir.Close()
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	if err != nil {
		return Result{}, fmt.Errorf("start %s: %w", opts.Args[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if opts.Duration > 0 {
		t := time.NewTimer(opts.Duration)
		defer t.Stop()
		timeout = t.C
	}
	interval := opts.TickInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	tick := func() {
		if opts.Tick != nil {
			opts.Tick(time.Since(res.Started))
		}
	}

wait:
	for {
		select {
		case <-exited:
			break wait
		case <-ticker.C:
			tick()
		case <-timeout:
			res.Stopped = fmt.Sprintf("duration %s elapsed", opts.Duration)
			stop(cmd, cg, exited, opts.StopGrace)
			break wait
		case <-ctx.Done():
			res.Stopped = "interrupted"
			stop(cmd, cg, exited, opts.StopGrace)
			break wait
		}
	}
	res.ExitCode, res.Signaled = exitCode(cmd)

	// The command's lifetime is what counts: kill what it left behind so
	// that the cgroup can go.
	if pids, err := cg.Procs(); err == nil && len(pids) > 0 {
		res.Leftover = len(pids)
		if err := cg.Kill(); err != nil {
			return res, err
		}
	}
	waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.WaitEmpty(waitCtx); err != nil {
		return res, err
	}
	res.Finished = time.Now()
	tick()
	return res, nil
}

// outputGrace is how long the command's output is read after it exits.
const outputGrace = 2 * time.Second

// stop asks the command to exit with SIGTERM and, after the grace period,
// kills everything in its cgroup.
func stop(cmd *exec.Cmd, cg *cgroupfs.Cgroup, exited <-chan error, grace time.Duration) {
	if grace <= 0 {
		grace = 5 * time.Second
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	cg.Kill()
	<-exited
}

func exitCode(cmd *exec.Cmd) (int, bool) {
	if cmd.ProcessState == nil {
		return 1, false
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), true
	}
	return cmd.ProcessState.ExitCode(), false
}
