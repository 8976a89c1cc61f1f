package recorder

import (
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestEveryRouteIsSeenByAFileChangeRow(t *testing.T) {
	for _, r := range v1alpha1.RoutesAddedAfter(v1alpha1.FirstRoutes) {
		sees, ok := routeRows[r]
		if !ok {
			t.Errorf("route %s: no row of bpf.FileChanges says what sees it", r)
			continue
		}
		n := 0
		for _, fc := range bpf.FileChanges {
			if sees(fc) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("route %s is seen by %d rows of bpf.FileChanges; want 1", r, n)
		}
	}
}

func TestARecordingSaysTheRoutesItsFileBackendSaw(t *testing.T) {
	for _, tc := range []struct {
		name    string
		choices []bpf.BackendChoice
		want    int32
	}{
		{"every hook attached", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "lsm/file_open"}}, v1alpha1.CurrentRoutes},
		{"files not recorded", []bpf.BackendChoice{{Kind: bpf.KindCapability, Chosen: "tp_btf/cap_capable"}}, v1alpha1.CurrentRoutes},
		{"the times self-test failed", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "lsm/file_open", MissingChanges: []string{"vfs_utimes (not seen by the self-test)"}}}, v1alpha1.FirstRoutes},
		{"no mkdir hook on this kernel", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "fentry/security_file_open", MissingChanges: []string{"path_mkdir (no such function)"}}}, v1alpha1.FirstRoutes},
		{"one of mkdir's tracepoints missing", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "tracepoint/syscalls/sys_exit_open*", MissingChanges: []string{"mkdir (no tracepoint)"}}}, v1alpha1.FirstRoutes},
		{"no change hook works", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "lsm/file_open", MissingChanges: []string{"every file-change hook (self-test)"}}}, v1alpha1.FirstRoutes},
		{"a route of the first generation missing", []bpf.BackendChoice{{Kind: bpf.KindFile, Chosen: "lsm/file_open", MissingChanges: []string{"path_chown (no such hook)"}}}, v1alpha1.CurrentRoutes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := recordedRoutes(tc.choices); got != tc.want {
				t.Errorf("recordedRoutes = %d; want %d", got, tc.want)
			}
		})
	}
}
