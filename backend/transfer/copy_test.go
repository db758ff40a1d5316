package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCopyFull(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 4096 + 13, 10 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			src, sdir := newRoot(t)
			dst, ddir := newRoot(t)
			data := randomBytes(uint64(size), size)
			writeFile(t, sdir, "f.bin", data, 0o640, time.Unix(1e9, 0))
			var last int64
			res, err := Copy(t.Context(), src, "/f.bin", dst, "/f.bin", CopyOptions{
				Dates:    &Dates{ModTime: testTime, BirthTime: testTime},
				Size:     int64(size),
				Progress: func(n int64) { last = n },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("copied %d bytes via %s", size, res.method)
			if res.Mode != Full || res.Bytes != int64(size) {
				t.Errorf("result = %+v, want full %d", res, size)
			}
			if size > 0 && last != int64(size) {
				t.Errorf("last progress = %d, want %d", last, size)
			}
			p := filepath.Join(ddir, "f.bin")
			mustEqualFile(t, p, data)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(testTime) {
				t.Errorf("mtime = %v, want %v", fi.ModTime(), testTime)
			}
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
			}
			assertNoTemp(t, ddir)
		})
	}
}

func TestCopyContentDatesNow(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	writeFile(t, sdir, "a", []byte("hello"), 0o644, old)
	writeFile(t, ddir, "a", []byte("previous"), 0o644, old)
	before := time.Now()
	if _, err := Copy(t.Context(), src, "/a", dst, "/a", CopyOptions{Size: 5}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	fi, err := os.Stat(filepath.Join(ddir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	// File system clocks are coarse (a tick behind time.Now), hence the margin.
	if m := fi.ModTime(); m.Before(before.Add(-time.Second)) || m.After(after.Add(time.Second)) {
		t.Errorf("mtime = %v, want about now (%v … %v)", m, before, after)
	}
	mustEqualFile(t, filepath.Join(ddir, "a"), []byte("hello"))
}

func TestCopyCreatesParents(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	writeFile(t, sdir, "x/y.txt", []byte("deep"), 0o644, time.Time{})
	if _, err := Copy(t.Context(), src, "/x/y.txt", dst, "/a/b/c/y.txt", CopyOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, filepath.Join(ddir, "a/b/c/y.txt"), []byte("deep"))
	assertNoTemp(t, ddir)
}

func TestCopyOverwrite(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	data := randomBytes(7, 3000)
	writeFile(t, sdir, "f", data, 0o644, time.Time{})
	writeFile(t, ddir, "f", randomBytes(8, 9000), 0o600, time.Time{})
	if _, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Size: 3000, Dates: &Dates{ModTime: testTime}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(ddir, "f")
	mustEqualFile(t, p, data)
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want the source's 0644", fi.Mode().Perm())
	}
	assertNoTemp(t, ddir)
}

func TestCopySizeDiffersFromPlan(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	writeFile(t, sdir, "f", []byte("12345"), 0o644, time.Time{})
	writeFile(t, ddir, "f", []byte("keep"), 0o644, time.Time{})
	_, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Size: 4})
	mustIs(t, err, ErrSourceChanged)
	mustEqualFile(t, filepath.Join(ddir, "f"), []byte("keep"))
	assertNoTemp(t, ddir)
}

