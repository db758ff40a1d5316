package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// Receive waits for the content of the run's copies from other members onto this member's
// targets and writes it, a few transfers at once, in plan order. Each file goes to a temp file
// beside its target (a delta is applied onto the target into one), is checked against the
// source's content key, dated as a local copy would be, synced and renamed into place, the
// replaced file kept as the plan's Versions say. Every target gets one result, unless ctx
// ended first. A part that fails to open fails every file of its transfer not written yet,
// leaving their targets untouched. The error is that of making the new files durable at the
// end.
func (c *Content) Receive(ctx context.Context, run Run, report func(Result)) error {
	var mine []*shipment
	for _, sh := range c.schedule(run) {
		if sh.source != run.Self && slices.Contains(sh.recipients, run.Self) {
			mine = append(mine, sh)
		}
	}
	inOrder(ctx, mine, c.opts.Receivers, func(sh *shipment) { c.receive(ctx, run, sh, report) })
	return c.flush()
}

// receive reads one transfer and writes its files.
func (c *Content) receive(ctx context.Context, run Run, sh *shipment, report func(Result)) {
	var keep *transfer.Versions
	if v := run.Plan.Versions; v != nil {
		keep = &transfer.Versions{Dir: v.Dir, Stamp: v.Stamp}
	}
	pending := map[string]*plan.Group{}
	targets := map[*plan.Group][]*plan.Endpoint{}
	for _, g := range sh.groups {
		pending[g.ID()] = g
		if sh.target != nil {
			targets[g] = []*plan.Endpoint{sh.target}
			continue
		}
		for i := range g.Targets {
			if t := &g.Targets[i]; run.Owner(t.Node) == run.Self {
				targets[g] = append(targets[g], t)
			}
		}
	}
	failPending := func(err error) {
		if ctx.Err() != nil {
			return
		}
		for _, g := range sh.groups {
			if id := g.ID(); pending[id] != nil {
				for _, t := range targets[g] {
					report(Result{Group: id, Op: g.Op, Target: t.Location, Err: err})
				}
			}
		}
	}

	s := c.x.openStream(ctx, sh.id, sh.source)
	defer s.close()
	fr, err := newFrameReader(&reader{s: s})
	if err != nil {
		failPending(err)
		return
	}
	for {
		h, rec, err := fr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			failPending(err)
			return
		}
		g := pending[h.Group]
		if g == nil {
			failPending(fmt.Errorf("%w: group %q is not expected in this transfer", ErrCorruptStream, h.Group))
			return
		}
		delete(pending, h.Group)
		c.write(ctx, g, h, rec, targets[g], keep, report)
		if rec.err != nil {
			failPending(rec.err)
			return
		}
	}
	failPending(fmt.Errorf("%w: the transfer ended without it", ErrCorruptStream))
}

