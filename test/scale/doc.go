// Package scale measures what many node agents cost one API server and
// checks that their merged Profiles stay exact: simulated agents (the
// profile writer every agent runs, each with its own client and node name)
// write cumulative snapshots of the same workloads' containers, and the
// stored Profiles are compared with the ground truth the test generated.
//
// `go test ./test/scale` runs a small size as a correctness test; `make
// bench-scale` runs 100 agents and 50 Profiles for a minute and prints the
// figures the README quotes.
package scale
