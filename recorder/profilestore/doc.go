// Package profilestore is how a node agent writes what it recorded of a
// workload container into the cluster's Profile object: one Profile per
// (namespace, workload, container), merged across replicas and nodes,
// written by any number of agents at once without losing an entry, and kept
// under the API server's object size limit.
//
// # Naming
//
// The Profile of container nginx of Deployment web is named web-nginx
// (ProfileName): lower case, a valid DNS-1123 subdomain. A name that had to
// be changed or shortened to be valid carries a hash of the key, so
// different keys never meet by construction; when the plain name is held by
// another key's profile (Deployment web and StatefulSet web, both with a
// container nginx), the later key's profile gets the hashed CollisionName.
// Every profile is labelled footprint.dev/workload-kind, footprint.dev/workload,
// footprint.dev/container and footprint.dev/recording (the recording that
// last wrote it), and its spec names the workload and container in full.
//
// # Concurrency
//
// Store.Merge is a read-merge-write loop with optimistic concurrency: it
// reads the profile, merges the delta into it (profiles.MergeSpec, then the
// size bounds), and updates it with the resourceVersion it read. When
// another agent wrote in between, the API server answers Conflict and the
// loop reads, merges and writes again, with jittered backoff -- so the other
// agent's entries are in what it writes. Creating races the same way: an
// AlreadyExists answer means another agent created the profile first, and
// the loop goes on with an update. The status (summary and Collapsed
// condition) is a function of the spec, written through the status
// subresource after the spec, and recomputed from the stored spec on a
// conflict, so it always describes the spec it was written with.
//
// # Retries are safe: deltas are cumulative snapshots
//
// A write can fail after it took effect (a timeout after the API server
// committed it), and a Writer retries everything that failed; an agent may
// also flush the same data again after a restart. Re-applying must not
// double anything. The store therefore does not add counts up. A delta is
// a snapshot of everything one source (a node and pod, for one recording,
// identified by when that recording of the pod started) observed so far,
// with counts cumulative since that start -- exactly what the agent reads
// from the kernel's aggregation maps -- and merging keeps, per entry, the
// largest count reported (profiles.Merge). Merge is a union of entries with
// max of counts, which is commutative, associative and idempotent: sending
// a snapshot twice, or an older snapshot after a newer one, changes nothing,
// and a re-sent delta that changes nothing is not even written. An entry's
// count in the stored profile is thus the largest count any one source
// reported; per-source totals (events, lost records, first and last seen,
// kernel, backends) are kept exactly, one Source per node and pod, each
// replaced by its newer snapshot rather than added to.
//
// The alternative -- agents sending increments and the store adding them
// up -- needs exactly-once delivery, which would mean keeping a ledger of
// applied deltas per source inside the object: more bytes in an object
// whose size is the scarce resource, for a count nobody acts on (profiles
// drive which entries a policy allows, not how often).
//
// # Size
//
// Each write applies Bounds: the file limits of profiles.Bound (collapse
// crowded directories into `dir/**`, recorded in spec.collapsed and the
// Collapsed condition), at most MaxSources sources one by one (older pods
// folded into one source per node), and MaxObjectBytes for the serialised
// object (1 MiB by default; the API server refuses 1.5 MiB). A profile that
// is still too large has its files collapsed harder, then its sources
// folded, and as a last resort its least used connection destinations and
// executables left out -- every step recorded in spec.collapsed with a reason
// that starts "over the size budget", and the condition says so. A write is
// never refused for size, and nothing is dropped without a record.
//
// # Buffering
//
// A Writer sits in front of a Store in the agent: Add queues a delta and
// returns at once, merging it with what is already queued for the same
// profile (so the queue holds one bounded delta per profile); Run flushes
// periodically; a flush that fails keeps the delta and retries with
// exponential backoff, so an unreachable API server loses nothing and
// profiles catch up when it returns. Run's periodic flushes write a
// profile's delta at once only when it holds something this Writer has not
// written there yet -- an entry of a new identity, a new source, a changed
// loss -- and hold a delta of larger counts only for up to
// WriterOptions.CountOnlyInterval (5 minutes), so that a busy container
// doing the same things costs a write every few minutes, not every flush;
// Flush and the final flush write everything held.
package profilestore