// A source that grows or shrinks while it is copied fails the copy; the target stays as it was.
func TestCopySourceChangesMidCopy(t *testing.T) {
	t.Parallel()
	const size = 3*chunkSize + 1234
	for _, tc := range []struct {
		name   string
		size   int64 // CopyOptions.Size
		change func(f *os.File) error
	}{
		{"grows", size, func(f *os.File) error { _, err := f.WriteAt([]byte("more"), size); return err }},
		{"grows-size-unknown", -1, func(f *os.File) error { _, err := f.WriteAt([]byte("more"), size); return err }},
		{"shrinks", size, func(f *os.File) error { return f.Truncate(chunkSize + 10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, sdir := newRoot(t)
			dst, ddir := newRoot(t)
			sp := writeFile(t, sdir, "big", randomBytes(1, size), 0o644, time.Time{})
			writeFile(t, ddir, "big", []byte("original"), 0o644, time.Time{})
			f, err := os.OpenFile(sp, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var once sync.Once
			_, err = Copy(t.Context(), src, "/big", dst, "/big", CopyOptions{Size: tc.size, Progress: func(int64) {
				once.Do(func() {
					if err := tc.change(f); err != nil {
						t.Error(err)
					}
				})
			}})
			mustIs(t, err, ErrSourceChanged)
			mustEqualFile(t, filepath.Join(ddir, "big"), []byte("original"))
			assertNoTemp(t, ddir)
		})
	}
}

// Cancelling mid-copy removes the temp file and leaves the target alone.
func TestCopyCancelMidCopy(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	const size = 4 * chunkSize
	writeFile(t, sdir, "big", randomBytes(2, size), 0o644, time.Time{})
	writeFile(t, ddir, "big", []byte("original"), 0o644, time.Time{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var calls int
	_, err := Copy(ctx, src, "/big", dst, "/big", CopyOptions{Size: size, Progress: func(int64) {
		calls++
		cancel()
	}})
	mustIs(t, err, context.Canceled)
	if calls > 1 {
		t.Errorf("copy went on for %d progress calls after the cancellation", calls-1)
	}
	mustEqualFile(t, filepath.Join(ddir, "big"), []byte("original"))
	assertNoTemp(t, ddir)
}

func TestCopyExpectedKey(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	data := randomBytes(3, 100_000)
	writeFile(t, sdir, "f", data, 0o644, time.Time{})
	writeFile(t, ddir, "f", []byte("original"), 0o644, time.Time{})
	key := keyOf(t, data)

	wrong := key
	wrong[0] ^= 1
	_, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Size: -1, Expected: wrong})
	mustIs(t, err, ErrMismatch)
	mustEqualFile(t, filepath.Join(ddir, "f"), []byte("original"))
	assertNoTemp(t, ddir)

	if _, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Size: -1, Expected: key}); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, filepath.Join(ddir, "f"), data)
}

