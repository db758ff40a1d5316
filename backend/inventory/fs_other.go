//go:build !linux

package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Portable file system access through the os package: paths are resolved from the root for every
// child, and birth times are not read.

// dirHandle is an open directory.
type dirHandle struct {
	path string
	f    *os.File
}

// errRetype is returned when a listed directory is no longer one.
var errRetype = errors.New("not a directory any more")

func openDir(path string) (dirHandle, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return dirHandle{}, err
	}
	if !fi.IsDir() {
		return dirHandle{}, &fs.PathError{Op: "open", Path: path, Err: errRetype}
	}
	f, err := os.Open(path)
	if err != nil {
		return dirHandle{}, err
	}
	return dirHandle{path: path, f: f}, nil
}

func (d dirHandle) openDir(name string) (dirHandle, error) {
	return openDir(filepath.Join(d.path, name))
}

func (d dirHandle) close() { d.f.Close() }

// id gives no identity here: the synchronization cannot check that it finds the directory
// scanned (Linux only).
func (d dirHandle) id() (DirID, error) { return DirID{}, nil }

func pathID(string) (DirID, error) { return DirID{}, nil }

// modTime is the directory's last modification time.
func (d dirHandle) modTime() (time.Time, error) {
	fi, err := d.f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime().UTC(), nil
}

func (d dirHandle) stat(name string) (fileInfo, error) {
	return statPath(filepath.Join(d.path, name))
}

// remove removes the file name of d.
func (d dirHandle) remove(name string) error {
	return os.Remove(filepath.Join(d.path, name))
}

func statPath(path string) (fileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileInfo{}, err
	}
	info := fileInfo{typ: modeType(fi.Mode()), size: fi.Size(), mtime: fi.ModTime().UTC()}
	return info, nil
}

func (d dirHandle) list(_ []byte, l *listing) error {
	des, err := d.f.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, de := range des {
		l.add([]byte(de.Name()), modeType(de.Type()))
	}
	return nil
}

func modeType(m fs.FileMode) fileType {
	switch {
	case m.IsRegular():
		return typeFile
	case m.IsDir():
		return typeDir
	case m&fs.ModeSymlink != 0:
		return typeSymlink
	}
	return typeSpecial
}

func retypeErr(err error) bool { return errors.Is(err, errRetype) }

func openRegular(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EINVAL}
	}
	return os.Open(path)
}

func adviseSequential(*os.File) {}
