package apps

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

const redisServer = "/usr/bin/redis-server"

// redisLab is redis-server 7 with an append-only file (multi-part AOF:
// base, incremental and manifest files of numbered generations), an RDB
// snapshot, a log file, a pid file, all under the lab, run as user redis.
type redisLab struct {
	*lab
	port int
}

func newRedisLab(t *testing.T) *redisLab {
	l := &redisLab{lab: newLab(t, "redis", "redis"), port: freePort(t)}
	l.mkdir("etc", "run", "log", "data")
	return l
}

func (l *redisLab) addr() string { return fmt.Sprintf("127.0.0.1:%d", l.port) }

// config is written afresh before every start: CONFIG REWRITE changes it.
func (l *redisLab) config() {
	l.write("etc/redis.conf", fmt.Sprintf(`bind 127.0.0.1
port %d
protected-mode yes
daemonize no
pidfile %s
logfile %s
loglevel notice
dir %s
save 3600 1
dbfilename dump.rdb
appendonly yes
appendfilename appendonly.aof
appenddirname appendonlydir
# CONFIG SET dir from loopback: what the misbehaviour abuses.
enable-protected-configs local
`, l.port, l.path("run/redis.pid"), l.path("log/redis.log"), l.path("data")))
}

func (l *redisLab) command() []string { return []string{redisServer, l.path("etc/redis.conf")} }

