package bench

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/profiles"
)

// config is how footprint is set up around a loop.
type config string

const (
	// baseline: nothing of footprint loaded.
	baseline config = "baseline"
	// loaded: the agent's programs loaded (lifecycle, recorder, enforcer)
	// and nothing recorded or held on the node. Backends attached only
	// while a cgroup needs them (the file tracepoints) are not.
	loaded config = "loaded"
	// attached: another cgroup is recorded and held to file rules, so
	// every backend is attached, and this process is neither: the cost
	// every unwatched task on a node in use pays.
	attached config = "attached"
	// recording: this process's cgroup is recorded.
	recording config = "recording"
	// audit and enforce hold this process to a policy of 100 file rules,
	// 20 connect rules and 10 executables that allows what the loop does.
	audit   config = "audit"
	enforce config = "enforce"
	// syscallReporter: another cgroup is held to a policy with system
	// calls, so the system call reporter (tp_btf/sys_exit) is attached,
	// and this process is not held: what every task on such a node pays
	// for its mere attachment (the syscall slow path).
	syscallReporter config = "syscall-reporter"
	// syscallHeld: this process is held to a policy of system calls alone
	// that allows every call (the reporter checks each one, a bit test).
	syscallHeld config = "syscall-held"
)

var configs = []config{baseline, loaded, attached, recording, audit, enforce, syscallReporter, syscallHeld}

// syscallPolicyID is the policy syscallReporter and syscallHeld hold a
// cgroup to.
const syscallPolicyID = 2

// targets are the ratios footprint aims for, as (config, against) pairs:
// the cost of being loaded on a node with nothing watched, and
// enforcement's own cost above the backends merely being attached.
var targets = []struct {
	config, against config
	loop            string // "" for every loop
	max             float64
}{
	{loaded, baseline, "OpenClose", 1.00},
	{enforce, attached, "", 1.03},
	{loaded, baseline, "Getpid", 1.00},
}

// results collects, per loop and config, the ns/op of each round, for the
// ratio table TestMain prints, and the programs' run-time statistics.
var results = struct {
	sync.Mutex
	ns    map[string]map[config][]float64
	stats map[string]map[config]map[string]bpf.ProgramStat
}{ns: map[string]map[config][]float64{}, stats: map[string]map[config]map[string]bpf.ProgramStat{}}

func TestMain(m *testing.M) {
	code := m.Run()
	printRatios(os.Stdout)
	printProgramStats(os.Stdout)
	os.Exit(code)
}

var (
	// rounds interleaves the configurations: baseline, loaded, ...,
	// enforce, then again, so that a noisy moment hits all alike. Ratios
	// are taken within a round and reported as their median and range.
	rounds = flag.Int("rounds", 7, "rounds of the configurations per loop")
	// only narrows the configurations, e.g. -only baseline,enforce.
	only = flag.String("only", "", "comma-separated configurations to run (default all)")
	// recordBackends and enforceBackends pin backends, e.g.
	// files=tracepoint/syscalls/sys_exit_open*, to measure one where a
	// better one works.
	recordBackends  = flag.String("record-backends", "", "recording backends to use, KIND=NAME,... (default: the best that work)")
	enforceBackends = flag.String("enforce-backends", "", "enforcement backends to use, KIND=NAME,... (default: the best that work)")
	// statsTime is how long the run-time statistics pass runs each loop
	// in each config.
	statsTime = flag.Duration("stats-time", time.Second, "how long each loop runs in each config with kernel.bpf_stats_enabled")
)

func selectedConfigs() []config {
	if *only == "" {
		return configs
	}
	out := []config{baseline}
	for _, c := range configs[1:] {
		if slices.Contains(strings.Split(*only, ","), string(c)) {
			out = append(out, c)
		}
	}
	return out
}

func parseBackends(b *testing.B, s string) map[bpf.Kind]string {
	if s == "" {
		return nil
	}
	out := map[bpf.Kind]string{}
	for _, kv := range strings.Split(s, ",") {
		name, backend, ok := strings.Cut(kv, "=")
		k, err := bpf.ParseKind(name)
		if !ok || err != nil {
			b.Fatalf("backend %q: want KIND=NAME with KIND one of capabilities, files, connections, executables", kv)
		}
		out[k] = backend
	}
	return out
}

