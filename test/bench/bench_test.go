package bench

import (
	"flag"
	"fmt"
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
	"github.com/footprint-dev/footprint/recorder/cgroupfs"
)

// config is how footprint is set up around a loop.
type config string

const (
	baseline  config = "baseline"
	unwatched config = "unwatched"
	recording config = "recording"
)

var configs = []config{baseline, unwatched, recording}

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
// then again, so that a noisy moment hits all three alike. The table reports
// each configuration's median.
var rounds = flag.Int("rounds", 3, "rounds of the three configurations per loop")

// runConfigs runs loop under each configuration as a sub-benchmark, round
// after round. The set-up happens outside the timed runs, and only the final
// run of each sub-benchmark (the one go test reports) goes into the table.
func runConfigs(b *testing.B, loop func(b *testing.B)) {
	if os.Geteuid() != 0 {
		b.Fatal("benchmarks load BPF programs: run them as root")
	}
	for round := 0; round < *rounds; round++ {
		for _, c := range configs {
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

// setUp loads footprint (unless baseline) and, for recording, moves this
// process into a watched, live cgroup. It returns the undo.
func setUp(b *testing.B, c config) func() {
	if c == baseline {
		return func() {}
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		b.Fatal(err)
	}
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mount})
	if err != nil {
		b.Fatal(err)
	}
	if c == unwatched {
		return func() { rec.Close() }
	}
	home, err := ownCgroup(mount)
	if err != nil {
		b.Fatal(err)
	}
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("bench-%d", os.Getpid())))
	if err != nil {
		b.Fatal(err)
	}
	if err := rec.Watch(cg.ID, bpf.Watch{Kinds: bpf.AllKinds, Live: true}); err != nil {
		b.Fatal(err)
	}
	if err := movePID(cg.Path, os.Getpid()); err != nil {
		b.Fatal(err)
	}
	return func() {
		if err := movePID(home, os.Getpid()); err != nil {
			b.Error(err)
		}
		cg.Remove()
		rec.Close()
	}
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
	fmt.Fprintf(w, "\nmedian of %d rounds, %s\t baseline\t unwatched\t recording\t unwatched/baseline\t recording/baseline\t\n",
		len(results.ns[names[0]][baseline]), time.Now().Format(time.DateOnly))
	for _, n := range names {
		r := results.ns[n]
		if len(r[baseline]) == 0 || len(r[unwatched]) == 0 || len(r[recording]) == 0 {
			continue
		}
		base := median(r[baseline])
		fmt.Fprintf(w, "%s\t %.0f ns/op\t %.0f ns/op\t %.0f ns/op\t %.3fx\t %.3fx\t\n", strings.TrimPrefix(n, "Benchmark"),
			base, median(r[unwatched]), median(r[recording]), median(r[unwatched])/base, median(r[recording])/base)
	}
	w.Flush()
}
