package transfer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDelete(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		path  string
		want  error // nil: success and the path is gone
	}{
		{"file", func(t *testing.T, dir string) { writeFile(t, dir, "a/f", []byte("x"), 0o644, time.Time{}) }, "/a/f", nil},
		{"empty dir", func(t *testing.T, dir string) { mkdirs(t, dir, "d") }, "/d", nil},
		{"dir with empty sub-dirs", func(t *testing.T, dir string) { mkdirs(t, dir, "d/a/b/c", "d/e", "d/f/g") }, "/d", nil},
		{"missing", func(t *testing.T, dir string) {}, "/nothing", nil},
		{"missing parent", func(t *testing.T, dir string) {}, "/no/such/thing", nil},
		{"dir with a file deep below", func(t *testing.T, dir string) {
			mkdirs(t, dir, "d/a/b", "d/e")
			writeFile(t, dir, "d/a/b/c/deep.txt", []byte("x"), 0o644, time.Time{})
		}, "/d", ErrDirectoryNotEmpty},
		{"dir with a link below", func(t *testing.T, dir string) {
			mkdirs(t, dir, "d/a")
			if err := os.Symlink("../../elsewhere", filepath.Join(dir, "d/a/l")); err != nil {
				t.Fatal(err)
			}
		}, "/d", ErrDirectoryNotEmpty},
		{"parent is a file", func(t *testing.T, dir string) { writeFile(t, dir, "f", nil, 0o644, time.Time{}) }, "/f/x", ErrNotDir},
		{"symlink", func(t *testing.T, dir string) {
			writeFile(t, dir, "f", nil, 0o644, time.Time{})
			if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
				t.Fatal(err)
			}
		}, "/l", ErrUnsafePath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, dir := newRoot(t)
			tc.setup(t, dir)
			before := snapshot(t, dir)
			err := Delete(r, tc.path, DeleteOptions{})
			if tc.want != nil {
				mustIs(t, err, tc.want)
				sameSnapshot(t, "refused delete", before, snapshot(t, dir))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(dir, tc.path)); !os.IsNotExist(err) {
				t.Errorf("%s still there: %v", tc.path, err)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("root gone: %v", err)
			}
		})
	}
}

func TestMkdir(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	writeFile(t, dir, "f", nil, 0o644, time.Time{})
	for _, p := range []string{"/a/b/c", "/a/b/c", "/a", "/"} {
		if err := Mkdir(r, p); err != nil {
			t.Fatalf("Mkdir(%q): %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "a/b/c")); err != nil || !fi.IsDir() {
		t.Fatalf("a/b/c: %v", err)
	}
	mustIs(t, Mkdir(r, "/f"), ErrNotDir)
	mustIs(t, Mkdir(r, "/f/sub"), ErrNotDir)
}

func TestSetDates(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	p := writeFile(t, dir, "d/f", []byte("x"), 0o644, time.Unix(1e9, 0))
	atime := time.Unix(1e9, 0)
	if err := os.Chtimes(p, atime, time.Unix(1e9, 0)); err != nil {
		t.Fatal(err)
	}
	if err := SetDates(r, "/d/f", Dates{ModTime: testTime, BirthTime: testTime}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(testTime) {
		t.Errorf("mtime = %v, want %v", fi.ModTime(), testTime)
	}
	mustIs(t, SetDates(r, "/d/missing", Dates{ModTime: testTime}), os.ErrNotExist)
	mustIs(t, SetDates(r, "/nodir/missing", Dates{ModTime: testTime}), os.ErrNotExist)
	mustIs(t, SetDates(r, "/d", Dates{ModTime: testTime}), ErrNotRegular)
	mustIs(t, SetDates(r, "/", Dates{ModTime: testTime}), ErrNotRegular)
	if err := SetDates(r, "/d/f", Dates{}); err != nil {
		t.Errorf("zero dates: %v", err)
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(testTime) {
		t.Errorf("zero dates changed mtime to %v", fi.ModTime())
	}
}

func TestSetDirDates(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	writeFile(t, dir, "d/sub/f", []byte("x"), 0o644, time.Unix(1e9, 0))
	for i, p := range []string{"/d/sub", "/d", "/"} {
		want := testTime.Add(time.Duration(i) * time.Hour)
		if err := SetDirDates(r, p, want); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: mtime = %v, want %v", p, fi.ModTime(), want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "d", "sub", "f")); !fi.ModTime().Equal(time.Unix(1e9, 0)) {
		t.Errorf("the file inside changed: %v", fi.ModTime())
	}
	mustIs(t, SetDirDates(r, "/d/missing", testTime), os.ErrNotExist)
	mustIs(t, SetDirDates(r, "/nodir/missing", testTime), os.ErrNotExist)
	mustIs(t, SetDirDates(r, "/d/sub/f", testTime), ErrNotDir)
	if err := os.Symlink("sub", filepath.Join(dir, "d", "link")); err != nil {
		t.Fatal(err)
	}
	mustIs(t, SetDirDates(r, "/d/link", testTime), ErrUnsafePath)
	mustIs(t, SetDirDates(r, "/d/link/f", testTime), ErrUnsafePath)
}

func mkdirs(t *testing.T, dir string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
