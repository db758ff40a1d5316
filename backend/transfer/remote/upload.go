package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// send uploads everything src yields as transfer id to recipients and completes the transfer;
// it returns the number of parts. Parts are cut at the controller's size, sealed and uploaded
// several at once. A transfer the server already holds in part is resumed: the parts it holds
// from part 1 on without a gap are not sent again (their plain text is read from src and
// skipped). A failed transfer is deleted from the server in the background.
func (x *Exchange) send(ctx context.Context, id string, kind protocol.TransferKind, recipients []string, src io.Reader) (int, error) {
	req := protocol.TransferRequest{ID: id, Kind: kind, Recipients: recipients}
	var st *protocol.TransferState
	err := x.retry(ctx, "create transfer "+id, func(ctx context.Context) error {
		var err error
		st, err = x.api.CreateTransfer(ctx, x.session, req)
		return err
	})
	if err != nil {
		return 0, err
	}
	if st.Complete {
		x.stats.skipped.Add(int64(st.TotalParts))
		x.sentDone(id)
		return st.TotalParts, nil
	}
	held, skip := heldPrefix(st, x.overhead())
	br := bufio.NewReaderSize(src, 256<<10)
	if held > 0 {
		if n, err := io.CopyN(io.Discard, br, skip); err != nil {
			x.abandon(id)
			return 0, fmt.Errorf("resume transfer %s: content ends after %d bytes, before the %d parts the server holds: %w", id, n, held, err)
		}
		x.stats.skipped.Add(int64(held))
	}
	u := uploader{x: x, id: id}
	parts, err := u.run(ctx, br, held+1)
	if err == nil {
		err = x.retry(ctx, "complete transfer "+id, func(ctx context.Context) error {
			return x.api.CompleteTransfer(ctx, x.session, id, parts)
		})
	}
	if err != nil {
		x.abandon(id)
		return 0, err
	}
	x.sentDone(id)
	return parts, nil
}

// heldPrefix counts the parts the server holds from part 1 on without a gap, and their plain
// bytes: where a resumed upload goes on.
func heldPrefix(st *protocol.TransferState, overhead int64) (parts int, plain int64) {
	ps := slices.Clone(st.Parts)
	slices.SortFunc(ps, func(a, b protocol.PartInfo) int { return a.N - b.N })
	for _, p := range ps {
		if p.N != parts+1 || p.Size < overhead {
			break
		}
		parts++
		plain += p.Size - overhead
	}
	return parts, plain
}

// holds tells whether the server lists part n with size sealed bytes (stored or received).
func holds(st *protocol.TransferState, n, size int) bool {
	return slices.ContainsFunc(st.Parts, func(p protocol.PartInfo) bool { return p.N == n && p.Size == int64(size) })
}

// sentDone remembers a completed transfer, to delete once received (Close).
func (x *Exchange) sentDone(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !slices.Contains(x.sent, id) {
		x.sent = append(x.sent, id)
	}
}

// abandon deletes a failed transfer from the server in the background, so that its
// recipients stop waiting and its parts free the session's quota.
func (x *Exchange) abandon(id string) {
	x.tasks.Go(func() {
		ctx, cancel := context.WithTimeout(x.ctx, x.opts.RetryWindow)
		defer cancel()
		err := x.retry(ctx, "delete transfer "+id, func(ctx context.Context) error {
			err := x.api.CancelTransfer(ctx, x.session, id)
			if status(err) == http.StatusNotFound {
				return nil
			}
			return err
		})
		if err != nil && x.ctx.Err() == nil {
			x.log.Warn("relay: a failed transfer stays on the server", "transfer", id, "err", err)
		}
	})
}

// uploader cuts, seals and uploads the parts of one transfer.
type uploader struct {
	x     *Exchange
	id    string
	gate  gate
	queue quotaQueue
}

// run uploads the parts read from r, numbered from first, and returns the number of the last.
func (u *uploader) run(ctx context.Context, r *bufio.Reader, first int) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	last := first - 1
	for n := first; ; n++ {
		if n > protocol.MaxPartNumber {
			cancel(fmt.Errorf("transfer %s: more than %d parts", u.id, protocol.MaxPartNumber))
			break
		}
		if err := u.gate.acquire(ctx, u.x.ctrl.parallelism); err != nil {
			break
		}
		if err := u.queue.turn(ctx, n); err != nil {
			u.gate.release()
			break
		}
		if err := acquire(ctx, u.x.upMem); err != nil {
			u.gate.release()
			break
		}
		release := func() {
			<-u.x.upMem
			u.gate.release()
		}
		buf := u.x.buffer(u.x.ctrl.sliceSize())
		k, end, err := fill(r, buf)
		if err != nil {
			release()
			cancel(fmt.Errorf("transfer %s: read the content: %w", u.id, err))
			break
		}
		if k == 0 && n > 1 {
			// The content ended right after the parts the server holds.
			release()
			u.x.recycle(buf)
			break
		}
		last = n
		u.queue.cut(n)
		wg.Go(func() {
			defer release()
			sealed := u.x.seal(u.id, n, end, buf[:k])
			u.x.recycle(buf)
			if err := u.x.putPart(ctx, u.id, n, sealed, k, &u.queue); err != nil {
				cancel(err)
			}
		})
		if end {
			break
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return last, nil
}

// fill reads a part into buf and tells whether it is the content's last.
func fill(r *bufio.Reader, buf []byte) (n int, last bool, err error) {
	n, err = io.ReadFull(r, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return n, true, nil
	case err != nil:
		return n, false, err
	}
	if _, err := r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		return n, false, err
	}
	return n, false, nil
}

