package apps

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// postgresLab is PostgreSQL 15 as user postgres with its data directory,
// socket directory and the logging collector's logs under the lab (Debian's
// log_filename, named by the time it was opened).
type postgresLab struct {
	*lab
	port int
}

func newPostgresLab(t *testing.T) *postgresLab {
	l := &postgresLab{lab: newLab(t, "postgres", "postgres"), port: freePort(t)}
	l.mkdir("run", "log")
	return l
}

// initdb makes a new cluster, as Debian's pg_createcluster does at install
// time: outside footprint, not part of the daemon's lifecycle.
func (l *postgresLab) initdb() {
	l.t.Helper()
	if err := os.RemoveAll(l.path("data")); err != nil {
		l.t.Fatal(err)
	}
	l.mkdir("data")
	if err := os.Chmod(l.path("data"), 0o700); err != nil {
		l.t.Fatal(err)
	}
	l.asUser(pgBin+"/initdb", "-D", l.path("data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	conf, err := os.OpenFile(l.path("data/postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	defer conf.Close()
	fmt.Fprintf(conf, `
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 20
shared_buffers = 16MB
logging_collector = on
log_directory = '%s'
log_filename = 'postgresql-%%Y-%%m-%%d_%%H%%M%%S.log'
log_line_prefix = '%%m [%%p] '
`, l.port, l.path("run"), l.path("log"))
}

func (l *postgresLab) command() []string { return []string{pgBin + "/postgres", "-D", l.path("data")} }

// sql runs statements with psql over loopback TCP, each in a transaction
// of its own, and returns the output.
func (l *postgresLab) sql(stmts ...string) string {
	l.t.Helper()
	out, err := l.trySQL(stmts...)
	if err != nil {
		l.fatalf("psql: %v\n%s\nstatements:\n%s", err, out, strings.Join(stmts, "\n"))
	}
	return out
}

func (l *postgresLab) trySQL(stmts ...string) (string, error) {
	args := []string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", fmt.Sprint(l.port), "-U", "postgres", "-d", "postgres"}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(pgBin+"/psql", args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "LC_ALL=C", "PGOPTIONS=-c client_min_messages=warning")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (l *postgresLab) start(p phase, start func(name string, daemon ...string) *run) *run {
	l.t.Helper()
	if p.fresh {
		l.initdb()
	}
	r := start(p.name, l.command()...)
	r.waitTCP(fmt.Sprintf("127.0.0.1:%d", l.port), 30*time.Second)
	// Accepting is not ready: crash recovery or start-up may still run.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := l.trySQL("SELECT 1")
		if err == nil && out == "1" {
			break
		}
		if r.exited() || time.Now().After(deadline) {
			l.fatalf("%s: postgres does not answer: %v %s", p.name, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// traffic: a database and table per seed, inserts, an index, updates, a
// sort that spills to pgsql_tmp, VACUUM and ANALYZE, a checkpoint; it checks
// what earlier runs of the same seed wrote survived restarts.
func (l *postgresLab) traffic(seed int) {
	l.t.Helper()
	n := 2000 * (seed + 1)
	if out, err := l.trySQL(fmt.Sprintf("CREATE DATABASE app%d", seed)); err != nil && !strings.Contains(out, "already exists") {
		l.fatalf("CREATE DATABASE app%d: %v\n%s", seed, err, out)
	}
	out := l.sql(
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS t%d (id int PRIMARY KEY, v text, n int)", seed),
		fmt.Sprintf("INSERT INTO t%[1]d SELECT g, md5(g::text), g %% 97 FROM generate_series(1, %[2]d) g ON CONFLICT (id) DO UPDATE SET n = t%[1]d.n + 1", seed, n),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS t%[1]d_n ON t%[1]d (n)", seed),
		fmt.Sprintf("UPDATE t%[1]d SET v = v || 'x' WHERE n = %[1]d", seed),
		fmt.Sprintf("DELETE FROM t%d WHERE n = 96", seed),
		// A sort bigger than work_mem goes to temp files
		// (base/pgsql_tmp/pgsql_tmp<pid>.<n>).
		fmt.Sprintf("SET work_mem = '64kB'; SELECT count(*) > 0 FROM (SELECT v FROM t%d ORDER BY v DESC) s", seed),
		fmt.Sprintf("VACUUM t%d", seed),
		fmt.Sprintf("ANALYZE t%d", seed),
		"CHECKPOINT",
		fmt.Sprintf("SELECT count(*) > 0 FROM t%d", seed),
	)
	if out != "t\nt" {
		l.fatalf("traffic of seed %d: output %q, want the sort and the table non-empty (t, t)", seed, out)
	}
}

// lifecycle: traffic, reloads (SIGHUP: every process reads the config
// again), log rotations (pg_rotate_logfile: the logging collector opens a
// new file named by the time), more traffic, fast shutdown (SIGINT).
func (l *postgresLab) lifecycle(r *run, p phase) {
	l.t.Helper()
	pidFile := l.path("data/postmaster.pid")
	l.traffic(p.seed)
	for range p.reloads {
		signal(l.t, pidFile, syscall.SIGHUP)
		l.sql("SELECT pg_reload_conf()")
	}
	for range p.rotations {
		time.Sleep(1100 * time.Millisecond) // a new name: log_filename has seconds
		l.sql("SELECT pg_rotate_logfile()")
	}
	l.traffic(p.seed + 10)
	signal(l.t, pidFile, syscall.SIGINT)
}

func TestPostgres(t *testing.T) {
	requireApp(t, pgBin+"/postgres", pgBin+"/initdb", pgBin+"/psql")
	l := newPostgresLab(t)
	timed(t, "record", func() {
		for i, p := range recorded {
			r := l.start(p, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
			l.lifecycle(r, p)
			r.finishClean(stepTimeout)
		}
	})
	l.exportPolicy("postgresql")
	timed(t, "enforce", func() {
		for _, p := range append(append([]phase{}, identical...), varied...) {
			r := l.start(p, l.enforce)
			l.lifecycle(r, p)
			r.finishClean(stepTimeout)
		}
	})

	// Misbehaving under the same policy, as a superuser's SQL can: COPY TO
	// PROGRAM runs a shell (the exec is reported and killed before the
	// shell runs), and pg_read_file reads a file outside the data
	// directory that postgres may read but never did (reported, the
	// backend killed; the postmaster survives and restarts its children).
	t.Run("misbehaviour is stopped", func(t *testing.T) {
		l.mkdir("elsewhere")
		l.write("elsewhere/secret.txt", "not postgres's\n")
		p := phase{name: "enforce: COPY TO PROGRAM, pg_read_file elsewhere", seed: 5}
		r := l.start(p, l.enforce)
		l.traffic(p.seed)
		if out, err := l.trySQL("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'"); err == nil {
			t.Errorf("COPY TO PROGRAM succeeded under the policy: %s", out)
		}
		secret := l.path("elsewhere/secret.txt")
		if out, err := l.trySQL(fmt.Sprintf("SELECT pg_read_file('%s')", secret)); err == nil {
			t.Errorf("pg_read_file(%s) succeeded under the policy: %s", secret, out)
		}
		signal(t, l.path("data/postmaster.pid"), syscall.SIGINT)
		_, out := r.wait(stepTimeout)
		v := strings.Join(violations(out), "\n")
		for _, want := range []string{"executed /usr/bin/dash", "opened " + secret + " for read: killed"} {
			if !strings.Contains(v, want) {
				t.Errorf("no violation saying %q; output:\n%s", want, out)
			}
		}
	})
}
