//go:build !linux

package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// dirCache has nothing to keep where directories are opened through os.Root per operation.
type dirCache struct{}

func newDirCache(*os.Root) (*dirCache, error) { return &dirCache{}, nil }

func (*dirCache) close() {}

// dir is a directory of a root, open for one operation.
type dir struct {
	r   *os.Root
	top *os.Root // the data source root
	rel string
}

// openDir returns the directory rel of the root, checked free of symbolic links and, when
// create is set, created with its missing parents. The caller closes it.
func (r *Root) openDir(rel string, create bool) (*dir, error) {
	exist, err := r.checkDirs(rel, rel)
	if err != nil {
		return nil, err
	}
	if !exist {
		if !create {
			return nil, &fs.PathError{Op: "open", Path: itemPath(rel), Err: fs.ErrNotExist}
		}
		if err := r.root.MkdirAll(rel, 0o755); err != nil {
			return nil, atItem("mkdir", itemPath(rel), err)
		}
	}
	sub, err := r.root.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	return &dir{r: sub, top: r.root, rel: rel}, nil
}

func (d *dir) close() { _ = d.r.Close() }

// item is the item path of name in d, for messages.
func (d *dir) item(name string) string { return itemPath(path.Join(d.rel, name)) }

// lstat describes name in d without following a link; nil when nothing is there.
func (d *dir) lstat(name string) (fs.FileInfo, error) {
	fi, err := d.r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return fi, err
}

// openFile opens name in d (rel in the root) for reading, refusing a link. The check and the
// open are two steps; os.Root keeps both confined.
func (d *dir) openFile(name, rel string) (*file, error) {
	if fi, err := d.r.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, unsafePath(itemPath(rel), "is a symbolic link")
	}
	f, err := d.r.Open(name)
	if err != nil {
		return nil, err
	}
	return &file{File: f, dir: d.r, name: name}, nil
}

// create makes the new empty file name in d, mode 0600, for reading and writing.
func (d *dir) create(name string) (*file, error) {
	f, err := d.r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return &file{File: f, dir: d.r, name: name}, nil
}

// setDirTime sets the modification time of the directory name of d ("." for d itself),
// refusing a link.
func (d *dir) setDirTime(name string, mtime time.Time) error {
	fi, err := d.r.Lstat(name)
	switch {
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return unsafePath(d.item(name), "is a symbolic link")
	case !fi.IsDir():
		return fmt.Errorf("%s: %w", d.item(name), ErrNotDir)
	}
	return d.r.Chtimes(name, time.Time{}, mtime)
}

// canNoReplace tells whether rename may be asked not to replace an existing target: not here.
func (d *dir) canNoReplace() bool { return false }

// rename renames from to to within d, replacing what is there.
func (d *dir) rename(from, to string, _ bool) error { return d.r.Rename(from, to) }

// linkTo hard-links the file name of d as toName in to: fs.ErrExist when toName exists,
// errors.ErrUnsupported when linking fails otherwise (the caller moves the file instead).
func (d *dir) linkTo(name string, to *dir, toName string) error {
	if err := to.absent(toName); err != nil {
		return err
	}
	if err := d.top.Link(path.Join(d.rel, name), path.Join(to.rel, toName)); err != nil {
		return errors.ErrUnsupported
	}
	return nil
}

// moveTo renames name of d to toName in to, never replacing it: fs.ErrExist when it exists.
func (d *dir) moveTo(name string, to *dir, toName string) error {
	if err := to.absent(toName); err != nil {
		return err
	}
	return d.top.Rename(path.Join(d.rel, name), path.Join(to.rel, toName))
}

// remove removes the file name of d.
func (d *dir) remove(name string) error { return d.r.Remove(name) }

// sync flushes d. Best effort: the rename is already visible, and some file systems refuse
// fsync on directories.
func (d *dir) sync() {
	f, err := d.r.Open(".")
	if err != nil {
		return
	}
	_ = syncFS(f) // the directory, where it can be flushed
	_ = f.Close()
}

// file is an open file of a root.
type file struct {
	*os.File
	dir  *os.Root
	name string // in dir
}

func (f *file) chmod(mode fs.FileMode) error { return f.Chmod(mode.Perm()) }

// setModTime sets the modification time, leaving the access time alone.
func (f *file) setModTime(mtime time.Time) error {
	return f.dir.Chtimes(f.name, time.Time{}, mtime)
}

func (f *file) osFile() *os.File { return f.File }

// createAnonymous: unnamed files are a Linux feature.
func (d *dir) createAnonymous(string) (*file, error) { return nil, errors.ErrUnsupported }

func (d *dir) linkAnonymous(*file, string) error { return errors.ErrUnsupported }

// id gives no identity here: a root's identity is checked on Linux only.
func (r *Root) id() inventory.DirID { return inventory.DirID{} }

func pathID(string) (inventory.DirID, error) { return inventory.DirID{}, nil }

// lock does nothing here: data source roots are locked on Linux only.
func (r *Root) lock(bool) error { return nil }
