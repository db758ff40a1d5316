//go:build linux

package inventory

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux file system access: directories are read with getdents64 and their children stat'ed with
// statx relative to the directory descriptor, so no path is resolved more than once.

const (
	statxMask  = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_BTIME
	statxFlags = unix.AT_SYMLINK_NOFOLLOW | unix.AT_NO_AUTOMOUNT | unix.AT_STATX_SYNC_AS_STAT
	dirFlags   = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
)

// dirHandle is an open directory.
type dirHandle struct{ fd int }

func openDir(path string) (dirHandle, error) {
	fd, err := retry(func() (int, error) { return unix.Open(path, dirFlags, 0) })
	return dirHandle{fd}, err
}

func (d dirHandle) openDir(name string) (dirHandle, error) {
	fd, err := retry(func() (int, error) { return unix.Openat(d.fd, name, dirFlags, 0) })
	return dirHandle{fd}, err
}

func (d dirHandle) close() { unix.Close(d.fd) }

// modTime is the directory's last modification time.
func (d dirHandle) modTime() (time.Time, error) {
	var st unix.Stat_t
	if _, err := retry(func() (int, error) { return 0, unix.Fstat(d.fd, &st) }); err != nil {
		return time.Time{}, err
	}
	return time.Unix(st.Mtim.Unix()).UTC(), nil
}

// id identifies the open directory.
func (d dirHandle) id() (DirID, error) {
	var st unix.Stat_t
	if _, err := retry(func() (int, error) { return 0, unix.Fstat(d.fd, &st) }); err != nil {
		return DirID{}, err
	}
	return DirID{Dev: st.Dev, Ino: st.Ino}, nil
}

// pathID identifies the directory at path, following symbolic links.
func pathID(path string) (DirID, error) {
	var st unix.Stat_t
	if _, err := retry(func() (int, error) { return 0, unix.Stat(path, &st) }); err != nil {
		return DirID{}, err
	}
	return DirID{Dev: st.Dev, Ino: st.Ino}, nil
}

// stat describes the child name without following a symbolic link.
func (d dirHandle) stat(name string) (fileInfo, error) {
	var st unix.Statx_t
	_, err := retry(func() (int, error) { return 0, statx(d.fd, name, &st) })
	if err != nil {
		return fileInfo{}, err
	}
	return statxInfo(&st), nil
}

// statx is unix.Statx with statxFlags and statxMask, without copying name to the heap: a name
// of up to 255 bytes gets its terminating NUL in a buffer on the stack. A walk stats every file,
// and that copy was its largest allocation.
func statx(dirfd int, name string, st *unix.Statx_t) error {
	var buf [256]byte
	if len(name) >= len(buf) || strings.IndexByte(name, 0) >= 0 {
		return unix.Statx(dirfd, name, statxFlags, statxMask, st)
	}
	copy(buf[:], name)
	_, _, errno := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(&buf[0])),
		statxFlags, statxMask, uintptr(unsafe.Pointer(st)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// statPath describes path without following a final symbolic link.
func statPath(path string) (fileInfo, error) {
	return dirHandle{unix.AT_FDCWD}.stat(path)
}

// list adds the children of the directory ("." and ".." excluded) to l in directory order. buf
// is scratch space for getdents64.
func (d dirHandle) list(buf []byte, l *listing) error {
	for {
		n, err := retry(func() (int, error) { return unix.Getdents(d.fd, buf) })
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
		for off := 0; off < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return errors.New("malformed directory record")
			}
			typ, rec := buf[off+18], buf[off+19:off+reclen]
			off += reclen
			name := rec[:clen(rec)]
			if len(name) == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			l.add(name, direntType(typ))
		}
	}
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

func direntType(t byte) fileType {
	switch t {
	case unix.DT_REG:
		return typeFile
	case unix.DT_DIR:
		return typeDir
	case unix.DT_LNK:
		return typeSymlink
	case unix.DT_FIFO, unix.DT_SOCK, unix.DT_CHR, unix.DT_BLK:
		return typeSpecial
	}
	return typeUnknown
}

func statxInfo(st *unix.Statx_t) fileInfo {
	fi := fileInfo{
		typ:   modeType(uint32(st.Mode)),
		size:  int64(st.Size),
		mtime: time.Unix(st.Mtime.Sec, int64(st.Mtime.Nsec)).UTC(),
	}
	if st.Mask&unix.STATX_BTIME != 0 {
		fi.btime = time.Unix(st.Btime.Sec, int64(st.Btime.Nsec)).UTC()
	}
	return fi
}

func modeType(mode uint32) fileType {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return typeFile
	case unix.S_IFDIR:
		return typeDir
	case unix.S_IFLNK:
		return typeSymlink
	}
	return typeSpecial
}

// retypeErr reports an open error meaning the child is no longer a directory (replaced by a file
// or a symbolic link since it was listed).
func retypeErr(err error) bool {
	return errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// openRegular opens a file for reading without following a final symbolic link and without
// blocking on a FIFO that replaced it.
func openRegular(path string) (*os.File, error) {
	fd, err := retry(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// adviseSequential tells the kernel the file is read once from start to end.
func adviseSequential(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), 0, 0, unix.FADV_SEQUENTIAL) })
	}
}

func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// remove removes the file name of d: never a directory, never through a link.
func (d dirHandle) remove(name string) error {
	if _, err := retry(func() (int, error) { return 0, unix.Unlinkat(d.fd, name, 0) }); err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}
