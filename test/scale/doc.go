// Package scale measures what footprint costs at scale and checks that
// nothing recorded is lost on the way to the Profiles.
//
// Many nodes, one API server (agents_test.go): simulated agents (the
// profile writer every agent runs, each with its own client and node name)
// write cumulative snapshots of the same workloads' containers, and the
// stored Profiles are compared with the ground truth the test generated.
// `make bench-scale` runs 100 agents and 50 Profiles for a minute.
//
// One busy node (node_test.go): the real agent (`footprint agent`, a
// subprocess, with its kernel programs) against a real API server, with
// pods laid out in cgroups as kubelet lays them out and a load program
// (busyload) in every container; every container's entries must reach its
// Profile. `make bench-node` runs 250 pods (500 containers) at 50,000
// operations a second for a minute.
//
// `go test ./test/scale` runs both at a small size as correctness tests
// (the busy node needs root); the make targets print the figures the
// README quotes.
package scale
