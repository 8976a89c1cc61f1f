package profiles

import (
	"path"
	"regexp"
	"strings"
)

// Glob syntax in profile paths. A profile path is the path a process saw; after
// normalisation some components stand for many names:
//
//   - a component holding `*` matches any single component with the literal
//     parts around the `*` (`..*` matches `..2025_01_01_00_00_00.1`);
//   - a `**` component matches any number of components, including none, so
//     `dir/**` covers dir itself and everything below it.
const (
	anyComponent   = "*"
	anyDescendants = "**"
)

// deletedSuffix is what the kernel's d_path appends to the name of a file
// that was unlinked while open.
const deletedSuffix = " (deleted)"

// projectedTimestampDir matches the timestamped directories the kubelet
// writes projected, secret and configMap volumes into
// (`..2025_01_01_00_00_00.123456789`); `..data` is a symlink to the current one.
var projectedTimestampDir = regexp.MustCompile(`^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$`)

// tempRoots are directories whose direct and indirect children commonly carry
// random names (mkstemp, mkdtemp, tempfile, os.CreateTemp). Debian's nginx
// keeps its request body and upstream buffers, named by a ten-digit counter
// (0000000001), in the /var/lib/nginx ones.
var tempRoots = []string{
	"/tmp", "/var/tmp", "/dev/shm",
	"/var/lib/nginx/body", "/var/lib/nginx/proxy", "/var/lib/nginx/fastcgi", "/var/lib/nginx/uwsgi", "/var/lib/nginx/scgi",
}

// tempDirSuffixes mark a directory of temporary files by the end of its
// name: nginx's client_temp, proxy_temp, fastcgi_temp (the official image's
// /var/cache/nginx/*_temp), PostgreSQL's pgsql_tmp and pg_stat_tmp.
var tempDirSuffixes = []string{"_temp", "_tmp"}

// isTempDirName reports whether a component names an application's own
// directory of temporary files.
func isTempDirName(c string) bool {
	if tempDirNames[c] {
		return true
	}
	for _, suffix := range tempDirSuffixes {
		if len(c) > len(suffix) && strings.HasSuffix(c, suffix) {
			return true
		}
	}
	return false
}

// tempDirNames are component names below which random names are expected
// wherever they appear (an application's own tmp directory).
var tempDirNames = map[string]bool{"tmp": true, "temp": true, ".tmp": true, "TMP": true, "TEMP": true}

// NormalizePath rewrites a path the way every run and replica of the same
// program would agree on it:
//
//   - the path is cleaned (duplicate slashes, `.` and `..` components) and a
//     trailing " (deleted)" is dropped;
//   - per-process /proc entries become globs: `/proc/1234/status`,
//     `/proc/self/status` and `/proc/thread-self/...` all become
//     `/proc/*/...`, and so do thread and descriptor numbers below them
//     (`/proc/*/task/*/stat`, `/proc/*/fd/*`);
//   - terminal numbers under /dev/pts become `*`;
//   - Kubernetes' projected-volume timestamp directories become `..*`;
//   - random temporary names (mkstemp-style, in /tmp, /var/tmp, /dev/shm or
//     below a directory named tmp or temp) become `*`, so `/tmp/tmpa8Xk2L`
//     becomes `/tmp/*`;
//   - anywhere, the changing part of names daemons give to generations,
//     rotations and mkstemp files (see nameRules) becomes `*` inside the
//     component: `redis.conf.tmp-a8Xk2L` becomes `redis.conf.tmp-*`,
//     `access.log.2.gz` becomes `access.log.*.gz`.
//
// Process ids inside file names are left to GlobPIDs: only the recorder knows
// which numbers were pids.
//
// Paths that are not absolute (the kernel's names for pipes, sockets and
// anonymous inodes, like `pipe:[1234]`) have their inode number replaced by
// `*`. NormalizePath is idempotent.
func NormalizePath(p string) string {
	if n, ok := normalizedPaths.get(p); ok {
		return n
	}
	n := normalizePath(p)
	normalizedPaths.put(p, n)
	return n
}

func normalizePath(p string) string {
	p = strings.TrimSuffix(p, deletedSuffix)
	if p == "" {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		return normalizePseudoPath(p)
	}
	p = path.Clean(p)
	if p == "/" {
		return p
	}
	components := normalizeProcComponents(strings.Split(p[1:], "/"))
	normalizePostgresRelations(components)
	if len(components) == 3 && components[0] == "dev" && components[1] == "pts" && allDigits(components[2]) {
		components[2] = anyComponent
	}
	inTemp := false
	for i, c := range components {
		parent := ""
		if i > 0 {
			parent = components[i-1]
		}
		switch {
		case projectedTimestampDir.MatchString(c):
			components[i] = "..*"
		case inTemp && looksRandom(c):
			// In a temp directory the whole name is the temp file's:
			// `*` is what the kernel can match anyway.
			components[i] = anyComponent
		default:
			components[i] = normalizeName(parent, c)
		}
		// Everything below a temp root or a tmp directory may be random.
		if !inTemp && (isTempDirName(c) || isTempRoot(components[:i+1])) {
			inTemp = true
		}
	}
	return "/" + strings.Join(components, "/")
}

