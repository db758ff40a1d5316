package transfer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testVersions = &Versions{Dir: ".v", Stamp: "2026-12-05T201500Z"}

// kept is where the version of the item rel went.
func kept(dir, rel string) string {
	return filepath.Join(dir, ".v", "2026-12-05T201500Z", filepath.FromSlash(rel))
}

func mustMtime(t *testing.T, p string, want time.Time) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(want) {
		t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), want)
	}
}

// Every way of replacing a file keeps the old one, with its content and dates, in the run's
// versions folder; the new content is in place.
func TestVersionsOfReplacedFiles(t *testing.T) {
	t.Parallel()
	old, now := time.Unix(1e9, 0), testTime
	oldData := randomBytes(1, 64<<10)
	newData := append(bytes.Clone(oldData), "and an edit"...)
	writers := map[string]func(t *testing.T, r *Root, dir string, o CopyOptions) error{
		"copy": func(t *testing.T, r *Root, dir string, o CopyOptions) error {
			writeFile(t, dir, "src/f", newData, 0o644, now)
			_, err := Copy(t.Context(), r, "/src/f", r, "/d/f", o)
			return err
		},
		"write from": func(t *testing.T, r *Root, dir string, o CopyOptions) error {
			_, err := WriteFrom(t.Context(), r, "/d/f", bytes.NewReader(newData), o)
			return err
		},
		"apply delta": func(t *testing.T, r *Root, dir string, o CopyOptions) error {
			_, err := ApplyDelta(t.Context(), r, "/d/f", bytes.NewReader(makeDeltaBytes(t, oldData, newData)), o)
			return err
		},
	}
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, dir := newRoot(t)
			target := writeFile(t, dir, "d/f", oldData, 0o640, old)
			o := CopyOptions{Size: int64(len(newData)), Dates: &Dates{ModTime: now}, Versions: testVersions,
				Target: &FileState{Exists: true, Size: int64(len(oldData)), ModTime: old}}
			if err := write(t, r, dir, o); err != nil {
				t.Fatal(err)
			}
			mustEqualFile(t, target, newData)
			mustEqualFile(t, kept(dir, "/d/f"), oldData)
			mustMtime(t, kept(dir, "/d/f"), old)
			mustMtime(t, target, now)

			// Replaced again in the same run: the first version stays, the second gets a new name.
			if _, err := WriteFrom(t.Context(), r, "/d/f", strings.NewReader("third"), CopyOptions{Size: -1, Versions: testVersions}); err != nil {
				t.Fatal(err)
			}
			mustEqualFile(t, kept(dir, "/d/f"), oldData)
			mustEqualFile(t, kept(dir, "/d/f.~1~"), newData)
			assertNoTemp(t, dir)
		})
	}
}

// A new file keeps nothing; a delete moves the file, with its dates, and a directory is removed
// once its files are kept.
func TestVersionsOfDeletedFiles(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	old := time.Unix(1e9, 0)
	writeFile(t, dir, "d/sub/f", []byte("f"), 0o644, old)
	writeFile(t, dir, "g", []byte("g"), 0o644, old)
	if _, err := WriteFrom(t.Context(), r, "/new", strings.NewReader("new"), CopyOptions{Size: -1, Versions: testVersions,
		Target: &FileState{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".v")); !os.IsNotExist(err) {
		t.Fatalf("a new file made a versions folder: %v", err)
	}
	o := DeleteOptions{Versions: testVersions}
	for _, p := range []string{"/d/sub/f", "/g", "/d/sub", "/d", "/missing"} {
		if err := Delete(r, p, o); err != nil {
			t.Fatalf("delete %s: %v", p, err)
		}
	}
	for _, rel := range []string{"d", "g"} {
		if _, err := os.Lstat(filepath.Join(dir, rel)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it deleted", rel, err)
		}
	}
	mustEqualFile(t, kept(dir, "/d/sub/f"), []byte("f"))
	mustMtime(t, kept(dir, "/d/sub/f"), old)
	mustEqualFile(t, kept(dir, "/g"), []byte("g"))
	// A file deleted again under the same name in the run is kept beside the first one.
	writeFile(t, dir, "g", []byte("g2"), 0o644, old)
	if err := Delete(r, "/g", o); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, kept(dir, "/g.~1~"), []byte("g2"))
}

// The versions folder never leads outside the root: an unsafe setting, or a link on the way,
// fails the replace or the delete and changes nothing.
func TestVersionsStayInTheRoot(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	writeFile(t, dir, "f", []byte("f"), 0o644, time.Unix(1e9, 0))
	writeFile(t, outside, "sentinel", []byte("s"), 0o644, time.Unix(1e9, 0))
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := snapshot(t, outside)
	for _, v := range []*Versions{
		{Dir: "../outside", Stamp: "s"}, {Dir: "/abs", Stamp: "s"}, {Dir: ".v", Stamp: "../../outside"},
		{Dir: "link", Stamp: "s"}, {Dir: ".v", Stamp: ""}, {Dir: "", Stamp: "s"},
	} {
		_, err := WriteFrom(t.Context(), r, "/f", strings.NewReader("new"), CopyOptions{Size: -1, Versions: v})
		mustIs(t, err, ErrUnsafePath)
		mustIs(t, Delete(r, "/f", DeleteOptions{Versions: v}), ErrUnsafePath)
	}
	sameSnapshot(t, "after unsafe versions folders", before, snapshot(t, outside))
	mustEqualFile(t, filepath.Join(dir, "f"), []byte("f"))
	if _, err := os.Stat(filepath.Join(dir, ".v")); !os.IsNotExist(err) {
		t.Errorf("a versions folder was made: %v", err)
	}
	assertNoTemp(t, dir)
}

func TestPruneVersions(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	for _, rel := range []string{".v/2020-01-01T000000Z/a/f", ".v/2021-01-01T000000Z/g", ".v/2026-12-05T201500Z/h", ".v/notes/n"} {
		writeFile(t, dir, rel, []byte("x"), 0o644, time.Time{})
	}
	writeFile(t, dir, ".v/2019-01-01T000000Z", []byte("a file, not a run"), 0o644, time.Time{})
	outside := t.TempDir()
	writeFile(t, outside, "sentinel", []byte("s"), 0o644, time.Time{})
	if err := os.Symlink(outside, filepath.Join(dir, ".v", "2018-01-01T000000Z")); err != nil {
		t.Fatal(err)
	}
	old := func(name string) bool { return name < "2022" }
	removed, err := PruneVersions(r, ".v", old)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/.v/2020-01-01T000000Z", "/.v/2021-01-01T000000Z"}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, rel := range []string{".v/2026-12-05T201500Z/h", ".v/notes/n", ".v/2019-01-01T000000Z", ".v/2018-01-01T000000Z"} {
		if _, err := os.Lstat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	mustEqualFile(t, filepath.Join(outside, "sentinel"), []byte("s"))
	if removed, err := PruneVersions(r, "missing", old); err != nil || len(removed) != 0 {
		t.Errorf("a missing folder: %q, %v", removed, err)
	}
	for _, bad := range []string{"../x", "", "/abs"} {
		if _, err := PruneVersions(r, bad, old); err == nil {
			t.Errorf("PruneVersions(%q) succeeded", bad)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := PruneVersions(r, "link", func(string) bool { return true }); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("a versions folder that is a link: %v", err)
	}
	mustEqualFile(t, filepath.Join(outside, "sentinel"), []byte("s"))
}