// write writes the record of group g to this member's targets of it and reports each.
// A replaced target is kept in keep, when set.
func (c *Content) write(ctx context.Context, g *plan.Group, h fileHeader, rec *recordReader, targets []*plan.Endpoint,
	keep *transfer.Versions, report func(Result)) {
	if !h.Delta {
		rec.want = g.Source.ContentKey()
	}
	results := make([]Result, len(targets))
	for i, t := range targets {
		results[i] = Result{Group: h.Group, Op: g.Op, Target: t.Location}
	}
	switch {
	case h.Size != g.Source.Size():
		err := fmt.Errorf("%w: group %s of %d bytes, the plan has %d", ErrCorruptStream, g.ID(), h.Size, g.Source.Size())
		for i := range results {
			results[i].Err = err
		}
	case h.Delta && len(targets) != 1:
		err := fmt.Errorf("%w: a delta for %d targets", ErrCorruptStream, len(targets))
		for i := range results {
			results[i].Err = err
		}
	case h.Delta:
		o := c.options(g, targets[0], keep)
		o.Expected = g.Source.ContentKey()
		if o.Expected.IsZero() {
			o.Expected = h.Key
		}
		results[0].Bytes, results[0].Err = c.writeOne(ctx, g, targets[0], o, func(root *transfer.Root, o transfer.CopyOptions) (transfer.Result, error) {
			return transfer.ApplyDelta(ctx, root, targets[0].Path(), rec, o)
		})
	case len(targets) == 1:
		results[0].Bytes, results[0].Err = c.writeOne(ctx, g, targets[0], c.options(g, targets[0], keep), func(root *transfer.Root, o transfer.CopyOptions) (transfer.Result, error) {
			return transfer.WriteFrom(ctx, root, targets[0].Path(), rec, o)
		})
	default:
		c.writeMany(ctx, g, rec, targets, keep, results)
	}
	// What the record says of itself comes first: a write that failed because the content was
	// not sent, or did not match, failed for that reason.
	if err := rec.drain(); err != nil {
		for i := range results {
			results[i].Err = err
		}
	} else if err := rec.outcome(); err != nil {
		for i := range results {
			results[i].Err, results[i].Bytes = err, 0
		}
	}
	if ctx.Err() != nil {
		return
	}
	for _, r := range results {
		if r.Err != nil {
			r.Bytes = 0
		}
		report(r)
	}
}

// writeOne writes one target with write, which gets its data source root.
func (c *Content) writeOne(ctx context.Context, g *plan.Group, t *plan.Endpoint, o transfer.CopyOptions,
	write func(*transfer.Root, transfer.CopyOptions) (transfer.Result, error)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	root, err := c.root(t.Dir)
	if err != nil {
		return 0, err
	}
	if keepAs := t.KeepAs(); keepAs != "" {
		if err := transfer.KeepCopy(ctx, root, t.Path(), keepAs, t.Size(), t.Mtime(), t.Btime()); err != nil {
			return 0, err
		}
	}
	res, err := write(root, o)
	if err == nil && o.DeferSync {
		c.wroteNew(root)
	}
	return res.Bytes, err
}

// writeMany keeps the content in a temp file while it is written to several targets.
func (c *Content) writeMany(ctx context.Context, g *plan.Group, rec *recordReader, targets []*plan.Endpoint, keep *transfer.Versions, results []Result) {
	fail := func(err error) {
		for i := range results {
			results[i].Err = err
		}
	}
	dir := c.opts.TempDir
	if dir == "" {
		dir = targets[0].Dir // same file system, and scans skip Ferry's temp names
	}
	f, err := os.CreateTemp(dir, inventory.TempName("relay", "*"))
	if err != nil {
		fail(fmt.Errorf("keep relayed content: %w", err))
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, rec)
	if err != nil {
		fail(err)
		return
	}
	for i, t := range targets {
		results[i].Bytes, results[i].Err = c.writeOne(ctx, g, t, c.options(g, t, keep), func(root *transfer.Root, o transfer.CopyOptions) (transfer.Result, error) {
			return transfer.WriteFrom(ctx, root, t.Path(), io.NewSectionReader(f, 0, n), o)
		})
	}
}

// options are those of a local copy onto t: the plan's size and target state, the source's
// dates for a copy (now for copy-content), no fsync of a new file before the final sync, the
// replaced file kept in keep.
func (c *Content) options(g *plan.Group, t *plan.Endpoint, keep *transfer.Versions) transfer.CopyOptions {
	o := transfer.CopyOptions{
		Size:      g.Source.Size(),
		Mode:      transfer.Full,
		Target:    &transfer.FileState{Exists: t.Exists(), Size: t.Size(), ModTime: t.Mtime()},
		DeferSync: !t.Exists(),
		Versions:  keep,
	}
	if g.Op == plan.OpCopy {
		o.Dates = &transfer.Dates{ModTime: g.Source.Mtime(), BirthTime: g.Source.Btime()}
	}
	return o
}
