// Command sidedoor is the side-door tests' workload (internal/sidedoor),
// built without cgo.
package main

import (
	"os"

	"github.com/footprint-dev/footprint/internal/sidedoor"
)

func main() { sidedoor.Main(os.Args[1:]) }
