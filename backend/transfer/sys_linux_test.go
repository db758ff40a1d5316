package transfer

import (
	"os"
	"path/filepath"
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
	mustIs(t, Delete(r, "/fifo"), ErrNotRegular)
	mustIs(t, SetDates(r, "/fifo", Dates{ModTime: time.Now()}), ErrNotRegular)
	_, err = Copy(t.Context(), r, "/missing", r, "/fifo", CopyOptions{Size: -1})
	mustIs(t, err, os.ErrNotExist)
	if _, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil {
		t.Error(err)
	}
	assertNoTemp(t, dir)
}
