package profilestore

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// busySnapshot is what a node agent's sweep makes of a busy container: a
// few dozen files, connections, executables and capabilities, counts grown
// by round.
func busySnapshot(round int64) v1alpha1.ProfileSpec {
	var s v1alpha1.ProfileSpec
	for i := range 40 {
		s.Files = append(s.Files, v1alpha1.FileEntry{Path: fmt.Sprintf("/var/lib/app/data/table-%d.db", i),
			Access: []v1alpha1.FileAccessMode{v1alpha1.AccessRead}, Count: round*7 + int64(i)})
	}
	for i := range 8 {
		s.Connections = append(s.Connections, v1alpha1.ConnectionEntry{Protocol: v1alpha1.ProtocolTCP,
			Address: fmt.Sprintf("10.0.0.%d", i+1), Port: 5432, Count: round * 3})
	}
	for i := range 4 {
		s.Executables = append(s.Executables, v1alpha1.ExecutableEntry{Path: fmt.Sprintf("/usr/bin/tool-%d", i), Count: round})
	}
	for _, c := range []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"} {
		s.Capabilities = append(s.Capabilities, v1alpha1.CapabilityEntry{Name: c, Verdict: v1alpha1.VerdictGranted, Count: round})
	}
	return s
}

// BenchmarkWriterAdd is the node agent's steady state: every flush interval
// each container's cumulative snapshot is queued again, holding what is
// already pending with larger counts.
func BenchmarkWriterAdd(b *testing.B) {
	w := NewWriter(NewStore(nil, Options{}), WriterOptions{})
	key := WorkloadContainer{Namespace: "shop", Workload: v1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "db"}, Container: "postgres"}
	src := v1alpha1.Source{Node: "node-1", Pod: "db-0", Recording: "shop", FirstSeen: metav1.NewTime(time.Unix(1_700_000_000, 0))}
	snaps := make([]v1alpha1.ProfileSpec, 64)
	for i := range snaps {
		snaps[i] = busySnapshot(int64(i + 1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := w.Add(key, "shop", snaps[i%len(snaps)], src); err != nil {
			b.Fatal(err)
		}
	}
}
