package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/ferrysync/ferry/backend/inventory"
)

// fillFunc writes new content into t and returns the number of bytes written.
type fillFunc func(ctx context.Context, t *os.File) (int64, error)

// targetRule says what replace expects of the target and which mode the new file gets.
type targetRule struct {
	mustExist bool        // refuse to create the target (delta)
	perm      fs.FileMode // mode of the new file
	keepMode  bool        // a replaced target keeps its own mode instead of perm
}

// replace runs the write path for item path p: check the target, create missing parents, fill a
// temp file, verify it against o.Size and o.Expected, set its mode and dates, sync it and rename
// it over the target. The temp file is removed on any failure.
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
	fi, parents, err := r.target(rel)
	if err != nil {
		return 0, err
	}
	if err := o.Target.check(p, fi); err != nil {
		return 0, err
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
	case !parents:
		if err := r.root.MkdirAll(path.Dir(rel), 0o755); err != nil {
			return 0, fmt.Errorf("create parent directories of %s: %w", p, err)
		}
	}
	t, err := createTemp(r.root, rel)
	if err != nil {
		return 0, err
	}
	defer t.discard()

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
	if o.Target != nil {
		now, err := r.root.Lstat(rel)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		if err := o.Target.check(p, now); err != nil {
			return n, err
		}
	}
	return n, t.commit(rel, perm, o.Dates, fi != nil || !o.DeferSync)
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
func verifyFile(ctx context.Context, f *os.File, n int64, want inventory.ContentKey) error {
	got, err := inventory.HashReader(ctxReader{ctx, io.NewSectionReader(f, 0, n)})
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: content key %s, expected %s", ErrMismatch, got, want)
	}
	return nil
}