func TestCopyRefusesNonFiles(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	writeFile(t, sdir, "f", []byte("x"), 0o644, time.Time{})
	if err := os.Mkdir(filepath.Join(sdir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ddir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(t.Context(), src, "/d", dst, "/x", CopyOptions{Size: -1})
	mustIs(t, err, ErrNotRegular)
	_, err = Copy(t.Context(), src, "/f", dst, "/d", CopyOptions{Size: -1})
	mustIs(t, err, ErrNotRegular)
	_, err = Copy(t.Context(), src, "/missing", dst, "/x", CopyOptions{Size: -1})
	mustIs(t, err, fs.ErrNotExist)
	_, err = Copy(t.Context(), src, "/f", dst, "/", CopyOptions{Size: -1})
	mustIs(t, err, ErrNotRegular)
	assertNoTemp(t, ddir)
}

// A name near the 255-byte limit still gets a temp file (its base is shortened).
func TestCopyLongName(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	name := strings.Repeat("é", 120) + ".txt" // 244 bytes
	writeFile(t, sdir, name, []byte("long"), 0o644, time.Time{})
	if _, err := Copy(t.Context(), src, "/"+name, dst, "/"+name, CopyOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, filepath.Join(ddir, name), []byte("long"))
	assertNoTemp(t, ddir)
}

func TestCopyDeltaMode(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	old := randomBytes(4, 1<<20)
	data := insertAt(old, 300_000, randomBytes(5, 1000))
	writeFile(t, sdir, "f", data, 0o640, time.Time{})
	writeFile(t, ddir, "f", old, 0o600, time.Time{})
	var progressed int64
	res, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{
		Mode: Delta, Size: int64(len(data)), Expected: keyOf(t, data),
		Dates:    &Dates{ModTime: testTime},
		Progress: func(n int64) { progressed = n },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("local delta: %d bytes for a %d-byte file", res.Bytes, len(data))
	if res.Mode != Delta || res.Bytes <= 0 || res.Bytes > int64(len(data))/20 || progressed != res.Bytes {
		t.Errorf("result = %+v (progress %d), want a small delta", res, progressed)
	}
	p := filepath.Join(ddir, "f")
	mustEqualFile(t, p, data)
	fi, _ := os.Stat(p)
	if !fi.ModTime().Equal(testTime) || fi.Mode().Perm() != 0o640 {
		t.Errorf("mtime %v mode %v, want %v 0640", fi.ModTime(), fi.Mode().Perm(), testTime)
	}
	assertNoTemp(t, ddir)

	_, err = Copy(t.Context(), src, "/f", dst, "/none", CopyOptions{Mode: Delta, Size: -1})
	mustIs(t, err, fs.ErrNotExist)
}

// A delta whose source changes size while it is read fails; the target is kept.
func TestCopyDeltaSourceChanges(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	old := randomBytes(4, 4<<20)
	sp := writeFile(t, sdir, "f", insertAt(old, 10, []byte("x")), 0o644, time.Time{})
	writeFile(t, ddir, "f", old, 0o644, time.Time{})
	f, err := os.OpenFile(sp, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var once sync.Once
	_, err = Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Mode: Delta, Size: -1, Progress: func(int64) {
		once.Do(func() {
			if _, err := f.Write([]byte("appended")); err != nil {
				t.Error(err)
			}
		})
	}})
	mustIs(t, err, ErrSourceChanged)
	mustEqualFile(t, filepath.Join(ddir, "f"), old)
	assertNoTemp(t, ddir)
}

// Many copies into one root at once, as the synchronization runs them.
func TestCopyConcurrent(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	const n = 64
	for i := range n {
		writeFile(t, sdir, fmt.Sprintf("d%d/f%d", i%4, i), randomBytes(uint64(i), 5000+i), 0o644, time.Time{})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			p := fmt.Sprintf("/d%d/f%d", i%4, i)
			_, errs[i] = Copy(t.Context(), src, p, dst, p, CopyOptions{Size: int64(5000 + i)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		mustEqualFile(t, filepath.Join(ddir, fmt.Sprintf("d%d/f%d", i%4, i)), randomBytes(uint64(i), 5000+i))
	}
	assertNoTemp(t, ddir)
}

func TestWriteFrom(t *testing.T) {
	t.Parallel()
	dst, ddir := newRoot(t)
	data := randomBytes(9, 3<<20+5)
	writeFile(t, ddir, "keep/f", []byte("old"), 0o600, time.Time{})
	res, err := WriteFrom(t.Context(), dst, "/keep/f", strings.NewReader(string(data)), CopyOptions{
		Size: int64(len(data)), Expected: keyOf(t, data), Dates: &Dates{ModTime: testTime},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(len(data)) {
		t.Errorf("bytes = %d", res.Bytes)
	}
	p := filepath.Join(ddir, "keep/f")
	mustEqualFile(t, p, data)
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(testTime) {
		t.Errorf("mode %v mtime %v: want the target's mode kept and the given date", fi.Mode().Perm(), fi.ModTime())
	}

	// Cancelled while streaming: nothing changes.
	ctx, cancel := context.WithCancel(t.Context())
	_, err = WriteFrom(ctx, dst, "/keep/f", strings.NewReader(string(data)), CopyOptions{Size: -1, Progress: func(int64) { cancel() }})
	mustIs(t, err, context.Canceled)
	mustEqualFile(t, p, data)
	// Short stream: size check.
	_, err = WriteFrom(t.Context(), dst, "/keep/f", strings.NewReader("abc"), CopyOptions{Size: 4})
	mustIs(t, err, ErrMismatch)
	mustEqualFile(t, p, data)
	assertNoTemp(t, ddir)
}

// The user-space fallback (file systems without copy_file_range) copies exactly and can be
// cancelled.
func TestStreamCopy(t *testing.T) {
	t.Parallel()
	_, dir := newRoot(t)
	data := randomBytes(10, 5*maxStreamBuf+77)
	sp := writeFile(t, dir, "src", data, 0o644, time.Time{})
	sf, err := os.Open(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	df, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	n, err := streamCopy(t.Context(), df, sf, int64(len(data)), nil)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	mustEqualFile(t, df.Name(), data)

	ctx, cancel := context.WithCancel(t.Context())
	if _, err := sf.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := df.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := df.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	n, err = streamCopy(ctx, df, sf, -1, func(int64) { cancel() })
	mustIs(t, err, context.Canceled)
	if n != maxStreamBuf {
		t.Errorf("copied %d bytes after cancellation, want one buffer", n)
	}
}

// A target the plan saw absent that appears while the copy runs is kept: the copy fails.
func TestCopyNewTargetAppears(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, ddir := newRoot(t)
	writeFile(t, sdir, "d/f", randomBytes(11, 5000), 0o644, time.Time{})
	for _, tc := range []struct {
		name   string
		appear func(p string) error
	}{
		{"file", func(p string) error { return os.WriteFile(p, []byte("made meanwhile"), 0o644) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"link", func(p string) error { return os.Symlink("elsewhere", p) }},
	} {
		p := filepath.Join(ddir, "d", tc.name)
		_, err := Copy(t.Context(), src, "/d/f", dst, "/d/"+tc.name, CopyOptions{
			Size: 5000, Target: &FileState{}, DeferSync: true,
			Progress: func(int64) {
				if err := tc.appear(p); err != nil {
					t.Error(err)
				}
			},
		})
		mustIs(t, err, ErrTargetChanged)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if tc.name == "file" {
			mustEqualFile(t, p, []byte("made meanwhile"))
		} else if fi.Mode().IsRegular() {
			t.Errorf("%s was replaced by a file", tc.name)
		}
	}
	assertNoTemp(t, ddir)
}

// Parent directories are looked up again when their path changed since an earlier copy: files
// go where the path leads now, and a link put there is refused.
func TestCopyParentChangedBetweenCopies(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, sdir := newRoot(t)
	ddir := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	mkdirs(t, base, "root/d/sub", "outside")
	dst, err := OpenRoot(ddir)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for _, name := range []string{"a", "b", "c", "e"} {
		writeFile(t, sdir, name, []byte(name), 0o644, time.Time{})
	}
	copyTo := func(name, to string) error {
		_, err := Copy(t.Context(), src, "/"+name, dst, to, CopyOptions{Size: 1})
		return err
	}
	if err := copyTo("a", "/d/sub/a"); err != nil {
		t.Fatal(err)
	}
	// Renamed, and a new directory made at the old path.
	if err := os.Rename(filepath.Join(ddir, "d"), filepath.Join(ddir, "moved")); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, ddir, "d/sub")
	if err := copyTo("b", "/d/sub/b"); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, filepath.Join(ddir, "d/sub/b"), []byte("b"))
	if _, err := os.Lstat(filepath.Join(ddir, "moved/sub/b")); !os.IsNotExist(err) {
		t.Errorf("b went to the renamed directory: %v", err)
	}
	// Replaced by links, to a directory outside and inside the root.
	if err := os.RemoveAll(filepath.Join(ddir, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ddir, "d")); err != nil {
		t.Fatal(err)
	}
	mustIs(t, copyTo("c", "/d/sub/c"), ErrUnsafePath)
	mustIs(t, copyTo("c", "/d/c"), ErrUnsafePath)
	if err := os.Remove(filepath.Join(ddir, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("moved", filepath.Join(ddir, "d")); err != nil {
		t.Fatal(err)
	}
	mustIs(t, copyTo("e", "/d/e"), ErrUnsafePath)
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 0 {
		t.Errorf("outside holds %v (%v)", entries, err)
	}
	assertNoTemp(t, base)
}

// Reads follow the same rule: a source parent renamed since an earlier read is looked up again.
func TestOpenParentChanged(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	writeFile(t, dir, "d/f", []byte("first"), 0o644, time.Time{})
	f, err := r.Open("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "old")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "d/f", []byte("second"), 0o644, time.Time{})
	f, err = r.Open("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 10)
	n, _ := f.Read(b)
	if string(b[:n]) != "second" {
		t.Errorf("read %q from the renamed directory", b[:n])
	}
}

// A file system that cannot clone is asked once per pair of roots, not once per file.
func TestCopyRemembersNoClone(t *testing.T) {
	t.Parallel()
	src, sdir := newRoot(t)
	dst, _ := newRoot(t)
	writeFile(t, sdir, "f", []byte("content"), 0o644, time.Time{})
	res, err := Copy(t.Context(), src, "/f", dst, "/f", CopyOptions{Size: 7})
	if err != nil {
		t.Fatal(err)
	}
	pair := clonePair{src, dst}
	if got := pair.enabled(); got != (res.method == viaReflink) {
		t.Errorf("copied via %s, clone still enabled: %v", res.method, got)
	}
	if !(clonePair{dst, src}).enabled() {
		t.Error("the refusal applies to the other direction too")
	}
}
