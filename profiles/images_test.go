package profiles

import (
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseImageReference(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want v1alpha1.Image
	}{
		{"", v1alpha1.Image{}},
		{"nginx", v1alpha1.Image{Name: "docker.io/library/nginx:latest"}},
		{"nginx:1.27", v1alpha1.Image{Name: "docker.io/library/nginx:1.27"}},
		{"docker.io/library/nginx:1.27", v1alpha1.Image{Name: "docker.io/library/nginx:1.27"}},
		{"index.docker.io/library/nginx:1.27", v1alpha1.Image{Name: "docker.io/library/nginx:1.27"}},
		{"bitnami/redis:7", v1alpha1.Image{Name: "docker.io/bitnami/redis:7"}},
		{"ghcr.io/org/app", v1alpha1.Image{Name: "ghcr.io/org/app:latest"}},
		{"localhost/app:dev", v1alpha1.Image{Name: "localhost/app:dev"}},
		{"registry:5000/app:v2", v1alpha1.Image{Name: "registry:5000/app:v2"}},
		{"ghcr.io/org/app@" + digestA, v1alpha1.Image{Name: "ghcr.io/org/app", Digest: digestA}},
		{"ghcr.io/org/app:v1@" + digestA, v1alpha1.Image{Name: "ghcr.io/org/app:v1", Digest: digestA}},
		{digestA, v1alpha1.Image{Digest: digestA}},
		// Not a digest that can be compared: the name alone.
		{"app@md5:12", v1alpha1.Image{Name: "docker.io/library/app"}},
	} {
		if got := ParseImageReference(tc.ref); got != tc.want {
			t.Errorf("ParseImageReference(%q) = %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}

func TestImageFromStatus(t *testing.T) {
	for _, tc := range []struct {
		image, imageID string
		want           v1alpha1.Image
	}{
		{"docker.io/library/nginx:1.27", "docker.io/library/nginx@" + digestA, v1alpha1.Image{Name: "docker.io/library/nginx:1.27", Digest: digestA}},
		{"nginx:1.27", "docker-pullable://nginx@" + digestA, v1alpha1.Image{Name: "docker.io/library/nginx:1.27", Digest: digestA}},
		{"footprint.dev/app:dev", digestB, v1alpha1.Image{Name: "footprint.dev/app:dev", Digest: digestB}},
		// Not started: the name alone.
		{"nginx:1.27", "", v1alpha1.Image{Name: "docker.io/library/nginx:1.27"}},
		// The status' imageID names the content, whatever the reference says.
		{"app@" + digestA, "docker.io/library/app@" + digestB, v1alpha1.Image{Name: "docker.io/library/app", Digest: digestB}},
	} {
		if got := ImageFromStatus(tc.image, tc.imageID); got != tc.want {
			t.Errorf("ImageFromStatus(%q, %q) = %+v, want %+v", tc.image, tc.imageID, got, tc.want)
		}
	}
}

func TestNormalizeImagesDropsANameKnownWithItsDigest(t *testing.T) {
	got := NormalizeImages([]v1alpha1.Image{
		{Name: "docker.io/library/app:v2", Digest: digestB},
		{Name: "docker.io/library/app:v1"},
		{Name: "docker.io/library/app:v2"},
		{},
		{Name: "docker.io/library/app:v2", Digest: digestB},
		{Digest: digestA},
	})
	want := []v1alpha1.Image{{Digest: digestA}, {Name: "docker.io/library/app:v1"}, {Name: "docker.io/library/app:v2", Digest: digestB}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NormalizeImages = %+v, want %+v", got, want)
	}
	if got := NormalizeImages(nil); got != nil {
		t.Errorf("NormalizeImages(nil) = %+v, want nil", got)
	}
}

func TestNewImages(t *testing.T) {
	v1 := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: digestA}
	v2 := v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: digestB}
	if got := NewImages([]v1alpha1.Image{v1}, []v1alpha1.Image{v2, v1}); !reflect.DeepEqual(got, []v1alpha1.Image{v2}) {
		t.Errorf("NewImages = %+v, want only v2", got)
	}
	if got := NewImages([]v1alpha1.Image{v1, v2}, []v1alpha1.Image{v1}); got != nil {
		t.Errorf("NewImages of a subset = %+v, want none", got)
	}
}

// A source's images survive merging: replicas on two nodes, a container
// restarted with a new image (two snapshots of one source), and a source
// the agent recorded for a policy.
func TestMergeKeepsTheImagesOfEachSource(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	later := metav1.NewTime(at.Add(time.Minute))
	v1 := v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: digestA}
	v2 := v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: digestB}
	prof := func(srcs ...v1alpha1.Source) *v1alpha1.Profile {
		return &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Container: "app", Sources: srcs}}
	}
	a := prof(v1alpha1.Source{Node: "n1", Pod: "web-1", Recording: "rec", FirstSeen: at, LastSeen: at, Images: []v1alpha1.Image{{Name: v1.Name}}})
	b := prof(
		v1alpha1.Source{Node: "n1", Pod: "web-1", Recording: "rec", FirstSeen: at, LastSeen: later, Images: []v1alpha1.Image{v1}},
		v1alpha1.Source{Node: "n2", Pod: "web-2", Recording: "rec", FirstSeen: at, LastSeen: at, Images: []v1alpha1.Image{v1}},
	)
	c := prof(
		v1alpha1.Source{Node: "n1", Pod: "web-1", Recording: "rec", FirstSeen: at, LastSeen: later, Images: []v1alpha1.Image{v2}},
		v1alpha1.Source{Node: "n2", Pod: "web-3", Policy: "web", FirstSeen: at, LastSeen: at, Images: []v1alpha1.Image{v2}},
	)
	ab, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	abc, err := Merge(ab, c)
	if err != nil {
		t.Fatal(err)
	}
	cba, err := Merge(c, must(Merge(b, a)))
	if err != nil {
		t.Fatal(err)
	}
	if !sameSpec(t, abc.Spec, cba.Spec) {
		t.Errorf("merge is not commutative over images:\n%+v\n%+v", abc.Spec.Sources, cba.Spec.Sources)
	}
	want := map[string][]v1alpha1.Image{"web-1": {v1, v2}, "web-2": {v1}, "web-3": {v2}}
	if len(abc.Spec.Sources) != len(want) {
		t.Fatalf("sources = %+v, want one per pod", abc.Spec.Sources)
	}
	for _, s := range abc.Spec.Sources {
		if !reflect.DeepEqual(s.Images, want[s.Pod]) {
			t.Errorf("source of pod %s has images %+v, want %+v", s.Pod, s.Images, want[s.Pod])
		}
	}
	if got := ImagesOf(abc.Spec); !reflect.DeepEqual(got, []v1alpha1.Image{v1, v2}) {
		t.Errorf("ImagesOf = %+v, want v1 and v2", got)
	}
	if got := abc.Spec.Summarize().Images; got != 2 {
		t.Errorf("summary counts %d images, want 2", got)
	}
	again, err := Merge(abc, abc)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSpec(t, again.Spec, abc.Spec) {
		t.Errorf("merging a profile with itself changed its sources")
	}
}

func TestValidateRefusesBadImages(t *testing.T) {
	p := &v1alpha1.Profile{Spec: v1alpha1.ProfileSpec{Sources: []v1alpha1.Source{{Images: []v1alpha1.Image{{}, {Name: "app", Digest: "v1"}, {Name: "app@" + digestA}}}}}}
	errs := ValidateProfile(p)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	for _, want := range []string{"spec.sources[0].images[0]: Required", "spec.sources[0].images[1].digest: Invalid", "spec.sources[0].images[2].name: Invalid"} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("errors %q do not include %q", got, want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
