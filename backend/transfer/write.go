package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/ferrysync/ferry/backend/inventory"
)

// fillFunc writes new content into t and returns the number of bytes written.
type fillFunc func(ctx context.Context, t *file) (int64, error)

// targetRule says what replace expects of the target and which mode the new file gets.
type targetRule struct {
	mustExist bool        // refuse to create the target (delta)
	perm      fs.FileMode // mode of the new file
	keepMode  bool        // a replaced target keeps its own mode instead of perm
}

// replace runs the write path for item path p: check the target, create missing parents, fill a
// temp file, verify it against o.Size and o.Expected, set its mode and dates, sync it, keep the
// target in o.Versions (a hard link) and rename the temp file over it. The temp file is removed
// on any failure. All of it happens relative to the verified parent directory.
func (r *Root) replace(ctx context.Context, p string, tr targetRule, o CopyOptions, fill fillFunc) (int64, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return 0, err
	}
	if rel == rootRel {
		return 0, fmt.Errorf("/: %w", ErrNotRegular)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if o.Versions != nil {
		if _, err := o.Versions.folder(rel); err != nil {
			return 0, err
		}
	}
	// Parents are created for a target that may be new, never for one that must exist.
	create := !tr.mustExist && (o.Target == nil || !o.Target.Exists)
	d, err := r.openDir(path.Dir(rel), create)
	if err != nil {
		if !create && errors.Is(err, fs.ErrNotExist) {
			if err := o.Target.check(p, nil); err != nil {
				return 0, err
			}
			return 0, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return 0, err
	}
	name := path.Base(rel)
	// A staged replacement hands d and its temp file to the batch; otherwise they end here.
	var t *tempFile
	staged := false
	defer func() {
		if !staged {
			if t != nil {
				t.discard()
			}
			d.close()
		}
	}()

	// A target the plan saw absent needs no look now: the rename refuses to replace one.
	noReplace := create && o.Target != nil && d.canNoReplace()
	var fi fs.FileInfo
	if !noReplace {
		if fi, err = d.lstat(name); err != nil {
			return 0, err
		}
		if fi != nil && fi.Mode()&fs.ModeSymlink != 0 {
			return 0, unsafePath(p, "is a symbolic link")
		}
		if err := o.Target.check(p, fi); err != nil {
			return 0, err
		}
	}
	perm := tr.perm
	switch {
	case fi != nil:
		if err := regular(rel, fi); err != nil {
			return 0, err
		}
		if tr.keepMode {
			perm = fi.Mode()
		}
	case tr.mustExist:
		return 0, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	newTemp := d.createTemp
	if noReplace {
		newTemp = d.createNew
	}
	if t, err = newTemp(name); err != nil {
		return 0, err
	}

	n, err := fill(ctx, t.f)
	if err != nil {
		return n, err
	}
	if o.Size >= 0 && n != o.Size {
		return n, fmt.Errorf("%w: %s has %d bytes, expected %d", ErrMismatch, p, n, o.Size)
	}
	if !o.Expected.IsZero() {
		if err := verifyFile(ctx, t.f, n, o.Expected); err != nil {
			return n, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	// Replacing a file syncs its content before the rename, and the folder after it; a batch
	// syncs the content of all its replacements at once instead, and the run's SyncFS the rest.
	stage := fi != nil && o.Batch != nil && syncFSFlushesFiles
	durable := (fi != nil || !o.DeferSync || !syncFSFlushesFiles) && !stage
	if err := t.finish(perm, o.Dates, durable); err != nil {
		return n, err
	}
	if noReplace {
		switch err := t.commit(name, true); {
		case err == nil:
			if durable {
				d.sync()
			}
			return n, nil
		case errors.Is(err, fs.ErrExist):
			return n, fmt.Errorf("%w: %s appeared", ErrTargetChanged, p)
		case !errors.Is(err, errors.ErrUnsupported):
			return n, err
		}
		// The file system cannot refuse to replace: look, then rename.
	}
	w := &pending{r: r, d: d, t: t, name: name, p: p, rel: rel, fi: fi, target: o.Target, versions: o.Versions, durable: durable}
	if stage {
		staged = true
		o.Batch.staged = append(o.Batch.staged, w)
		return n, nil
	}
	return n, w.put()
}

// pending is new content written to a temp file beside its target, ready to replace it.
type pending struct {
	r        *Root
	d        *dir
	t        *tempFile
	name     string      // the target's name in d
	p, rel   string      // the target's item path, cleaned
	fi       fs.FileInfo // the target when the content was written; nil when absent
	target   *FileState
	versions *Versions
	durable  bool // sync the folder once renamed
}

// put checks the target once more, keeps it in the versions folder and renames the temp file
// over it.
func (w *pending) put() error {
	fi := w.fi
	if w.target != nil || w.versions != nil {
		now, err := w.d.lstat(w.name)
		if err != nil {
			return err
		}
		if err := w.target.check(w.p, now); err != nil {
			return err
		}
		fi = now
	}
	kept, moved := "", false
	if w.versions != nil && fi != nil {
		if err := regular(w.rel, fi); err != nil {
			return err
		}
		var err error
		if kept, moved, err = w.r.keep(w.d, w.name, w.rel, w.versions, true); err != nil {
			return err
		}
	}
	if err := w.t.commit(w.name, false); err != nil {
		if moved {
			_ = w.r.unkeep(kept, w.d, w.name) // the target was moved aside, not linked: put it back
		}
		return err
	}
	if w.durable {
		w.d.sync()
	}
	return nil
}

// Batch holds replacements whose new content is written but neither durable nor in place
// (CopyOptions.Batch). Commit makes them durable with one file-system sync per root, instead of
// an fsync of each file and of its folder, then puts them in place. It belongs to one goroutine.
type Batch struct {
	staged []*pending
}

// Len is the number of replacements waiting for Commit.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return len(b.staged)
}

// Commit syncs the file system of each root holding a staged replacement, then renames each over
// its target, checked once more as Copy does; errs[i] is the outcome of the i-th replacement
// staged. When ctx is done or a sync fails, the replacements concerned are not made and their
// temp files are removed. The renames become durable with the run's SyncFS: until then a
// target holds its old content or its new content, whole.
func (b *Batch) Commit(ctx context.Context) (errs []error) {
	errs = make([]error, len(b.staged))
	synced := map[*Root]error{}
	for i, w := range b.staged {
		err := ctx.Err()
		if err == nil {
			var done bool
			if err, done = synced[w.r]; !done {
				err = SyncFS(w.r)
				synced[w.r] = err
			}
		}
		if err == nil {
			err = w.put()
		}
		w.t.discard()
		w.d.close()
		errs[i] = err
	}
	clear(b.staged)
	b.staged = b.staged[:0]
	return errs
}

// check compares a target's current state (nil when absent) with what the plan saw.
func (s *FileState) check(p string, fi fs.FileInfo) error {
	switch {
	case s == nil:
		return nil
	case !s.Exists && fi != nil:
		return fmt.Errorf("%w: %s appeared", ErrTargetChanged, p)
	case s.Exists && fi == nil:
		return fmt.Errorf("%w: %s was removed", ErrTargetChanged, p)
	case s.Exists && (fi.Size() != s.Size || !fi.ModTime().Equal(s.ModTime)):
		return fmt.Errorf("%w: %s was modified", ErrTargetChanged, p)
	}
	return nil
}

// SyncFS flushes the file system holding a root: the end of a run whose new files were written
// with DeferSync.
func SyncFS(r *Root) error {
	d, err := r.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return syncFS(d)
}

// verifyFile checks the content key of the first n bytes of f.
func verifyFile(ctx context.Context, f io.ReaderAt, n int64, want inventory.ContentKey) error {
	got, err := inventory.HashReader(ctxReader{ctx, io.NewSectionReader(f, 0, n)})
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: content key %s, expected %s", ErrMismatch, got, want)
	}
	return nil
}
