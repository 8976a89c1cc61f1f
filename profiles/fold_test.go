package profiles

import (
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles/profiletest"
)

func file(path string, modes ...v1alpha1.FileAccessMode) v1alpha1.FileEntry {
	return v1alpha1.FileEntry{Path: path, Access: modes, Count: 1}
}

const (
	rd = v1alpha1.AccessRead
	wr = v1alpha1.AccessWrite
	ex = v1alpha1.AccessExec
	cr = v1alpha1.AccessCreate
)

func paths(files []v1alpha1.FileEntry) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path+" "+JoinAccess(f.Access))
	}
	return out
}

func TestFoldingFiles(t *testing.T) {
	tests := []struct {
		name string
		in   []v1alpha1.FileEntry
		want []string // path and access of each entry left
	}{
		{
			name: "literal files a recorded glob grants in full are dropped",
			in: []v1alpha1.FileEntry{
				file("/pg/base/*/*", rd, wr), file("/pg/base/1/1259", rd, wr), file("/pg/base/1/16384", rd), file("/pg/base/5/2619", wr),
			},
			want: []string{"/pg/base/*/* read+write"},
		},
		{
			name: "a file the glob does not grant every mode of stays, with all of its modes",
			in:   []v1alpha1.FileEntry{file("/pg/base/*/*", rd), file("/pg/base/1/1259", rd, wr, cr)},
			want: []string{"/pg/base/*/* read", "/pg/base/1/1259 read+write+create"},
		},
		{
			name: "a partial glob drops only the names it matches",
			in: []v1alpha1.FileEntry{
				file("/pg/global/pg_internal.init.*", wr, cr), file("/pg/global/pg_internal.init.4711", wr), file("/pg/global/pg_control", wr),
			},
			want: []string{"/pg/global/pg_control write", "/pg/global/pg_internal.init.* write+create"},
		},
		{
			name: "reads of a read-only system tree become one read-only rule",
			in: []v1alpha1.FileEntry{
				file("/usr/share/zoneinfo/Etc/UTC", rd), file("/usr/share/zoneinfo/Europe/Paris", rd), file("/etc/ssl/certs/ca-certificates.crt", rd),
				file("/usr/lib/locale/C.utf8/LC_CTYPE", rd), file("/usr/share/postgresql/15/timezonesets/Default", rd),
			},
			want: []string{"/etc/ssl/certs/** read", "/usr/lib/locale/** read", "/usr/share/postgresql/** read", "/usr/share/zoneinfo/** read"},
		},
		{
			name: "a read-only tree grants mapping only where a module was mapped",
			in: []v1alpha1.FileEntry{
				file("/usr/lib/python3.11/json/__init__.py", rd), file("/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so", rd, ex),
				file("/usr/share/perl5/Getopt/Long.pm", rd),
			},
			want: []string{"/usr/lib/python3.11/** read+exec", "/usr/share/perl5/** read"},
		},
		{
			name: "a write in a system tree is never folded, and never widens the tree's rule",
			in: []v1alpha1.FileEntry{
				file("/usr/lib/python3.11/os.py", rd), file("/usr/lib/python3.11/__pycache__/os.cpython-311.pyc", rd, wr, cr),
			},
			want: []string{"/usr/lib/python3.11/** read", "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc read+write+create"},
		},
		{
			name: "files outside the known trees stay",
			in:   []v1alpha1.FileEntry{file("/etc/passwd", rd), file("/usr/lib/x86_64-linux-gnu/libc.so.6", rd, ex), file("/usr/share", rd)},
			want: []string{"/etc/passwd read", "/usr/lib/x86_64-linux-gnu/libc.so.6 read+exec", "/usr/share read"},
		},
		{
			name: "a glob component does not place a path in a tree",
			in:   []v1alpha1.FileEntry{file("/usr/*/zoneinfo/UTC", rd)},
			want: []string{"/usr/*/zoneinfo/UTC read"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, _ := FoldFiles(test.in)
			if !slices.Equal(paths(got), test.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(paths(got), "\n  "), strings.Join(test.want, "\n  "))
			}
		})
	}
}

