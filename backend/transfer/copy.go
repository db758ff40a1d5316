package transfer

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// Mode is how content reaches a target.
type Mode uint8

const (
	// Full writes the whole source content.
	Full Mode = iota
	// Delta patches the existing target with the differences from the source (librsync).
	Delta
)

func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case Delta:
		return "delta"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Dates are the dates given to a written file. BirthTime is best effort: Linux cannot set it
// and it is ignored there.
type Dates struct {
	ModTime, BirthTime time.Time
}

// CopyOptions shape one copy.
type CopyOptions struct {
	// Dates are set on the new content before it replaces the target; nil leaves the write
	// time (now), as copy-content wants.
	Dates *Dates
	// Mode is Full or Delta; Delta needs an existing target.
	Mode Mode
	// Size is the expected content size, -1 when unknown. A source whose size differs, or that
	// changes while being read, fails the copy with ErrSourceChanged.
	Size int64
	// Expected, when not zero, is the content key the written file must have before it may
	// replace the target.
	Expected inventory.ContentKey
	// Progress, when set, receives the bytes transferred so far (the unit of Result.Bytes).
	Progress func(n int64)
	// SourceModTime, when set, is the source's modification time the plan expects; another one
	// fails the copy with ErrSourceChanged.
	SourceModTime time.Time
	// Target, when set, is the target as the plan saw it; a target that appeared, vanished or
	// changed since fails the copy with ErrTargetChanged, so a newer edit is never overwritten.
	Target *FileState
	// DeferSync skips the per-file fsync when the target is new (no previous content is at risk);
	// the caller then calls SyncFS once the run is over. Replacing a file always syncs it first.
	DeferSync bool
	// Versions, when set, keeps the replaced target in the run's versions folder.
	Versions *Versions
	// Batch, when set, takes a replacement of an existing target once its content is written
	// (Result.Staged): Batch.Commit puts it in place. A new target is written as without it.
	Batch *Batch
}

// FileState is what a plan knows of a file.
type FileState struct {
	Exists  bool
	Size    int64
	ModTime time.Time
}

// Result tells how a copy was made.
type Result struct {
	Mode Mode
	// Bytes transferred: the file size for a full copy, the delta size for a delta.
	Bytes int64

	// Staged is a replacement left to CopyOptions.Batch: it is not in place until Commit.
	Staged bool

	method copyMethod // how a full local copy moved its bytes
}

// Copy copies the regular file srcPath of src to dstPath of dst: the content is written to a
// temp file beside the target, verified, dated, synced and renamed over the target. Missing
// parent directories are created. On failure or cancellation the target is left untouched and
// no temp file remains.
func Copy(ctx context.Context, src *Root, srcPath string, dst *Root, dstPath string, o CopyOptions) (Result, error) {
	srel, err := cleanPath(srcPath)
	if err != nil {
		return Result{}, err
	}
	sf, sfi, err := src.openRegular(srel)
	if err != nil {
		return Result{}, fmt.Errorf("read the source: %w", err)
	}
	defer sf.Close()
	if o.Size >= 0 && sfi.Size() != o.Size {
		return Result{}, fmt.Errorf("%w: %s is %d bytes, expected %d", ErrSourceChanged, srcPath, sfi.Size(), o.Size)
	}
	if !o.SourceModTime.IsZero() && !sfi.ModTime().Equal(o.SourceModTime) {
		return Result{}, fmt.Errorf("%w: %s was modified at %s, after the inventory", ErrSourceChanged, srcPath, sfi.ModTime().Format(time.RFC3339Nano))
	}
	in := source{f: sf, rel: srel, fi: sfi}
	staged := o.Batch.Len()
	var res Result
	switch o.Mode {
	case Full:
		res = Result{Mode: Full}
		res.Bytes, err = dst.replace(ctx, dstPath, targetRule{perm: sfi.Mode()}, o, func(ctx context.Context, t *file) (int64, error) {
			n, m, err := copyFile(ctx, t, sf, sfi.Size(), o.Progress, clonePair{src, dst})
			res.method = m
			if err == nil {
				err = in.unchanged(n)
			}
			return n, err
		})
	case Delta:
		res, err = copyDelta(ctx, in, dst, dstPath, o)
	default:
		return Result{}, fmt.Errorf("copy: unknown mode %v", o.Mode)
	}
	res.Staged = o.Batch.Len() > staged
	return res, err
}

// WriteFrom writes the content read from r to path p of dst through a temp file, as Copy
// does; it receives full copies relayed from another machine. A new file gets mode 0644, a
// replaced one keeps its mode.
func WriteFrom(ctx context.Context, dst *Root, p string, r io.Reader, o CopyOptions) (Result, error) {
	n, err := dst.replace(ctx, p, targetRule{perm: 0o644, keepMode: true}, o, func(ctx context.Context, t *file) (int64, error) {
		return streamCopy(ctx, t, r, 0, o.Progress)
	})
	return Result{Mode: Full, Bytes: n}, err
}

// source is an open source file and what it looked like when opened.
type source struct {
	f   *file
	rel string
	fi  fs.FileInfo
}

// unchanged checks that n bytes were read and the source still has its opening size and time.
func (s source) unchanged(n int64) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	if n != s.fi.Size() || fi.Size() != s.fi.Size() || !fi.ModTime().Equal(s.fi.ModTime()) {
		return fmt.Errorf("%w while reading %s", ErrSourceChanged, itemPath(s.rel))
	}
	return nil
}

// clonePair is a source and a target root. Files are cloned from one to the other until the
// file system refuses once: ext4 and tmpfs, among others, refuse every time.
type clonePair struct{ src, dst *Root }

func (p clonePair) enabled() bool {
	_, refused := p.dst.noClone.Load(p.src)
	return !refused
}

func (p clonePair) disable() { p.dst.noClone.Store(p.src, struct{}{}) }

// KeepCopy copies the file at p, expected of size bytes modified at modTime, to the free name as
// in the same root, with its dates, before p is replaced (a two-way conflict's losing edit). An
// existing file at as is never replaced.
func KeepCopy(ctx context.Context, root *Root, p, as string, size int64, modTime, birthTime time.Time) error {
	_, err := Copy(ctx, root, p, root, as, CopyOptions{
		Size:          size,
		SourceModTime: modTime,
		Mode:          Full,
		Target:        &FileState{},
		Dates:         &Dates{ModTime: modTime, BirthTime: birthTime},
	})
	if err != nil {
		return fmt.Errorf("keep %s as %s before replacing it: %w", p, as, err)
	}
	return nil
}
