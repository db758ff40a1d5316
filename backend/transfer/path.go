package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// rootRel is the os.Root name of the data source root itself.
const rootRel = "."

// cleanPath validates an item path ("/"-separated, leading "/") and returns its os.Root name
// ("a/b"), or "." for "/". Nothing is cleaned silently: any suspicious form is refused. A
// backslash is an ordinary name character except on Windows, where it separates components.
func cleanPath(p string) (string, error) {
	if p == "/" {
		return rootRel, nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", unsafePath(p, "must start with /")
	}
	rel := p[1:]
	for _, c := range strings.Split(rel, "/") {
		switch {
		case c == "":
			return "", unsafePath(p, "empty component")
		case c == "." || c == "..":
			return "", unsafePath(p, "dot component")
		case strings.ContainsRune(c, 0):
			return "", unsafePath(p, "NUL byte")
		case filepath.Separator == '\\' && strings.ContainsRune(c, '\\'):
			// A legal name character on Linux and macOS; a separator where the OS uses it.
			return "", unsafePath(p, "backslash")
		}
	}
	// Catches what is special on the running OS only (volume names, reserved names on Windows).
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", unsafePath(p, "not a local path")
	}
	return rel, nil
}

func unsafePath(p, why string) error {
	return fmt.Errorf("%w %q: %s", ErrUnsafePath, p, why)
}

// itemPath turns an os.Root name back into an item path for messages.
func itemPath(rel string) string {
	if rel == rootRel {
		return "/"
	}
	return "/" + rel
}

// checkParents walks the parent directories of rel and reports whether they all exist. A
// symbolic link among them is refused even when it points inside the root: inventories never
// follow links, so a link on the way means the tree is not what the plan was made from.
// os.Root still guarantees confinement if the tree changes after this check.
func (r *Root) checkParents(rel string) (exist bool, err error) {
	return r.checkDirs(rel, path.Dir(rel))
}

// checkDirs is checkParents for every component of dir, naming rel in its errors.
func (r *Root) checkDirs(rel, dir string) (exist bool, err error) {
	if dir == rootRel {
		return true, nil
	}
	for i := 0; ; {
		j := strings.IndexByte(dir[i:], '/')
		prefix := dir
		if j >= 0 {
			prefix = dir[:i+j]
		}
		fi, err := r.root.Lstat(prefix)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		case err != nil:
			return false, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return false, unsafePath(itemPath(rel), itemPath(prefix)+" is a symbolic link")
		case !fi.IsDir():
			return false, fmt.Errorf("%s: %w", itemPath(prefix), ErrNotDir)
		}
		if j < 0 {
			return true, nil
		}
		i += j + 1
	}
}

// target returns the final component's info (nil when missing) and whether its parent
// directories exist. A symbolic link anywhere on the path is refused.
func (r *Root) target(rel string) (fi fs.FileInfo, parents bool, err error) {
	if parents, err = r.checkParents(rel); err != nil || !parents {
		return nil, parents, err
	}
	fi, err = r.root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, true, nil
	case err != nil:
		return nil, true, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, true, unsafePath(itemPath(rel), "is a symbolic link")
	}
	return fi, true, nil
}

// regular checks that fi describes a regular file.
func regular(rel string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s (%s): %w", itemPath(rel), fi.Mode().Type(), ErrNotRegular)
	}
	return nil
}