func TestFoldingSaysWhatEachTreeAllows(t *testing.T) {
	_, folds := FoldFiles([]v1alpha1.FileEntry{file("/usr/share/zoneinfo/Etc/UTC", rd), file("/usr/share/zoneinfo/UTC", rd)})
	if len(folds) != 1 {
		t.Fatalf("folds = %+v, want one", folds)
	}
	f := folds[0]
	if f.Glob != "/usr/share/zoneinfo/**" || f.Entries != 2 || !strings.Contains(f.Reason, "time zones") || !strings.Contains(f.Reason, "none written") {
		t.Errorf("fold = %+v", f)
	}
}

// TestFoldingNeverWidensAccessModes checks, on random profiles, what a user
// relies on: everything the profile allowed is still allowed, and anything
// the folded entries allow that the profile did not is a read (or a map as a
// program) inside a read-only system tree where the profile had only read
// (or mapped) something.
func TestFoldingNeverWidensAccessModes(t *testing.T) {
	rnd := randomSource(t, 11)
	probes := []string{
		"/etc/passwd", "/etc/ssl/certs/ca.crt", "/etc/ssl/certs/other.pem", "/usr/lib/python3/site-packages/x.py",
		"/usr/lib/python3/site-packages/lock", "/tmp/app.sock", "/tmp/x", "/var/cache/app/data.db", "/usr/share/zoneinfo/UTC",
	}
	for run := range propertyRuns {
		p := profiletest.Profile(rnd)
		// Trees from the random vocabulary, too.
		p.Spec.Files = append(p.Spec.Files, file("/usr/share/zoneinfo/Etc/UTC", rd), file("/usr/share/zoneinfo/Europe/Paris", rd, wr))
		before := NormalizeSpec(p.Spec).Files
		after, _ := FoldFiles(before)
		for _, f := range before {
			if !strings.HasPrefix(f.Path, "/") {
				continue
			}
			for _, m := range f.Access {
				if !allowsByUnion(after, f.Path, m) {
					t.Fatalf("run %d: %s %s was allowed and is not after folding:\n%s", run, m, f.Path, strings.Join(paths(after), "\n"))
				}
			}
		}
		for _, probe := range append(probes, pathsOf(before)...) {
			for _, m := range accessOrder {
				if !allowsByUnion(after, probe, m) || allowsByUnion(before, probe, m) {
					continue
				}
				root, _, inTree := ReadOnlyTree(probe)
				if !inTree || (m != rd && m != ex) || !treeHadOnly(before, root, m) {
					t.Fatalf("run %d: folding allows %s of %s, which the profile did not:\nbefore:\n%s\nafter:\n%s", run, m, probe, strings.Join(paths(before), "\n"), strings.Join(paths(after), "\n"))
				}
			}
		}
	}
}

// allowsByUnion is the policy's reading of file entries: a mode on a path is
// allowed when some entry covering the path grants it.
func allowsByUnion(files []v1alpha1.FileEntry, p string, m v1alpha1.FileAccessMode) bool {
	for _, f := range files {
		if PatternCovers(f.Path, p) && slices.Contains(f.Access, m) {
			return true
		}
	}
	return false
}

// treeHadOnly reports whether some entry in the tree at root had mode m and
// nothing but read and exec.
func treeHadOnly(files []v1alpha1.FileEntry, root string, m v1alpha1.FileAccessMode) bool {
	for _, f := range files {
		if r, _, ok := ReadOnlyTree(f.Path); ok && r == root && slices.Contains(f.Access, m) && subsetAccess(f.Access, readOnlyModes) {
			return true
		}
	}
	return false
}

func pathsOf(files []v1alpha1.FileEntry) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f.Path, "/") && !strings.Contains(f.Path, "*") {
			out = append(out, f.Path)
		}
	}
	return out
}
