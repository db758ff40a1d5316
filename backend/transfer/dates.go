package transfer

import (
	"fmt"
	"io/fs"
	"path"
	"time"
)

// SetDates sets the dates of the existing regular file at path p of dst (copy-dates). A
// symbolic link there is refused, never followed. BirthTime is not settable on Linux and is
// ignored.
func SetDates(dst *Root, p string, d Dates) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if rel == rootRel {
		return fmt.Errorf("/: %w", ErrNotRegular)
	}
	fi, _, err := dst.target(rel)
	switch {
	case err != nil:
		return err
	case fi == nil:
		return &fs.PathError{Op: "set dates", Path: p, Err: fs.ErrNotExist}
	}
	if err := regular(rel, fi); err != nil {
		return err
	}
	if d.ModTime.IsZero() {
		return nil
	}
	return setPathTime(dst.root, rel, d.ModTime)
}

// SetDirDates sets the modification time of the existing directory at path p of dst ("/" is the
// root itself): a run sets directories' dates last, once nothing more is written in them. A
// symbolic link there is refused, never followed.
func SetDirDates(dst *Root, p string, mtime time.Time) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	d, err := dst.openDir(path.Dir(rel), false)
	if err != nil {
		return err
	}
	defer d.close()
	if mtime.IsZero() {
		return nil
	}
	return d.setDirTime(path.Base(rel), mtime) // the root is "." in itself
}