// putPart uploads one sealed part. Before trying again after a failure it asks the server
// whether the part arrived anyway (the answer may have been lost), so that no part is stored
// twice; while that question gets no answer, it does not upload either (the server may come
// back between the two). A part refused for a full storage waits in q for its turn.
func (x *Exchange) putPart(ctx context.Context, id string, n int, sealed []byte, plain int, q *quotaQueue) error {
	r := retrier{x: x, op: fmt.Sprintf("upload part %d of transfer %s", n, id)}
	defer q.leave(n)
	for again := false; ; again = true {
		if again {
			if err := q.turn(ctx, n); err != nil {
				return fmt.Errorf("%s: %w", r.op, err)
			}
			st, err := x.api.TransferState(ctx, x.session, id)
			switch {
			case err == nil && holds(st, n, len(sealed)):
				x.stats.skipped.Add(1)
				return nil
			case err != nil && retryable(err):
				if err := r.again(ctx, err); err != nil {
					return err
				}
				continue
			}
		}
		start := time.Now()
		err := x.api.UploadPart(ctx, x.session, id, n, sealed)
		switch {
		case err == nil:
			x.reached()
			x.ctrl.succeeded(plain, time.Since(start))
			x.stats.uploaded.Add(1)
			x.stats.sent.Add(int64(len(sealed)))
			return nil
		case status(err) == http.StatusConflict:
			// Stored before and already received: the server keeps that one.
			x.stats.skipped.Add(1)
			return nil
		case ctx.Err() == nil:
			x.ctrl.failed(classify(err))
		}
		if status(err) == http.StatusInsufficientStorage {
			q.join(n)
		}
		if err := r.again(ctx, err); err != nil {
			return err
		}
	}
}

// buffer returns a buffer of n bytes, recycled when possible.
func (x *Exchange) buffer(n int) []byte {
	if p, ok := x.buffers.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

func (x *Exchange) recycle(b []byte) {
	b = b[:0]
	x.buffers.Put(&b)
}

// partWindow bounds how far past the lowest part not stored yet a part may be cut: the
// recipients take the parts in order, so the storage never holds more than partWindow-1 parts
// they cannot take yet, whatever the upload of a lower part meets (an outage, a slow request).
const partWindow = maxParallel

// quotaQueue holds the parts of one upload that the server refused because the session's
// storage is full. They are tried again lowest first, and no later part is cut meanwhile: the
// room the recipients free goes to the part they wait for, not to later ones they cannot take
// yet, which would keep it full for good. For the same reason no part is cut partWindow parts
// or more past the lowest part cut and not done.
type quotaQueue struct {
	mu      sync.Mutex
	waiting []int // sorted
	open    []int // parts cut and not done, sorted
	changed changes
}

// cut records part n as cut: it holds the window until it leaves.
func (q *quotaQueue) cut(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i, found := slices.BinarySearch(q.open, n); !found {
		q.open = slices.Insert(q.open, i, n)
	}
}

// join puts part n in the queue.
func (q *quotaQueue) join(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i, found := slices.BinarySearch(q.waiting, n); !found {
		q.waiting = slices.Insert(q.waiting, i, n)
		q.changed.signal()
	}
}

// leave takes part n, done, out of the queue and the window, where it is.
func (q *quotaQueue) leave(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i, found := slices.BinarySearch(q.waiting, n); found {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.changed.signal()
	}
	if i, found := slices.BinarySearch(q.open, n); found {
		q.open = slices.Delete(q.open, i, i+1)
		q.changed.signal()
	}
}

// turn waits until no part before n waits for room, and n is within the window of the lowest
// part not done.
func (q *quotaQueue) turn(ctx context.Context, n int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed.await(ctx, &q.mu, func() bool {
		return (len(q.waiting) == 0 || q.waiting[0] >= n) && (len(q.open) == 0 || n-q.open[0] < partWindow)
	})
}

// gate lets a number of holders in that may change over time.
type gate struct {
	mu    sync.Mutex
	busy  int
	freed changes
}

func (g *gate) acquire(ctx context.Context, limit func() int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.freed.await(ctx, &g.mu, func() bool { return g.busy < limit() }); err != nil {
		return err
	}
	g.busy++
	return nil
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy--
	g.freed.signal()
}

// changes wakes those waiting for a condition that a mutex guards: each change closes the
// channel they wait on.
type changes struct{ ch chan struct{} }

// await returns once ok holds, or with ctx's cause; mu is held on entry and on return.
func (c *changes) await(ctx context.Context, mu *sync.Mutex, ok func() bool) error {
	for !ok() {
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		mu.Unlock()
		select {
		case <-ch:
			mu.Lock()
		case <-ctx.Done():
			mu.Lock()
			return context.Cause(ctx)
		}
	}
	return nil
}

// signal wakes every waiter.
func (c *changes) signal() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// acquire takes a slot of sem.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