// runConfigs runs loop under each configuration as a sub-benchmark, round
// after round: baseline with nothing loaded, then footprint loaded once for
// the other configurations of the round. Only the final run of each
// sub-benchmark (the one go test reports) goes into the table. A last pass
// measures the programs' own run time in each configuration.
func runConfigs(b *testing.B, loop func(b *testing.B, n int)) {
	if os.Geteuid() != 0 {
		b.Fatal("benchmarks load BPF programs: run them as root")
	}
	record := func(c config, ns float64) {
		results.Lock()
		defer results.Unlock()
		if results.ns[b.Name()] == nil {
			results.ns[b.Name()] = map[config][]float64{}
		}
		results.ns[b.Name()][c] = append(results.ns[b.Name()][c], ns)
	}
	for round := 0; round < *rounds; round++ {
		var k *kernel
		for _, c := range selectedConfigs() {
			if c != baseline && k == nil {
				k = load(b)
				if round == 0 {
					b.Logf("backends: %s", k.backends())
				}
			}
			teardown := k.setUp(b, c)
			var last float64
			b.Run(string(c), func(b *testing.B) {
				loop(b, b.N)
				last = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			})
			teardown()
			record(c, last)
		}
		k.close()
	}
	measureProgramStats(b, loop)
}

// measureProgramStats runs the loop a fixed number of times in each config
// but baseline with kernel.bpf_stats_enabled, and keeps each program's runs
// and run time: per-run figures do not depend on the machine's noise as
// wall-clock ratios do.
func measureProgramStats(b *testing.B, loop func(b *testing.B, n int)) {
	stats, err := bpf.EnableRunTimeStats()
	if err != nil {
		b.Logf("no program run times: %v", err)
		return
	}
	defer stats.Close()
	k := load(b)
	defer k.close()
	for _, c := range selectedConfigs()[1:] {
		teardown := k.setUp(b, c)
		before := k.programStats()
		for n, start := 100, time.Now(); time.Since(start) < *statsTime; n *= 2 {
			loop(b, n)
		}
		after := k.programStats()
		teardown()
		delta := map[string]bpf.ProgramStat{}
		for name, s := range after {
			d := bpf.ProgramStat{Runs: s.Runs - before[name].Runs, Runtime: s.Runtime - before[name].Runtime}
			if d.Runs > 0 {
				delta[name] = d
			}
		}
		results.Lock()
		if results.stats[b.Name()] == nil {
			results.stats[b.Name()] = map[config]map[string]bpf.ProgramStat{}
		}
		results.stats[b.Name()][c] = delta
		results.Unlock()
	}
}

// kernel is footprint's kernel side as the node agent loads it.
type kernel struct {
	mount     string
	lc        *bpf.Lifecycle
	rec       *bpf.Recorder
	enf       *bpf.Enforcer
	installer *enforcer.Installer
}

func load(b *testing.B) *kernel {
	mount, err := cgroupfs.Mount()
	if err != nil {
		b.Fatal(err)
	}
	k := &kernel{mount: mount}
	if k.lc, err = bpf.LoadLifecycle(bpf.LifecycleOptions{CgroupRoot: mount}); err != nil {
		b.Fatal(err)
	}
	if k.rec, err = bpf.Load(bpf.Options{CgroupRoot: mount, Lifecycle: k.lc, Backends: parseBackends(b, *recordBackends)}); err != nil {
		b.Fatal(err)
	}
	if k.enf, err = bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, Lifecycle: k.lc, Backends: parseBackends(b, *enforceBackends)}); err != nil {
		b.Fatal(err)
	}
	if k.installer, err = enforcer.NewInstaller(k.enf); err != nil {
		b.Fatal(err)
	}
	return k
}

func (k *kernel) close() {
	if k == nil {
		return
	}
	k.installer.Close()
	k.enf.Close()
	k.rec.Close()
	k.lc.Close()
}

func (k *kernel) programStats() map[string]bpf.ProgramStat {
	out := k.lc.ProgramStats()
	maps.Copy(out, k.rec.ProgramStats())
	for name, s := range k.enf.ProgramStats() {
		out["enforce:"+name] = s
	}
	return out
}

