package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// DeleteOptions shape one delete.
type DeleteOptions struct {
	// Versions, when set, moves a deleted file into the run's versions folder instead of
	// removing it. Directories are removed once empty, as without.
	Versions *Versions
}

// Delete removes the file or directory at path p of dst. A directory is removed, with its empty
// sub-directories, only when no file (of any kind) lies below it; otherwise ErrDirectoryNotEmpty
// and nothing is removed. A missing path is success: the work is already done. The root itself
// cannot be deleted.
func Delete(dst *Root, p string, o DeleteOptions) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if rel == rootRel {
		return unsafePath(p, "the data source root itself")
	}
	fi, _, err := dst.target(rel)
	switch {
	case err != nil:
		return err
	case fi == nil:
		return nil
	case fi.IsDir():
		return dst.deleteDir(rel)
	}
	if err := regular(rel, fi); err != nil {
		return err
	}
	if o.Versions != nil {
		return dst.keepDeleted(rel, o.Versions)
	}
	if err := dst.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return atItem("remove", p, err)
	}
	return nil
}

// deleteDir removes rel and the directories below it, deepest first, after checking that only
// directories are there. Directories are removed with rmdir, so a file created meanwhile stops
// the removal instead of being lost.
func (r *Root) deleteDir(rel string) error {
	var dirs []string
	err := fs.WalkDir(r.root.FS(), rel, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return fmt.Errorf("%w: %s holds %s", ErrDirectoryNotEmpty, itemPath(rel), itemPath(name))
		}
		dirs = append(dirs, name)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrDirectoryNotEmpty) {
			return err
		}
		return atItem("read", itemPath(rel), err)
	}
	for _, d := range slices.Backward(dirs) {
		err := removeDir(r.root, d)
		switch {
		case err == nil, errors.Is(err, fs.ErrNotExist):
		case r.hasEntries(d):
			return fmt.Errorf("%w: %s changed while deleting", ErrDirectoryNotEmpty, itemPath(d))
		default:
			return fmt.Errorf("delete %s: %w", itemPath(d), err)
		}
	}
	return nil
}

func (r *Root) hasEntries(rel string) bool {
	entries, err := fs.ReadDir(r.root.FS(), rel)
	return err == nil && len(entries) > 0
}

// keepDeleted moves the file rel into the versions folder.
func (r *Root) keepDeleted(rel string, v *Versions) error {
	d, err := r.openDir(path.Dir(rel), false)
	if err != nil {
		return err
	}
	defer d.close()
	_, _, err = r.keep(d, path.Base(rel), rel, v, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // gone meanwhile: the work is done
	}
	return err
}
