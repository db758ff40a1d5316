package transfer

import "errors"

// Space is what the file system holding a root has room for.
type Space struct {
	Dev       uint64 // the file system: roots with one Dev share their free space
	Free      int64  // bytes a run may write (what is left for unprivileged users)
	BlockSize int64  // the unit files take space in
	FreeFiles int64  // new files and folders, -1 when the file system does not count them
}

// Space tells the free space of the file system holding r; errors.ErrUnsupported where the
// system cannot tell.
func (r *Root) Space() (Space, error) { return r.space() }

// Probe checks that new files can be made in the root's folder: permission bits tell nothing
// for the superuser nor of a read-only mount. It creates an unnamed file there where the file
// system can, which leaves the folder as it was; otherwise a file the system deletes when it is
// closed (Windows), or an empty temp file then removed, and puts the folder's modification time
// back. A run killed meanwhile leaves a temp file that the next scan removes.
func (r *Root) Probe() error {
	d, err := r.openDir(rootRel, false)
	if err != nil {
		return err
	}
	defer d.close()
	const name = "write-check"
	f, err := d.createAnonymous(name)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	before, err := d.lstat(".")
	if err != nil {
		return err
	}
	if err := d.probeUnnamed(name); !errors.Is(err, errors.ErrUnsupported) {
		if err != nil {
			return err
		}
	} else {
		t, err := d.createTemp(name)
		if err != nil {
			return err
		}
		t.discard()
	}
	if before != nil {
		return d.setDirTime(".", before.ModTime())
	}
	return nil
}
