package transfer

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferrysync/ferry/backend/internal/flock"
	"github.com/ferrysync/ferry/backend/inventory"
)

// maxOpenDirs bounds the directory descriptors a root keeps open between operations.
const maxOpenDirs = 128

// dirCache keeps the directories of a root open once verified, so that each file operation
// works relative to its parent with single-component names instead of walking its path again.
// Directories are opened component by component from the root with O_NOFOLLOW|O_DIRECTORY, so
// a symbolic link on the way is refused. A held descriptor follows its directory if it moves,
// as os.Root does; before each use one fstatat checks that the path still leads to it, and the
// path is resolved again when it does not (renamed, replaced or removed meanwhile).
type dirCache struct {
	name   string // the root's OS path, for messages
	mu     sync.Mutex
	root   *dir
	dirs   map[string]*dir // by root-relative path; the root is not in it
	lru    list.List       // of *dir, most recently used first
	held   int             // references handed out and not released, the root's included
	closed bool

	// noReplaceRefused is set once the file system refused renameat2(RENAME_NOREPLACE).
	noReplaceRefused atomic.Bool
	// anonymousRefused is set once the file system refused O_TMPFILE, or /proc is missing.
	anonymousRefused atomic.Bool
	procChecked      sync.Once
}

// dir is an open directory of a root, held by reference until close.
type dir struct {
	c        *dirCache
	fd       int
	rel      string
	dev, ino uint64

	// Guarded by c.mu.
	refs int
	gone bool // out of the cache: the descriptor closes with the last reference
	elem *list.Element
}

func newDirCache(r *os.Root) (*dirCache, error) {
	f, err := r.Open(rootRel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	if cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, &fs.PathError{Op: "dup", Path: r.Name(), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: r.Name(), Err: err}
	}
	c := &dirCache{name: r.Name(), dirs: map[string]*dir{}}
	c.root = &dir{c: c, fd: fd, rel: rootRel, dev: st.Dev, ino: st.Ino}
	return c, nil
}

// openDir returns the directory rel of the root, verified free of symbolic links and, when
// create is set, created with its missing parents. The caller closes it.
func (r *Root) openDir(rel string, create bool) (*dir, error) {
	return r.dirs.get(rel, create)
}

func (c *dirCache) get(rel string, create bool) (*dir, error) {
	d, err := c.lookup(rel)
	if err != nil {
		return nil, err
	}
	if d != nil {
		if d == c.root || d.current() {
			return d, nil
		}
		// Renamed, replaced or removed since it was opened: resolve the path again.
		c.forget(d)
		d.close()
	}
	parent, err := c.get(path.Dir(rel), create)
	if err != nil {
		return nil, err
	}
	defer parent.close()
	if d, err = parent.openChild(path.Base(rel), rel, create); err != nil {
		return nil, err
	}
	return c.add(d), nil
}

// lookup returns the cached directory rel with a new reference, or nil.
func (c *dirCache) lookup(rel string) (*dir, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("data source root: %w", os.ErrClosed)
	}
	d := c.root
	if rel != rootRel {
		if d = c.dirs[rel]; d == nil {
			return nil, nil
		}
		c.lru.MoveToFront(d.elem)
	}
	d.refs++
	c.held++
	return d, nil
}

// add caches a directory just opened and returns it, or the one another caller cached first,
// with a reference for the caller.
func (c *dirCache) add(d *dir) *dir {
	var closing []int
	c.mu.Lock()
	c.held++
	switch old := c.dirs[d.rel]; {
	case c.closed:
		d.refs, d.gone = 1, true
	case old != nil:
		closing = append(closing, d.fd)
		old.refs++
		c.lru.MoveToFront(old.elem)
		d = old
	default:
		d.refs = 1
		d.elem = c.lru.PushFront(d)
		c.dirs[d.rel] = d
		for c.lru.Len() > maxOpenDirs {
			closing = c.drop(c.lru.Back().Value.(*dir), closing)
		}
	}
	c.mu.Unlock()
	closeAll(closing)
	return d
}

// forget takes d out of the cache if it is still there.
func (c *dirCache) forget(d *dir) {
	var closing []int
	c.mu.Lock()
	if !d.gone && d != c.root {
		closing = c.drop(d, closing)
	}
	c.mu.Unlock()
	closeAll(closing)
}

// drop takes d out of the cache; its descriptor joins closing unless still referenced.
func (c *dirCache) drop(d *dir, closing []int) []int {
	c.lru.Remove(d.elem)
	delete(c.dirs, d.rel)
	d.gone = true
	if d.refs == 0 {
		closing = append(closing, d.fd)
	}
	return closing
}