// start prepares the lab for a phase and starts the daemon under footprint.
func (l *redisLab) start(p phase, start func(name string, daemon ...string) *run) (*run, *redisConn) {
	l.t.Helper()
	if p.fresh {
		if err := os.RemoveAll(l.path("data")); err != nil {
			l.t.Fatal(err)
		}
		l.mkdir("data")
	}
	l.config()
	r := start(p.name, l.command()...)
	r.waitTCP(l.addr(), 30*time.Second)
	c, err := dialRedis(l.addr())
	if err != nil {
		l.fatalf("%s: %v", p.name, err)
	}
	// Restarted on its data, redis answers LOADING until it has read it.
	for deadline := time.Now().Add(30 * time.Second); ; {
		v, err := c.do("PING")
		if err != nil {
			l.fatalf("%s: PING: %v", p.name, err)
		}
		if v == "PONG" {
			break
		}
		if time.Now().After(deadline) {
			l.fatalf("%s: PING = %v after 30s", p.name, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, c
}

// must runs a command and fails on an error reply.
func (l *redisLab) must(c *redisConn, args ...string) any {
	l.t.Helper()
	v, err := c.do(args...)
	if err == nil {
		if e, ok := v.(redisError); ok {
			err = e
		}
	}
	if err != nil {
		l.fatalf("redis %s: %v", strings.Join(args, " "), err)
	}
	return v
}

// idle waits until no rewrite or snapshot child runs.
func (l *redisLab) idle(c *redisConn) {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, _ := l.must(c, "INFO", "persistence").(string)
		if strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0") &&
			strings.Contains(info, "rdb_bgsave_in_progress:0") {
			if strings.Contains(info, "aof_last_bgrewrite_status:err") || strings.Contains(info, "rdb_last_bgsave_status:err") {
				l.fatalf("redis reports a failed background save or rewrite:\n%s", info)
			}
			return
		}
		if time.Now().After(deadline) {
			l.fatalf("redis background work not done after 30s:\n%s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// traffic writes and reads keys of every type; seed picks their names and
// sizes, and checks the data of seed's earlier runs survived a restart.
func (l *redisLab) traffic(c *redisConn, seed int) {
	l.t.Helper()
	n := 100 + 50*seed
	value := strings.Repeat(fmt.Sprintf("v%d", seed), 8<<(seed%4))
	for i := range n {
		k := fmt.Sprintf("s%d:k%d", seed, i)
		l.must(c, "SET", k, value)
		l.must(c, "HSET", fmt.Sprintf("s%d:h%d", seed, i%10), k, value)
		l.must(c, "LPUSH", fmt.Sprintf("s%d:l", seed), k)
		l.must(c, "INCR", fmt.Sprintf("s%d:n", seed))
	}
	l.must(c, "EXPIRE", fmt.Sprintf("s%d:k0", seed), "3600")
	l.must(c, "DEL", fmt.Sprintf("s%d:k1", seed))
	if got := l.must(c, "GET", fmt.Sprintf("s%d:k2", seed)); got != value {
		l.fatalf("GET s%d:k2 = %v, want the value just set", seed, got)
	}
	if got, _ := l.must(c, "DBSIZE").(int64); got < int64(n) {
		l.fatalf("DBSIZE = %d after writing %d keys", got, n)
	}
}

// lifecycle drives one phase of the daemon: traffic, reloads (CONFIG SET
// and CONFIG REWRITE, which writes the config through a temp file), AOF
// rewrites and a snapshot (forked children), log rotations (redis opens its
// log file for every line), more traffic, SHUTDOWN (which saves).
func (l *redisLab) lifecycle(r *run, c *redisConn, p phase, rewrites int) {
	l.t.Helper()
	l.traffic(c, p.seed)
	for i := range p.reloads {
		l.must(c, "CONFIG", "SET", "maxmemory-policy", []string{"allkeys-lru", "volatile-lru"}[i%2])
		l.must(c, "CONFIG", "REWRITE")
	}
	for range rewrites {
		l.must(c, "BGREWRITEAOF")
		l.idle(c)
		l.must(c, "SET", fmt.Sprintf("s%d:after-rewrite", p.seed), "x")
	}
	l.must(c, "BGSAVE")
	l.idle(c)
	for range p.rotations {
		rotate(l.t, l.path("log/redis.log"))
		l.must(c, "BGSAVE") // logs a line into the new file
		l.idle(c)
	}
	l.traffic(c, p.seed+10)
	if _, err := os.Stat(l.path("log/redis.log")); err != nil {
		l.t.Errorf("%s: redis wrote no new log after the rotation: %v", p.name, err)
	}
	c.do("SHUTDOWN")
	c.Close()
}

func TestRedis(t *testing.T) {
	requireApp(t, redisServer)
	l := newRedisLab(t)
	timed(t, "record", func() {
		for i, p := range recorded {
			r, c := l.start(p, func(name string, daemon ...string) *run { return l.record(name, i == 0, daemon...) })
			// Five AOF rewrites in the first run: each child creates
			// temp-rewriteaof-<pid>.aof and the parent deletes the
			// generation before, so inode numbers come back.
			l.lifecycle(r, c, p, map[bool]int{true: 5, false: 2}[i == 0])
			r.finishClean(stepTimeout)
		}
	})
	requireRewriteRecorded(t, l.profile)
	l.exportPolicy("redis")
	timed(t, "enforce", func() {
		for _, p := range append(append([]phase{}, identical...), varied...) {
			r, c := l.start(p, l.enforce)
			l.lifecycle(r, c, p, 2)
			r.finishClean(stepTimeout)
		}
	})

	// Misbehaving under the same policy. MIGRATE makes redis connect to a
	// listening port it never connected to: redis never called connect(2)
	// while recorded, so the policy's seccomp filter refuses it (EPERM,
	// not reported: seccomp refusals are not violations yet) and nothing
	// reaches the port. Then the classic attack on an exposed redis,
	// CONFIG SET dir + SAVE, writes a snapshot into a directory of
	// another's: the create is reported and redis killed.
	t.Run("misbehaviour is stopped", func(t *testing.T) {
		p := phase{name: "enforce: MIGRATE elsewhere, then SAVE into another directory", seed: 5}
		other := l.path("elsewhere")
		l.mkdir("elsewhere")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan struct{}, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- struct{}{}
				c.Close()
			}
		}()
		r, c := l.start(p, l.enforce)
		l.traffic(c, p.seed)
		port := ln.Addr().(*net.TCPAddr).Port
		reply, err := c.do("MIGRATE", "127.0.0.1", fmt.Sprint(port), "s5:k2", "0", "2000")
		if _, isErr := reply.(redisError); err != nil || !isErr {
			t.Errorf("MIGRATE to 127.0.0.1:%d = %v, %v; want an error reply (the connect refused)", port, reply, err)
		}
		select {
		case <-accepted:
			t.Errorf("redis under its policy reached 127.0.0.1:%d, where it never connected while recorded", port)
		case <-time.After(200 * time.Millisecond):
		}
		l.must(c, "GET", "s5:k2") // still serving
		l.must(c, "CONFIG", "SET", "dir", other)
		c.do("SAVE")
		c.Close()
		code, out := r.wait(stepTimeout)
		// redis never called connect(2) while recorded: the seccomp
		// filter refuses MIGRATE's, and the reporter says so.
		if v := violations(out); len(v) != 2 || !strings.Contains(v[0], "called connect: refused by seccomp") ||
			!strings.Contains(v[1], other+"/temp-") || !strings.Contains(v[1], "killed") {
			t.Errorf("violations = %q, want two: MIGRATE's connect refused by seccomp, then the snapshot created in %s, killed; output:\n%s", v, other, out)
		}
		if code != 137 {
			t.Errorf("footprint exited %d, want 137 (redis killed)", code)
		}
	})
}

// requireRewriteRecorded checks the AOF rewrite children's temp files are in
// the profile: an AOF rewrite's child creates temp-rewriteaof-<pid>.aof.
func requireRewriteRecorded(t *testing.T, profile string) {
	t.Helper()
	data, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "temp-rewriteaof-") {
		t.Errorf("no temp-rewriteaof-<pid>.aof in the profile of runs with 7 AOF rewrites")
	}
}
