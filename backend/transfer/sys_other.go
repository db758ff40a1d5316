//go:build !linux

package transfer

import (
	"errors"
	"os"
	"runtime"
	"time"
)

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

// syncFSFlushesFiles is false: without syncfs, every new file is synced on its own.
const syncFSFlushesFiles = false

// syncFS flushes what it can where syncfs does not exist: the directory itself. Windows cannot
// flush a directory (FlushFileBuffers on its handle is refused).
func syncFS(d *os.File) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return d.Sync()
}

func (r *Root) space() (Space, error) { return Space{}, errors.ErrUnsupported }
