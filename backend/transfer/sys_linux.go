package transfer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openNoFollow opens rel read-only. os.Root resolves and confines the parent directory; the
// final component is opened with O_NOFOLLOW so a link there is refused, not followed.
// O_NONBLOCK keeps a FIFO swapped in at the last moment from blocking the open.
func openNoFollow(r *os.Root, rel string) (*os.File, error) {
	var fd int
	err := inParent(r, rel, func(dfd int, base string) (err error) {
		fd, err = retryEINTR(func() (int, error) {
			return unix.Openat(dfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		})
		switch {
		case err == unix.ELOOP:
			return unsafePath(itemPath(rel), "is a symbolic link")
		case err != nil:
			return &fs.PathError{Op: "open", Path: itemPath(rel), Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(r.Name(), rel)), nil
}

// setFileTime sets the modification time of an open file, leaving its access time alone.
func setFileTime(_ *os.Root, _ string, f *os.File, mtime time.Time) error {
	ts := times(mtime)
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		// utimensat(fd, NULL, …) is futimens: nanosecond precision, no path lookup.
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, fd, 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			serr = e
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &fs.PathError{Op: "futimens", Path: f.Name(), Err: serr}
	}
	return nil
}

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

// syncFS flushes the whole file system holding d.
func syncFS(d *os.File) error {
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", d.Name(), err)
	}
	return nil
}
