package transfer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

func TestCleanPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/", "."},
		{"/a", "a"},
		{"/a/b c/d.txt", "a/b c/d.txt"},
		{"/.hidden/..x/x..", ".hidden/..x/x.."},
		{"/é/日本", "é/日本"},
	} {
		got, err := cleanPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "a", "a/b", "../x", "./x", "/..", "/.", "/../x", "/a/../../x", "/a/./b", "/a/..",
		"//etc/passwd", "/a//b", "/a/", "/a\x00b", "/\x00", "\\x", "\\..\\x",
	} {
		if got, err := cleanPath(in); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("cleanPath(%q) = %q, %v; want ErrUnsafePath", in, got, err)
		}
	}
	// A backslash is a name character where the OS allows it in names, a separator on Windows.
	for _, in := range []string{"/a\\b", "/..\\x", "/\\", "/a\\..\\..\\x", "/d\\/..\\"} {
		got, err := cleanPath(in)
		if runtime.GOOS == "windows" {
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("cleanPath(%q) = %q, %v on Windows; want ErrUnsafePath", in, got, err)
			}
		} else if err != nil || got != in[1:] {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", in, got, err, in[1:])
		}
	}
}

// No item path, however crafted, makes any operation read, write, rename, date or delete
// anything outside the data source root.
func TestConfinement(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	rootDir := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	writeFile(t, outside, "sentinel", []byte("do not touch"), 0o644, testTime)
	writeFile(t, outside, "sub/x", []byte("nested"), 0o644, testTime)
	if err := os.MkdirAll(filepath.Join(outside, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, rootDir, "file", []byte("source content"), 0o644, testTime)
	writeFile(t, rootDir, "inner/y", []byte("inside"), 0o644, testTime)
	for link, target := range map[string]string{
		"link":  "../outside",
		"flink": "../outside/sentinel",
		"alink": outside,
		"ilink": "inner", // inside the root, still refused: inventories never follow links
	} {
		if err := os.Symlink(target, filepath.Join(rootDir, link)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenRoot(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := snapshot(t, base)

	delta := encodeDelta([]byte{0x41, 3}, []byte("bad"), []byte{0})
	ops := map[string]func(p string) error{
		"copy to": func(p string) error {
			_, err := Copy(t.Context(), r, "/file", r, p, CopyOptions{Size: -1})
			return err
		},
		"copy from": func(p string) error {
			_, err := Copy(t.Context(), r, p, r, "/copied", CopyOptions{Size: -1})
			return err
		},
		"delta copy to": func(p string) error {
			_, err := Copy(t.Context(), r, "/file", r, p, CopyOptions{Size: -1, Mode: Delta})
			return err
		},
		"apply delta": func(p string) error {
			_, err := ApplyDelta(t.Context(), r, p, bytes.NewReader(delta), CopyOptions{Size: -1})
			return err
		},
		"write from": func(p string) error {
			_, err := WriteFrom(t.Context(), r, p, strings.NewReader("bad"), CopyOptions{Size: -1})
			return err
		},
		"mkdir":               func(p string) error { return Mkdir(r, p) },
		"delete":              func(p string) error { return Delete(r, p, DeleteOptions{}) },
		"set dates":           func(p string) error { return SetDates(r, p, Dates{ModTime: time.Unix(0, 0)}) },
		"set directory dates": func(p string) error { return SetDirDates(r, p, time.Unix(0, 0)) },
		"open": func(p string) error {
			f, err := r.Open(p)
			if err == nil {
				f.Close()
			}
			return err
		},
		"signature": func(p string) error {
			var b bytes.Buffer
			return FileSignature(t.Context(), r, p, &b)
		},
	}
	backslashed := "/..\\outside\\sentinel"
	paths := []string{
		"/../outside/sentinel", "/../x", "/inner/../../outside/sentinel", "../outside/sentinel",
		"outside", "file", "//etc/passwd", "/file\x00",
		"/link", "/link/sentinel", "/link/new", "/link/sub", "/link/sub/x", "/link/empty", "/link/new/deeper/f",
		"/flink", "/alink/sentinel", "/alink/new", "/ilink/y", "/ilink/new",
	}
	if runtime.GOOS == "windows" {
		paths = append(paths, backslashed)
	}
	for name, op := range ops {
		for _, p := range paths {
			err := op(p)
			if !errors.Is(err, ErrUnsafePath) && (err == nil || !strings.Contains(err.Error(), "escapes")) {
				t.Errorf("%s %q: error = %v, want ErrUnsafePath", name, p, err)
			}
		}
	}
	if err := Delete(r, "/", DeleteOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("delete of the root: %v, want ErrUnsafePath", err)
	}
	sameSnapshot(t, "after escape attempts", before, snapshot(t, base))
	assertNoTemp(t, base)
	if runtime.GOOS == "windows" {
		return
	}
	// Elsewhere a backslash is a name character: the file is made inside the root, under
	// that very name, and nothing outside changes.
	outsideBefore := snapshot(t, outside)
	if _, err := Copy(t.Context(), r, "/file", r, backslashed, CopyOptions{Size: -1}); err != nil {
		t.Fatalf("copy to %q: %v", backslashed, err)
	}
	if b, err := os.ReadFile(filepath.Join(rootDir, backslashed[1:])); err != nil || string(b) != "source content" {
		t.Errorf("%q in the root = %q, %v", backslashed, b, err)
	}
	if err := Delete(r, backslashed, DeleteOptions{}); err != nil {
		t.Errorf("delete %q: %v", backslashed, err)
	}
	sameSnapshot(t, "after a backslashed name", outsideBefore, snapshot(t, outside))
}

func TestOpenRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, dir, "f", nil, 0o644, time.Time{})
	if _, err := OpenRoot(f); err == nil {
		t.Error("OpenRoot of a file succeeded")
	}
	if _, err := OpenRoot(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenRoot of a missing dir: %v", err)
	}
	r, err := OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != dir {
		t.Errorf("Name = %q", r.Name())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Mkdir(r, "/x"); err == nil {
		t.Error("Mkdir on a closed root succeeded")
	}
}

// The temp files Ferry makes are named so that scans skip them.
func TestTempNamesAreSkipped(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	d, err := r.openDir(rootRel, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	tf, err := d.createTemp("sub.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !inventory.IsTempName(tf.name) {
		t.Errorf("inventory.IsTempName(%q) = false", tf.name)
	}
	tf.discard()
	assertNoTemp(t, dir)
}
