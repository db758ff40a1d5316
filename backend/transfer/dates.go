package transfer

import (
	"fmt"
	"io/fs"
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
