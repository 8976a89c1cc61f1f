package profiles

import (
	"path"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"per-process proc entry", "/proc/1234/status", "/proc/*/status"},
		{"proc self", "/proc/self/status", "/proc/*/status"},
		{"proc thread-self spelled the long way", "/proc/thread-self/attr/current", "/proc/*/task/*/attr/current"},
		{"thread ids", "/proc/1234/task/1240/stat", "/proc/*/task/*/stat"},
		{"descriptor numbers", "/proc/self/fd/3", "/proc/*/fd/*"},
		{"map_files ranges", "/proc/88/map_files/7f0c1a2b3000-7f0c1a2b4000", "/proc/*/map_files/*"},
		{"system-wide proc entries stay", "/proc/meminfo", "/proc/meminfo"},
		{"proc sys stays", "/proc/sys/net/core/somaxconn", "/proc/sys/net/core/somaxconn"},
		{"terminal numbers", "/dev/pts/3", "/dev/pts/*"},
		{"projected volume timestamp", "/var/run/secrets/kubernetes.io/serviceaccount/..2025_01_01_00_00_00.123456789/token", "/var/run/secrets/kubernetes.io/serviceaccount/..*/token"},
		{"projected volume data link stays", "/etc/config/..data/app.yaml", "/etc/config/..data/app.yaml"},
		{"mkstemp name", "/tmp/tmpa8Xk2L", "/tmp/*"},
		{"mktemp(1) name", "/tmp/tmp.Q3zT8aPq1x", "/tmp/*"},
		{"python tempfile name", "/tmp/tmpk3j_8x9a", "/tmp/*"},
		{"python tempfile all letters", "/tmp/tmpabcdefgh", "/tmp/*"},
		{"go CreateTemp name", "/tmp/go-build4172653/b001/exe/main", "/tmp/*/b001/exe/main"},
		{"mkstemps keeps the extension out", "/var/tmp/upload-a8Xk2L.json", "/var/tmp/*"},
		{"O_TMPFILE", "/tmp/#1234 (deleted)", "/tmp/*"},
		{"random name in an app tmp dir", "/app/tmp/cache-9fK2xQ", "/app/tmp/*"},
		{"stable socket in tmp stays", "/tmp/app.sock", "/tmp/app.sock"},
		{"capitalised words in tmp stay", "/tmp/MyAppCache", "/tmp/MyAppCache"},
		{"short names in tmp stay", "/tmp/x1", "/tmp/x1"},
		{"random-looking name outside temp dirs stays", "/etc/a8Xk2L", "/etc/a8Xk2L"},
		{"shm random name", "/dev/shm/sem.a8Xk2L", "/dev/shm/*"},
		{"cleaned", "/etc//ssl/./certs/../certs/ca.pem", "/etc/ssl/certs/ca.pem"},
		{"deleted suffix dropped", "/var/log/app.log (deleted)", "/var/log/app.log"},
		{"root", "/", "/"},
		{"pipe inode", "pipe:[40912]", "pipe:[*]"},
		{"socket inode", "socket:[123]", "socket:[*]"},
		{"anonymous inode stays", "anon_inode:[eventfd]", "anon_inode:[eventfd]"},
		{"collapsed glob stays", "/var/cache/app/**", "/var/cache/app/**"},
		{"empty stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizePath(tt.in); got != tt.want {
				t.Errorf("NormalizePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMatchProfilePath(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"/proc/*/status", "/proc/1/status", true},
		{"/proc/*/status", "/proc/1/task/2/status", false},
		{"/var/run/x/..*/token", "/var/run/x/..2025_01_01_00_00_00.1/token", true},
		{"/var/run/x/..*/token", "/var/run/x/data/token", false},
		{"/a/**", "/a", true},
		{"/a/**", "/a/b/c", true},
		{"/a/**", "/ab", false},
		{"/a/**/z", "/a/z", true},
		{"/a/**/z", "/a/b/c/z", true},
		{"pipe:[*]", "pipe:[12]", true},
		{"pipe:[*]", "/pipe:[12]", false},
	}
	for _, tt := range tests {
		if got := MatchProfilePath(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchProfilePath(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestPatternCovers(t *testing.T) {
	tests := []struct {
		p, q string
		want bool
	}{
		{"/a/**", "/a/b/**", true},
		{"/a/**", "/a", true},
		{"/a/b/**", "/a/**", false},
		{"/a/*/**", "/a/**", false}, // /a itself is not below /a/*
		{"/*/**", "/proc/*/status", true},
		{"/a/*", "/a/..*", true},
		{"/a/..*", "/a/*", false},
		{"/a/x*", "/a/xy*", true},
		{"/a/*b", "/a/x*", false},
		{"/a/b", "/a/b", true},
		{"/a/**", "pipe:[*]", false},
	}
	for _, tt := range tests {
		if got := PatternCovers(tt.p, tt.q); got != tt.want {
			t.Errorf("PatternCovers(%q, %q) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

// FuzzNormalizePath checks that normalising is idempotent, never panics,
// keeps absolute paths absolute, and only ever widens: the normalised
// pattern still covers the path it came from.
func FuzzNormalizePath(f *testing.F) {
	for _, seed := range []string{
		"/proc/1234/status", "/proc/self/fd/3", "/proc/thread-self/attr/current", "/tmp/tmpa8Xk2L",
		"/tmp/go-build4172653/b001/exe/main", "/var/run/secrets/x/..2025_01_01_00_00_00.123/token",
		"pipe:[40912]", "/a//b/../c/./d", "/", "", "/tmp/#1234 (deleted)", "/dev/pts/0", "/a/**", "*", "/proc",
		"/tmp/a*b", "/tmp/.", "//", "/proc/self", "/proc/thread-self",
		"/etc/redis/redis.conf.tmp-a8Xk2L", "/var/log/nginx/access.log.2.gz", "/var/log/nginx/access.log-20261206",
		"/var/lib/redis/appendonlydir/appendonly.aof.3.incr.aof", "/d/pg_wal/000000010000000000000003",
		"/d/pg_wal/archive_status/000000010000000000000003.ready", "/a/tmp-*", "/a/x.log.*",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		once := NormalizePath(p)
		if twice := NormalizePath(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, once, twice)
		}
		if strings.HasPrefix(strings.TrimSuffix(p, deletedSuffix), "/") != strings.HasPrefix(once, "/") {
			t.Fatalf("%q -> %q changed whether the path is absolute", p, once)
		}
		original := strings.TrimSuffix(p, deletedSuffix)
		if strings.HasPrefix(original, "/") {
			original = path.Clean(original)
			if strings.HasPrefix(original, "/proc/thread-self") {
				return // spelled differently on purpose; covered by the table test
			}
		}
		if original != "" && !MatchProfilePath(once, original) && !strings.Contains(original, "*") {
			t.Fatalf("%q normalised to %q, which no longer covers it", p, once)
		}
	})
}
