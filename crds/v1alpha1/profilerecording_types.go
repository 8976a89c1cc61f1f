package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProfileRecording asks the footprint agents to record what the selected
// containers do, in the recording's namespace: the capability checks the
// kernel makes for them, the files they open, the addresses they connect to
// and the programs they execute. Containers already running are picked up at
// once; containers that start while the recording is active are covered from
// their first instruction. The agents write one Profile per workload
// container (merged across replicas and nodes) and keep it up to date while
// the recording runs. The recording stops when its duration has passed, or
// when it is deleted; the Profiles stay.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName={prec,fpr},categories=footprint
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Pending, Recording, Completed or Failed"
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.matchedPods`,description="Pods recorded"
// +kubebuilder:printcolumn:name="Containers",type=integer,JSONPath=`.status.matchedContainers`,description="Containers recorded"
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.spec.duration`,description="How long to record; empty: until the recording is deleted"
// +kubebuilder:printcolumn:name="Stops",type=string,JSONPath=`.status.stopTime`,description="When the recording stops (start time plus duration)"
// +kubebuilder:printcolumn:name="Ended",type=date,JSONPath=`.status.endTime`,description="How long ago the recording ended"
// +kubebuilder:printcolumn:name="Events",type=integer,JSONPath=`.status.events`,priority=1,description="Kernel events observed, repeats included"
// +kubebuilder:printcolumn:name="Lost",type=integer,JSONPath=`.status.lostRecords`,priority=1,description="Sightings of entries the profiles are missing: neither kept nor delivered (0: nothing lost)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProfileRecording struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says which containers to record, which kinds of event and for how
	// long.
	Spec ProfileRecordingSpec `json:"spec"`
	// Status reports the recording's progress: its phase, the pods and
	// containers it covers and how many events it has seen.
	// +optional
	Status ProfileRecordingStatus `json:"status,omitempty"`
}

// ProfileRecordingSpec says what to record.
type ProfileRecordingSpec struct {
	// PodSelector selects the pods to record, in the recording's namespace,
	// by their labels (an empty selector, {}, selects every pod in the
	// namespace). `kubectl footprint record deployment/web` fills it from
	// the workload's own selector.
	PodSelector metav1.LabelSelector `json:"podSelector"`

	// ContainerSelector names the containers to record in the selected pods.
	// Empty: every container, init containers included.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ContainerSelector []string `json:"containerSelector,omitempty"`

	// Kinds are the kinds of event to record: capabilities (the capability
	// checks the kernel makes, with its verdict), files (opens, with how the
	// file was opened), connections (outbound connects and datagrams),
	// executables (programs executed) and syscalls (the system calls made,
	// for a seccomp profile). Default: all five.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:default={capabilities,files,connections,executables,syscalls}
	Kinds []RecordedKind `json:"kinds,omitempty"`

	// Duration is how long to record, from the moment the recording starts,
	// as a Go duration: 30m, 1h, 2h30m. At least 1s, at most 8760h (a year).
	// Absent: record until the recording is deleted.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('8760h')",messageExpression="self.startsWith('-') ? 'duration ' + self + ' is negative: give a positive length of time such as 30m, 1h or 2h30m, or leave duration out to record until the recording is deleted' : (self.matches('^([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h))+$') ? 'duration ' + self + ' is out of range: give at least 1s and at most 8760h (a year), or leave duration out to record until the recording is deleted' : 'duration ' + self + ' is not a length of time: write it like 30m, 1h or 2h30m (units h, m, s, ms)')"
	Duration *metav1.Duration `json:"duration,omitempty"`

	// Limits bound the size of the Profiles this recording writes, so that
	// they stay well under the API server's object size limit. Past a bound,
	// entries are folded into globs and the Profile's status says where.
	// Absent: footprint's defaults (64 files per directory, 2048 files).
	// +optional
	Limits *RecordingLimits `json:"limits,omitempty"`
}

// RecordedKind is a kind of event a recording can capture. The names are
// those of the Profile's lists.
// +kubebuilder:validation:Enum=capabilities;files;connections;executables;syscalls
type RecordedKind string

const (
	// RecordCapabilities records capability checks and their verdicts.
	RecordCapabilities RecordedKind = "capabilities"
	// RecordFiles records file opens and how each file was opened.
	RecordFiles RecordedKind = "files"
	// RecordConnections records outbound connects and datagrams.
	RecordConnections RecordedKind = "connections"
	// RecordExecutables records the programs executed.
	RecordExecutables RecordedKind = "executables"
	// RecordSyscalls records the system calls made, per ABI.
	RecordSyscalls RecordedKind = "syscalls"
)

// AllRecordedKinds are the kinds a recording captures by default.
var AllRecordedKinds = []RecordedKind{RecordCapabilities, RecordFiles, RecordConnections, RecordExecutables, RecordSyscalls}

// RecordingLimits bound the size of recorded Profiles.
//
// +kubebuilder:validation:XValidation:rule="!has(self.filesPerDirectory) || !has(self.maxFiles) || self.filesPerDirectory <= self.maxFiles",message="filesPerDirectory must not be larger than maxFiles",fieldPath=".filesPerDirectory"
type RecordingLimits struct {
	// FilesPerDirectory is how many file entries may lie below one directory
	// before they are folded into one `dir/**` entry. Default 64.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	FilesPerDirectory *int32 `json:"filesPerDirectory,omitempty"`

	// MaxFiles is how many file entries a Profile may hold in all; past it,
	// the most crowded directories are folded first. Default 2048; at most
	// 4096, the most file rules an EnforcementPolicy may hold.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	MaxFiles *int32 `json:"maxFiles,omitempty"`
}

