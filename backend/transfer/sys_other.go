//go:build !linux

package transfer

import (
	"os"
	"time"
)

// openNoFollow opens rel read-only, refusing a symbolic link at the final component. Without
// openat(O_NOFOLLOW) the check and the open are two steps; os.Root keeps both confined.
func openNoFollow(r *os.Root, rel string) (*os.File, error) {
	if err := noLink(r, rel); err != nil {
		return nil, err
	}
	return r.Open(rel)
}

// setFileTime sets the modification time of the file rel, open as f.
func setFileTime(r *os.Root, rel string, _ *os.File, mtime time.Time) error {
	return r.Chtimes(rel, time.Time{}, mtime)
}

// setPathTime sets the modification time of the regular file rel, refusing a link.
func setPathTime(r *os.Root, rel string, mtime time.Time) error {
	if err := noLink(r, rel); err != nil {
		return err
	}
	fi, err := r.Lstat(rel)
	if err != nil {
		return err
	}
	if err := regular(rel, fi); err != nil {
		return err
	}
	return r.Chtimes(rel, time.Time{}, mtime)
}

func noLink(r *os.Root, rel string) error {
	fi, err := r.Lstat(rel)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return unsafePath(itemPath(rel), "is a symbolic link")
	}
	return nil
}

// removeDir removes the empty directory rel.
func removeDir(r *os.Root, rel string) error {
	return r.Remove(rel)
}

// syncFS flushes what it can where syncfs does not exist: the directory itself.
func syncFS(d *os.File) error { return d.Sync() }