// backends describes the backends in use, for the table's heading.
func (k *kernel) backends() string {
	var parts []string
	for _, c := range k.rec.Choices() {
		parts = append(parts, "record "+c.Kind.String()+" "+c.Chosen)
	}
	for _, c := range k.enf.Choices() {
		parts = append(parts, "enforce "+c.Kind.String()+" "+c.Chosen)
	}
	return strings.Join(parts, "; ")
}

// setUp arranges the configuration around this process and returns the
// undo.
func (k *kernel) setUp(b *testing.B, c config) func() {
	switch c {
	case baseline, loaded:
		return func() {}
	case syscallReporter, syscallHeld:
		return k.setUpSyscalls(b, c)
	}
	if c != recording {
		// The policy of the round: audit or enforce, or what keeps the
		// other cgroup's file rules attached.
		mode := v1alpha1.ModeAudit
		if c != audit {
			mode = v1alpha1.ModeEnforce
		}
		k.install(b, mode)
	}
	switch c {
	case attached:
		// Another cgroup, recorded and held: its entries are what keeps
		// every backend attached.
		other, err := cgroupfs.Create(filepath.Join(k.mount, "footprint", fmt.Sprintf("bench-other-%d", os.Getpid())))
		if err != nil {
			b.Fatal(err)
		}
		if err := k.rec.Watch(other.ID, bpf.Watch{Kinds: bpf.AllKinds, Live: true}); err != nil {
			b.Fatal(err)
		}
		if err := k.enf.EnforceCgroup(other.ID, 1, bpf.Hold{Live: true}); err != nil {
			b.Fatal(err)
		}
		return func() {
			k.rec.Unwatch(other.ID)
			k.enf.ReleaseCgroup(other.ID)
			other.Remove()
		}
	case recording:
		cg := enterCgroup(b, k.mount, func(id uint64) error {
			return k.rec.Watch(id, bpf.Watch{Kinds: bpf.AllKinds, Live: true})
		})
		return func() {
			k.rec.Unwatch(cg.ID)
			leaveCgroup(b, k.mount, cg)
		}
	}
	violations, err := k.enf.NewViolationReader()
	if err != nil {
		b.Fatal(err)
	}
	cg := enterCgroup(b, k.mount, func(id uint64) error { return k.enf.EnforceCgroup(id, 1, bpf.Hold{Live: true}) })
	return func() {
		// Released before this process leaves: leaving a held cgroup is
		// itself a violation, and would keep the process held to the
		// policy in the next round.
		k.enf.ReleaseCgroup(cg.ID)
		leaveCgroup(b, k.mount, cg)
		// The policy must allow what the loops do: a violation would
		// measure the report path, not the check.
		for {
			violations.SetDeadline(time.Now().Add(10 * time.Millisecond))
			v, err := violations.Read()
			if err != nil {
				break
			}
			b.Errorf("violation: %+v", v)
		}
		violations.Close()
	}
}

// setUpSyscalls holds another cgroup (syscallReporter) or this process
// (syscallHeld) to a policy that allows every x86-64 system call.
func (k *kernel) setUpSyscalls(b *testing.B, c config) func() {
	set := v1alpha1.SyscallSet{Arch: v1alpha1.ArchX86_64}
	for nr := 0; nr < bpf.SyscallMax; nr++ {
		if name, ok := profiles.SyscallName(v1alpha1.ArchX86_64, nr); ok {
			set.Names = append(set.Names, name)
		}
	}
	compiled, err := rules.Compile(&v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{
		Mode: v1alpha1.ModeEnforce, Syscalls: &v1alpha1.SyscallRules{Allow: []v1alpha1.SyscallSet{set}}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := k.installer.Install(syscallPolicyID, compiled); err != nil {
		b.Fatal(err)
	}
	var cg *cgroupfs.Cgroup
	if c == syscallHeld {
		cg = enterCgroup(b, k.mount, func(id uint64) error { return k.enf.EnforceCgroup(id, syscallPolicyID, bpf.Hold{Live: true}) })
	} else if cg, err = cgroupfs.Create(filepath.Join(k.mount, "footprint", fmt.Sprintf("bench-other-%d", os.Getpid()))); err == nil {
		err = k.enf.EnforceCgroup(cg.ID, syscallPolicyID, bpf.Hold{Live: true})
	}
	if err != nil {
		b.Fatal(err)
	}
	if !k.enf.SyscallBackendAttached() {
		b.Fatal("the system call reporter is not attached")
	}
	return func() {
		k.enf.ReleaseCgroup(cg.ID)
		if c == syscallHeld {
			leaveCgroup(b, k.mount, cg)
		} else {
			cg.Remove()
		}
		if err := k.installer.Remove(syscallPolicyID); err != nil {
			b.Error(err)
		}
		if k.enf.SyscallBackendAttached() {
			b.Error("the system call reporter stayed attached")
		}
	}
}

func (k *kernel) install(b *testing.B, mode v1alpha1.EnforcementMode) {
	compiled, err := rules.Compile(benchPolicy(k.mount, mode))
	if err != nil {
		b.Fatal(err)
	}
	if err := k.installer.Install(1, compiled); err != nil {
		b.Fatal(err)
	}
}

// enterCgroup creates a cgroup, lets set up footprint for it, and moves
// this process into it.
func enterCgroup(b *testing.B, mount string, setUp func(id uint64) error) *cgroupfs.Cgroup {
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("bench-%d", os.Getpid())))
	if err != nil {
		b.Fatal(err)
	}
	if err := setUp(cg.ID); err != nil {
		b.Fatal(err)
	}
	if err := movePID(cg.Path, os.Getpid()); err != nil {
		b.Fatal(err)
	}
	return cg
}

