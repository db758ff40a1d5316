//go:build linux

package transfer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferrysync/ferry/backend/inventory"
)

func dirID(t *testing.T, dir string) inventory.DirID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return inventory.DirID{Dev: st.Dev, Ino: st.Ino}
}

// Open checks the directory it holds against the inventory's and that the path still leads to
// it; a failed root stays failed, closed.
func TestRootsReplaced(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir, other := filepath.Join(base, "root"), filepath.Join(base, "other")
	for _, d := range []string{dir, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	id := dirID(t, dir)

	s := NewRoots()
	defer s.Close()
	r, err := s.Open(dir, id, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Open(dir, id, Exclusive); err != nil || again != r {
		t.Fatalf("second Open = %p, %v; want the same root %p", again, err, r)
	}
	if _, err := NewRoots().Open(dir, dirID(t, other), NoLock); !errors.Is(err, ErrRootReplaced) {
		t.Fatalf("Open with another directory's identity: %v", err)
	}

	// Moved away, then a link in its place: the root held is not what the path leads to.
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(dir, id, Shared); !errors.Is(err, ErrRootReplaced) {
		t.Fatalf("Open once moved away: %v", err)
	}
	if err := os.Symlink(other, dir); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(dir)
	want := "data source folder " + dir + " was replaced since it was inventoried: nothing was changed there"
	if !errors.Is(err, ErrRootReplaced) || err.Error() != want {
		t.Fatalf("Get after the failure: %v, want %q", err, want)
	}
	if err := Mkdir(r, "/x"); err == nil {
		t.Fatal("the failed root is still open")
	}
	if _, err := NewRoots().Open(dir, id, Shared); !errors.Is(err, ErrRootReplaced) {
		t.Fatalf("a fresh Open through the link: %v", err)
	}
}

// Locks: shared with shared, nothing with exclusive; released by Close.
func TestRootsLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := dirID(t, dir)
	first, second := NewRoots(), NewRoots()
	defer second.Close()
	if _, err := first.Open(dir, id, Shared); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Open(dir, id, Shared); err != nil {
		t.Fatalf("a second shared lock: %v", err)
	}
	if _, err := first.Open(dir, id, Exclusive); !errors.Is(err, ErrRootBusy) || !strings.Contains(err.Error(), "another Ferry run is using "+dir) {
		t.Fatalf("exclusive while shared elsewhere: %v", err)
	}
	second.Close()
	third := NewRoots()
	defer third.Close()
	if _, err := third.Open(dir, id, Exclusive); err != nil {
		t.Fatalf("exclusive once the others closed: %v", err)
	}
	if _, err := NewRoots().Open(dir, id, Shared); !errors.Is(err, ErrRootBusy) {
		t.Fatalf("shared while exclusive elsewhere: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the lock left %d entries in the folder", len(entries))
	}
}
