// Package bench measures what footprint costs the programs it watches. Each
// loop (open+close, loopback connect, exec, a capability check) runs in three
// configurations in the same run: without footprint, with footprint attached
// but the process not watched, and watched and recording. `make bench` prints
// ns/op per configuration and the ratio to the baseline.
package bench
