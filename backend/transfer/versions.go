package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Versions keeps the files a run replaces or deletes: each one goes, with its dates, to
// Dir/Stamp/<its item path> in its data source root instead of being destroyed.
type Versions struct {
	Dir   string // "/"-separated, relative to the root (rules.CheckVersionsDir)
	Stamp string // the run's folder in Dir, one path element
}

// maxVersionNames bounds the names tried for one kept file: "f", then "f.~1~", "f.~2~"…
const maxVersionNames = 100

// folder is the os.Root name of the folder that keeps the versions of the files in the
// directory of rel.
func (v *Versions) folder(rel string) (string, error) {
	base, err := cleanPath("/" + v.Dir + "/" + v.Stamp)
	if err != nil || v.Dir == "" || v.Stamp == "" || strings.Contains(v.Stamp, "/") {
		return "", fmt.Errorf("versions folder %q, run %q: %w", v.Dir, v.Stamp, ErrUnsafePath)
	}
	return path.Join(base, path.Dir(rel)), nil
}

// keep puts the regular file name of d (rel in the root) into the run's versions folder, with
// its dates. With link set it hard-links it there, so that replacing it stays one rename, and
// moves it only where the file system has no hard links; without, it moves it. kept is where
// it went (an os.Root name), moved whether name left d.
func (r *Root) keep(d *dir, name, rel string, v *Versions, link bool) (kept string, moved bool, err error) {
	folder, err := v.folder(rel)
	if err != nil {
		return "", false, err
	}
	vd, err := r.openDir(folder, true)
	if err != nil {
		return "", false, fmt.Errorf("versions folder: %w", err)
	}
	defer vd.close()
	for i := range maxVersionNames {
		vname := name
		if i > 0 {
			vname = fmt.Sprintf("%s.~%d~", name, i)
		}
		err = errors.ErrUnsupported
		if link {
			err = d.linkTo(name, vd, vname)
		}
		moved = errors.Is(err, errors.ErrUnsupported)
		if moved {
			err = d.moveTo(name, vd, vname)
		}
		switch {
		case err == nil:
			vd.sync()
			return path.Join(folder, vname), moved, nil
		case !errors.Is(err, fs.ErrExist):
			return "", false, fmt.Errorf("keep %s: %w", itemPath(rel), err)
		}
	}
	return "", false, fmt.Errorf("keep %s: no free name in %s", itemPath(rel), itemPath(folder))
}

// unkeep moves a file keep moved back to name in d.
func (r *Root) unkeep(kept string, d *dir, name string) error {
	vd, err := r.openDir(path.Dir(kept), false)
	if err != nil {
		return err
	}
	defer vd.close()
	return vd.moveTo(path.Base(kept), d, name)
}

// PruneVersions removes the run folders directly in the versions folder dir of r (relative to
// the root, as Versions.Dir) that old reports, with everything in them; nothing else. It
// returns the item paths removed. A missing folder holds nothing to prune.
func PruneVersions(r *Root, dir string, old func(name string) bool) ([]string, error) {
	rel, err := cleanPath("/" + dir)
	if err != nil {
		return nil, err
	}
	if rel == rootRel {
		return nil, unsafePath("/", "the data source root is not a versions folder")
	}
	exist, err := r.checkDirs(rel, rel)
	if err != nil || !exist {
		return nil, err
	}
	entries, err := fs.ReadDir(r.root.FS(), rel)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", itemPath(rel), err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !old(e.Name()) { // a link is no directory: never followed
			continue
		}
		run := path.Join(rel, e.Name())
		if err := r.root.RemoveAll(run); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", itemPath(run), err))
			continue
		}
		removed = append(removed, itemPath(run))
	}
	return removed, errors.Join(errs...)
}

// absent fails with fs.ErrExist when name exists in d.
func (d *dir) absent(name string) error {
	fi, err := d.lstat(name)
	switch {
	case err != nil:
		return err
	case fi != nil:
		return &fs.PathError{Op: "create", Path: d.item(name), Err: fs.ErrExist}
	}
	return nil
}
