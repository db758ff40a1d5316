package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// ErrOutboxClosed is returned by Flush when the outbox closed before delivering everything.
var ErrOutboxClosed = errors.New("status outbox closed")

// OutboxOptions tune the outboxes of a Client. The zero value is ready to use.
type OutboxOptions struct {
	// Capacity is how many statuses may wait besides the one being sent (64 when zero).
	Capacity int
	// Retry bounds the waits between failed deliveries (250 ms doubling up to 5 s when zero);
	// its Attempts is ignored: delivery is tried until Close.
	Retry Retry
}

// Outbox reports this member's statuses in one session without making the caller wait. Post
// stamps and queues a status; one sender delivers them in order, each until the server
// acknowledges it, and waits with capped backoff while the server cannot be reached.
//
// The server keeps only the newest status of a member, so when the queue is full the oldest
// waiting status is dropped: what peers must learn is where the member stands now, and the most
// recent transitions are the ones still worth showing them. The newest status is never dropped.
//
// An acknowledged status is never sent again. One whose answer was lost is sent again with the
// same stamp, and the server, which applies only a newer stamp, ignores the copy: each status
// takes effect once. A status the server refuses for good (a 4xx other than 401, 408 and 429,
// e.g. the member left the session) is dropped and reported by the next Flush.
type Outbox struct {
	c       *Client
	session string
	cap     int
	retry   Retry

	mu       sync.Mutex
	queue    []queued // in Post order; queue[0] is in flight when sending is set
	sending  bool
	posted   uint64    // sequence number of the last Post
	lastAt   time.Time // stamp of the last Post
	refused  []error   // since the last Flush
	dropped  int       // statuses refused for good, ever
	progress chan struct{}
	wake     chan struct{}

	cancel    context.CancelFunc
	stopped   chan struct{}
	closeOnce sync.Once
}

type queued struct {
	seq    uint64
	update protocol.StatusUpdate
}

// NewOutbox starts an outbox for this member in session id. It delivers until Close or until
// ctx ends.
func (c *Client) NewOutbox(ctx context.Context, id string) *Outbox {
	opts := c.outbox
	if opts.Capacity <= 0 {
		opts.Capacity = 64
	}
	if opts.Retry.Base <= 0 {
		opts.Retry.Base = 250 * time.Millisecond
	}
	if opts.Retry.Max <= 0 {
		opts.Retry.Max = max(5*time.Second, opts.Retry.Base)
	}
	ctx, cancel := context.WithCancel(ctx)
	o := &Outbox{
		c:        c,
		session:  id,
		cap:      opts.Capacity,
		retry:    opts.Retry,
		progress: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		cancel:   cancel,
		stopped:  make(chan struct{}),
	}
	go o.run(ctx)
	return o
}

// Post queues status, stamped with the current time, and returns at once.
func (o *Outbox) Post(status protocol.MemberStatus) {
	if _, err := status.MarshalJSON(); err != nil {
		o.mu.Lock()
		o.refused = append(o.refused, fmt.Errorf("post status: %w", err))
		o.mu.Unlock()
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// Stamps strictly increase (in microseconds, which any store keeps), so that the server's
	// newest-wins rule keeps them in Post order even when the clock is coarse or steps back.
	at := time.Now().UTC().Truncate(time.Microsecond)
	if !at.After(o.lastAt) {
		at = o.lastAt.Add(time.Microsecond)
	}
	o.lastAt = at
	o.posted++
	o.queue = append(o.queue, queued{seq: o.posted, update: protocol.StatusUpdate{Status: status, At: at}})
	if waiting := len(o.queue) - o.inFlight(); waiting > o.cap {
		i := o.inFlight() // the oldest waiting one
		o.c.log.Debug("status outbox full, dropping the oldest", "session", o.session, "status", o.queue[i].update.Status)
		o.queue = append(o.queue[:i], o.queue[i+1:]...)
		o.advance()
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Outbox) inFlight() int {
	if o.sending {
		return 1
	}
	return 0
}

// Pending is the number of statuses not yet acknowledged by the server.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// Undelivered is the number of statuses the server has not acknowledged: those still queued and
// those it refused for good (e.g. 404: it no longer knows the session).
func (o *Outbox) Undelivered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue) + o.dropped
}

// Flush waits until every status posted before the call is delivered (or dropped for a newer
// one), or until ctx ends. It returns the refusals since the previous Flush, joined.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	target := o.posted
	o.mu.Unlock()
	for {
		o.mu.Lock()
		if o.resolved() >= target {
			err := errors.Join(o.refused...)
			o.refused = nil
			o.mu.Unlock()
			return err
		}
		pending, progress := len(o.queue), o.progress
		o.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("flush statuses of session %s: %d not delivered: %w", o.session, pending, context.Cause(ctx))
		case <-o.stopped:
			if o.Pending() == 0 {
				continue
			}
			return fmt.Errorf("flush statuses of session %s: %w", o.session, ErrOutboxClosed)
		}
	}
}

// advance wakes the Flush calls waiting: the queue lost its oldest status.
func (o *Outbox) advance() {
	close(o.progress)
	o.progress = make(chan struct{})
}

// resolved is the sequence number up to which every status is delivered or dropped.
func (o *Outbox) resolved() uint64 {
	if len(o.queue) == 0 {
		return o.posted
	}
	return o.queue[0].seq - 1
}

// Close stops delivering and waits for the sender to end; statuses still queued are abandoned
// (Flush first to deliver them).
func (o *Outbox) Close() {
	o.closeOnce.Do(o.cancel)
	<-o.stopped
}

func (o *Outbox) run(ctx context.Context) {
	defer close(o.stopped)
	failures := 0
	for {
		o.mu.Lock()
		for len(o.queue) == 0 {
			o.mu.Unlock()
			select {
			case <-o.wake:
			case <-ctx.Done():
				return
			}
			o.mu.Lock()
		}
		head := o.queue[0]
		o.sending = true
		o.mu.Unlock()

		_, err := o.c.setStatus(ctx, o.session, head.update, false)

		o.mu.Lock()
		o.sending = false
		if err != nil && ctx.Err() != nil {
			o.mu.Unlock()
			return
		}
		if err == nil || !retryable(err) {
			if err != nil {
				o.refused = append(o.refused, err)
				o.dropped++
			}
			o.queue = o.queue[1:]
			o.advance()
			failures = 0
			o.mu.Unlock()
			continue
		}
		o.mu.Unlock()
		failures++
		d := o.retry.backoff(failures)
		o.c.log.Debug("status not delivered, will retry", "session", o.session, "status", head.update.Status,
			"wait", d, "err", err)
		if sleep(ctx, d) != nil {
			return
		}
	}
}

// retryable tells the failures that sending again may overcome: no answer, a server error,
// or a refused token that could not be renewed.
func retryable(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return false // our own: the status does not encode, the answer does not decode
	}
	switch se.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return se.Status >= 500
}