func leaveCgroup(b *testing.B, mount string, cg *cgroupfs.Cgroup) {
	home, err := ownCgroup(mount)
	if err == nil {
		home = filepath.Dir(home) // ownCgroup now reports the bench cgroup
		err = movePID(home, os.Getpid())
	}
	if err != nil {
		b.Error(err)
	}
	cg.Remove()
}

// benchFiles, benchAddr and benchExecutable are what the loops touch, set
// by each benchmark before it runs; benchPolicy allows them among rules for
// unrelated paths, destinations and programs.
var (
	benchFile string
	benchAddr unix.Sockaddr
	// benchUnixPath is the AF_UNIX socket BenchmarkUnixConnect connects to.
	benchUnixPath   string
	benchExecutable string
)

func benchPolicy(mount string, mode v1alpha1.EnforcementMode) *v1alpha1.EnforcementPolicy {
	p := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{
		Mode:         mode,
		Action:       v1alpha1.ActionDeny,
		Capabilities: &v1alpha1.CapabilityRules{Allow: []string{"CAP_SETGID", "CAP_SYS_ADMIN", "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"}},
		Files:        &v1alpha1.FileRules{},
		Connect:      &v1alpha1.ConnectRules{},
		Executables:  &v1alpha1.ExecutableRules{},
	}}
	read := []v1alpha1.FileAccessMode{"read"}
	// What the Go runtime and an exec of `true` open, then the loop's file.
	for _, path := range []string{"/usr/lib/**", "/lib/**", "/etc/ld.so.cache", "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"} {
		p.Spec.Files.Allow = append(p.Spec.Files.Allow, v1alpha1.FileRule{Path: path, Access: read})
	}
	// What the harness itself does: exec.Command's stdio, and moving
	// this process back out of the cgroup.
	p.Spec.Files.Allow = append(p.Spec.Files.Allow,
		v1alpha1.FileRule{Path: "/dev/null", Access: []v1alpha1.FileAccessMode{"read", "write"}},
		v1alpha1.FileRule{Path: "/proc/*/cgroup", Access: read},
		v1alpha1.FileRule{Path: mount + "/**", Access: []v1alpha1.FileAccessMode{"read", "write", "truncate"}})
	if benchFile != "" {
		p.Spec.Files.Allow = append(p.Spec.Files.Allow, v1alpha1.FileRule{Path: benchFile, Access: []v1alpha1.FileAccessMode{"read", "chmod"}})
	}
	for i := len(p.Spec.Files.Allow); i < 100; i++ {
		p.Spec.Files.Allow = append(p.Spec.Files.Allow, v1alpha1.FileRule{
			Path: fmt.Sprintf("/srv/app%d/data/file%d.db", i%7, i), Access: []v1alpha1.FileAccessMode{"read", "write"}})
	}
	if sa, ok := benchAddr.(*unix.SockaddrInet4); ok {
		p.Spec.Connect.Allow = append(p.Spec.Connect.Allow, v1alpha1.ConnectRule{CIDR: "127.0.0.1/32", Protocol: "TCP", Port: int32(sa.Port)})
	}
	for i := len(p.Spec.Connect.Allow); i < 20; i++ {
		p.Spec.Connect.Allow = append(p.Spec.Connect.Allow, v1alpha1.ConnectRule{CIDR: fmt.Sprintf("10.%d.0.0/16", i), Protocol: "TCP", Port: int32(8000 + i)})
	}
	if benchUnixPath != "" {
		// Sockets governed only where the loop uses one: the other loops
		// stay as they were measured.
		p.Spec.Sockets = &v1alpha1.SocketRules{Allow: []v1alpha1.SocketRule{{Operation: v1alpha1.SocketUnix, Path: benchUnixPath}}}
		for i := 1; i < 20; i++ {
			p.Spec.Sockets.Allow = append(p.Spec.Sockets.Allow, v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: fmt.Sprintf("/run/daemon%d.sock", i)})
		}
	}
	if benchExecutable != "" {
		p.Spec.Executables.Allow = append(p.Spec.Executables.Allow, v1alpha1.ExecutableRule{Path: benchExecutable})
	}
	for i := len(p.Spec.Executables.Allow); i < 10; i++ {
		p.Spec.Executables.Allow = append(p.Spec.Executables.Allow, v1alpha1.ExecutableRule{Path: fmt.Sprintf("/usr/local/bin/tool%d", i)})
	}
	return p
}