// relationFile is the name of a PostgreSQL relation's file: its
// relfilenode, a fork (free space map, visibility map, init fork) and a
// segment number past the first gigabyte.
var relationFile = regexp.MustCompile(`^([0-9]+)((?:_fsm|_vm|_init)?)((?:\.[0-9]+)?)$`)

// normalizePostgresRelations globs the numbers PostgreSQL names its
// databases' files by: `base/<database oid>/<relfilenode>[_fsm|_vm][.N]`
// and the shared catalogs' `global/<relfilenode>`. The server allocates
// them: CREATE DATABASE copies its template's few hundred files under a new
// oid, and every new table or index, TRUNCATE, VACUUM FULL and REINDEX
// gives a relation a new relfilenode, so a policy that keeps them literal
// kills the first varied run. The files are all the one server's, in its
// own data directory, whose databases it keeps apart itself. Names that are
// not relations (PG_VERSION, pg_filenode.map, pg_internal.init) stay.
func normalizePostgresRelations(components []string) {
	for i := 0; i+1 < len(components); i++ {
		switch components[i] {
		case "base":
			if !allDigits(components[i+1]) {
				continue
			}
			components[i+1] = anyComponent
			if i+2 < len(components) {
				components[i+2] = globRelationFile(components[i+2], 1)
			}
		case "global":
			// Shared catalogs have relfilenodes from 1000 up.
			components[i+1] = globRelationFile(components[i+1], 4)
		}
	}
}

// globRelationFile returns c with its relfilenode (at least minDigits long)
// as `*`, keeping the fork, and the segment number as `*`.
func globRelationFile(c string, minDigits int) string {
	m := relationFile.FindStringSubmatch(c)
	if m == nil || len(m[1]) < minDigits {
		return c
	}
	out := anyComponent + m[2]
	if m[3] != "" {
		out += "." + anyComponent
	}
	return out
}

// normalizePseudoPath rewrites the kernel's names for files outside the
// filesystem, `pipe:[1234]` and `socket:[5678]`, to `pipe:[*]` and
// `socket:[*]`: the inode number differs on every run.
func normalizePseudoPath(p string) string {
	open := strings.IndexByte(p, '[')
	if open > 0 && strings.HasSuffix(p, "]") && allDigits(p[open+1:len(p)-1]) {
		return p[:open+1] + anyComponent + "]"
	}
	return p
}

func isTempRoot(components []string) bool {
	joined := "/" + strings.Join(components, "/")
	for _, root := range tempRoots {
		if joined == root {
			return true
		}
	}
	return false
}

// normalizeProcComponents rewrites the per-process components of a /proc
// path. components is the path without its leading slash, split on "/".
func normalizeProcComponents(components []string) []string {
	if len(components) < 2 || components[0] != "proc" {
		return components
	}
	switch pid := components[1]; {
	case pid == "self" || allDigits(pid):
		components[1] = anyComponent
	case pid == "thread-self":
		// thread-self is /proc/<pid>/task/<tid>: spell it the long way so
		// both forms agree.
		components = append([]string{"proc", anyComponent, "task", anyComponent}, components[2:]...)
	default:
		return components
	}
	// Below /proc/<pid>: thread ids and descriptor numbers.
	for i := 2; i+1 < len(components); i++ {
		switch components[i] {
		case "task", "fd", "fdinfo":
			if allDigits(components[i+1]) {
				components[i+1] = anyComponent
			}
		case "map_files":
			// Named after address ranges: 7f0c1a2b3000-7f0c1a2b4000.
			if strings.Contains(components[i+1], "-") {
				components[i+1] = anyComponent
			}
		}
	}
	return components
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// looksRandom reports whether a path component looks like a name a
// temporary-file function made up: mkstemp's six random letters and digits,
// mktemp(1)'s tmp.XXXXXXXXXX, Python's tmpXXXXXXXX, Go's and Java's long
// decimal suffixes, or an O_TMPFILE's #<inode>.
func looksRandom(name string) bool {
	if name == "" || name == anyComponent {
		return false
	}
	if name[0] == '#' && allDigits(name[1:]) {
		return true
	}
	stem := trimExtension(name)
	run := trailingRun(stem)
	if strings.HasPrefix(run, "tmp") && len(run) >= len("tmp")+6 {
		// Python's tempfile: "tmp" and eight of [a-z0-9_].
		return true
	}
	if trailingDigits(run) >= 5 {
		return true
	}
	if len(run) < 6 {
		return false
	}
	// The random part is whatever follows the last separator; a leading
	// "tmp" is a common fixed prefix.
	random := strings.TrimPrefix(run, "tmp")
	if len(random) < 6 {
		return false
	}
	var lower, upper, digits int
	for _, r := range random {
		switch {
		case r >= 'a' && r <= 'z':
			lower++
		case r >= 'A' && r <= 'Z':
			upper++
		case r >= '0' && r <= '9':
			digits++
		}
	}
	letters := lower + upper
	switch {
	case digits >= 2 && letters >= 2:
		return true
	case digits >= 1 && letters >= 1 && upper >= 1 && lower >= 1:
		return true
	case upper >= 1 && lower >= 1 && !wordLike(random):
		return true
	}
	return false
}

// wordLike reports whether s reads like one or more capitalised words
// (Makefile, MyAppCache) rather than random letters: every capital letter
// is followed by a lower-case one.
func wordLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 'A' || c > 'Z' {
			continue
		}
		if i+1 >= len(s) || !isLower(s[i+1]) {
			return false
		}
	}
	// And the string must not start with a lone lower-case letter before a
	// capital (aBcDeF).
	return !(len(s) > 1 && isLower(s[0]) && s[1] >= 'A' && s[1] <= 'Z')
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// trimExtension drops a short trailing extension (".json", ".tmp") that
// mkstemps-style templates keep after the random part.
func trimExtension(name string) string {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || len(name)-dot-1 > 5 || len(name)-dot-1 == 0 {
		return name
	}
	for i := dot + 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return name // ".a8Xk2" is random, not an extension
		}
	}
	return name[:dot]
}

