package generator

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

// withSockets is the web fixture recorded with sockets on this host's
// cgroup backend: a daemon's socket, an abstract name, a bind and a raw
// socket.
func withSockets(t *testing.T) *v1alpha1.Profile {
	p := loadFixture(t, "web")
	for i := range p.Spec.Sources {
		p.Spec.Sources[i].Backends["sockets"] = "cgroup/connect_unix+sendmsg_unix+bind4+bind6+sock_create"
	}
	p.Spec.Sockets = []v1alpha1.SocketEntry{
		{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "/run/postgresql/.s.PGSQL.5432"}, Count: 4},
		{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketUnix, Path: "@/tmp/.X11-unix/X0"}, Count: 1},
		{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: v1alpha1.ProtocolTCP, Address: "0.0.0.0", Port: 8080}, Count: 1},
		{SocketRule: v1alpha1.SocketRule{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyIPv4, Protocol: "ICMP"}, Count: 2},
	}
	return p
}

func TestThePolicyAllowsExactlyTheRecordedSocketOperations(t *testing.T) {
	p := withSockets(t)
	g, err := Policy(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	s := g.Policy.Spec.Sockets
	if s == nil || len(s.Allow) != len(p.Spec.Sockets) {
		t.Fatalf("sockets = %+v, want the profile's %d operations", s, len(p.Spec.Sockets))
	}
	m, err := policies.NewMatcher(&g.Policy.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Spec.Sockets {
		if d := m.Socket(e.SocketRule); !d.Allowed {
			t.Errorf("%s: %s", profiles.SocketName(e.SocketRule), d.Reason)
		}
	}
	for _, other := range []v1alpha1.SocketRule{
		{Operation: v1alpha1.SocketUnix, Path: "/run/docker.sock"},
		{Operation: v1alpha1.SocketUnix, Path: "/tmp/.X11-unix/X0"}, // the path, not the abstract name
		{Operation: v1alpha1.SocketBind, Family: v1alpha1.FamilyIPv4, Protocol: v1alpha1.ProtocolTCP, Address: "0.0.0.0", Port: 8081},
		{Operation: v1alpha1.SocketRaw, Family: v1alpha1.FamilyPacket, Protocol: "0x0003"},
		{Operation: v1alpha1.SocketListen, Family: v1alpha1.FamilyIPv4, Protocol: v1alpha1.ProtocolTCP},
	} {
		if d := m.Socket(other); d.Allowed {
			t.Errorf("%s allowed (%s), want refused", profiles.SocketName(other), d.Reason)
		}
	}
	if denials, err := policies.WouldDeny(p, g.Policy); err != nil || len(denials) != 0 {
		t.Errorf("the policy would deny its own profile: %+v (%v)", denials, err)
	}
	out, err := PolicyYAML(p, PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	// This backend does not see AF_PACKET sockets nor listens without bind:
	// the policy says it refuses them unseen.
	if !strings.Contains(string(out), "NOT SEEN by the recording's backend") || !strings.Contains(string(out), "AF_PACKET sockets") {
		t.Errorf("the policy does not say which socket routes the recording could not see:\n%s", out)
	}
}

func TestAProfileWithoutRecordedSocketsLeavesThemUnenforced(t *testing.T) {
	g, err := Policy(loadFixture(t, "web"), PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Policy.Spec.Sockets != nil {
		t.Errorf("sockets = %+v, want none: the recording did not cover them", g.Policy.Spec.Sockets)
	}
}

func TestTheNetworkPolicyAndTetragonLeaveSocketsOut(t *testing.T) {
	with, without := withSockets(t), loadFixture(t, "web")
	for name, gen := range map[string]func(*v1alpha1.Profile) (any, error){
		"networkpolicy": func(p *v1alpha1.Profile) (any, error) {
			g, err := NetworkPolicy(p, NetworkPolicyOptions{PodSelector: webSelector})
			if err != nil {
				return nil, err
			}
			return g.Policy, nil
		},
		"tetragon": func(p *v1alpha1.Profile) (any, error) {
			g, err := Tetragon(p, TetragonOptions{PodSelector: webSelector})
			if err != nil {
				return nil, err
			}
			return g.Policy, nil
		},
	} {
		a, err := gen(with)
		if err != nil {
			t.Fatal(err)
		}
		b, err := gen(without)
		if err != nil {
			t.Fatal(err)
		}
		ay, _ := yaml.Marshal(a)
		by, _ := yaml.Marshal(b)
		if string(ay) != string(by) {
			t.Errorf("%s: sockets changed the output:\n%s\nwant\n%s", name, ay, by)
		}
	}
}
