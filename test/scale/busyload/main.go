// Command busyload is one container's workload in the one-busy-node
// benchmark (test/scale): it opens files, connects to loopback listeners,
// checks capabilities and executes a program, over and over at a steady
// rate, so that almost every kernel event repeats an entry seen before.
// What it does is given on its command line: that is the benchmark's ground
// truth. On SIGTERM it prints how many operations of each kind it made, as
// JSON, and exits 0 only if every operation it was given succeeded at least
// once and none ever failed.
//
// Started as `busyload exit` (the program it executes), it exits at once.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Counts is what busyload prints when it stops.
type Counts struct {
	Opens, Connects, CapabilityChecks, Execs int64
	// Done is how often each operation succeeded, by its name.
	Done map[string]int64
}

type op struct {
	name string
	do   func() error
	n    *int64
}

// Capability checks busyload can make as root without changing anything:
// each asks the kernel for one capability.
var capabilityChecks = map[string]func() error{
	// setgroups(0, NULL) on this thread only: CAP_SETGID.
	"CAP_SETGID": func() error { return rawErr(unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)) },
	// setuid(0) as root on this thread only: CAP_SETUID.
	"CAP_SETUID": func() error { return rawErr(unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0)) },
	// Lowering its nice value by one, then back: CAP_SYS_NICE (only the
	// lowering asks).
	"CAP_SYS_NICE": func() error {
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0) // 20 - nice
		if err != nil {
			return err
		}
		nice := 20 - prio
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, nice-1); err != nil {
			return err
		}
		return unix.Setpriority(unix.PRIO_PROCESS, 0, nice)
	},
	// A raw socket: CAP_NET_RAW.
	"CAP_NET_RAW": func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	},
}

func rawErr(_, _ uintptr, errno syscall.Errno) error {
	if errno != 0 {
		return errno
	}
	return nil
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "exit" {
		os.Exit(0)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "busyload:", err)
		os.Exit(3)
	}
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run() error {
	files := flag.String("files", "", "comma-separated files to open again and again (read-only)")
	once := flag.String("once", "", "a file to open once, first")
	connects := flag.String("connect", "", "comma-separated loopback TCP addresses (IP:port) to connect to again and again")
	caps := flag.String("caps", "", "comma-separated capabilities to check again and again: CAP_SETGID, CAP_SETUID, CAP_NET_RAW")
	exe := flag.String("exec", "", "a program to execute (as `PROGRAM exit`) at the start and every -exec-every")
	execEvery := flag.Duration("exec-every", 5*time.Second, "how often to execute -exec")
	rate := flag.Float64("rate", 100, "operations a second, -exec aside")
	nice := flag.Int("nice", 0, "run at this nice value (0 to 19: raising it needs no capability)")
	flag.Parse()
	if *nice != 0 {
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, *nice); err != nil {
			return fmt.Errorf("-nice: %w", err)
		}
	}
	if *rate <= 0 {
		return errors.New("-rate must be positive")
	}
	// Capability checks change only the calling thread: keep to one.
	runtime.LockOSThread()

	c := Counts{Done: map[string]int64{}}
	var ops []op
	// Mostly file opens, as most workloads: each file 8 times in the
	// cycle, each capability twice, each connect once.
	for _, f := range list(*files) {
		f := f
		o := op{name: "open " + f, n: &c.Opens, do: func() error {
			fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			return unix.Close(fd)
		}}
		for i := 0; i < 8; i++ {
			ops = append(ops, o)
		}
	}
	for _, name := range list(*caps) {
		check, ok := capabilityChecks[name]
		if !ok {
			return fmt.Errorf("-caps: no check for %q", name)
		}
		ops = append(ops, op{name: name, n: &c.CapabilityChecks, do: check}, op{name: name, n: &c.CapabilityChecks, do: check})
	}
	for _, a := range list(*connects) {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().Is4() {
			return fmt.Errorf("-connect %q: want IPv4:port", a)
		}
		sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		ops = append(ops, op{name: "connect " + a, n: &c.Connects, do: func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Connect(fd, sa)
		}})
	}
	if len(ops) == 0 {
		return errors.New("nothing to do: give -files, -caps or -connect")
	}
	var errs []error
	doOp := func(o op) {
		if err := o.do(); err != nil {
			if len(errs) < 10 {
				errs = append(errs, fmt.Errorf("%s: %w", o.name, err))
			}
			return
		}
		*o.n++
		c.Done[o.name]++
	}
	execOp := op{name: "exec " + *exe, n: &c.Execs, do: func() error {
		pid, err := syscall.ForkExec(*exe, []string{*exe, "exit"}, &syscall.ProcAttr{Env: []string{}})
		if err != nil {
			return err
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return err
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return fmt.Errorf("exited with %v", ws)
		}
		return nil
	}}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if *once != "" {
		doOp(op{name: "open " + *once, n: &c.Opens, do: func() error {
			fd, err := unix.Open(*once, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			return unix.Close(fd)
		}})
	}
	if *exe != "" {
		doOp(execOp)
	}
	const tick = 100 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	lastExec := time.Now()
	perTick := *rate * tick.Seconds()
	var owed float64
	next := 0
loop:
	for {
		owed += perTick
		for ; owed >= 1; owed-- {
			doOp(ops[next])
			next = (next + 1) % len(ops)
		}
		if *exe != "" && time.Since(lastExec) >= *execEvery {
			doOp(execOp)
			lastExec = time.Now()
		}
		select {
		case <-stop:
			break loop
		case <-ticker.C:
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(c); err != nil {
		return err
	}
	never := map[string]bool{}
	for _, o := range ops {
		if c.Done[o.name] == 0 && !never[o.name] {
			never[o.name] = true
			errs = append(errs, fmt.Errorf("%s: never done", o.name))
		}
	}
	return errors.Join(errs...)
}
