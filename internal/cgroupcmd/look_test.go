package cgroupcmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookCommandFindsProgramsAsAShellDoesAndSaysWhyNot(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tool := write("tool", 0o755)
	plain := write("plain", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Chdir(dir)

	tests := []struct {
		name     string
		want     string
		wantErr  error
		wantText string
	}{
		{name: "tool", want: tool},
		{name: tool, want: tool},
		{name: "absent", wantErr: ErrCommandNotFound, wantText: "absent is not in $PATH"},
		{name: filepath.Join(dir, "absent"), wantErr: ErrCommandNotFound, wantText: "no such file"},
		{name: filepath.Join(dir, "sub"), wantErr: ErrCommandNotExecutable, wantText: "is a directory"},
		{name: plain, wantErr: ErrCommandNotExecutable, wantText: "not a file with execute permission"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LookCommand(tc.name)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("LookCommand(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("LookCommand(%q) = %q, %v; want an error wrapping %v saying %q", tc.name, got, err, tc.wantErr, tc.wantText)
			}
		})
	}
}