// close releases the cache; directories still referenced close with their last reference.
func (c *dirCache) close() {
	var closing []int
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for _, d := range c.dirs {
			closing = c.drop(d, closing)
		}
		if c.held == 0 {
			closing = append(closing, c.root.fd)
		}
	}
	c.mu.Unlock()
	closeAll(closing)
}

// close releases a reference to d.
func (d *dir) close() {
	var closing []int
	c := d.c
	c.mu.Lock()
	d.refs--
	c.held--
	if d.gone && d.refs == 0 {
		closing = append(closing, d.fd)
	}
	if c.closed && c.held == 0 {
		closing = append(closing, c.root.fd)
	}
	c.mu.Unlock()
	closeAll(closing)
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// current tells whether d's path still leads to d. The root is held meanwhile (c.held > 0).
func (d *dir) current() bool {
	var st unix.Stat_t
	err := unix.Fstatat(d.c.root.fd, d.rel, &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Dev == d.dev && st.Ino == d.ino
}

// openChild opens the directory name of d (rel in the root) without following a link,
// creating it first when create is set.
func (d *dir) openChild(name, rel string, create bool) (*dir, error) {
	made := false
	for {
		fd, err := openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err == unix.EACCES {
			// A directory that cannot be listed can still be worked in.
			fd, err = openat(d.fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		}
		switch {
		case err == nil:
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				return nil, &fs.PathError{Op: "stat", Path: itemPath(rel), Err: err}
			}
			return &dir{c: d.c, fd: fd, rel: rel, dev: st.Dev, ino: st.Ino}, nil
		case err == unix.ENOENT && create && !made:
			if err := unix.Mkdirat(d.fd, name, 0o755); err != nil && err != unix.EEXIST {
				return nil, &fs.PathError{Op: "mkdir", Path: itemPath(rel), Err: err}
			}
			made = true
		case err == unix.ENOTDIR || err == unix.ELOOP:
			// O_NOFOLLOW|O_DIRECTORY refuses a link with either: tell which it is.
			var st unix.Stat_t
			if unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return nil, unsafePath(itemPath(rel), "is a symbolic link")
			}
			return nil, fmt.Errorf("%s: %w", itemPath(rel), ErrNotDir)
		default:
			return nil, &fs.PathError{Op: "open", Path: itemPath(rel), Err: err}
		}
	}
}

// item is the item path of name in d, for messages.
func (d *dir) item(name string) string { return itemPath(path.Join(d.rel, name)) }

// lstat describes name in d without following a link; nil when nothing is there.
func (d *dir) lstat(name string) (fs.FileInfo, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == unix.ENOENT:
		return nil, nil
	case err != nil:
		return nil, &fs.PathError{Op: "lstat", Path: d.item(name), Err: err}
	}
	return &fileInfo{name: name, st: st}, nil
}

// openFile opens name in d (rel in the root) for reading. A link is refused, not followed;
// O_NONBLOCK keeps a FIFO swapped in at the last moment from blocking the open.
func (d *dir) openFile(name, rel string) (*file, error) {
	fd, err := openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	switch {
	case err == unix.ELOOP:
		return nil, unsafePath(itemPath(rel), "is a symbolic link")
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: itemPath(rel), Err: err}
	}
	return &file{fd: fd, name: d.c.osName(rel)}, nil
}

// create makes the new empty file name in d, mode 0600, for reading and writing.
func (d *dir) create(name string) (*file, error) {
	fd, err := openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: d.item(name), Err: err}
	}
	return &file{fd: fd, name: d.c.osName(path.Join(d.rel, name))}, nil
}

// createAnonymous creates an unnamed file in d (O_TMPFILE): it gets a name only once complete,
// with linkAnonymous. errors.ErrUnsupported when the file system cannot. Its messages name it
// as a temp file beside target (anonymousName).
func (d *dir) createAnonymous(target string) (*file, error) {
	d.c.procChecked.Do(func() {
		if _, err := os.Stat("/proc/self/fd"); err != nil {
			d.c.anonymousRefused.Store(true) // linkAnonymous names files through /proc
		}
	})
	if d.c.anonymousRefused.Load() {
		return nil, errors.ErrUnsupported
	}
	fd, err := openat(d.fd, ".", unix.O_RDWR|unix.O_TMPFILE, 0o600)
	switch err {
	case nil:
		return &file{fd: fd, name: d.c.osName(path.Join(d.rel, anonymousName(target)))}, nil
	case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL:
		d.c.anonymousRefused.Store(true)
		return nil, errors.ErrUnsupported
	}
	return nil, &fs.PathError{Op: "create", Path: d.item(anonymousName(target)), Err: err}
}

