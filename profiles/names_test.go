package profiles

import (
	"strings"
	"testing"
)

func TestRecordedPidsInFileNamesBecomeGlobs(t *testing.T) {
	pids := NewPIDs(4711, 4720, 31337)
	tests := []struct {
		name, in, want string
	}{
		{"postgres relation cache init file", "/var/lib/postgresql/15/main/global/pg_internal.init.4711", "/var/lib/postgresql/15/main/global/pg_internal.init.*"},
		{"postgres temp file and its counter", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp4720.3", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp*.*"},
		{"postgres shared fileset directory", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp4720.0.fileset", "/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp*.*.fileset"},
		{"postgres WAL temp file", "/var/lib/postgresql/15/main/pg_wal/xlogtemp.4711", "/var/lib/postgresql/15/main/pg_wal/xlogtemp.*"},
		{"redis BGSAVE child's dump", "/var/lib/redis/temp-31337.rdb", "/var/lib/redis/temp-*.rdb"},
		{"redis AOF rewrite child's file", "/var/lib/redis/appendonlydir/temp-rewriteaof-bg-31337.aof", "/var/lib/redis/appendonlydir/temp-rewriteaof-bg-*.aof"},
		{"a per-process directory", "/tmp/app-4711/sock", "/tmp/app-*/sock"},
		{"an executable named after a pid", "/tmp/cc4711.out", "/tmp/cc*.out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GlobPIDs(tt.in, pids); got != tt.want {
				t.Errorf("GlobPIDs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNumbersThatAreNoRecordedPidStayLiteral(t *testing.T) {
	pids := NewPIDs(4711, 16384, 120)
	tests := []struct{ name, in string }{
		{"another process's temp file", "/var/lib/postgresql/15/main/pg_wal/xlogtemp.4712"},
		{"/proc entries are NormalizePath's", "/proc/4711/environ"},
		{"another process's /proc entry", "/proc/4712/environ"},
		{"a pid as part of a longer number", "/var/lib/postgresql/15/main/base/1/47110"},
		{"a pid with a longer number around it", "/data/147111"},
		{"zero padded is not a pid", "/data/seq.04711"},
		{"a relation file", "/var/lib/postgresql/15/main/base/1/1259"},
		{"a port", "/run/postgresql/.s.PGSQL.5432.lock"},
		{"a date", "/var/log/app/2026-12-06.log"},
		{"a small pid (a container's) is ambiguous", "/var/lib/postgresql/15/main/base/120/pg_filenode.map"},
		{"not a filesystem path", "pipe:[4711]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := GlobPIDs(tt.in, pids); got != tt.in {
				t.Errorf("GlobPIDs(%q) = %q, want it unchanged", tt.in, got)
			}
		})
	}
	// A recorded pid that happens to be a relation's number is taken for
	// the pid: that widens only within the one component, and only because
	// the process really had that pid.
	if got, want := GlobPIDs("/var/lib/postgresql/15/main/base/1/16384", pids), "/var/lib/postgresql/15/main/base/1/*"; got != want {
		t.Errorf("a number that is a recorded pid: got %q, want %q", got, want)
	}
	if got := GlobPIDs("/data/pg_internal.init.4711", nil); got != "/data/pg_internal.init.4711" {
		t.Errorf("without recorded pids nothing may change, got %q", got)
	}
}

func TestDaemonNamingSchemesBecomeGlobs(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"redis CONFIG REWRITE mkstemp file", "/etc/redis/redis.conf.tmp-a8Xk2L", "/etc/redis/redis.conf.tmp-*"},
		{"mkstemp suffix of lower-case letters only", "/etc/redis/redis.conf.tmp-qzkvbw", "/etc/redis/redis.conf.tmp-*"},
		{"redis 7 CONFIG REWRITE mkstemp file (%s.XXXXXX)", "/etc/redis/redis.conf.kBBR9c", "/etc/redis/redis.conf.*"},
		{"mkstemp suffix of letters and digits after a name", "/etc/redis/redis.conf.7hnfxa", "/etc/redis/redis.conf.*"},
		{"mktemp(1) file outside temp dirs", "/var/lib/app/tmp.Q3zT8aPq1x", "/var/lib/app/tmp.*"},
		{"mkstemp in a temp dir stays a whole glob", "/tmp/tmp.Q3zT8aPq1x", "/tmp/*"},
		{"redis AOF incremental generation", "/var/lib/redis/appendonlydir/appendonly.aof.3.incr.aof", "/var/lib/redis/appendonlydir/appendonly.aof.*.incr.aof"},
		{"redis AOF base generation (rdb preamble)", "/var/lib/redis/appendonlydir/appendonly.aof.12.base.rdb", "/var/lib/redis/appendonlydir/appendonly.aof.*.base.rdb"},
		{"redis AOF base generation (aof)", "/var/lib/redis/appendonlydir/appendonly.aof.2.base.aof", "/var/lib/redis/appendonlydir/appendonly.aof.*.base.aof"},
		{"nginx log rotated once", "/var/log/nginx/access.log.1", "/var/log/nginx/access.log.*"},
		{"nginx log rotated and compressed", "/var/log/nginx/error.log.14.gz", "/var/log/nginx/error.log.*.gz"},
		{"syslog rotation", "/var/log/syslog.2.xz", "/var/log/syslog.*.xz"},
		{"logrotate dateext", "/var/log/nginx/access.log-20261206.gz", "/var/log/nginx/access.log-*.gz"},
		{"postgres WAL segment", "/var/lib/postgresql/15/main/pg_wal/000000010000000000000003", "/var/lib/postgresql/15/main/pg_wal/*"},
		{"postgres partial WAL segment", "/var/lib/postgresql/15/main/pg_wal/00000001000000000000000A.partial", "/var/lib/postgresql/15/main/pg_wal/*.partial"},
		{"nginx request body buffer (official image)", "/var/cache/nginx/client_temp/0000000012", "/var/cache/nginx/client_temp/*"},
		{"nginx upstream buffer (Debian)", "/var/lib/nginx/proxy/0000000003", "/var/lib/nginx/proxy/*"},
		{"postgres relation file", "/var/lib/postgresql/15/main/base/16384/2619", "/var/lib/postgresql/15/main/base/*/*"},
		{"postgres free space map", "/var/lib/postgresql/15/main/base/1/16384_fsm", "/var/lib/postgresql/15/main/base/*/*_fsm"},
		{"postgres visibility map", "/var/lib/postgresql/15/main/base/5/16390_vm", "/var/lib/postgresql/15/main/base/*/*_vm"},
		{"postgres relation segment", "/var/lib/postgresql/15/main/base/5/16390.2", "/var/lib/postgresql/15/main/base/*/*.*"},
		{"postgres database directory", "/var/lib/postgresql/15/main/base/16384", "/var/lib/postgresql/15/main/base/*"},
		{"postgres database's fixed names", "/var/lib/postgresql/15/main/base/16384/PG_VERSION", "/var/lib/postgresql/15/main/base/*/PG_VERSION"},
		{"postgres shared catalog", "/var/lib/postgresql/15/main/global/1262", "/var/lib/postgresql/15/main/global/*"},
		{"postgres logging collector (Debian's log_filename)", "/var/lib/postgresql/15/main/log/postgresql-2026-12-06_070107.log", "/var/lib/postgresql/15/main/log/postgresql-*.log"},
		{"postgres default log_filename", "/var/lib/pgsql/data/log/postgresql-2026-12-06_070107.csv", "/var/lib/pgsql/data/log/postgresql-*.csv"},
		{"a daily log named after the day", "/var/log/app/app-20261206.log", "/var/log/app/app-*.log"},
		{"postgres WAL archive status", "/var/lib/postgresql/15/main/pg_wal/archive_status/000000010000000000000003.done", "/var/lib/postgresql/15/main/pg_wal/archive_status/*.done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizePath(tt.in)
			if got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := NormalizePath(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
			if !MatchProfilePath(got, tt.in) {
				t.Errorf("%q does not cover the name it came from, %q", got, tt.in)
			}
		})
	}
}

