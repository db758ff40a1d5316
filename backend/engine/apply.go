// Package engine runs synchronizations: the action handler that executes action groups on this
// machine, and the runner that schedules them phase by phase.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
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
	mu       sync.Mutex
	roots    *transfer.Roots
	ownRoots bool                    // roots is the handler's own: Close closes it
	deferred map[*transfer.Root]bool // roots holding new files not synced yet
	// Now gives the time used for copy-content targets; time.Now when nil.
	Now func() time.Time
	// Versions, when set, keeps the files the groups replace or delete (plan.Plan.Versions).
	Versions *transfer.Versions
}

// NewHandler returns a handler that opens each data source root on first use, unchecked;
// Close releases them.
func NewHandler() *Handler {
	h := newHandler(transfer.NewRoots())
	h.ownRoots = true
	return h
}

func newHandler(roots *transfer.Roots) *Handler {
	return &Handler{roots: roots, deferred: map[*transfer.Root]bool{}}
}

// planHandler returns a handler for the groups of p working in roots (opened by OpenRoots):
// it keeps versions as p says.
func planHandler(p *plan.Plan, roots *transfer.Roots) *Handler {
	h := newHandler(roots)
	h.Versions = keptVersions(p)
	return h
}

// OpenRoots opens the folders of this member's data sources in p (mine tells by node) into
// roots, each once, before anything runs: each must be the very directory its inventory listed
// (plan.PartInfo.DirID), reached by the same path, and is locked, exclusively where the plan
// writes (a target, or kept versions to prune) and shared where it only reads. A folder that
// fails stays failed in roots, so every action there fails with its error; the error joins
// them all.
func OpenRoots(p *plan.Plan, roots *transfer.Roots, mine func(node string) bool) error {
	written := map[string]bool{}
	for _, g := range p.Groups {
		for _, t := range g.Targets {
			written[t.Dir] = true
		}
	}
	prunes := p.Versions != nil && p.Versions.KeepDays > 0
	var errs []error
	for i := range p.Parts {
		part := &p.Parts[i]
		if !mine(part.Node) {
			continue
		}
		dir, lock := part.Dir(), transfer.Shared
		if written[dir] || prunes {
			lock = transfer.Exclusive
		}
		if _, err := roots.Open(dir, part.DirID, lock); err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e == err }) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keptVersions is where p keeps replaced and deleted files, nil when it keeps none.
func keptVersions(p *plan.Plan) *transfer.Versions {
	if p.Versions == nil {
		return nil
	}
	return &transfer.Versions{Dir: p.Versions.Dir, Stamp: p.Versions.Stamp}
}

// Flush makes the new files of the run durable: one file system sync per written root instead of
// one fsync per new file. Replaced files are synced before their rename, on their own or with the
// others of their batch.
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

// Close releases the data source roots the handler opened itself (NewHandler).
func (h *Handler) Close() error {
	if !h.ownRoots {
		return nil
	}
	return h.roots.Close()
}

func (h *Handler) root(dir string) (*transfer.Root, error) { return h.roots.Get(dir) }

// Run executes one group and reports one result per target.
func (h *Handler) Run(ctx context.Context, g *plan.Group, report func(TargetResult)) {
	h.run(ctx, g, nil, report)
}

// run is Run; with c, the replacements of existing files wait in c, and so do their results.
func (h *Handler) run(ctx context.Context, g *plan.Group, c *commits, report func(TargetResult)) {
	for _, t := range g.Targets {
		res := TargetResult{Group: g.ID(), Op: g.Op, Target: t.Location, Quiet: g.Quiet}
		staged := false
		if err := ctx.Err(); err != nil {
			res.Err = err
		} else {
			res.Bytes, staged, res.Err = h.runTarget(ctx, g, t, c)
		}
		if staged {
			c.results = append(c.results, res)
			c.bytes += g.Size()
			continue
		}
		if res.Err != nil {
			res.Err = explain(res, res.Err)
		}
		report(res)
	}
}

// explain words the error of a target's result.
func explain(res TargetResult, err error) error {
	return transfer.Explain(fmt.Errorf("%s %s on %s: %w", res.Op, res.Target.Path(), res.Target.Part, err))
}

