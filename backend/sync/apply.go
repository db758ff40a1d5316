// Package sync runs synchronizations: the action handler that executes action groups on this
// machine, and the runner that schedules them phase by phase.
package sync

import (
	"context"
	"errors"
	"fmt"
	stdsync "sync"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// TargetResult is the outcome of one group on one target.
type TargetResult struct {
	Group  string
	Op     plan.Op
	Target plan.Location
	Bytes  int64 // content written (full copy) or transferred (delta)
	Err    error
	// Quiet is a quiet group's result (plan.Group.Quiet): no action to count or track, but
	// an error all the same.
	Quiet bool
}

// Handler executes action groups whose source and targets are on this machine.
type Handler struct {
	mu       stdsync.Mutex
	roots    map[string]*transfer.Root
	deferred map[*transfer.Root]bool // roots holding new files not synced yet
	// Now gives the time used for copy-content targets; time.Now when nil.
	Now func() time.Time
	// Versions, when set, keeps the files the groups replace or delete (plan.Plan.Versions).
	Versions *transfer.Versions
}

// NewHandler returns a handler; Close releases the roots it opened.
func NewHandler() *Handler {
	return &Handler{roots: map[string]*transfer.Root{}, deferred: map[*transfer.Root]bool{}}
}

// planHandler returns a handler for the groups of p: it keeps versions as p says.
func planHandler(p *plan.Plan) *Handler {
	h := NewHandler()
	h.Versions = keptVersions(p)
	return h
}

// keptVersions is where p keeps replaced and deleted files, nil when it keeps none.
func keptVersions(p *plan.Plan) *transfer.Versions {
	if p.Versions == nil {
		return nil
	}
	return &transfer.Versions{Dir: p.Versions.Dir, Stamp: p.Versions.Stamp}
}

// Flush makes the new files of the run durable: one file system sync per written root instead of
// one fsync per new file. Replaced files are synced before their rename.
func (h *Handler) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for r := range h.deferred {
		errs = append(errs, transfer.SyncFS(r))
		delete(h.deferred, r)
	}
	return errors.Join(errs...)
}

// Close releases every open data source root.
func (h *Handler) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for dir, r := range h.roots {
		errs = append(errs, r.Close())
		delete(h.roots, dir)
	}
	return errors.Join(errs...)
}

func (h *Handler) root(dir string) (*transfer.Root, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.roots[dir]; ok {
		return r, nil
	}
	r, err := transfer.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	h.roots[dir] = r
	return r, nil
}

// Run executes one group and reports one result per target.
func (h *Handler) Run(ctx context.Context, g *plan.Group, report func(TargetResult)) {
	for _, t := range g.Targets {
		res := TargetResult{Group: g.ID, Op: g.Op, Target: t.Location, Quiet: g.Quiet}
		if err := ctx.Err(); err != nil {
			res.Err = err
		} else {
			res.Bytes, res.Err = h.runTarget(ctx, g, t)
		}
		if res.Err != nil {
			res.Err = fmt.Errorf("%s %s on %s: %w", g.Op, t.Path, t.Part, res.Err)
		}
		report(res)
	}
}

func (h *Handler) runTarget(ctx context.Context, g *plan.Group, t plan.Endpoint) (int64, error) {
	dst, err := h.root(t.Dir)
	if err != nil {
		return 0, err
	}
	switch g.Op {
	case plan.OpCreate:
		return 0, transfer.Mkdir(dst, t.Path)
	case plan.OpDelete:
		return 0, transfer.Delete(dst, t.Path, transfer.DeleteOptions{Versions: h.Versions})
	case plan.OpCopyDates:
		if g.ItemKind == inventory.Dir {
			return 0, transfer.SetDirDates(dst, t.Path, g.Source.ModTime)
		}
		return 0, transfer.SetDates(dst, t.Path, transfer.Dates{ModTime: g.Source.ModTime, BirthTime: g.Source.BirthTime})
	}
	src, err := h.root(g.Source.Dir)
	if err != nil {
		return 0, err
	}
	o := transfer.CopyOptions{
		Size:          g.Source.Size,
		SourceModTime: g.Source.ModTime,
		Mode:          transfer.Full,
		Target:        &transfer.FileState{Exists: t.Exists, Size: t.Size, ModTime: t.ModTime},
		DeferSync:     !t.Exists,
		Versions:      h.Versions,
	}
	if !t.Exists {
		h.mu.Lock()
		h.deferred[dst] = true
		h.mu.Unlock()
	}
	if g.Kind == plan.Delta {
		o.Mode = transfer.Delta
	}
	if g.Op == plan.OpCopy {
		o.Dates = &transfer.Dates{ModTime: g.Source.ModTime, BirthTime: g.Source.BirthTime}
	}
	if t.KeepAs != "" && t.Exists {
		if err := keep(ctx, dst, t); err != nil {
			return 0, err
		}
	}
	res, err := transfer.Copy(ctx, src, g.Source.Path, dst, t.Path, o)
	return res.Bytes, err
}

// keep copies a target's content, with its dates, to t.KeepAs before the target is replaced. An
// existing file there is never replaced.
func keep(ctx context.Context, dst *transfer.Root, t plan.Endpoint) error {
	_, err := transfer.Copy(ctx, dst, t.Path, dst, t.KeepAs, transfer.CopyOptions{
		Size:          t.Size,
		SourceModTime: t.ModTime,
		Mode:          transfer.Full,
		Target:        &transfer.FileState{},
		Dates:         &transfer.Dates{ModTime: t.ModTime, BirthTime: t.BirthTime},
	})
	if err != nil {
		return fmt.Errorf("keep %s as %s before replacing it: %w", t.Path, t.KeepAs, err)
	}
	return nil
}
