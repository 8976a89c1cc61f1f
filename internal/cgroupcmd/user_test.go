package cgroupcmd

import (
	"slices"
	"strings"
	"testing"
)

func TestLookupUserTakesNamesAndNumbersAndNamesWhatIsWrong(t *testing.T) {
	tests := []struct {
		spec      string
		uid, gid  uint32
		home      string
		wantError string
	}{
		{spec: "root", uid: 0, gid: 0, home: "/root"},
		{spec: "0", uid: 0, gid: 0, home: "/root"},
		{spec: "nobody", uid: 65534, gid: 65534},
		{spec: "nobody:0", uid: 65534, gid: 0},
		{spec: "root:nogroup", uid: 0, gid: 65534, home: "/root"},
		// A uid with no passwd entry, as containers run: its own group.
		{spec: "40123", uid: 40123, gid: 40123, home: "/"},
		{spec: "no-such-user-here", wantError: "no such user in the user database (/etc/passwd)"},
		{spec: "root:no-such-group", wantError: `group "no-such-group": no such group`},
		{spec: "", wantError: "want USER or USER:GROUP"},
		{spec: "root:", wantError: "want USER or USER:GROUP"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			u, err := LookupUser(tc.spec)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("LookupUser(%q) = %+v, %v; want an error containing %q", tc.spec, u, err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.UID != tc.uid || u.GID != tc.gid || (tc.home != "" && u.Home != tc.home) {
				t.Errorf("LookupUser(%q) = %+v; want uid %d gid %d home %q", tc.spec, u, tc.uid, tc.gid, tc.home)
			}
			if slices.Contains(u.Groups, u.GID) {
				t.Errorf("supplementary groups %v repeat the primary group %d", u.Groups, u.GID)
			}
		})
	}
}

func TestTheUsersEnvironmentNamesTheUser(t *testing.T) {
	u := &User{Name: "postgres", UID: 101, GID: 102, Home: "/var/lib/postgresql"}
	got := u.environ([]string{"PATH=/usr/bin", "HOME=/root", "USER=root", "LANG=C"})
	want := []string{"PATH=/usr/bin", "LANG=C", "HOME=/var/lib/postgresql", "USER=postgres", "LOGNAME=postgres"}
	if !slices.Equal(got, want) {
		t.Errorf("environ = %q; want %q", got, want)
	}
}
