package profiles

import (
	"strings"
	"testing"
)

func TestCapabilityNamesRoundTrip(t *testing.T) {
	for n := 0; n <= MaxCapability; n++ {
		name := CapabilityName(n)
		got, err := ParseCapability(name)
		if err != nil || got != n {
			t.Fatalf("ParseCapability(%q) = %d, %v; want %d", name, got, err, n)
		}
	}
}

func TestParseCapabilityAcceptsKubernetesSpelling(t *testing.T) {
	for _, in := range []string{"NET_BIND_SERVICE", "net_bind_service", "CAP_NET_BIND_SERVICE", " cap_net_bind_service "} {
		if n, err := ParseCapability(in); err != nil || n != 10 {
			t.Errorf("ParseCapability(%q) = %d, %v; want 10", in, n, err)
		}
	}
}

func TestParseCapabilityRejectsUnknownNamesWithAHint(t *testing.T) {
	_, err := ParseCapability("CAP_FLY")
	if err == nil {
		t.Fatal("want an error for CAP_FLY")
	}
	if want := `unknown capability "CAP_FLY"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the bad capability", err)
	}
}

func TestCapabilityNameOfUnknownNumber(t *testing.T) {
	if got := CapabilityName(63); got != "CAP_63" {
		t.Fatalf("CapabilityName(63) = %q", got)
	}
}
