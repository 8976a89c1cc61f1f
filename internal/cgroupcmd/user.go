package cgroupcmd

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// User is who a command runs as: a daemon started as its own user, the way
// its service manager would, without a launcher (runuser, su, gosu) whose
// own privileges would be recorded and enforced as the daemon's.
type User struct {
	// Name is the user's name; empty for a numeric uid without a passwd
	// entry.
	Name     string
	UID, GID uint32
	// Groups are the supplementary groups: the user's, from the group
	// database (what initgroups gives a login), or none.
	Groups []uint32
	// Home is the user's home directory, for $HOME.
	Home string
}

// LookupUser parses USER[:GROUP], each a name or a number. Without GROUP
// the user's primary group applies.
func LookupUser(spec string) (*User, error) {
	name, group, withGroup := strings.Cut(spec, ":")
	if name == "" || (withGroup && group == "") {
		return nil, fmt.Errorf("user %q: want USER or USER:GROUP, each a name or a number", spec)
	}
	u := &User{}
	pw, err := lookupUser(name)
	switch {
	case err == nil:
		u.Name, u.Home = pw.Username, pw.HomeDir
		u.UID, u.GID = mustID(pw.Uid), mustID(pw.Gid)
		if gids, err := pw.GroupIds(); err == nil {
			for _, g := range gids {
				if id, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(id) != u.GID {
					u.Groups = append(u.Groups, uint32(id))
				}
			}
		}
	case isNumber(name):
		// A uid without a passwd entry, as containers often run: its own
		// group, no home.
		u.UID = mustID(name)
		u.GID = u.UID
		u.Home = "/"
	default:
		return nil, fmt.Errorf("user %q: no such user in the user database (/etc/passwd): give a user name that exists, or a numeric uid", name)
	}
	if withGroup {
		gid, err := lookupGroup(group)
		if err != nil {
			return nil, err
		}
		u.GID = gid
		u.Groups = slices.DeleteFunc(u.Groups, func(g uint32) bool { return g == gid })
	}
	return u, nil
}

func lookupUser(name string) (*user.User, error) {
	if isNumber(name) {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

func lookupGroup(name string) (uint32, error) {
	if isNumber(name) {
		return mustID(name), nil
	}
	g, err := user.LookupGroup(name)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return 0, fmt.Errorf("group %q: no such group in the group database (/etc/group): give a group name that exists, or a numeric gid", name)
	}
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", name, err)
	}
	return mustID(g.Gid), nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// mustID parses an id the user database or isNumber has vouched for.
func mustID(s string) uint32 {
	id, _ := strconv.ParseUint(s, 10, 32)
	return uint32(id)
}

// credential is the command's credentials for exec.Cmd.
func (u *User) credential() *syscall.Credential {
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
}

// environ is env with the variables a login sets for the user: HOME, USER
// and LOGNAME.
func (u *User) environ(env []string) []string {
	set := map[string]string{"HOME": u.Home}
	if u.Name != "" {
		set["USER"], set["LOGNAME"] = u.Name, u.Name
	}
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		_, replaced := set[k]
		return replaced
	})
	for _, k := range []string{"HOME", "USER", "LOGNAME"} {
		if v, ok := set[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// The shim takes the user as uid:gid:group,group,... in seccompShimUserEnv.
const seccompShimUserEnv = "FOOTPRINT_SECCOMP_SHIM_USER"

func (u *User) shimValue() string {
	groups := make([]string, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = strconv.FormatUint(uint64(g), 10)
	}
	return fmt.Sprintf("%d:%d:%s", u.UID, u.GID, strings.Join(groups, ","))
}

// becomeShimUser drops the shim to the user value names (see shimValue),
// supplementary groups first and the uid last, on every thread.
func becomeShimUser(value string) error {
	parts := strings.SplitN(value, ":", 3)
	if len(parts) != 3 || !isNumber(parts[0]) || !isNumber(parts[1]) {
		return fmt.Errorf("malformed %s %q", seccompShimUserEnv, value)
	}
	var groups []int
	for _, g := range strings.Split(parts[2], ",") {
		if g != "" {
			groups = append(groups, int(mustID(g)))
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("set supplementary groups: %w", err)
	}
	gid, uid := int(mustID(parts[1])), int(mustID(parts[0]))
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("set gid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("set uid %d: %w", uid, err)
	}
	return nil
}