// commits are the replacements a worker has written and not yet put in place, with their
// results: syncing their content at once costs one file-system sync for many files instead of
// two fsyncs per file.
type commits struct {
	batch   transfer.Batch
	results []TargetResult
	bytes   int64 // the new content staged
}

// A worker stages the replacements of small files only (stageLimit), and puts them in place once
// it holds maxStaged of them (each holds its folder open) or stageBudget bytes of new content:
// until then each keeps its old content beside the new, which Preflight counts.
const (
	maxStaged   = 64
	stageLimit  = 1 << 20
	stageBudget = 8 << 20
)

// full tells when the staged replacements must be put in place.
func (c *commits) full() bool { return len(c.results) >= maxStaged || c.bytes >= stageBudget }

// commit puts the staged replacements in place and reports their results.
func (c *commits) commit(ctx context.Context, report func(TargetResult)) {
	if len(c.results) == 0 {
		return
	}
	for i, err := range c.batch.Commit(ctx) {
		res := c.results[i]
		if err != nil {
			res.Bytes, res.Err = 0, explain(res, err)
		}
		report(res)
	}
	clear(c.results)
	c.results, c.bytes = c.results[:0], 0
}

// runTarget runs g on one target; staged is a replacement left in c.
func (h *Handler) runTarget(ctx context.Context, g *plan.Group, t plan.Endpoint, c *commits) (n int64, staged bool, err error) {
	dst, err := h.root(t.Dir)
	if err != nil {
		return 0, false, err
	}
	switch g.Op {
	case plan.OpCreate:
		return 0, false, transfer.Mkdir(dst, t.Path())
	case plan.OpDelete:
		return 0, false, transfer.Delete(dst, t.Path(), transfer.DeleteOptions{Versions: h.Versions})
	case plan.OpCopyDates:
		if g.ItemKind == inventory.Dir {
			return 0, false, transfer.SetDirDates(dst, t.Path(), g.Source.Mtime())
		}
		return 0, false, transfer.SetDates(dst, t.Path(), transfer.Dates{ModTime: g.Source.Mtime(), BirthTime: g.Source.Btime()})
	}
	src, err := h.root(g.Source.Dir)
	if err != nil {
		return 0, false, err
	}
	o := transfer.CopyOptions{
		Size:          g.Source.Size(),
		SourceModTime: g.Source.Mtime(),
		Mode:          transfer.Full,
		Target:        &transfer.FileState{Exists: t.Exists(), Size: t.Size(), ModTime: t.Mtime()},
		DeferSync:     !t.Exists(),
		Versions:      h.Versions,
	}
	if c != nil && t.Exists() && g.Size() <= stageLimit {
		o.Batch = &c.batch
	}
	if !t.Exists() || o.Batch != nil {
		// New files, and the renames of a batch, become durable with Flush.
		h.mu.Lock()
		h.deferred[dst] = true
		h.mu.Unlock()
	}
	if g.Kind == plan.Delta {
		o.Mode = transfer.Delta
	}
	if g.Op == plan.OpCopy {
		o.Dates = &transfer.Dates{ModTime: g.Source.Mtime(), BirthTime: g.Source.Btime()}
	}
	if keepAs := t.KeepAs(); keepAs != "" {
		if err := transfer.KeepCopy(ctx, dst, t.Path(), keepAs, t.Size(), t.Mtime(), t.Btime()); err != nil {
			return 0, false, err
		}
	}
	res, err := transfer.Copy(ctx, src, g.Source.Path(), dst, t.Path(), o)
	return res.Bytes, res.Staged, err
}

// LockRoots opens the data source roots of a run about to be inventoried into roots, with a
// shared lock each, before the scan: another run that writes there holds them exclusively, so
// this one fails at once (transfer.ErrRootBusy), and while the locks are held no other run
// writes there, which makes the temp files the scan removes stale ones. paths are the roots as
// inventory.ResolveRoot gives them; a file data source locks its folder. OpenRoots later checks
// them against the inventory and takes the exclusive locks where the plan writes. A root that
// cannot be opened is left to the scan to report.
func LockRoots(roots *transfer.Roots, paths []string) error {
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		dir := p
		if !fi.IsDir() {
			dir = filepath.Dir(p)
		}
		if _, err := roots.Open(dir, inventory.DirID{}, transfer.Shared); errors.Is(err, transfer.ErrRootBusy) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
