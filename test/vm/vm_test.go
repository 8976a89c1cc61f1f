package vm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildProbe builds testdata/probe's test binary, statically.
func buildProbe(t *testing.T) string {
	t.Helper()
	skipIfAsked(t, "the VM harness's own tests")
	bin := filepath.Join(t.TempDir(), "probe.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	return bin
}

// console returns a writer that copies the VM's console into the test log and into the
// returned buffer.
func console(t *testing.T) (io.Writer, *bytes.Buffer, func()) {
	var buf bytes.Buffer
	w := &prefixWriter{w: t.Output(), prefix: "vm| "}
	return io.MultiWriter(w, &buf), &buf, w.Flush
}

func TestRunPassesEnvArgsAndExitCode(t *testing.T) {
	bin := buildProbe(t)
	out, buf, flush := console(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	value := `a b'c $HOME "d" \n`
	code, err := Run(ctx, out, bin,
		[]string{"-test.v", "-test.run", "^TestProbe$", "--", "x y", "it's", ""},
		"PROBE_EXIT=7", "PROBE_VALUE="+value, "PROBE_WANT_VALUE="+value, "PROBE_WANT_ARGS=x y|it's|")
	flush()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// 7 only comes from the probe's TestMain after every check passed: a failed check
	// exits 1, a VM without an exit code is an error.
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	if !strings.Contains(buf.String(), "--- PASS: TestProbe") {
		t.Errorf("the console did not stream the probe's verdict")
	}
}

func TestRunReportsVMWithoutExitCode(t *testing.T) {
	bin := buildProbe(t)
	// No init to run: the kernel panics, the VM ends without running the binary.
	t.Setenv("FOOTPRINT_VM_APPEND", "rdinit=/nonexistent")
	out, _, flush := console(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code, err := Run(ctx, out, bin, []string{"-test.run", "^TestProbe$"})
	flush()
	if !errors.Is(err, ErrNoExitCode) {
		t.Fatalf("Run = %d, %v; want ErrNoExitCode", code, err)
	}
}

func TestRunRefusesDynamicBinary(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	_, err = Run(context.Background(), io.Discard, bash, nil)
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("Run(%s) = %v, want a refusal naming CGO_ENABLED=0", bash, err)
	}
}

func TestRunRefusesMalformedEnv(t *testing.T) {
	bin := buildProbe(t)
	_, err := Run(context.Background(), io.Discard, bin, nil, "NOEQUALS")
	if err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
		t.Fatalf("Run with env NOEQUALS = %v, want a refusal", err)
	}
}

func TestJudge(t *testing.T) {
	const pass = "=== RUN   TestA\n--- PASS: TestA (0.01s)\nPASS\n"
	for _, tc := range []struct {
		name, output string
		code         int
		want         []string // substrings, one per expected problem
	}{
		{"passed", pass, 0, nil},
		{"subtests passed", "=== RUN   TestA\n=== RUN   TestA/b\n    --- PASS: TestA/b (0.00s)\n--- PASS: TestA (0.01s)\nPASS\n", 0, nil},
		{"failed", "--- FAIL: TestA (0.01s)\nFAIL\n", 1, []string{"exit code 1"}},
		{"no test matched", "testing: warning: no tests to run\nPASS\n", 0, []string{"no test matched"}},
		{"nothing reported", "PASS\n", 0, []string{"no test reported PASS"}},
		{"skipped", pass + "=== RUN   TestB\n    b_test.go:9: no LSM\n--- SKIP: TestB (0.00s)\n", 0, []string{"TestB skipped"}},
		{"subtest skipped", "    --- SKIP: TestA/c (0.00s)\n--- PASS: TestA (0.01s)\n", 0, []string{"TestA/c skipped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(tc.code, tc.output)
			if len(got) != len(tc.want) {
				t.Fatalf("judge = %q, want %d problems like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &prefixWriter{w: &buf, prefix: "vm| "}
	for _, chunk := range []string{"one\ntw", "o\n", "", "three"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if got, want := buf.String(), "vm| one\nvm| two\n"; got != want {
		t.Errorf("before Flush: %q, want %q", got, want)
	}
	w.Flush()
	if got, want := buf.String(), "vm| one\nvm| two\nvm| three\n"; got != want {
		t.Errorf("after Flush: %q, want %q", got, want)
	}
}

func TestEachTestOfABootMatrixRunHasItsOwnVerdict(t *testing.T) {
	run := &matrixRun{tests: []string{"TestAInVM", "TestBInVM", "TestCInVM", "TestDInVM"}, code: 1, console: "" +
		"=== RUN   TestAInVM\n=== RUN   TestAInVM/sub\n    --- PASS: TestAInVM/sub (0.00s)\n--- PASS: TestAInVM (1.00s)\n" +
		"=== RUN   TestBInVM\n    b_test.go:9: the file is there\n--- FAIL: TestBInVM (2.00s)\n" +
		"=== RUN   TestCInVM\n    c_test.go:3: no hook\n--- SKIP: TestCInVM (0.00s)\n" +
		"FAIL\n"}
	for _, tc := range []struct {
		test string
		want []string // in the problem; none: passed
	}{
		{"TestAInVM", nil},
		{"TestBInVM", []string{"failed in the VM", "the file is there"}},
		{"TestCInVM", []string{"skipped inside the VM", "no hook"}},
		{"TestDInVM", []string{"no verdict", "exit code 1", "log of TestAInVM"}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			got := run.verdict(tc.test)
			if (got == "") != (tc.want == nil) {
				t.Fatalf("verdict %q, want a problem: %v", got, tc.want != nil)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("verdict %q does not mention %q", got, w)
				}
			}
			if tc.test == "TestBInVM" && strings.Contains(got, "TestAInVM") {
				t.Errorf("the failure shows another test's output: %q", got)
			}
		})
	}
}

// TestNoMoreVMsRunAtOnceThanTheCapAllows: places among the machine's VMs are
// taken up to FOOTPRINT_VM_PARALLEL, a run beyond it waits until one is
// given back, and a cap that is no number is refused by name.
func TestNoMoreVMsRunAtOnceThanTheCapAllows(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv(EnvParallel, "2")
	first, err := vmSlot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := vmSlot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer second()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := vmSlot(ctx); err == nil || !strings.Contains(err.Error(), "one of the 2 places") {
		t.Fatalf("a third VM while two run: %v, want it to wait until the deadline", err)
	}
	time.AfterFunc(200*time.Millisecond, first)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	third, err := vmSlot(ctx)
	if err != nil {
		t.Fatalf("a third VM once one of two ended: %v", err)
	}
	third()

	t.Setenv(EnvParallel, "none")
	if _, err := vmSlot(context.Background()); err == nil || !strings.Contains(err.Error(), EnvParallel) {
		t.Fatalf("cap %q: %v, want an error naming %s", "none", err, EnvParallel)
	}
}
