package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

func TestShowTableHasEverySection(t *testing.T) {
	got, err := runCLI(t, "show", fixture("web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Profile shop/web-nginx: container "nginx" of Deployment web`,
		"Recorded on 2 pods on node-a, node-b",
		"6 capability checks, 12 files, 4 destinations, 3 programs",
		"CAPABILITIES (6)", "│ CAP_NET_BIND_SERVICE │ Granted │", "add NET_BIND_SERVICE", "not added: probe", "not added: denied, coped",
		"FILES (12)", "│ /var/run/nginx.pid", "yes, written", "/proc/*/status", // normalised from /proc/1 and /proc/29
		"CONNECTIONS (4)", "DNS", "loopback",
		"EXECUTABLES (3)", "│ 0, 101 │",
		"SOURCES", "web-7d9f8c6b5-abcde", "Backends: capabilities fexit/cap_capable",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("show output lacks %q:\n%s", want, got)
		}
	}
}

func TestShowSaysWhatWasNotRecordedAndWhatWasCollapsed(t *testing.T) {
	local, err := runCLI(t, "show", fixture("local"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(local, "Recorded in 1 run on laptop") {
		t.Errorf("local recording summary missing:\n%s", local)
	}
	worker, err := runCLI(t, "show", fixture("worker"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(worker, "COLLAPSED (the profile is wider than what was observed here)") || !strings.Contains(worker, "more than 64 file entries under /app/lib") {
		t.Errorf("collapse not shown:\n%s", worker)
	}
	p, err := profiles.LoadFile(fixture("web"))
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Connections = nil
	p.Spec.Sources[0].Backends = map[string]string{"files": "lsm/file_open"}
	p.Spec.Sources[1].Backends = nil
	var buf bytes.Buffer
	if err := renderProfile(&buf, p, "table"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "CONNECTIONS (0)\n  not recorded") {
		t.Errorf("want connections marked as not recorded:\n%s", buf.String())
	}
}

func TestShowPrintsTheProfileAsYAMLOrJSON(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		got, err := runCLI(t, "show", fixture("web"), "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profiles.Load([]byte(got))
		if err != nil {
			t.Fatalf("-o %s output does not load back: %v", format, err)
		}
		if p.Spec.Files[5].Path != "/proc/*/status" {
			t.Errorf("-o %s: want the normalised profile, got files %+v", format, p.Spec.Files)
		}
	}
}

func TestShowRefusesBadInput(t *testing.T) {
	if _, err := runCLI(t, "show", fixture("web"), "-o", "xml"); err == nil || !strings.Contains(err.Error(), `unknown format "xml": use table, yaml, json`) {
		t.Errorf("got %v", err)
	}
	if _, err := runCLI(t, "show", "nope.yaml"); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("got %v", err)
	}
}

// Each source shows the image it ran, and a source an agent recorded for a
// policy (its pod ran an image the policy was not recorded from) says so.
func TestShowNamesEachSourcesImages(t *testing.T) {
	p, err := profiles.LoadFile(fixture("web"))
	if err != nil {
		t.Fatal(err)
	}
	v1 := v1alpha1.Image{Name: "docker.io/library/nginx:1.26", Digest: "sha256:" + strings.Repeat("1", 64)}
	v2 := v1alpha1.Image{Name: "docker.io/library/nginx:1.27", Digest: "sha256:" + strings.Repeat("2", 64)}
	p.Spec.Sources[0].Images = []v1alpha1.Image{v1}
	p.Spec.Sources[1].Images = []v1alpha1.Image{v2}
	p.Spec.Sources[1].Recording, p.Spec.Sources[1].Policy = "", "web-nginx"
	var out bytes.Buffer
	if err := renderProfileTables(&out, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IMAGES", "docker.io/library/nginx:1.26@sha256:111111111111", "policy web-nginx", "docker.io/library/nginx:1.27@sha256:222222222222"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show output lacks %q:\n%s", want, out.String())
		}
	}
}
