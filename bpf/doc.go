// Package bpf is footprint's kernel side: the eBPF programs (C sources in
// c/, compiled with CO-RE into committed objects by bpf2go) and the Go code
// that loads them.
//
// Loading probes each hook's backends best first and keeps the first one the
// kernel accepts, remembering why the others were refused, so that `footprint
// probe` can say what this kernel can do. The programs record only cgroups
// listed in a watch map, aggregate repeats in kernel maps and send first
// sightings to a ring buffer; Sweep reads the aggregation maps, which are the
// source of truth, so a lost ring-buffer record never loses an entry.
package bpf
