package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
)

// Send reads the sources this member owns of the run's copies to other members and sends
// them, a few transfers at once, in plan order. One transfer serves every recipient of a full
// copy; a delta is made per target, against the signature Signatures gives (a target without
// one receives the full content). Send reports only source failures (a source that cannot be
// read, or that changed since the inventory, and transfers that could not be sent): the
// recipients report their targets. It returns once every transfer was sent or failed, or ctx
// ended; nothing is reported for what ctx interrupted.
func (c *Content) Send(ctx context.Context, run Run, report func(Result)) {
	var mine []*shipment
	for _, sh := range c.schedule(run) {
		if sh.source == run.Self {
			mine = append(mine, sh)
		}
	}
	inOrder(ctx, mine, c.opts.Senders, func(sh *shipment) { c.send(ctx, run, sh, report) })
}

// send produces one transfer's content into a pipe that the upload reads.
func (c *Content) send(ctx context.Context, run Run, sh *shipment, report func(Result)) {
	pr, pw := io.Pipe()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		pw.CloseWithError(c.produce(ctx, run, sh, pw, report))
	}()
	_, err := c.x.send(ctx, sh.id, protocol.TransferContent, sh.recipients, pr)
	pr.CloseWithError(errors.New("upload ended")) // a producer still writing stops
	<-produced
	if err == nil || ctx.Err() != nil {
		return
	}
	err = fmt.Errorf("send to %s: %w", strings.Join(sh.recipients, ", "), err)
	for _, g := range sh.groups {
		c.sourceFailed(run, g, err, report)
	}
}

// sourceFailed reports that the source of g could not be read or sent, once per run.
func (c *Content) sourceFailed(run Run, g *plan.Group, err error, report func(Result)) {
	if c.firstSourceFailure(run.Key, g.ID()) {
		report(Result{Group: g.ID(), Op: g.Op, Target: g.Source.Location, Source: true, Err: err})
	}
}

// produce writes the records of a transfer's groups.
func (c *Content) produce(ctx context.Context, run Run, sh *shipment, w io.Writer, report func(Result)) error {
	fw := newFrameWriter(w)
	buf := make([]byte, 1<<20)
	for _, g := range sh.groups {
		if err := c.produceFile(ctx, run, fw, sh, g, buf, report); err != nil {
			return err
		}
	}
	return fw.end()
}

// produceFile writes the record of one group: its content, a delta, or why it is not sent. It
// returns an error only when the stream itself fails (or ctx ends).
func (c *Content) produceFile(ctx context.Context, run Run, fw *frameWriter, sh *shipment, g *plan.Group, buf []byte, report func(Result)) error {
	h := fileHeader{Group: g.ID(), Size: g.Source.Size(), Key: g.Source.ContentKey()}
	var sig []byte
	if sh.target != nil {
		sig, _ = c.sigs.Signature(sh.target.Part, sh.target.Path())
	}
	h.Delta = sig != nil
	f, err := c.openSource(g)
	if err == nil {
		defer f.Close()
		if h.Delta && h.Key.IsZero() {
			// The recipient checks the patched file against the source's key.
			h.Key, err = inventory.HashReader(&sourceReader{ctx: ctx, r: io.NewSectionReader(f, 0, math.MaxInt64)})
		}
	}
	if err := fw.begin(h); err != nil {
		return err
	}
	if err != nil {
		return c.failRecord(ctx, run, fw, g, err, true, report)
	}
	src := &sourceReader{ctx: ctx, r: io.NewSectionReader(f, 0, math.MaxInt64)}
	if h.Delta {
		err = transfer.MakeDelta(ctx, bytes.NewReader(sig), src, fw)
	} else {
		_, err = io.CopyBuffer(fw, src, buf)
	}
	switch {
	case fw.err != nil:
		return fw.err
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case err != nil:
		// A read error is the source's; anything else (a corrupt signature) is the target's.
		return c.failRecord(ctx, run, fw, g, err, src.err != nil, report)
	}
	err = src.unchanged(f, g)
	if err == nil && !h.Delta && !h.Key.IsZero() && fw.sum() != h.Key {
		err = fmt.Errorf("%w: %s: content differs from the inventory", transfer.ErrSourceChanged, g.Source.Path())
	}
	if err != nil {
		return c.failRecord(ctx, run, fw, g, err, true, report)
	}
	return fw.finish(nil)
}

// failRecord ends a record as not sent, and reports a source failure when it is one.
func (c *Content) failRecord(ctx context.Context, run Run, fw *frameWriter, g *plan.Group, err error, source bool, report func(Result)) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if source {
		c.sourceFailed(run, g, err, report)
	}
	return fw.finish(err)
}

// openSource opens a group's source and checks it is still as inventoried.
func (c *Content) openSource(g *plan.Group) (*os.File, error) {
	root, err := c.root(g.Source.Dir)
	if err != nil {
		return nil, err
	}
	f, err := root.Open(g.Source.Path())
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && (fi.Size() != g.Source.Size() || inventory.Nanos(fi.ModTime()) != g.Source.ModTime()) {
		err = fmt.Errorf("%w: %s is %d bytes modified at %s, the inventory saw %d bytes modified at %s",
			transfer.ErrSourceChanged, g.Source.Path(), fi.Size(), fi.ModTime().Format(time.RFC3339Nano),
			g.Source.Size(), g.Source.Mtime().Format(time.RFC3339Nano))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sourceReader reads a source, counting bytes and keeping its read error apart, and stops
// when ctx ends.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// unchanged checks that the whole source was read and it did not change meanwhile.
func (s *sourceReader) unchanged(f *os.File, g *plan.Group) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if s.n != g.Source.Size() || fi.Size() != g.Source.Size() || inventory.Nanos(fi.ModTime()) != g.Source.ModTime() {
		return fmt.Errorf("%w while reading %s", transfer.ErrSourceChanged, g.Source.Path())
	}
	return nil
}
