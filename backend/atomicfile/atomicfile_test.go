package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "folder")
	name := filepath.Join(dir, "settings.json")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(name)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("folder holds %v, %v; want the file alone (no temp file left)", entries, err)
	}
}

// A failed replace leaves what was there and no temp file.
func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(name, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, []byte("new"), 0o644); err == nil {
		t.Fatal("replaced a folder that holds files")
	}
	if _, err := os.Stat(filepath.Join(name, "inside")); err != nil {
		t.Fatalf("the folder changed: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("folder holds %v; want no temp file left", entries)
	}
}

func TestCreateNeverReplaces(t *testing.T) {
	name := filepath.Join(t.TempDir(), "identity.key")
	if err := Create(name, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(name, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want fs.ErrExist", err)
	}
	got, err := os.ReadFile(name)
	if err != nil || string(got) != "first" {
		t.Fatalf("read %q, %v; want first", got, err)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(name))
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
}
