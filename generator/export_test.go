package generator

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// TestExportWritesEachArtifactAsItsGenerator checks that each artifact's
// name leads to its generator with the options that apply to it: the
// output is the golden file of the generator called directly.
func TestExportWritesEachArtifactAsItsGenerator(t *testing.T) {
	for _, tc := range []struct {
		golden, fixture, artifact string
		opts                      ExportOptions
		wantNotes                 bool
	}{
		{golden: "web-securitycontext", fixture: "web", artifact: "securitycontext"},
		{golden: "api-securitycontext-localhost", fixture: "api", artifact: "securitycontext"},
		{golden: "web-policy", fixture: "web", artifact: "policy"},
		{golden: "worker-policy-enforce-kill", fixture: "worker", artifact: "policy", opts: ExportOptions{Mode: v1alpha1.ModeEnforce, Action: v1alpha1.ActionKill}},
		{golden: "web-networkpolicy", fixture: "web", artifact: "networkpolicy", opts: ExportOptions{PodSelector: webSelector, Resolver: clusterResolver{}}},
		{golden: "web-tetragon", fixture: "web", artifact: "tetragon", opts: ExportOptions{PodSelector: webSelector}},
		{golden: "api-seccomp", fixture: "api", artifact: "seccomp", opts: ExportOptions{SeccompFormat: "oci"}, wantNotes: true}, // the companions allowed
		{golden: "api-seccomp-spo", fixture: "api", artifact: "seccomp", opts: ExportOptions{SeccompFormat: "spo"}, wantNotes: true},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			p := loadFixture(t, tc.fixture)
			if tc.golden == "api-securitycontext-localhost" {
				// As TestSeccompGolden made it.
				tc.opts.SeccompLocalhost = SeccompLocalhostProfile(p.Namespace, "api-server")
			}
			got, notes, err := Export(p, tc.artifact, tc.opts)
			if err != nil {
				t.Fatalf("Export(%s, %s): %v", p.Name, tc.artifact, err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", tc.golden+".golden.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Export(%s) differs from %s.golden.yaml:\n%s", tc.artifact, tc.golden, lineDiff(string(want), string(got)))
			}
			if (len(notes) > 0) != tc.wantNotes {
				t.Errorf("notes = %q, want some: %v", notes, tc.wantNotes)
			}
		})
	}
}

func TestExportRefusesWhatItCannotWrite(t *testing.T) {
	api := loadFixture(t, "api")
	unnamed := api.DeepCopy()
	unnamed.Name = ""
	// As recorded before footprint recorded socket families: its seccomp
	// profile comes with a note.
	older := api.DeepCopy()
	for i := range older.Spec.Syscalls {
		older.Spec.Syscalls[i].SocketFamilies = nil
	}

	_, notes, err := Export(older, "seccomp", ExportOptions{SeccompFormat: "docker"})
	var format *UnknownFormatError
	if !errors.As(err, &format) || format.Format != "docker" || !strings.Contains(err.Error(), "use oci") {
		t.Errorf("format docker: %v, want an UnknownFormatError saying to use oci or spo", err)
	}
	if len(notes) == 0 {
		t.Error("the seccomp profile's notes are lost with a format error")
	}
	if _, _, err := Export(unnamed, "seccomp", ExportOptions{SeccompFormat: "spo"}); err == nil || !strings.Contains(err.Error(), "a SeccompProfile needs a name: give --name") {
		t.Errorf("an SPO profile of an unnamed profile: %v, want an error asking for --name", err)
	}
	if out, _, err := Export(unnamed, "seccomp", ExportOptions{SeccompFormat: "spo", Name: "api", Target: Target{Namespace: "dev"}}); err != nil || !bytes.Contains(out, []byte("name: api\n  namespace: dev\n")) {
		t.Errorf("an SPO profile named by the options: %v\n%s", err, out)
	}
	if _, _, err := Export(api, "helm", ExportOptions{}); err == nil || !strings.Contains(err.Error(), `unknown artifact "helm"`) {
		t.Errorf("artifact helm: %v, want an error naming it", err)
	}
	if _, _, err := Export(loadFixture(t, "local"), "securitycontext", ExportOptions{}); !errors.Is(err, errNoWorkload) {
		t.Errorf("a securityContext of a local profile with no workload: %v, want errNoWorkload", err)
	}
}
