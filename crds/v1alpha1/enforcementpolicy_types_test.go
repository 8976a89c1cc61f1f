package v1alpha1

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// An allow-list that is present but empty denies everything of its kind;
// one that is absent leaves the kind unenforced. The difference must survive
// the trip through JSON that every stored or applied policy takes.
func TestEmptyAllowListSurvivesARoundTripAndDiffersFromAnAbsentOne(t *testing.T) {
	p := EnforcementPolicy{Spec: EnforcementPolicySpec{Capabilities: &CapabilityRules{}, Files: &FileRules{}}}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back EnforcementPolicy
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Spec.Capabilities == nil || back.Spec.Files == nil {
		t.Fatalf("empty allow-lists were lost: %s", data)
	}
	if back.Spec.Connect != nil || back.Spec.Executables != nil {
		t.Fatalf("absent allow-lists appeared: %s", data)
	}
}

func TestEnforcementPolicyIsRegisteredAndDeepCopies(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	obj, err := s.New(GroupVersion.WithKind("EnforcementPolicy"))
	if err != nil {
		t.Fatalf("EnforcementPolicy is not registered: %v", err)
	}
	if _, ok := obj.(*EnforcementPolicy); !ok {
		t.Fatalf("scheme made a %T", obj)
	}
	end := int32(90)
	p := &EnforcementPolicy{Spec: EnforcementPolicySpec{
		Selector: &PolicySelector{Workload: &WorkloadReference{Kind: "Deployment", Name: "web"}, Containers: []string{"app"}},
		Connect:  &ConnectRules{Allow: []ConnectRule{{CIDR: "10.0.0.0/8", Protocol: ProtocolTCP, Port: 80, EndPort: &end}}},
	}}
	c := p.DeepCopy()
	if !reflect.DeepEqual(p, c) {
		t.Fatal("deep copy differs")
	}
	*c.Spec.Connect.Allow[0].EndPort = 99
	c.Spec.Selector.Containers[0] = "other"
	if *p.Spec.Connect.Allow[0].EndPort != 90 || p.Spec.Selector.Containers[0] != "app" {
		t.Fatal("deep copy shares memory with the original")
	}
}
