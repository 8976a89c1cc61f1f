package bench

import (
	"flag"
	"fmt"
	"io"
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
)

// config is how footprint is set up around a loop.
type config string

const (
	baseline  config = "baseline"
	unwatched config = "unwatched"
	recording config = "recording"
	// audit and enforce hold the loop to a policy of 100 file rules, 20
	// connect rules and 10 executables that allows what the loop does.
	audit   config = "audit"
	enforce config = "enforce"
)

var configs = []config{baseline, unwatched, recording, audit, enforce}

// results collects ns/op per loop and config across -count rounds, for the
// ratio table TestMain prints.
var results = struct {
	sync.Mutex
	ns map[string]map[config][]float64
}{ns: map[string]map[config][]float64{}}

func TestMain(m *testing.M) {
	code := m.Run()
	printRatios()
	os.Exit(code)
}

// rounds interleaves the configurations: baseline, unwatched, recording,
// audit, enforce, then again, so that a noisy moment hits all alike. The table reports
// each configuration's median.
var rounds = flag.Int("rounds", 3, "rounds of the configurations per loop")

// only narrows the configurations, e.g. -only baseline,enforce.
var only = flag.String("only", "", "comma-separated configurations to run (default all)")

func selectedConfigs() []config {
	if *only == "" {
		return configs
	}
	var out []config
	for _, c := range configs {
		if slices.Contains(strings.Split(*only, ","), string(c)) {
			out = append(out, c)
		}
	}
	return out
}

// runConfigs runs loop under each configuration as a sub-benchmark, round
// after round. The set-up happens outside the timed runs, and only the final
// run of each sub-benchmark (the one go test reports) goes into the table.
func runConfigs(b *testing.B, loop func(b *testing.B)) {
	if os.Geteuid() != 0 {
		b.Fatal("benchmarks load BPF programs: run them as root")
	}
	for round := 0; round < *rounds; round++ {
		for _, c := range selectedConfigs() {
			teardown := setUp(b, c)
			var last float64
			b.Run(string(c), func(b *testing.B) {
				loop(b)
				last = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			})
			teardown()
			results.Lock()
			if results.ns[b.Name()] == nil {
				results.ns[b.Name()] = map[config][]float64{}
			}
			results.ns[b.Name()][c] = append(results.ns[b.Name()][c], last)
			results.Unlock()
		}
	}
}

// setUp loads footprint (unless baseline) and, for the other configurations
// but unwatched, moves this process into a cgroup that is recorded or
// enforced from now on. It returns the undo.
func setUp(b *testing.B, c config) func() {
	if c == baseline {
		return func() {}
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		b.Fatal(err)
	}
	var closer io.Closer
	var enf *bpf.Enforcer
	switch c {
	case unwatched, recording:
		rec, err := bpf.Load(bpf.Options{CgroupRoot: mount})
		if err != nil {
			b.Fatal(err)
		}
		if c == unwatched {
			return func() { rec.Close() }
		}
		closer = rec
		defer func() {
			if b.Failed() {
				return
			}
		}()
		cg := enterCgroup(b, mount, func(id uint64) error {
			return rec.Watch(id, bpf.Watch{Kinds: bpf.AllKinds, Live: true})
		})
		return func() { leaveCgroup(b, mount, cg); closer.Close() }
	default:
		enf, err = bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
		if err != nil {
			b.Fatal(err)
		}
		mode := v1alpha1.ModeAudit
		if c == enforce {
			mode = v1alpha1.ModeEnforce
		}
		compiled, err := rules.Compile(benchPolicy(mount, mode))
		if err != nil {
			b.Fatal(err)
		}
		installer, err := enforcer.NewInstaller(enf)
		if err != nil {
			b.Fatal(err)
		}
		if err := installer.Install(1, compiled); err != nil {
			b.Fatal(err)
		}
		violations, err := enf.NewViolationReader()
		if err != nil {
			b.Fatal(err)
		}
		cg := enterCgroup(b, mount, func(id uint64) error { return enf.EnforceCgroup(id, 1, bpf.Hold{Live: true}) })
		return func() {
			leaveCgroup(b, mount, cg)
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
			installer.Close()
			enf.Close()
		}
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
	benchFile       string
	benchAddr       unix.Sockaddr
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
		p.Spec.Files.Allow = append(p.Spec.Files.Allow, v1alpha1.FileRule{Path: benchFile, Access: read})
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
	runConfigs(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fd, err := unix.Open(file, unix.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
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
	runConfigs(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
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

func BenchmarkExec(b *testing.B) {
	trueBin, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	if benchExecutable, err = filepath.EvalSymlinks(trueBin); err != nil {
		b.Fatal(err)
	}
	runConfigs(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
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
	runConfigs(b, func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < b.N; i++ {
			if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); errno != 0 {
				b.Fatal(errno)
			}
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

func printRatios() {
	results.Lock()
	defer results.Unlock()
	if len(results.ns) == 0 {
		return
	}
	names := make([]string, 0, len(results.ns))
	for n := range results.ns {
		names = append(names, n)
	}
	slices.Sort(names)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nmedian of %d rounds, %s\t", len(results.ns[names[0]][baseline]), time.Now().Format(time.DateOnly))
	shown := selectedConfigs()
	for _, c := range shown {
		fmt.Fprintf(w, " %s\t", c)
	}
	for _, c := range shown {
		if c != baseline {
			fmt.Fprintf(w, " %s/baseline\t", c)
		}
	}
	fmt.Fprintln(w)
	for _, n := range names {
		r := results.ns[n]
		if len(r[baseline]) == 0 {
			continue
		}
		base := median(r[baseline])
		fmt.Fprintf(w, "%s\t", strings.TrimPrefix(n, "Benchmark"))
		for _, c := range shown {
			fmt.Fprintf(w, " %.0f ns/op\t", median(r[c]))
		}
		for _, c := range shown {
			if c != baseline {
				fmt.Fprintf(w, " %.3fx\t", median(r[c])/base)
			}
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}
