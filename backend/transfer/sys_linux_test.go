package transfer

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Special files are never read, dated or deleted as if they were files; a FIFO does not block
// the opening.
func TestSpecialFilesRefused(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(t.Context(), r, "/fifo", r, "/copy", CopyOptions{Size: -1})
	mustIs(t, err, ErrNotRegular)
	mustIs(t, Delete(r, "/fifo", DeleteOptions{}), ErrNotRegular)
	mustIs(t, SetDates(r, "/fifo", Dates{ModTime: time.Now()}), ErrNotRegular)
	_, err = Copy(t.Context(), r, "/missing", r, "/fifo", CopyOptions{Size: -1})
	mustIs(t, err, os.ErrNotExist)
	if _, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil {
		t.Error(err)
	}
	assertNoTemp(t, dir)
}

// A root keeps at most maxOpenDirs directories open between operations, and none once closed,
// even with copies running into many directories at once.
func TestRootBoundsOpenDirs(t *testing.T) {
	before := openFds(t)
	src, sdir := newRoot(t)
	writeFile(t, sdir, "f", []byte("x"), 0o644, time.Time{})
	dst, err := OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const dirs = 2*maxOpenDirs + 10
	var wg sync.WaitGroup
	errs := make(chan error, dirs)
	for i := range dirs {
		wg.Go(func() {
			_, err := Copy(t.Context(), src, "/f", dst, fmt.Sprintf("/a%d/b/f", i), CopyOptions{Size: 1})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each root holds two descriptors on itself; the target root holds its directories too.
	if n := openFds(t); n > before+2*2+maxOpenDirs {
		t.Errorf("%d descriptors open, %d before", n, before)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFds(t); n != before {
		t.Errorf("%d descriptors open after Close, %d before", n, before)
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
