// Package testaction lets a test binary double as the program under test:
// started with FOOTPRINT_TEST_ACTION set, it performs that action and exits
// instead of running the tests. Kernel tests record and enforce real
// processes this way, without a second binary to build.
package testaction

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Env names the action the test binary is started for.
const Env = "FOOTPRINT_TEST_ACTION"

// Main is a TestMain: it runs the action the binary was started for with
// run (exit 0 when run returns nil, 3 with the error on stderr otherwise),
// or else the tests.
func Main(m *testing.M, run func(action string, args []string) error) {
	if action := os.Getenv(Env); action != "" {
		if err := run(action, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", action, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command is the command line that runs the test binary performing action,
// through env: the variable is set by an exec a policy must allow, like any
// wrapper's. env is not resolved: where it is a busybox applet, it needs
// its own name.
func Command(t testing.TB, action string, args ...string) []string {
	t.Helper()
	env, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{env, Env + "=" + action, Self(t)}, args...)
}

// Self is the test binary's path.
func Self(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}
