package profiles

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Daemons name some of their files after something that changes on every run:
// their own process id, a counter, a random mkstemp suffix, a log rotation's
// generation. A profile that keeps such names literal gives a policy that
// kills the next identical run, so normalisation turns the changing part into
// a `*` inside the component (`pg_internal.init.*`, `appendonly.aof.*.incr.aof`).
//
// The kernel's path tree matches whole components only (see
// policies.ValidatePath), so a policy made from such a pattern allows the whole
// component (`global/*`) and the generator marks the rule WIDER. The profile
// keeps the narrower pattern all the same: it is the record a person reviews
// and diffs, it keeps runs of different daemons apart, and a stricter
// enforcer could use it as it is.
//
// Each rule below is deliberately narrow: a name wrongly taken for a changing
// one becomes `*` in the policy and allows every name in its directory, while
// a changing name that is missed only makes a rerun fail loudly.

// minGlobbedPID is the smallest process id taken for a pid inside a file
// name. Linux hands out pids below 300 (RESERVED_PIDS) only until the first
// wrap-around, to early boot processes and kernel threads, so a daemon
// recorded on a running system has a larger one; small numbers in file names
// (`base/1/...`, `.1` rotations, `pg_stat/db_0.stat`) are far more often
// something else, and leaving them literal only ever narrows the policy.
const minGlobbedPID = 300

// PIDs is a set of process ids: the processes a recording saw.
type PIDs map[int]bool

