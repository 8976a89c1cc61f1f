// Package kerneltest holds what tests that load programs into the real
// kernel share.
package kerneltest

import (
	"os"
	"testing"
)

// RequireRoot skips a kernel test when not root, except in CI, where a
// missing privilege is a failure: kernel tests never skip silently there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("kernel tests need root (CI is set, so this is a failure, not a skip)")
	}
	t.Skip("kernel tests need root")
}