func ownCgroup(mount string) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(mount, path), nil
		}
	}
	return "", fmt.Errorf("no cgroup v2 entry in /proc/self/cgroup")
}

func movePID(cgroup string, pid int) error {
	return os.WriteFile(filepath.Join(cgroup, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0)
}

func BenchmarkOpenClose(b *testing.B) {
	file := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	benchFile = file
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			fd, err := unix.Open(file, unix.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

// BenchmarkChmod changes a file's mode back and forth: a change made
// without an open, which the file backend's change hooks see.
func BenchmarkChmod(b *testing.B) {
	file := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	benchFile = file
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			if err := unix.Chmod(file, 0o600|uint32(i&1)<<5); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConnect connects to a loopback listener and accepts the
// connection in the same loop, so no goroutine scheduling enters the figure.
func BenchmarkConnect(b *testing.B) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	if err := unix.Listen(lfd, 128); err != nil {
		b.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		b.Fatal(err)
	}
	benchAddr = sa
	linger := &unix.Linger{Onoff: 1, Linger: 0}
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Connect(fd, sa); err != nil {
				b.Fatal(err)
			}
			afd, _, err := unix.Accept(lfd)
			if err != nil {
				b.Fatal(err)
			}
			// Close with RST so TIME_WAIT does not exhaust ports.
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, linger)
			unix.Close(fd)
			unix.Close(afd)
		}
	})
}

// BenchmarkUnixConnect connects to an AF_UNIX stream socket: the
// connect_unix hooks read the address (108 bytes) for a watched or held
// process, and cost one lookup for any other.
func BenchmarkUnixConnect(b *testing.B) {
	benchUnixPath = filepath.Join(b.TempDir(), "bench.sock")
	defer func() { benchUnixPath = "" }()
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(lfd)
	sa := &unix.SockaddrUnix{Name: benchUnixPath}
	if err := unix.Bind(lfd, sa); err != nil {
		b.Fatal(err)
	}
	if err := unix.Listen(lfd, 128); err != nil {
		b.Fatal(err)
	}
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Connect(fd, sa); err != nil {
				b.Fatal(err)
			}
			afd, _, err := unix.Accept(lfd)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
			unix.Close(afd)
		}
	})
}

func BenchmarkExec(b *testing.B) {
	trueBin, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	if benchExecutable, err = filepath.EvalSymlinks(trueBin); err != nil {
		b.Fatal(err)
	}
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			if err := exec.Command(trueBin).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCapabilityCheck calls setgroups(0, NULL) on one thread, which
// checks CAP_SETGID. (Go's unix.Setgroups changes every thread and stops the
// world; the raw call touches only the calling thread, whose supplementary
// groups as root are irrelevant.)
func BenchmarkCapabilityCheck(b *testing.B) {
	runConfigs(b, func(b *testing.B, n int) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < n; i++ {
			if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); errno != 0 {
				b.Fatal(errno)
			}
		}
	})
}