// NewPIDs returns the set of the given ids.
func NewPIDs(ids ...int) PIDs {
	s := make(PIDs, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// GlobPIDs replaces, in each component of an absolute path, a run of digits
// that is exactly one of the recorded process ids with `*`, and so does a
// counter that directly follows it (`.3` in `pgsql_tmp4711.3`): a daemon
// names per-process files after its own pid (`pg_internal.init.4711`,
// `temp-4711.rdb`, `xlogtemp.4711`) and the next run has another one.
//
// Only whole digit runs count: with pid 4711 recorded, `14711` and `47110`
// stay literal, and a number that is no recorded pid (an OID, a port, a date)
// is never touched. Ids below minGlobbedPID are ignored. /proc/<pid> itself is
// left to NormalizePath, which globs every pid there. Paths outside the
// filesystem (pipe:[1234]) are returned unchanged.
func GlobPIDs(p string, pids PIDs) string {
	if len(pids) == 0 || !strings.HasPrefix(p, "/") || p == "/proc" || strings.HasPrefix(p, "/proc/") {
		return p
	}
	components := strings.Split(p, "/")
	for i, c := range components {
		if c == "" || c == anyComponent || c == anyDescendants {
			continue
		}
		components[i] = globPIDsInComponent(c, pids)
	}
	return strings.Join(components, "/")
}

func globPIDsInComponent(c string, pids PIDs) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(c); {
		if !isDigit(c[i]) {
			b.WriteByte(c[i])
			i++
			continue
		}
		j := i
		for j < len(c) && isDigit(c[j]) {
			j++
		}
		run := c[i:j]
		if isRecordedPID(run, pids) {
			b.WriteString(anyComponent)
			changed = true
			// A counter right after the pid numbers that process's
			// files (pgsql_tmp<pid>.<n>): it differs between runs too.
			if j+1 < len(c) && strings.IndexByte(".-_", c[j]) >= 0 && isDigit(c[j+1]) {
				k := j + 1
				for k < len(c) && isDigit(c[k]) {
					k++
				}
				b.WriteByte(c[j])
				b.WriteString(anyComponent)
				j = k
			}
		} else {
			b.WriteString(run)
		}
		i = j
	}
	if !changed {
		return c
	}
	return b.String()
}

func isRecordedPID(run string, pids PIDs) bool {
	if len(run) > 1 && run[0] == '0' { // a pid is never written zero-padded
		return false
	}
	n, err := strconv.Atoi(run)
	return err == nil && n >= minGlobbedPID && pids[n]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// GlobRecordedPIDs applies GlobPIDs to the paths of a profile's file and
// executable entries. The entries are not folded: NormalizeSpec does that.
func GlobRecordedPIDs(spec *v1alpha1.ProfileSpec, pids PIDs) {
	for i := range spec.Files {
		spec.Files[i].Path = GlobPIDs(spec.Files[i].Path, pids)
	}
	for i := range spec.Executables {
		spec.Executables[i].Path = GlobPIDs(spec.Executables[i].Path, pids)
	}
}

// nameRule rewrites the changing part of a component that a known naming
// scheme produces.
type nameRule struct {
	// why is shown in tests and says which programs name files this way.
	why string
	re  *regexp.Regexp
	// glob lists the submatch indexes whose text becomes `*`.
	glob []int
	// accept, when set, must also hold for the name (checks a regexp cannot
	// express, such as "looks random").
	accept func(m []string) bool
	// parents, when set, are the only directory names the rule applies in:
	// a name shape that is only distinctive in its daemon's directory.
	parents []string
}

// nameRules are the naming schemes of generations, rotations and mkstemp
// suffixes. They apply to a component anywhere in a path, since daemons keep
// such files next to their data, config and logs rather than in /tmp.
var nameRules = []nameRule{
	{
		why:  "mkstemp(3) suffix after a temp marker: redis' CONFIG REWRITE (redis.conf.tmp-XXXXXX), mktemp(1) (tmp.XXXXXXXXXX), Debian's and Python's tmpXXXXXX",
		re:   regexp.MustCompile(`^(.*(?:tmp|temp|TMP|TEMP)[._-]?)([A-Za-z0-9]{6,16})$`),
		glob: []int{2},
		accept: func(m []string) bool {
			return mkstempSuffix(m[2])
		},
	},
	{
		why: "mkstemp(3) suffix right after a file's own name: redis 7's CONFIG REWRITE (redis.conf.kBBR9c, from `%s.XXXXXX`)",
		// Six characters after a name with an extension of its own. No
		// temp marker says it is random, so the suffix must look it:
		// letters and digits mixed, not a capitalised word (`.Backup`).
		re:   regexp.MustCompile(`^([^.]+\.[A-Za-z][A-Za-z0-9]*\.)([A-Za-z0-9]{6})$`),
		glob: []int{2},
		accept: func(m []string) bool {
			return mixedSuffix(m[2])
		},
	},
	{
		why:  "log rotation (logrotate, nginx, newsyslog): access.log.1, error.log.2.gz, syslog.3",
		re:   regexp.MustCompile(`^(.*(?:log|LOG)\.)([0-9]{1,4})((?:\.(?:gz|bz2|xz|zst|lz4|Z))?)$`),
		glob: []int{2},
	},
	{
		why:  "logrotate's dateext: access.log-20261206, access.log-20261206.gz",
		re:   regexp.MustCompile(`^(.*(?:log|LOG)-)((?:19|20)[0-9]{6}(?:[0-9]{2})?)((?:\.[0-9]{1,4})?(?:\.(?:gz|bz2|xz|zst|lz4|Z))?)$`),
		glob: []int{2},
	},
	{
		why: "a time stamp after a name: PostgreSQL's logging collector (postgresql-2026-12-06_070107.log, Debian's log_filename) opens a file named by the time at every start and rotation",
		// A name, then a date (with a time of day or not), then the
		// extension of a log. A bare date (2026-12-06.log) stays literal.
		re:   regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_.]*[-_.])((?:19|20)[0-9]{2}-?[0-9]{2}-?[0-9]{2}(?:[_T-]?[0-9]{2}(?::?[0-9]{2}){0,2})?)(\.(?:log|csv|json))$`),
		glob: []int{2},
	},
	{
		why: "numbered generations between a file name and a kind: redis 7's multi-part AOF (appendonly.aof.3.incr.aof, appendonly.aof.2.base.rdb)",
		// A name with an extension of its own, the generation, then one or
		// more alphabetic fields: version numbers (libfoo.so.1.2,
		// ld-2.31.so, python3.11) never have this shape.
		re:   regexp.MustCompile(`^([^.]+\.[A-Za-z][A-Za-z0-9]*\.)([0-9]{1,9})(\.[A-Za-z]+\.[A-Za-z]+)$`),
		glob: []int{2},
	},
	{
		why:     "PostgreSQL's WAL segments (pg_wal/000000010000000000000003): recycled and renamed as the log advances",
		re:      regexp.MustCompile(`^()([0-9A-F]{24})((?:\.partial)?)$`),
		glob:    []int{2},
		parents: []string{"pg_wal", "pg_xlog"},
	},
	{
		why:     "PostgreSQL's WAL archive status (pg_wal/archive_status/000000010000000000000003.done)",
		re:      regexp.MustCompile(`^()([0-9A-F]{24})(\.(?:ready|done))$`),
		glob:    []int{2},
		parents: []string{"archive_status"},
	},
}

// mkstempSuffix reports whether s can be what mkstemp(3) put in place of its
// template's X's. mkstemp draws six characters from [A-Za-z0-9]; mktemp(1)
// draws ten. Six or ten characters after a temp marker are taken as they
// are, unless they are all digits: that is a number (a pid, a counter: see
// GlobPIDs), and mkstemp draws six digits once in 57,000 names. Other lengths
// must mix character classes, so that a word (`temp-sensors`) stays literal.
func mkstempSuffix(s string) bool {
	if allDigits(s) {
		return false
	}
	if len(s) == 6 || len(s) == 10 {
		return true
	}
	return charClasses(s) >= 2
}

// mixedSuffix reports whether s mixes at least two of lower-case letters,
// upper-case letters and digits, and is not a capitalised word: what
// mkstemp(3) draws 98.9% of the time, and what a word (`backup`, `Backup`,
// `old`) or a version never is.
func mixedSuffix(s string) bool {
	if capitalisedWord.MatchString(s) {
		return false
	}
	return charClasses(s) >= 2
}

var capitalisedWord = regexp.MustCompile(`^[A-Z][a-z]+$`)

// charClasses counts which of lower-case letters, upper-case letters and
// digits s has.
func charClasses(s string) int {
	var lower, upper, digits bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case isDigit(c):
			digits = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digits} {
		if b {
			n++
		}
	}
	return n
}

// normalizeName applies the first naming rule that matches a component (in
// a directory named parent) and returns the component with the changing
// parts replaced by `*`.
func normalizeName(parent, c string) string {
	if strings.Contains(c, anyComponent) && c != anyComponent {
		// Already a pattern (idempotence): the rules' literal parts are
		// still there, but their changing part is `*`, which they do not
		// match.
		return c
	}
	for _, r := range nameRules {
		if r.parents != nil && !slices.Contains(r.parents, parent) {
			continue
		}
		m := r.re.FindStringSubmatchIndex(c)
		if m == nil {
			continue
		}
		groups := make([]string, len(m)/2)
		for g := range groups {
			if m[2*g] >= 0 {
				groups[g] = c[m[2*g]:m[2*g+1]]
			}
		}
		if r.accept != nil && !r.accept(groups) {
			continue
		}
		var b strings.Builder
		for g := 1; g < len(groups); g++ {
			if slices.Contains(r.glob, g) {
				b.WriteString(anyComponent)
			} else {
				b.WriteString(groups[g])
			}
		}
		return b.String()
	}
	return c
}
