package generator

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

// open is one file open of a daemon's run: "path mode+mode".
type open string

func (o open) split() (string, []v1alpha1.FileAccessMode) {
	path, modes, _ := strings.Cut(string(o), " ")
	var out []v1alpha1.FileAccessMode
	for _, m := range strings.Split(modes, "+") {
		out = append(out, v1alpha1.FileAccessMode(m))
	}
	return path, out
}

// daemonRun is what one run of a daemon did: the opens, with %[1]d, %[2]d,
// ... standing for the run's pids, generation numbers and random suffixes,
// so that two runs differ only where a real rerun does.
type daemonRun struct {
	opens []open
}

// namesOf is the run's opens with its numbers filled in (pids first, in the
// order the daemon's comment gives them).
func (d daemonRun) namesOf(numbers []any) []open {
	out := make([]open, len(d.opens))
	for i, o := range d.opens {
		out[i] = o
		if strings.Contains(string(o), "%[") {
			out[i] = open(fmt.Sprintf(string(o), numbers...))
		}
	}
	return out
}

// recordedProfile is the profile `footprint record` makes of one run: the
// opens as the kernel reported them, with the pids of the processes it saw
// globbed (recorder/local.go).
func recordedProfile(name string, opens []open, pids ...int) *v1alpha1.Profile {
	p := &v1alpha1.Profile{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, o := range opens {
		path, modes := o.split()
		p.Spec.Files = append(p.Spec.Files, v1alpha1.FileEntry{Path: path, Access: modes, Count: 1})
	}
	profiles.GlobRecordedPIDs(&p.Spec, profiles.NewPIDs(pids...))
	return p
}

// postgres is PostgreSQL 15 on Debian: pids 1-4 are the postmaster, the
// checkpointer, a backend and the WAL writer; 5-6 are the WAL segment and
// the temp file counter.
var postgres = daemonRun{opens: []open{
	"/var/lib/postgresql/15/main read",
	"/var/lib/postgresql/15/main/PG_VERSION read",
	"/var/lib/postgresql/15/main/postmaster.pid read+write+create+truncate",
	"/var/lib/postgresql/15/main/postmaster.opts write+create+truncate",
	"/var/lib/postgresql/15/main/global/pg_control read+write",
	"/var/lib/postgresql/15/main/global/pg_filenode.map read",
	"/var/lib/postgresql/15/main/global/1262 read+write",
	"/var/lib/postgresql/15/main/global/pg_internal.init read",
	"/var/lib/postgresql/15/main/global/pg_internal.init.%[3]d write+create+truncate",
	"/var/lib/postgresql/15/main/base/5/1259 read+write",
	"/var/lib/postgresql/15/main/base/5/16384 read",
	"/var/lib/postgresql/15/main/base/5/pg_internal.init.%[3]d write+create+truncate",
	"/var/lib/postgresql/15/main/base/pgsql_tmp read",
	"/var/lib/postgresql/15/main/base/pgsql_tmp/pgsql_tmp%[3]d.%[6]d read+write+create+truncate",
	"/var/lib/postgresql/15/main/pg_wal/xlogtemp.%[4]d read+write+create",
	"/var/lib/postgresql/15/main/pg_wal/0000000100000000000000%02[5]X read+write",
	"/var/lib/postgresql/15/main/pg_wal/archive_status read",
	"/var/lib/postgresql/15/main/pg_xact/0000 read+write",
	"/var/lib/postgresql/15/main/pg_logical/replorigin_checkpoint read",
	"/etc/postgresql/15/main/postgresql.conf read",
	"/etc/postgresql/15/main/pg_hba.conf read",
	"/etc/ssl/certs/ssl-cert-snakeoil.pem read",
	"/usr/share/zoneinfo/Etc/UTC read",
	"/usr/share/postgresql/15/timezonesets/Default read",
	"/usr/lib/locale/C.utf8/LC_CTYPE read",
	"/run/postgresql/.s.PGSQL.5432.lock read+write+create",
	"/run/postgresql/15-main.pid read+write+create+truncate",
	"/var/log/postgresql/postgresql-15-main.log write",
	"/dev/shm/PostgreSQL.%[1]d%[2]d read+write+create",
	"/proc/%[1]d/oom_score_adj write",
	"/proc/self/status read",
}}

// redis is redis-server 7 with appendonly on: pids 1-3 are the server, its
// BGSAVE child and its BGREWRITEAOF child; 4 is the AOF generation.
var redis = daemonRun{opens: []open{
	"/etc/redis/redis.conf read",
	"/etc/redis/redis.conf.%[5]s read+write+create", // CONFIG REWRITE: mkstemp("%s.XXXXXX") in 7.0
	"/var/lib/redis/dump.rdb read",
	"/var/lib/redis/temp-%[2]d.rdb write+create+truncate",
	"/var/lib/redis/appendonlydir read",
	"/var/lib/redis/appendonlydir/appendonly.aof.manifest read",
	"/var/lib/redis/appendonlydir/temp-appendonly.aof.manifest write+create+truncate",
	"/var/lib/redis/appendonlydir/appendonly.aof.%[4]d.base.rdb read",
	"/var/lib/redis/appendonlydir/appendonly.aof.%[4]d.incr.aof read+write",
	"/var/lib/redis/appendonlydir/temp-rewriteaof-bg-%[3]d.aof write+create+truncate",
	"/var/lib/redis/appendonlydir/temp-rewriteaof-%[3]d.aof write+create+truncate",
	"/var/log/redis/redis-server.log write+create",
	"/run/redis/redis-server.pid write+create+truncate",
	"/sys/kernel/mm/transparent_hugepage/enabled read",
	"/proc/self/stat read",
	"/proc/%[1]d/smaps read",
}}

// nginx with a log rotation: pids 1-2 are the master and a worker, 3 the
// rotation's generation.
var nginx = daemonRun{opens: []open{
	"/etc/nginx/nginx.conf read",
	"/etc/nginx/mime.types read",
	"/etc/nginx/sites-enabled/default read",
	"/usr/share/nginx/html/index.html read",
	"/var/www/html/index.nginx-debian.html read",
	"/var/log/nginx/access.log write+create",
	"/var/log/nginx/error.log write+create",
	"/var/log/nginx/access.log.%[3]d read+write+create",
	"/var/log/nginx/access.log.%[3]d.gz write+create+truncate",
	"/run/nginx.pid read+write+create+truncate",
	"/etc/ssl/certs/ca-certificates.crt read",
}}

func TestAPolicyFromOneRunAllowsAnIdenticalRerun(t *testing.T) {
	tests := []struct {
		name        string
		daemon      daemonRun
		first, next []any // pids, then generation numbers
		pids        int   // how many of the numbers are pids
		denied      []open
		// wider are opens the run did not make that the policy allows
		// all the same, because the kernel matches whole components: a
		// name glob such as pg_internal.init.* is enforced as `*`. The
		// rule that allows each must say so (WIDER).
		wider []open
	}{
		{
			name: "postgresql", daemon: postgres, pids: 4,
			first: []any{4711, 4715, 4720, 4716, 1, 0}, next: []any{9120, 9131, 9148, 9132, 7, 3},
			denied: []open{
				"/etc/shadow read",
				"/proc/9200/environ read",                                              // another process's /proc files
				"/proc/1/mem read",                                                     //
				"/var/tmp/tmpa8Xk2L read+write+create",                                 // another process's temp file
				"/tmp/pg_upgrade_dump.4711 write+create",                               //
				"/var/lib/postgresql/16/main/base/1/16384 write",                       // another cluster's relation (one server's databases share base/*/*)
				"/var/lib/postgresql/15/main/base/1/../../../../../../etc/shadow read", // not a canonical path
				"/var/lib/postgresql/15/main/pg_xact/0001 write+create",                // no naming rule: literal
				"/usr/share/zoneinfo/Etc/UTC write",                                    // a read-only tree stays read-only
				"/etc/ssl/certs/evil.pem write+create",                                 //
				"/etc/postgresql/15/main/postgresql.conf write",                        //
				"/run/postgresql/.s.PGSQL.5433.lock read+write+create",                 // a port, not a pid
			},
			wider: []open{
				"/var/lib/postgresql/15/main/base/5/16384 write",                         // only read, but base/5/pg_internal.init.* is base/5/*
				"/var/lib/postgresql/15/main/global/pg_internal.init.99999 write+create", // another pid's, in the same directory
			},
		},
		{
			name: "redis", daemon: redis, pids: 3,
			first: []any{3001, 3050, 3077, 1, "a8Xk2L"}, next: []any{5501, 5512, 5530, 2, "kBBR9c"},
			denied: []open{
				"/etc/shadow read",
				"/proc/5600/environ read",
				"/etc/redis.conf.a8Xk2L write+create",     // a temp file outside the daemon's directory
				"/etc/redis.conf.tmp-a8Xk2L write+create", //
				"/var/lib/redis/../../etc/passwd read",    // not a canonical path
				"/var/log/redis/redis-server.log.1 write", // no rotation was recorded
				"/usr/share/zoneinfo/UTC read",            // no read of the tree at all
			},
		},
		{
			name: "nginx", daemon: nginx, pids: 2,
			first: []any{2001, 2002, 1}, next: []any{8101, 8102, 2},
			denied: []open{
				"/etc/shadow read",
				"/proc/8200/environ read",
				"/etc/nginx/nginx.conf write",
				"/usr/share/nginx/html/index.html write",
				"/etc/ssl/certs/ca-certificates.crt write",
				"/var/log/nginx/../../../etc/shadow read", // not a canonical path
				"/var/www/html/shell.php write+create",
			},
			wider: []open{
				"/var/log/nginx/error.log.1 write", // only access.log was rotated, but access.log.* is /var/log/nginx/*
			},
		},
	}
	// Not among the refusals: another process's /proc/<pid>/status where
	// the run read its own (/proc/self/status). The kernel sees
	// /proc/<pid> as one `*` component and cannot tell its own pid from
	// another; a container's own PID namespace is what keeps other
	// processes' entries out of reach. Entries the run never read
	// (environ, mem) stay refused for every pid.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ints := func(args []any) []int {
				var out []int
				for _, a := range args[:tt.pids] {
					out = append(out, a.(int))
				}
				return out
			}
			first := tt.daemon.namesOf(tt.first)
			g, err := Policy(recordedProfile(tt.name, first, ints(tt.first)...), PolicyOptions{Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill})
			if err != nil {
				t.Fatal(err)
			}
			m, err := policies.NewMatcher(&g.Policy.Spec)
			if err != nil {
				t.Fatal(err)
			}
			kernel, err := rules.CompileSpec(&g.Policy.Spec)
			if err != nil {
				t.Fatal(err)
			}
			var policyText []string
			for _, r := range g.Policy.Spec.Files.Allow {
				policyText = append(policyText, fmt.Sprintf("%s %v", r.Path, r.Access))
			}
			allowed := strings.Join(policyText, "\n  ")

			for _, run := range [][]open{first, tt.daemon.namesOf(tt.next)} {
				for _, o := range run {
					path, modes := o.split()
					if d := m.FileOpen(path, modes...); !d.Allowed {
						t.Errorf("the rerun's %s is refused: %s\npolicy:\n  %s", o, d.Reason, allowed)
					}
					if !kernel.FileAllowed(path, kernelAccess(modes)) {
						t.Errorf("the kernel's tree refuses the rerun's %s\npolicy:\n  %s", o, allowed)
					}
				}
			}
			for _, o := range tt.denied {
				path, modes := o.split()
				if d := m.FileOpen(path, modes...); d.Allowed {
					t.Errorf("%s is allowed (%s), want it refused", o, d.Reason)
				}
				if strings.HasPrefix(path, "/") && !strings.Contains(path, "/../") && kernel.FileAllowed(path, kernelAccess(modes)) {
					t.Errorf("the kernel's tree allows %s, want it refused", o)
				}
			}
			for _, o := range tt.wider {
				path, modes := o.split()
				d := m.FileOpen(path, modes...)
				if !d.Allowed {
					t.Errorf("%s is refused (%s): the test's list of known widenings is stale", o, d.Reason)
					continue
				}
				if !anyRuleMarkedWider(g, path) {
					t.Errorf("%s is allowed (%s) by no rule marked WIDER", o, d.Reason)
				}
			}
			t.Logf("%d opens made %d file rules:\n  %s", len(first), len(g.Policy.Spec.Files.Allow), allowed)
			if n := len(g.Policy.Spec.Files.Allow); n >= len(first) {
				t.Errorf("%d rules for %d opens: folding made nothing smaller\n  %s", n, len(first), allowed)
			}
		})
	}
}

// kernelAccess is the kernel's access bits for the modes of an open.
func kernelAccess(modes []v1alpha1.FileAccessMode) rules.Access { return rules.AccessOf(modes...) }

// anyRuleMarkedWider reports whether a rule matching path carries a WIDER
// note in the exported policy.
func anyRuleMarkedWider(g *GeneratedPolicy, path string) bool {
	for _, r := range g.Policy.Spec.Files.Allow {
		if policies.MatchPath(r.Path, path) && strings.Contains(g.fileNotes[r.Path], "WIDER") {
			return true
		}
	}
	return false
}
