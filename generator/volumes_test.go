package generator

import (
	"reflect"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func rootFile(path string, access ...v1alpha1.FileAccessMode) v1alpha1.FileEntry {
	return v1alpha1.FileEntry{Path: path, Access: access, RootFilesystem: true}
}

// The volumes the advice names are safe to apply: an emptyDir only where
// the workload created what it read, a persistent volume where it read
// what was there before (configuration, data), and never a glob or a
// per-process name as mountPath.
func TestVolumeAdviceNeverHidesWhatTheWorkloadRead(t *testing.T) {
	r, w, c := v1alpha1.AccessRead, v1alpha1.AccessWrite, v1alpha1.AccessCreate
	tests := []struct {
		name  string
		files []v1alpha1.FileEntry
		want  []WritableDir
	}{
		{"logs the workload creates: an emptyDir",
			[]v1alpha1.FileEntry{rootFile("/etc/nginx/nginx.conf", r), rootFile("/var/log/nginx/access.log", w, c)},
			[]WritableDir{{Path: "/var/log/nginx"}}},
		{"a data file there before the workload: a persistent volume",
			[]v1alpha1.FileEntry{rootFile("/data/dump.rdb", r), rootFile("/data/appendonly.aof", w, c)},
			[]WritableDir{{Path: "/data", Persistent: true, Existing: "/data/dump.rdb"}}},
		{"a database's files under a glob: the glob's literal directory, persistent",
			[]v1alpha1.FileEntry{rootFile("/var/lib/postgresql/15/main/base/*/*", r, w)},
			[]WritableDir{{Path: "/var/lib/postgresql/15/main/base", Persistent: true, Existing: "/var/lib/postgresql/15/main/base/*/*"}}},
		{"a per-process directory: its parent",
			[]v1alpha1.FileEntry{rootFile("/run/app/*/lock", r, w, c)},
			[]WritableDir{{Path: "/run/app"}}},
		{"nested directories: the outermost",
			[]v1alpha1.FileEntry{rootFile("/var/cache/nginx/client_temp/1", w, c), rootFile("/var/cache/nginx/x", w, c)},
			[]WritableDir{{Path: "/var/cache/nginx"}}},
		{"a file in the root directory: no volume can take it",
			[]v1alpha1.FileEntry{rootFile("/state", w, c)},
			[]WritableDir{}},
		{"a file read elsewhere does not matter",
			[]v1alpha1.FileEntry{rootFile("/etc/app.conf", r), rootFile("/var/app/out", w, c)},
			[]WritableDir{{Path: "/var/app"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var written []v1alpha1.FileEntry
			for _, f := range tc.files {
				if writes(f) {
					written = append(written, f)
				}
			}
			got := writableDirs(written, tc.files)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("writableDirs = %+v, want %+v", got, tc.want)
			}
			for _, d := range got {
				if strings.ContainsAny(d.Path, "*?[") {
					t.Errorf("mountPath %q is a pattern", d.Path)
				}
			}
		})
	}
}

func TestTheReadOnlyRootFilesystemLineNamesEachVolumeKind(t *testing.T) {
	r, w, c := v1alpha1.AccessRead, v1alpha1.AccessWrite, v1alpha1.AccessCreate
	files := []v1alpha1.FileEntry{rootFile("/data/dump.rdb", r), rootFile("/data/appendonly.aof", w, c), rootFile("/var/log/app/x.log", w, c)}
	a := SecurityContextAdvice{RootFilesystemWrites: files[1:], WritableDirs: writableDirs(files[1:], files)}
	got := rootFilesystemEvidence(a)
	for _, want := range []string{"mount an emptyDir at /var/log/app", "a persistent volume (or one an init container fills) at /data (it read /data/dump.rdb, which an emptyDir would hide)"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
}
