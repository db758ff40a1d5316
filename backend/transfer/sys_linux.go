package transfer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// setPathTime sets the modification time of the regular file rel without following a link at
// the final component.
func setPathTime(r *os.Root, rel string, mtime time.Time) error {
	ts := times(mtime)
	return inParent(r, rel, func(dfd int, base string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "stat", Path: itemPath(rel), Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFLNK:
			return unsafePath(itemPath(rel), "is a symbolic link")
		default:
			return fmt.Errorf("%s: %w", itemPath(rel), ErrNotRegular)
		}
		if err := unix.UtimesNanoAt(dfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &fs.PathError{Op: "utimensat", Path: itemPath(rel), Err: err}
		}
		return nil
	})
}

func times(mtime time.Time) [2]unix.Timespec {
	return [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
}

// inParent opens the parent directory of rel through os.Root and runs f on it.
func inParent(r *os.Root, rel string, f func(dfd int, base string) error) error {
	d, err := r.Open(path.Dir(rel))
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd), path.Base(rel)) }); err != nil {
		return err
	}
	return ferr
}

func retryEINTR[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// removeDir removes the empty directory rel (never a file, never through a link).
func removeDir(r *os.Root, rel string) error {
	return inParent(r, rel, func(dfd int, base string) error {
		_, err := retryEINTR(func() (struct{}, error) {
			return struct{}{}, unix.Unlinkat(dfd, base, unix.AT_REMOVEDIR)
		})
		if err != nil {
			return &fs.PathError{Op: "rmdir", Path: itemPath(rel), Err: err}
		}
		return nil
	})
}

// syncFSFlushesFiles says that syncFS makes every file written before it durable.
const syncFSFlushesFiles = true

// syncFS flushes the whole file system holding d.
func syncFS(d *os.File) error {
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return &fs.PathError{Op: "syncfs", Path: d.Name(), Err: err}
	}
	return nil
}

func (r *Root) space() (Space, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(r.dirs.root.fd, &st); err != nil {
		return Space{}, &fs.PathError{Op: "statfs", Path: r.Name(), Err: err}
	}
	bs := st.Frsize
	if bs <= 0 {
		bs = st.Bsize
	}
	s := Space{Dev: r.dirs.root.dev, Free: int64(st.Bavail) * bs, BlockSize: max(bs, 1), FreeFiles: -1}
	if st.Files > 0 {
		s.FreeFiles = int64(st.Ffree)
	}
	return s, nil
}