func TestNamesThatOnlyLookLikeGenerationsStayLiteral(t *testing.T) {
	for _, p := range []string{
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
		"/lib64/ld-2.31.so",
		"/usr/bin/python3.11",
		"/usr/share/man/man1/ls.1.gz",                          // a manual section, not a rotation
		"/var/log/nginx/access.log",                            // the live log
		"/var/lib/redis/appendonlydir/appendonly.aof.manifest", // one name on every run
		"/var/lib/postgresql/15/main/global/pg_control",
		"/var/lib/postgresql/15/main/global/12",                 // too short for a relfilenode of a shared catalog
		"/var/lib/app/basement/1/16384",                         // not base/
		"/var/lib/postgresql/15/main/pg_multixact/offsets/0000", // SLRU segments: no rule
		"/var/log/app/postgresql-15-main.log",                   // Debian's pg_ctlcluster log: no time stamp
		"/var/log/app/app-2026-12-06.txt",                       // a date, but not a log's extension
		"/var/lib/postgresql/15/main/pg_xact/0000",
		"/var/lib/app/000000010000000000000003", // a WAL-like name outside pg_wal
		"/sys/class/hwmon/hwmon0/temp1_input",
		"/etc/sensors.d/temp-sensors", // a word after a temp marker
		"/var/lib/app/tmp_backup_files",
		"/var/lib/postgresql/15/main/pg_wal/xlogtemp.123456", // digits are a pid's, if anything: GlobPIDs decides
		"/dev/dm-0",
		"/etc/redis/redis-6379.conf",
		"/etc/redis/redis.conf.backup", // a word, not a mkstemp suffix
		"/etc/redis/redis.conf.Backup",
		"/etc/nginx/nginx.conf.dpkg-old",
		"/etc/app/app.conf.v2beta1", // seven characters
		"/etc/redis/redis.conf",
		"/var/lib/app/snapshot.12345",       // a name without an extension of its own
		"/etc/app/app.conf.123456",          // digits: a pid's, if anything
		"/var/cache/nginx/client_temp/lock", // a short fixed name in a temp directory
		"/var/lib/nginx/html/0000000012",    // not one of nginx's temp directories
		"/var/cache/nginx/client_temp",      // the directory itself
		"/var/log/app/2026-12-06.log",
	} {
		if got := NormalizePath(p); got != p {
			t.Errorf("NormalizePath(%q) = %q, want it unchanged", p, got)
		}
	}
}

// FuzzGlobPIDs checks that globbing pids never panics, is idempotent, keeps
// the path's shape (same number of components) and still covers the name it
// came from.
func FuzzGlobPIDs(f *testing.F) {
	for _, seed := range []string{
		"/d/pg_internal.init.4711", "/d/pgsql_tmp4711.3", "/d/temp-4711.rdb", "/d/4711", "/d/04711", "/d/47110",
		"/proc/4711/status", "pipe:[4711]", "/", "", "/d/4711.4711-4711_9", "/d/*4711", "/d/4711.",
	} {
		f.Add(seed)
	}
	pids := NewPIDs(4711, 300)
	f.Fuzz(func(t *testing.T, p string) {
		once := GlobPIDs(p, pids)
		if twice := GlobPIDs(once, pids); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, once, twice)
		}
		if strings.Count(once, "/") != strings.Count(p, "/") {
			t.Fatalf("%q -> %q changed the number of components", p, once)
		}
		if strings.HasPrefix(p, "/") && !strings.Contains(p, "*") && !MatchProfilePath(once, p) {
			t.Fatalf("%q -> %q no longer covers it", p, once)
		}
	})
}
