package workloads

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseTakesKubectlsSpellingsOfEachKind(t *testing.T) {
	for in, want := range map[string]string{
		"deployment/web": "apps/v1 Deployment web", "deploy/web": "apps/v1 Deployment web", "Deployment/web": "apps/v1 Deployment web",
		"deployments/web": "apps/v1 Deployment web", "sts/db": "apps/v1 StatefulSet db", "ds/agent": "apps/v1 DaemonSet agent",
		"job/once": "batch/v1 Job once", "cronjob/nightly": "batch/v1 CronJob nightly", "cj/nightly": "batch/v1 CronJob nightly",
		"pod/debug": "v1 Pod debug", "po/debug": "v1 Pod debug",
	} {
		w, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := w.APIVersion + " " + w.Kind + " " + w.Name; got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"web", "deployment/", "replicaset/web", "deployment/a/b", ""} {
		_, err := Parse(bad)
		if err == nil || !strings.Contains(err.Error(), "want KIND/NAME with KIND one of deployment, statefulset, daemonset, job, cronjob or pod") {
			t.Errorf("Parse(%q) = %v, want an error explaining KIND/NAME", bad, err)
		}
	}
}

func TestListNamesEveryKind(t *testing.T) {
	if got, want := List(false, "and"), "Deployment, StatefulSet, DaemonSet, Job, CronJob and Pod"; got != want {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func TestAPIVersionAndPodSpecPathOfEachKind(t *testing.T) {
	tests := []struct{ kind, apiVersion, path string }{
		{Deployment, "apps/v1", "spec.template.spec"},
		{StatefulSet, "apps/v1", "spec.template.spec"},
		{DaemonSet, "apps/v1", "spec.template.spec"},
		{Job, "batch/v1", "spec.template.spec"},
		{CronJob, "batch/v1", "spec.jobTemplate.spec.template.spec"},
		{Pod, "v1", "spec"},
	}
	for _, tc := range tests {
		k, ok := Lookup(tc.kind)
		if !ok || k.APIVersion != tc.apiVersion || strings.Join(k.PodSpecPath, ".") != tc.path || APIVersion(tc.kind) != tc.apiVersion {
			t.Errorf("Lookup(%q) = %+v, %v; want API version %s, pod spec at %s", tc.kind, k, ok, tc.apiVersion, tc.path)
		}
	}
	if _, ok := Lookup(ReplicaSet); ok {
		t.Error("a ReplicaSet is not a workload, but Lookup knows it")
	}
	if v := APIVersion("Widget"); v != "" {
		t.Errorf("APIVersion(Widget) = %q, want none", v)
	}
}

func TestOfFollowsControllersToTheWorkload(t *testing.T) {
	ref := func(kind, name string) *metav1.OwnerReference { return &metav1.OwnerReference{Kind: kind, Name: name} }
	errAPI := errors.New("the API server is away")
	tests := []struct {
		name       string
		controller *metav1.OwnerReference
		// parents are the controllers of owners, by owner name; an
		// owner missing here does not exist.
		parents map[string]*metav1.OwnerReference
		want    string
		wantErr error
		// read says whether the owner must be read.
		read bool
	}{
		{name: "bare pod", want: "Pod/p"},
		{name: "deployment", controller: ref(ReplicaSet, "web-1"), parents: map[string]*metav1.OwnerReference{"web-1": ref(Deployment, "web")}, want: "Deployment/web", read: true},
		{name: "bare replicaset", controller: ref(ReplicaSet, "rs"), parents: map[string]*metav1.OwnerReference{"rs": nil}, want: "Pod/p", read: true},
		{name: "replicaset of something else", controller: ref(ReplicaSet, "rs"), parents: map[string]*metav1.OwnerReference{"rs": ref("Rollout", "r")}, want: "Pod/p", read: true},
		{name: "replicaset gone", controller: ref(ReplicaSet, "rs"), want: "Pod/p", read: true},
		{name: "cronjob", controller: ref(Job, "nightly-1"), parents: map[string]*metav1.OwnerReference{"nightly-1": ref(CronJob, "nightly")}, want: "CronJob/nightly", read: true},
		{name: "bare job", controller: ref(Job, "once"), parents: map[string]*metav1.OwnerReference{"once": nil}, want: "Job/once", read: true},
		{name: "job gone", controller: ref(Job, "once"), want: "Job/once", read: true},
		{name: "statefulset", controller: ref(StatefulSet, "db"), want: "StatefulSet/db"},
		{name: "daemonset", controller: ref(DaemonSet, "agent"), want: "DaemonSet/agent"},
		{name: "operator's resource", controller: ref("Widget", "w"), want: "Pod/p"},
		{name: "owner unreadable", controller: ref(Job, "once"), wantErr: errAPI, read: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := false
			got, err := Of("p", tc.controller, func(owner *metav1.OwnerReference) (*metav1.OwnerReference, error) {
				read = true
				if tc.wantErr != nil {
					return nil, tc.wantErr
				}
				return tc.parents[owner.Name], nil
			})
			if read != tc.read {
				t.Errorf("owner read: %v, want %v", read, tc.read)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Of = %+v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Kind+"/"+got.Name != tc.want {
				t.Fatalf("Of = %+v, %v; want %s", got, err, tc.want)
			}
		})
	}
}
