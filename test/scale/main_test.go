package scale

import (
	"os"
	"testing"

	"github.com/footprint-dev/footprint/internal/agenttest"
)

// TestMain removes the binaries the tests built (agenttest.Build).
func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.RemoveBinaries()
	os.Exit(code)
}
