package profiles

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// imageDigest is the OCI digest grammar (algorithm:encoded), with an
// encoded part long enough that a tag such as "v1" is never taken for one.
var imageDigest = regexp.MustCompile(`^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)

// ParseImageReference splits an image reference as a pod spec or a pod
// status' image field writes it ("nginx:1.27", "ghcr.io/org/app@sha256:…",
// or a bare "sha256:…" when a runtime names the image by its id) into its
// full name and its digest. The name is written the way container runtimes
// resolve it, so that the spec's "nginx" and the status'
// "docker.io/library/nginx:latest" are the same name: Docker Hub's registry
// and "library/" are made explicit, and ":latest" is added when the
// reference has neither a tag nor a digest.
func ParseImageReference(ref string) v1alpha1.Image {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return v1alpha1.Image{}
	}
	if imageDigest.MatchString(ref) && !strings.Contains(ref, "/") && !strings.Contains(ref, "@") {
		return v1alpha1.Image{Digest: ref}
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !imageDigest.MatchString(digest) {
		// Not a digest that can be compared: the name alone stands for it.
		digest = ""
	}
	domain, rest, hasDomain := strings.Cut(name, "/")
	if !hasDomain || (!strings.ContainsAny(domain, ".:") && domain != "localhost") {
		domain, rest = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	last := rest[strings.LastIndex(rest, "/")+1:]
	if !strings.Contains(last, ":") && !hasDigest {
		rest += ":latest"
	}
	return v1alpha1.Image{Name: domain + "/" + rest, Digest: digest}
}

// ImageFromStatus is the image a started container runs, from its pod
// status: image (the reference kubelet resolved) and imageID, which names
// the content, e.g. "docker.io/library/nginx@sha256:…" or, with some
// runtimes, "docker-pullable://nginx@sha256:…" or a bare "sha256:…".
// imageID is empty until the container has started; the result then has
// the name alone.
func ImageFromStatus(image, imageID string) v1alpha1.Image {
	img := ParseImageReference(image)
	id := imageID
	if _, after, ok := strings.Cut(id, "://"); ok {
		id = after
	}
	if i := strings.LastIndex(id, "@"); i >= 0 {
		id = id[i+1:]
	}
	if imageDigest.MatchString(id) {
		img.Digest = id
	}
	return img
}

// NormalizeImages sorts a set of images and removes repeats. An image
// known by its name alone is dropped when the same name is also known
// with a digest: it was the same container seen before kubelet reported
// the digest, and keeping it would let any content under that name pass
// for recorded.
func NormalizeImages(images []v1alpha1.Image) []v1alpha1.Image {
	withDigest := map[string]bool{}
	for _, img := range images {
		if img.Digest != "" {
			withDigest[img.Name] = true
		}
	}
	out := make([]v1alpha1.Image, 0, len(images))
	for _, img := range images {
		if img == (v1alpha1.Image{}) || (img.Digest == "" && withDigest[img.Name]) {
			continue
		}
		out = append(out, img)
	}
	slices.SortFunc(out, compareImages)
	return nilIfEmpty(slices.Compact(out))
}

func compareImages(a, b v1alpha1.Image) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Digest, b.Digest))
}

// ImagesOf is every image a profile's entries were observed in, over all
// its sources: what a policy generated from it is bound to.
func ImagesOf(spec v1alpha1.ProfileSpec) []v1alpha1.Image {
	var all []v1alpha1.Image
	for _, s := range spec.Sources {
		all = append(all, s.Images...)
	}
	return NormalizeImages(all)
}

// NewImages are the images of b that a does not hold: what promoting a
// policy bound to a to images b adds.
func NewImages(a, b []v1alpha1.Image) []v1alpha1.Image {
	var out []v1alpha1.Image
	for _, img := range NormalizeImages(b) {
		if known, _ := MatchImage(a, img); !known {
			out = append(out, img)
		}
	}
	return out
}

// MatchImage says whether running is one of the recorded images, and on
// what evidence. The digest decides when both sides have one. A running
// image whose digest is not known yet (its container has not started)
// matches a recorded name; so does a recorded image whose digest was never
// known, by name, whatever digest runs.
func MatchImage(recorded []v1alpha1.Image, running v1alpha1.Image) (bool, string) {
	for _, r := range recorded {
		if running.Digest != "" && r.Digest == running.Digest {
			return true, "recorded from this digest"
		}
	}
	if running.Name == "" {
		return false, ""
	}
	for _, r := range recorded {
		switch {
		case r.Name != running.Name:
		case running.Digest == "":
			return true, "recorded from an image of this name; its digest is checked once the container has started"
		case r.Digest == "":
			return true, "recorded from an image of this name whose digest was not known"
		}
	}
	return false, ""
}

// ImageString names an image for people: its name and, when known, the
// start of its digest.
func ImageString(img v1alpha1.Image) string {
	digest := img.Digest
	if alg, enc, ok := strings.Cut(digest, ":"); ok && len(enc) > 12 {
		digest = alg + ":" + enc[:12]
	}
	switch {
	case img.Name == "":
		return digest
	case digest == "":
		return img.Name + " (digest not known)"
	}
	return img.Name + "@" + digest
}

// ValidateImages checks a list of images: each has a name or a digest, a
// digest is one, and a name holds no digest.
func ValidateImages(images []v1alpha1.Image, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, img := range images {
		p := path.Index(i)
		if img.Name == "" && img.Digest == "" {
			errs = append(errs, field.Required(p, "an image needs a name or a digest"))
		}
		if img.Digest != "" && !imageDigest.MatchString(img.Digest) {
			errs = append(errs, field.Invalid(p.Child("digest"), img.Digest, fmt.Sprintf("not an image digest: write it as the pod status' imageID gives it after the @, e.g. sha256:%s", strings.Repeat("0", 64))))
		}
		if strings.Contains(img.Name, "@") {
			errs = append(errs, field.Invalid(p.Child("name"), img.Name, "the name holds a digest: put what follows the @ in digest"))
		}
	}
	return errs
}