// RecordingPhase is where a recording is in its life.
// +kubebuilder:validation:Enum=Pending;Recording;Completed;Failed
type RecordingPhase string

const (
	// RecordingPending means no agent has started recording yet.
	RecordingPending RecordingPhase = "Pending"
	// RecordingActive means the agents are recording the selected containers.
	RecordingActive RecordingPhase = "Recording"
	// RecordingCompleted means the duration has passed and the Profiles are
	// final.
	RecordingCompleted RecordingPhase = "Completed"
	// RecordingFailed means the recording cannot proceed; the Ready
	// condition's message says why.
	RecordingFailed RecordingPhase = "Failed"
)

// ProfileRecordingStatus reports a recording's progress. The counts are
// totals over every node; nodes holds each node's share.
type ProfileRecordingStatus struct {
	// ObservedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is Pending (no agent has started yet), Recording, Completed (the
	// duration has passed) or Failed (see the conditions).
	// +optional
	Phase RecordingPhase `json:"phase,omitempty"`

	// StartTime is when the first agent started recording.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// StopTime is when the recording will stop: its start time plus its
	// duration. Absent for a recording without a duration.
	// +optional
	StopTime *metav1.Time `json:"stopTime,omitempty"`

	// EndTime is when the recording stopped.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`

	// MatchedPods is how many pods the recording has covered, over its whole
	// life (a pod that has since gone still counts).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MatchedPods int32 `json:"matchedPods,omitempty"`

	// MatchedContainers is how many containers the recording has covered,
	// over its whole life.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MatchedContainers int32 `json:"matchedContainers,omitempty"`

	// Containers lists the containers the recording covers and the Profile
	// each one feeds. At most 1024 are listed; the counts above are exact.
	// +optional
	// +listType=map
	// +listMapKey=pod
	// +listMapKey=container
	// +kubebuilder:validation:MaxItems=1024
	Containers []RecordedContainer `json:"containers,omitempty"`

	// Profiles names the Profiles the recording writes to, one per workload
	// container.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	Profiles []string `json:"profiles,omitempty"`

	// Events is how many kernel events the recording observed, repeats
	// included.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Events int64 `json:"events,omitempty"`

	// LostRecords is how many sightings of entries the recorded
	// containers' profiles are missing: the kernel could neither keep them
	// in its maps nor hand them to the agent (see Profile
	// spec.sources[].lostRecords, per container and kind). 0 means
	// nothing was lost.
	// +optional
	// +kubebuilder:validation:Minimum=0
	LostRecords int64 `json:"lostRecords,omitempty"`

	// Nodes reports each node's share of the recording, written by the agent
	// on that node.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []RecordingNodeStatus `json:"nodes,omitempty"`

	// Conditions about the recording, e.g. Ready (every agent with a matched
	// container is recording) with the reason when it is not.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RecordedContainer is one container a recording covers.
type RecordedContainer struct {
	// Pod is the pod's name.
	Pod string `json:"pod"`
	// Container is the container's name in the pod.
	Container string `json:"container"`
	// Node is the node the pod runs on.
	// +optional
	Node string `json:"node,omitempty"`
	// Profile is the Profile the container's behaviour is merged into.
	// +optional
	Profile string `json:"profile,omitempty"`
	// Since is when the container started being recorded.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// RecordingNodeStatus is one node's share of a recording.
type RecordingNodeStatus struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Containers is how many containers are being recorded on the node.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Containers int32 `json:"containers,omitempty"`
	// Events is how many kernel events were observed on the node, repeats
	// included.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Events int64 `json:"events,omitempty"`
	// LostRecords is how many sightings of entries the node's recorded
	// containers' profiles are missing (the sum over its containers).
	// +optional
	// +kubebuilder:validation:Minimum=0
	LostRecords int64 `json:"lostRecords,omitempty"`
	// Backends maps each event kind to the kernel hook recording it on the
	// node, e.g. capabilities: fexit/cap_capable.
	// +optional
	Backends map[string]string `json:"backends,omitempty"`
	// LastUpdate is when the node's agent last wrote this entry.
	// +optional
	LastUpdate *metav1.Time `json:"lastUpdate,omitempty"`
}

// ProfileRecordingList is a list of ProfileRecordings.
//
// +kubebuilder:object:root=true
type ProfileRecordingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the recordings.
	Items []ProfileRecording `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ProfileRecording{}, &ProfileRecordingList{})
}

// Stop is when the recording stops: its creation plus spec.duration. ok is
// false for a recording without a duration, which runs until it is
// deleted. The agents write it to status.stopTime; the CLI shows it.
func (r *ProfileRecording) Stop() (stop time.Time, ok bool) {
	if r.Spec.Duration == nil {
		return time.Time{}, false
	}
	return r.CreationTimestamp.Add(r.Spec.Duration.Duration), true
}

// CurrentPhase is the recording's phase: Pending until an agent has
// written one.
func (r *ProfileRecording) CurrentPhase() RecordingPhase {
	if r.Status.Phase == "" {
		return RecordingPending
	}
	return r.Status.Phase
}
