package profiles

import (
	"fmt"
	"testing"
)

func TestStringMemoKeepsWhatIsStillAskedForWithinTwoGenerations(t *testing.T) {
	m := newStringMemo(4)
	m.put("hot", "HOT")
	for i := range 20 {
		k := fmt.Sprint(i)
		m.put(k, k+"!")
		if v, ok := m.get("hot"); !ok || v != "HOT" {
			t.Fatalf("after %d other keys: hot = %q, %v; want HOT, true", i+1, v, ok)
		}
		if n := len(m.current) + len(m.previous); n > 8 {
			t.Fatalf("after %d keys the memo holds %d; want at most two generations of 4", i+1, n)
		}
	}
	if _, ok := m.get("0"); ok {
		t.Error("a key not asked for since 19 others were put is still held")
	}
	if v, ok := m.get("19"); !ok || v != "19!" {
		t.Errorf("the last key put: %q, %v; want 19!, true", v, ok)
	}
}

func TestNormalizePathAnswersFromItsMemoAsItComputes(t *testing.T) {
	for _, p := range []string{"/proc/1234/status", "/tmp/tmpa8Xk2L", "/etc/redis/redis.conf.tmp-a8Xk2L", "pipe:[1234]", "/a//b/../c"} {
		first, again := NormalizePath(p), NormalizePath(p)
		if want := normalizePath(p); first != want || again != want {
			t.Errorf("NormalizePath(%q) = %q then %q; want %q", p, first, again, want)
		}
	}
}