// linkAnonymous names an anonymous file f in d; fs.ErrExist when name exists.
func (d *dir) linkAnonymous(f *file, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(f.fd), d.fd, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: d.item(anonymousName(name)), New: d.item(name), Err: err}
	}
	return nil
}

// setDirTime sets the modification time of the directory name of d ("." for d itself), never
// through a link.
func (d *dir) setDirTime(name string, mtime time.Time) error {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "stat", Path: d.item(name), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFLNK:
		return unsafePath(d.item(name), "is a symbolic link")
	default:
		return fmt.Errorf("%s: %w", d.item(name), ErrNotDir)
	}
	ts := times(mtime)
	if err := unix.UtimesNanoAt(d.fd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimensat", Path: d.item(name), Err: err}
	}
	return nil
}

// canNoReplace tells whether rename may be asked not to replace an existing target.
func (d *dir) canNoReplace() bool { return !d.c.noReplaceRefused.Load() }

// rename renames from to to within d. With noReplace an existing target fails it with
// fs.ErrExist, and a file system that cannot do that with errors.ErrUnsupported.
func (d *dir) rename(from, to string, noReplace bool) error {
	var err error
	if noReplace {
		err = unix.Renameat2(d.fd, from, d.fd, to, unix.RENAME_NOREPLACE)
		if err == unix.EINVAL || err == unix.ENOSYS {
			d.c.noReplaceRefused.Store(true)
			return errors.ErrUnsupported
		}
	} else {
		err = unix.Renameat(d.fd, from, d.fd, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: d.item(from), New: d.item(to), Err: err}
	}
	return nil
}

// linkTo hard-links the file name of d as toName in to: fs.ErrExist when toName exists,
// errors.ErrUnsupported when the file system has no hard links.
func (d *dir) linkTo(name string, to *dir, toName string) error {
	err := unix.Linkat(d.fd, name, to.fd, toName, 0)
	switch err {
	case nil:
		return nil
	case unix.EPERM, unix.EOPNOTSUPP, unix.EMLINK, unix.ENOSYS:
		return errors.ErrUnsupported
	}
	return &os.LinkError{Op: "link", Old: d.item(name), New: to.item(toName), Err: err}
}

// moveTo renames name of d to toName in to, never replacing it: fs.ErrExist when it exists.
func (d *dir) moveTo(name string, to *dir, toName string) error {
	err := unix.Renameat2(d.fd, name, to.fd, toName, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS { // the file system cannot refuse: look first
		if err := to.absent(toName); err != nil {
			return err
		}
		err = unix.Renameat(d.fd, name, to.fd, toName)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: d.item(name), New: to.item(toName), Err: err}
	}
	return nil
}

// remove removes the file name of d.
func (d *dir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: d.item(name), Err: err}
	}
	return nil
}

// sync flushes d. Best effort: the rename is already visible, and some file systems refuse
// fsync on directories.
func (d *dir) sync() { _ = unix.Fsync(d.fd) }

// osName is the OS path of rel, for messages.
func (c *dirCache) osName(rel string) string { return path.Join(c.name, rel) }

func openat(dfd int, name string, flags int, mode uint32) (int, error) {
	return retryEINTR(func() (int, error) {
		return unix.Openat(dfd, name, flags|unix.O_CLOEXEC, mode)
	})
}

// id identifies the directory the root holds open.
func (r *Root) id() inventory.DirID {
	return inventory.DirID{Dev: r.dirs.root.dev, Ino: r.dirs.root.ino}
}

// pathID identifies the directory at dir now, following symbolic links.
func pathID(dir string) (inventory.DirID, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return inventory.DirID{}, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	return inventory.DirID{Dev: st.Dev, Ino: st.Ino}, nil
}

// lock takes an advisory lock on the root directory itself (its descriptor, so no file appears
// in it); the lock lasts until the root is closed and its last operation is done, or the
// process ends.
func (r *Root) lock(exclusive bool) error {
	err := flock.Lock(r.dirs.root.fd, exclusive, false)
	if errors.Is(err, flock.ErrHeld) {
		return &RootError{Dir: r.Name(), Err: ErrRootBusy}
	}
	if err != nil {
		return fmt.Errorf("lock the data source folder %s: %w", r.Name(), err)
	}
	return nil
}
