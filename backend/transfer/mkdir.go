package transfer

import (
	"fmt"
)

// Mkdir creates the directory at path p of dst with its missing parents. An existing directory
// is success; an existing non-directory is ErrNotDir.
func Mkdir(dst *Root, p string) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if rel == rootRel {
		return nil
	}
	fi, _, err := dst.target(rel)
	switch {
	case err != nil:
		return err
	case fi == nil:
		if err := dst.root.MkdirAll(rel, 0o755); err != nil {
			return atItem("mkdir", p, err)
		}
		return nil
	case fi.IsDir():
		return nil
	}
	return fmt.Errorf("%s exists: %w", p, ErrNotDir)
}
