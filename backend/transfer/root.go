// Package transfer carries out Ferry's local file operations on data source roots: full and
// delta copies through a temp file swapped in atomically, dates, directory creation and
// deletion. Every operation names its target by an item path ("/"-separated, leading "/")
// inside an open data source root and can never act outside that root.
package transfer

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
)

// Root is an open data source root. It is safe for concurrent use.
type Root struct {
	root *os.Root
	// dirs hands out directories of the root verified free of symbolic links, kept open for
	// the per-file work of a run.
	dirs *dirCache
	// noClone holds the source roots whose files cannot be cloned into this root.
	noClone sync.Map // *Root → struct{}
}

// OpenRoot opens an existing directory as a data source root.
func OpenRoot(dir string) (*Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open data source root: %w", err)
	}
	dirs, err := newDirCache(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open data source root: %w", err)
	}
	return &Root{root: r, dirs: dirs}, nil
}

// Name is the directory given to OpenRoot.
func (r *Root) Name() string { return r.root.Name() }

// Close releases the root. Operations still running finish on the directories they hold.
func (r *Root) Close() error {
	r.dirs.close()
	return r.root.Close()
}

// Open opens the regular file at item path p for reading. Symbolic links are refused, at the
// final component too.
func (r *Root) Open(p string) (*os.File, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	f, _, err := r.openRegular(rel)
	if err != nil {
		return nil, err
	}
	return f.osFile(), nil
}

// openRegular opens rel read-only without following links and checks it is a regular file.
func (r *Root) openRegular(rel string) (*file, fs.FileInfo, error) {
	if rel == rootRel {
		return nil, nil, fmt.Errorf("/: %w", ErrNotRegular)
	}
	d, err := r.openDir(path.Dir(rel), false)
	if err != nil {
		return nil, nil, err
	}
	f, err := d.openFile(path.Base(rel), rel)
	d.close()
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = regular(rel, fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}