// ratios returns, per round, the config's ns/op over against's.
func ratios(r map[config][]float64, c, against config) []float64 {
	n := min(len(r[c]), len(r[against]))
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if r[against][i] > 0 {
			out = append(out, r[c][i]/r[against][i])
		}
	}
	return out
}

// BenchmarkGetpid makes the cheapest system call there is: the cost of
// recording system calls shows undiluted.
func BenchmarkGetpid(b *testing.B) {
	runConfigs(b, func(b *testing.B, n int) {
		for i := 0; i < n; i++ {
			unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		}
	})
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratioCell is a median ratio with the range of the per-round ratios.
func ratioCell(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fx (%.3f-%.3f)", median(v), slices.Min(v), slices.Max(v))
}

// verdict says whether the per-round ratios meet max: only when the range
// lies on one side of it is the answer resolvable on this machine.
func verdict(v []float64, max float64) string {
	lo, hi, m := slices.Min(v), slices.Max(v), median(v)
	switch {
	case hi <= max+0.005:
		return fmt.Sprintf("meets <=%.2fx", max)
	case lo > max+0.005:
		return fmt.Sprintf("misses <=%.2fx", max)
	case m <= max+0.005:
		return fmt.Sprintf("not resolvable here (median meets <=%.2fx, range %.3f-%.3f spans it)", max, lo, hi)
	}
	return fmt.Sprintf("not resolvable here (median misses <=%.2fx, range %.3f-%.3f spans it)", max, lo, hi)
}

func printRatios(out io.Writer) {
	results.Lock()
	defer results.Unlock()
	if len(results.ns) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(results.ns))
	shown := selectedConfigs()
	fmt.Fprintf(out, "\n%d interleaved rounds, %s; ratios within a round, median (min-max)\n", len(results.ns[names[0]][baseline]), time.Now().Format(time.DateOnly))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "loop\tbaseline")
	for _, c := range shown[1:] {
		fmt.Fprintf(w, "\t%s/baseline", c)
	}
	if slices.Contains(shown, enforce) && slices.Contains(shown, attached) {
		fmt.Fprint(w, "\tenforce/attached")
	}
	fmt.Fprintln(w)
	for _, n := range names {
		r := results.ns[n]
		fmt.Fprintf(w, "%s\t%.0f ns/op", strings.TrimPrefix(n, "Benchmark"), median(r[baseline]))
		for _, c := range shown[1:] {
			fmt.Fprintf(w, "\t%s", ratioCell(ratios(r, c, baseline)))
		}
		if slices.Contains(shown, enforce) && slices.Contains(shown, attached) {
			fmt.Fprintf(w, "\t%s", ratioCell(ratios(r, enforce, attached)))
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	fmt.Fprintln(out, "\ntargets")
	for _, tg := range targets {
		if !slices.Contains(shown, tg.config) || !slices.Contains(shown, tg.against) {
			continue
		}
		for _, n := range names {
			loop := strings.TrimPrefix(n, "Benchmark")
			if tg.loop != "" && tg.loop != loop {
				continue
			}
			if v := ratios(results.ns[n], tg.config, tg.against); len(v) > 0 {
				fmt.Fprintf(out, "  %s %s/%s: %s\n", loop, tg.config, tg.against, verdict(v, tg.max))
			}
		}
	}
}

// printProgramStats prints each program's mean run time per invocation in
// each configuration, from kernel.bpf_stats_enabled.
func printProgramStats(out io.Writer) {
	results.Lock()
	defer results.Unlock()
	if len(results.stats) == 0 {
		return
	}
	fmt.Fprintf(out, "\nprogram run time (kernel.bpf_stats_enabled), ns per run, each loop run for %v\n", *statsTime)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "loop\tconfig\tprogram\truns\tns/run")
	for _, n := range slices.Sorted(maps.Keys(results.stats)) {
		for _, c := range selectedConfigs()[1:] {
			st := results.stats[n][c]
			for _, prog := range slices.Sorted(maps.Keys(st)) {
				s := st[prog]
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%.0f\n", strings.TrimPrefix(n, "Benchmark"), c, prog, s.Runs, float64(s.Runtime.Nanoseconds())/float64(s.Runs))
			}
		}
	}
	w.Flush()
}
