package transfer

import (
	"io"
	"io/fs"
	"os"
	"path"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// file is an open file on a plain blocking descriptor. Regular files gain nothing from the
// runtime poller, and an os.File would register each one with it (and fail) on every open. A
// file is used by one goroutine at a time.
type file struct {
	fd   int
	name string // OS path, for messages
}

func (f *file) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := retryEINTR(func() (int, error) { return unix.Read(f.fd, p) })
	switch {
	case err != nil:
		return 0, f.pathError("read", err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	var n int
	for n < len(p) {
		k, err := retryEINTR(func() (int, error) { return unix.Pread(f.fd, p[n:], off+int64(n)) })
		switch {
		case err != nil:
			return n, f.pathError("read", err)
		case k == 0:
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

func (f *file) Write(p []byte) (int, error) {
	var n int
	for n < len(p) {
		k, err := retryEINTR(func() (int, error) { return unix.Write(f.fd, p[n:]) })
		switch {
		case err != nil:
			return n, f.pathError("write", err)
		case k == 0:
			return n, f.pathError("write", io.ErrShortWrite)
		}
		n += k
	}
	return n, nil
}

func (f *file) Stat() (fs.FileInfo, error) {
	fi := &fileInfo{name: path.Base(f.name)}
	if err := unix.Fstat(f.fd, &fi.st); err != nil {
		return nil, f.pathError("stat", err)
	}
	return fi, nil
}

func (f *file) Sync() error {
	if _, err := retryEINTR(func() (int, error) { return 0, unix.Fsync(f.fd) }); err != nil {
		return f.pathError("fsync", err)
	}
	return nil
}

func (f *file) Close() error {
	if f.fd < 0 {
		return f.pathError("close", os.ErrClosed)
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return f.pathError("close", err)
	}
	return nil
}

func (f *file) chmod(mode fs.FileMode) error {
	if err := unix.Fchmod(f.fd, uint32(mode.Perm())); err != nil {
		return f.pathError("chmod", err)
	}
	return nil
}

// setModTime sets the modification time, leaving the access time alone.
func (f *file) setModTime(mtime time.Time) error {
	ts := times(mtime)
	// utimensat(fd, NULL, …) is futimens: nanosecond precision, no path lookup.
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(f.fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return f.pathError("futimens", e)
	}
	return nil
}

// osFile hands the descriptor over to an *os.File.
func (f *file) osFile() *os.File {
	o := os.NewFile(uintptr(f.fd), f.name)
	f.fd = -1
	return o
}

func (f *file) pathError(op string, err error) error {
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

// fileInfo describes a file from its stat data.
type fileInfo struct {
	name string
	st   unix.Stat_t
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.st.Size }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *fileInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.st }

func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
