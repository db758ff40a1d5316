package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

var (
	// ErrCanceled: the sender deleted a transfer before this member had all of it.
	ErrCanceled = errors.New("the sender canceled the transfer")
	// ErrStalled: a transfer showed no new part for Options.Idle.
	ErrStalled = errors.New("the transfer made no progress")
	// ErrPartGone: a part this member had not received yet is no longer on the server.
	ErrPartGone = errors.New("a part is no longer on the server")
)

// ahead is how many parts of one transfer are downloaded at once.
const ahead = 4

// stream hands out the opened parts of one transfer in order. It downloads as soon as a part
// is announced (by a push, or by the transfer's state read at the start, after a reconnection
// and every Poll), a few parts ahead. Each part is acknowledged once its consumer is done with
// it (ack), after which the server may delete it. Not safe for concurrent use.
type stream struct {
	x        *Exchange
	id, from string
	ctx      context.Context
	cancel   context.CancelCauseFunc
	watch    *watch
	unwatch  func()
	fetching sync.WaitGroup

	next     int            // next part to hand out
	stored   map[int]bool   // parts known to be on the server, not fetched yet
	fetches  map[int]*fetch // downloads started and not handed out
	tokens   int            // slots of downMem held
	total    int            // parts of the completed transfer, 0 while unknown
	seen     bool           // the transfer exists on the server
	check    bool           // read the state before waiting
	woken    bool           // a push came: look at what it told
	progress time.Time      // when the last new part was seen
	done     bool           // the last part was handed out
}

type fetch struct {
	done  chan struct{}
	plain []byte
	last  bool
	err   error
}

// openStream starts receiving transfer id, which member from must own.
func (x *Exchange) openStream(ctx context.Context, id, from string) *stream {
	ctx, cancel := context.WithCancelCause(ctx)
	w, unwatch := x.watch(id)
	return &stream{
		x: x, id: id, from: from, ctx: ctx, cancel: cancel, watch: w, unwatch: unwatch,
		next: 1, stored: map[int]bool{}, fetches: map[int]*fetch{}, check: true, progress: time.Now(),
	}
}

// close stops the downloads and releases what the stream holds; parts handed out and not
// acknowledged stay on the server.
func (s *stream) close() {
	s.cancel(errors.New("stream closed"))
	s.fetching.Wait()
	for ; s.tokens > 0; s.tokens-- {
		<-s.x.downMem
	}
	s.unwatch()
}

// part returns the next part's number and plain text, and whether it is the last; io.EOF
// after the last.
func (s *stream) part() (int, []byte, bool, error) {
	if s.done {
		return 0, nil, false, io.EOF
	}
	for {
		s.prefetch()
		if f := s.fetches[s.next]; f != nil {
			select {
			case <-f.done:
			case <-s.ctx.Done():
				return 0, nil, false, context.Cause(s.ctx)
			}
			delete(s.fetches, s.next)
			if f.err != nil {
				return 0, nil, false, f.err
			}
			n := s.next
			s.next++
			s.done = f.last
			return n, f.plain, f.last, nil
		}
		if err := s.await(); err != nil {
			return 0, nil, false, err
		}
	}
}

// ack releases a part handed out: its slot here, and its copy on the server, in the
// background (with retries, until the Exchange closes).
func (s *stream) ack(n int) {
	<-s.x.downMem
	s.tokens--
	x, id := s.x, s.id
	x.tasks.Go(func() {
		ctx, cancel := context.WithTimeout(x.ctx, x.opts.RetryWindow)
		defer cancel()
		err := x.retry(ctx, fmt.Sprintf("acknowledge part %d of transfer %s", n, id), func(ctx context.Context) error {
			return x.api.PartReceived(ctx, x.session, id, n)
		})
		if err != nil && x.ctx.Err() == nil && status(err) != http.StatusNotFound { // gone: nothing stays
			x.log.Warn("relay: a received part stays on the server", "transfer", id, "part", n, "err", err)
		}
	})
}

// prefetch starts the downloads of the parts known to be stored, in order from the next one,
// up to ahead of them. Only the next part waits for a memory slot: later ones are skipped when
// none is free, so that streams never hold slots while waiting for one.
func (s *stream) prefetch() {
	for n := s.next; n < s.next+ahead; n++ {
		if s.fetches[n] != nil {
			continue
		}
		if !s.stored[n] || (s.total > 0 && n > s.total) {
			return
		}
		if n == s.next {
			if acquire(s.ctx, s.x.downMem) != nil {
				return
			}
		} else {
			select {
			case s.x.downMem <- struct{}{}:
			default:
				return
			}
		}
		s.tokens++
		delete(s.stored, n)
		f := &fetch{done: make(chan struct{})}
		s.fetches[n] = f
		s.fetching.Go(func() { s.get(n, f) })
	}
}

