package v1alpha1

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestProfileRecordingIsRegisteredAndDeepCopies(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ProfileRecording", "ProfileRecordingList"} {
		if _, err := s.New(GroupVersion.WithKind(kind)); err != nil {
			t.Fatalf("%s is not registered: %v", kind, err)
		}
	}
	now := metav1.Now()
	r := &ProfileRecording{
		Spec: ProfileRecordingSpec{ContainerSelector: []string{"app"}, Kinds: []RecordedKind{RecordFiles}, Duration: &metav1.Duration{Duration: time.Hour}},
		Status: ProfileRecordingStatus{
			StartTime:  &now,
			Containers: []RecordedContainer{{Pod: "web-1", Container: "app", Since: &now}},
			Nodes:      []RecordingNodeStatus{{Node: "a", Backends: map[string]string{"files": "lsm/file_open"}}},
		},
	}
	c := r.DeepCopy()
	if !reflect.DeepEqual(r, c) {
		t.Fatal("deep copy differs")
	}
	c.Spec.ContainerSelector[0] = "other"
	c.Spec.Duration.Duration = time.Minute
	c.Status.Nodes[0].Backends["files"] = "x"
	if r.Spec.ContainerSelector[0] != "app" || r.Spec.Duration.Duration != time.Hour || r.Status.Nodes[0].Backends["files"] != "lsm/file_open" {
		t.Fatal("deep copy shares memory with the original")
	}
}

// The duration travels as a Go duration string, which is what the CRD's
// validation rule parses.
func TestRecordingDurationIsAGoDurationString(t *testing.T) {
	data, err := json.Marshal(ProfileRecordingSpec{Duration: &metav1.Duration{Duration: 90 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"duration":"1h30m0s"`) {
		t.Fatalf("got %s", data)
	}
	if strings.Contains(string(data), "kinds") || strings.Contains(string(data), "limits") {
		t.Fatalf("unset optional fields were written: %s", data)
	}
}

func TestSummarizeCountsEntriesAndSources(t *testing.T) {
	at := func(h int) metav1.Time { return metav1.NewTime(time.Date(2025, 3, 1, h, 0, 0, 0, time.UTC)) }
	spec := ProfileSpec{
		Capabilities: []CapabilityEntry{{Name: "CAP_CHOWN", Verdict: VerdictGranted}, {Name: "CAP_CHOWN", Verdict: VerdictDenied}, {Name: "CAP_KILL"}},
		Files:        []FileEntry{{Path: "/a"}, {Path: "/b"}},
		Connections:  []ConnectionEntry{{Address: "10.0.0.1"}},
		Sources: []Source{
			{Node: "n1", Pod: "p1", Recording: "old", FirstSeen: at(1), LastSeen: at(2)},
			{Node: "n2", Pod: "p2", Recording: "new", FirstSeen: at(3), LastSeen: at(5)},
			{Node: "n2", Pod: "p3", Recording: "old", FirstSeen: at(0), LastSeen: at(4)},
		},
	}
	got := spec.Summarize()
	want := &ProfileSummary{Capabilities: 2, Files: 2, Connections: 1, Executables: 0, Recording: "new", Pods: 3, Nodes: 2}
	first, last := at(0), at(5)
	want.FirstSeen, want.LastSeen = &first, &last
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	p := &Profile{Spec: ProfileSpec{}}
	p.Summarize()
	if s := p.Status.Summary; s == nil || s.Capabilities != 0 || s.FirstSeen != nil || s.Recording != "" {
		t.Fatalf("empty profile summary: %+v", s)
	}
}

func TestARecordingStopsItsDurationAfterItsCreation(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC))
	tests := []struct {
		name     string
		duration *metav1.Duration
		want     time.Time
		ok       bool
	}{
		{"no duration: runs until deleted", nil, time.Time{}, false},
		{"an hour", &metav1.Duration{Duration: time.Hour}, created.Add(time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &ProfileRecording{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}, Spec: ProfileRecordingSpec{Duration: tc.duration}}
			stop, ok := r.Stop()
			if !stop.Equal(tc.want) || ok != tc.ok {
				t.Errorf("Stop() = %v, %v; want %v, %v", stop, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCurrentPhaseIsPendingUntilAnAgentWritesOne(t *testing.T) {
	r := &ProfileRecording{}
	if got := r.CurrentPhase(); got != RecordingPending {
		t.Errorf("a new recording's phase = %q, want Pending", got)
	}
	r.Status.Phase = RecordingActive
	if got := r.CurrentPhase(); got != RecordingActive {
		t.Errorf("phase = %q, want the agents' Active", got)
	}
}