// trailingRun returns the longest suffix of s made of letters, digits and
// underscores.
func trailingRun(s string) string {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			i--
			continue
		}
		break
	}
	return s[i:]
}

func trailingDigits(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] >= '0' && s[i] <= '9'; i-- {
		n++
	}
	return n
}

// SplitPath splits an absolute path into its components; "/" has none.
func SplitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// MatchProfilePath reports whether a profile path pattern covers a concrete
// path. Components of the pattern holding `*` match one component with the
// literal text around each `*`; a `**` component matches any number of
// components, including none.
func MatchProfilePath(pattern, name string) bool {
	patternAbs, nameAbs := strings.HasPrefix(pattern, "/"), strings.HasPrefix(name, "/")
	switch {
	case patternAbs != nameAbs:
		return false
	case !patternAbs: // pipe:[*] and the like: one component
		return matchComponent(pattern, name)
	}
	return matchComponents(SplitPath(pattern), SplitPath(name))
}

func matchComponents(pattern, name []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == anyDescendants {
			rest := pattern[1:]
			for skip := 0; skip <= len(name); skip++ {
				if matchComponents(rest, name[skip:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 || !matchComponent(pattern[0], name[0]) {
			return false
		}
		pattern, name = pattern[1:], name[1:]
	}
	return len(name) == 0
}

// matchComponent matches one component against a pattern in which `*`
// stands for any run of characters.
func matchComponent(pattern, name string) bool {
	if !strings.Contains(pattern, anyComponent) {
		return pattern == name
	}
	parts := strings.Split(pattern, anyComponent)
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// recursiveGlobRoot returns dir for a path of the form dir/** (dir may be
// "/"), and false for any other path.
func recursiveGlobRoot(p string) (string, bool) {
	if p == "/**" {
		return "/", true
	}
	if !strings.HasSuffix(p, "/"+anyDescendants) {
		return "", false
	}
	dir := strings.TrimSuffix(p, "/"+anyDescendants)
	if strings.Contains(dir, anyDescendants) {
		return "", false
	}
	return dir, true
}

// PatternCovers reports whether every path the profile path pattern q
// stands for is also covered by the pattern p (a literal path stands for
// itself). It is exact for the patterns normalisation and collapsing make
// and never claims coverage that does not hold.
func PatternCovers(p, q string) bool {
	pAbs, qAbs := strings.HasPrefix(p, "/"), strings.HasPrefix(q, "/")
	if pAbs != qAbs {
		return false
	}
	if !pAbs {
		return componentCovers(p, q)
	}
	return componentsCover(SplitPath(p), SplitPath(q))
}

func componentsCover(p, q []string) bool {
	if len(p) == 0 {
		return len(q) == 0
	}
	if p[0] == anyDescendants {
		for skip := 0; skip <= len(q); skip++ {
			if componentsCover(p[1:], q[skip:]) {
				return true
			}
		}
		return false
	}
	// A single-component pattern cannot cover q's `**`, which may stand
	// for no component or for many.
	if len(q) == 0 || q[0] == anyDescendants {
		return false
	}
	return componentCovers(p[0], q[0]) && componentsCover(p[1:], q[1:])
}

// componentCovers reports whether the component pattern p covers the
// component pattern q. Matching q's text with its `*` taken literally is
// sound: wherever p's `*` consumes q's `*`, it can consume whatever q's `*`
// stands for instead, and p's literal parts never contain `*`.
func componentCovers(p, q string) bool { return matchComponent(p, q) }
