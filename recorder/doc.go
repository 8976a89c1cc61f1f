// Package recorder turns kernel events into profiles: it decides which
// cgroups are recorded, runs a local command in a fresh cgroup
// (`footprint record -- CMD`), reads first sightings for live progress,
// sweeps the kernel's aggregation maps for the full, counted entries, and
// builds the Profile from them.
package recorder