// get downloads and opens part n.
func (s *stream) get(n int, f *fetch) {
	defer close(f.done)
	var sealed []byte
	f.err = s.x.retry(s.ctx, fmt.Sprintf("download part %d of transfer %s", n, s.id), func(ctx context.Context) error {
		var err error
		sealed, err = s.x.api.DownloadPart(ctx, s.x.session, s.id, n)
		return err
	})
	if status(f.err) == http.StatusNotFound {
		f.err = fmt.Errorf("transfer %s: %w: %w", s.id, ErrCanceled, f.err)
	}
	if f.err != nil {
		return
	}
	s.x.stats.downloaded.Add(1)
	s.x.stats.received.Add(int64(len(sealed)))
	f.plain, f.last, f.err = s.x.open(s.id, n, sealed)
	if f.err != nil {
		f.err = fmt.Errorf("transfer %s: %w", s.id, f.err)
	}
}

// await waits until a part after those handed out is known to be stored.
func (s *stream) await() error {
	for {
		parts, total, changed := s.x.pushed(s.watch)
		if s.learn(parts, total) {
			s.woken = false
			return nil
		}
		if s.woken {
			s.woken, s.check = false, true // a reconnection, or a push already known
		}
		if s.check {
			s.check = false
			st, err := s.x.api.TransferState(s.ctx, s.x.session, s.id)
			switch {
			case err == nil:
				s.x.reached()
				news, err := s.learnState(st)
				if err != nil || news {
					return err
				}
			case status(err) == http.StatusNotFound:
				if s.seen {
					return fmt.Errorf("transfer %s: %w", s.id, ErrCanceled)
				}
			case s.ctx.Err() != nil:
				return context.Cause(s.ctx)
			case !retryable(err):
				return fmt.Errorf("transfer %s: %w", s.id, err)
			default:
				if down := time.Since(s.x.outage(time.Now())); down >= s.x.opts.RetryWindow {
					return fmt.Errorf("transfer %s: the server has been failing for %v: %w", s.id, down.Round(time.Second), err)
				}
			}
		}
		if s.total > 0 && s.next > s.total {
			return fmt.Errorf("transfer %s completed with %d parts: %w", s.id, s.total, crypto.ErrTruncated)
		}
		wait := s.x.opts.Poll
		if s.seen {
			left := s.x.opts.Idle - time.Since(s.progress)
			if left <= 0 {
				return fmt.Errorf("transfer %s: no new part for %v: %w", s.id, s.x.opts.Idle, ErrStalled)
			}
			wait = min(wait, left)
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
			s.woken = true
		case <-t.C:
			s.check = true
		case <-s.ctx.Done():
			t.Stop()
			return context.Cause(s.ctx)
		}
		t.Stop()
	}
}

// learn takes what pushes told; true when a part to fetch became known.
func (s *stream) learn(parts []int, total int) bool {
	news := false
	for _, n := range parts {
		news = s.stores(n) || news
	}
	if total > 0 && s.total != total {
		s.total, s.seen = total, true
		news = true // the end may now be known
	}
	return news
}

// stores records part n as stored; true when it is new.
func (s *stream) stores(n int) bool {
	if n < s.next || s.stored[n] || s.fetches[n] != nil {
		return false
	}
	s.stored[n] = true
	s.seen = true
	s.progress = time.Now()
	return true
}

// learnState takes the transfer's state; true when a part to fetch became known.
func (s *stream) learnState(st *protocol.TransferState) (bool, error) {
	if st.Owner != s.from {
		return false, fmt.Errorf("transfer %s is sent by %s, expected from %s", s.id, st.Owner, s.from)
	}
	s.seen = true
	news := false
	for _, p := range st.Parts {
		if p.N < s.next {
			continue
		}
		if p.Deleted || slices.Contains(p.Received, s.x.self) {
			if s.fetches[p.N] == nil {
				return false, fmt.Errorf("transfer %s: part %d: %w", s.id, p.N, ErrPartGone)
			}
			continue
		}
		news = s.stores(p.N) || news
	}
	if st.Complete && s.total != st.TotalParts {
		s.total = st.TotalParts
		news = true
	}
	return news, nil
}

// reader turns a stream into an io.Reader; a part is acknowledged once read to its end.
type reader struct {
	s   *stream
	cur []byte
	n   int // part of cur, to acknowledge
	err error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.n > 0 {
			r.s.ack(r.n)
			r.n = 0
		}
		if r.err != nil {
			return 0, r.err
		}
		n, plain, _, err := r.s.part()
		if err != nil {
			r.err = err
			return 0, err
		}
		r.cur, r.n = plain, n
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	return k, nil
}
