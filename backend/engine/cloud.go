package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ferrysync/ferry/backend/backoff"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/protocol"
)

// CloudAPI is what the cloud orchestrator needs of the server; *client.Client implements it.
type CloudAPI interface {
	StartSynchronization(ctx context.Context, session string, groups []protocol.GroupDefinition) (*protocol.Synchronization, error)
	Synchronization(ctx context.Context, session string) (*protocol.Synchronization, error)
	ReportResults(ctx context.Context, session string, results []protocol.ActionResult) (*protocol.SyncProgress, error)
	SynchronizationFinished(ctx context.Context, session string) (*protocol.Synchronization, error)
	AbortSynchronization(ctx context.Context, session string) (*protocol.Synchronization, error)
}

// CloudOptions tune a cloud orchestrator. The zero value is ready to use.
type CloudOptions struct {
	// BatchSize is the most results one request carries, and the count that sends a batch at
	// once (100 when zero, at most 1000: the server's limit).
	BatchSize int
	// BatchAge is how long a result may wait for its batch to fill (2 s when zero).
	BatchAge time.Duration
	// PushGrace is how long the answer to Finished or Abort, or a catch-up read, waits for the
	// pushes to tell the same before it is emitted (1 s when zero): pushes come first, in order,
	// with the groups that changed; an answer or a read that overtook them would make them stale.
	PushGrace time.Duration
	// Retry bounds the waits between attempts of a request that failed for a reason that may
	// pass: Base doubling up to Max, jittered (200 ms up to 10 s when zero). Attempts is
	// ignored: requests are retried until delivered, refused, the run ended, or Close.
	Retry client.Retry
	// Logger receives retries (debug) and refusals (warn); nothing when nil.
	Logger *slog.Logger
}

// maxResultBatch is the server's limit of results in one request.
const maxResultBatch = 1000

// ErrOrchestratorClosed is in the chain of an error of a call that Close interrupted.
var ErrOrchestratorClosed = errors.New("orchestrator closed")

// errRunEnded stops the retries of a request the ended run no longer needs.
var errRunEnded = errors.New("the synchronization ended")

// CloudSynchronizationOrchestrator follows a run that the server tracks, for sessions with two
// members or more (or when cloud orchestration is forced).
//
// Results are batched and sent by one background sender, in order, one batch at a time; a
// failure that may pass (network, timeout, 5xx, 408, 429) is retried with jittered backoff
// until the batch is delivered, the run ended or Close: the server counts a result once however
// often it arrives. A definitive refusal (any other 4xx) drops the batch, is logged, and is
// returned by Finished (and by Err), as the local orchestrator returns its tracking errors.
//
// Events come from the pushes of the session: one Started, Progress only when its version is
// newer than the last event's, one AbortRequested, one Ended. Start's answer emits Started at
// once (the Started push is then a duplicate). The answers to Finished and Abort stand in for
// pushes that are late: what they tell is emitted PushGrace after they came unless a push told
// it first. A member that missed pushes (it began following after the start, or the push
// connection came back with client.EventReconnected) reads the run with a GET and, PushGrace
// later, emits what it missed. Results answers are not emitted: their pushes follow at once.
// A run that a read finds ended before this orchestrator saw it start is taken for an earlier
// run of the session and ignored; an Ended or AbortRequested push is not (it happened while
// following) and emits Started first.
type CloudSynchronizationOrchestrator struct {
	api     CloudAPI
	session string
	opts    CloudOptions
	log     *slog.Logger
	events  *eventQueue

	ctx       context.Context // ended by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	wake      chan struct{} // nudges the sender
	catchUp   chan struct{} // asks the catch-up worker for a GET
	answered  chan struct{} // tells the answers worker of a new answer

	mu sync.Mutex
	// The run as emitted so far: cur is its latest known state.
	cur                         protocol.Synchronization
	started, abortSeen, endSeen bool
	ended                       chan struct{} // closed with Ended
	// gen changes around Start: a catch-up GET issued before may describe an earlier run.
	gen uint64
	// answer is the newest answer to Finished or Abort, not emitted yet.
	answer *protocol.Synchronization
	// The results: queued were reported, taken left pending for a send, settled were
	// delivered or dropped. flushTo is the count Finished wants settled.
	pending                         []protocol.ActionResult
	reported                        []time.Time // when each pending result was reported
	queued, taken, settled, flushTo int
	settledCh                       chan struct{} // closed and replaced when settled grows
	err                             error         // the first refusal
}

// CloudOrchestrator is the short name of CloudSynchronizationOrchestrator.
type CloudOrchestrator = CloudSynchronizationOrchestrator

var _ Orchestrator = (*CloudSynchronizationOrchestrator)(nil)

// NewCloudOrchestrator returns the orchestrator of this member's part of session's run. pushes
// are the events of a push receiver following the session (other sessions' events and the
// receiver's own are welcome; the caller owns the receiver). It reads the run once at once, in
// case it began after the start.
func NewCloudOrchestrator(api CloudAPI, session string, pushes <-chan protocol.Event, o CloudOptions) *CloudSynchronizationOrchestrator {
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	o.BatchSize = min(o.BatchSize, maxResultBatch)
	if o.BatchAge <= 0 {
		o.BatchAge = 2 * time.Second
	}
	if o.PushGrace <= 0 {
		o.PushGrace = time.Second
	}
	if o.Retry.Base <= 0 {
		o.Retry.Base = 200 * time.Millisecond
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = max(10*time.Second, o.Retry.Base)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &CloudSynchronizationOrchestrator{
		api:       api,
		session:   session,
		opts:      o,
		log:       o.Logger.With("session", session),
		events:    newEventQueue(),
		ctx:       ctx,
		cancel:    func() { cancel(ErrOrchestratorClosed) },
		wake:      make(chan struct{}, 1),
		catchUp:   make(chan struct{}, 1),
		answered:  make(chan struct{}, 1),
		ended:     make(chan struct{}),
		settledCh: make(chan struct{}),
	}
	c.requestCatchUp()
	c.wg.Add(4)
	go c.receive(pushes)
	go c.send()
	go c.catchUps()
	go c.answers()
	return c
}

// Start starts the run and emits Started from the answer.
func (c *CloudSynchronizationOrchestrator) Start(ctx context.Context, groups iter.Seq[protocol.GroupDefinition]) error {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
	ctx, stop := c.bind(ctx)
	defer stop()
	s, err := c.api.StartSynchronization(ctx, c.session, slices.Collect(groups))
	if err != nil {
		return fmt.Errorf("start the synchronization: %w", c.cause(ctx, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++ // a GET issued while starting may have read the previous run
	c.applySync(s, nil)
	return nil
}

// Report queues results for the sender; it never waits. Results reported after the end or
// Close are dropped.
func (c *CloudSynchronizationOrchestrator) Report(results ...protocol.ActionResult) {
	if len(results) == 0 {
		return
	}
	c.mu.Lock()
	if c.endSeen || c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	c.pending = append(c.pending, results...)
	for range results {
		c.reported = append(c.reported, now)
	}
	c.queued += len(results)
	c.mu.Unlock()
	c.nudge()
}

// Finished delivers every result reported so far, then tells the server that this member ran
// its groups. It returns the refusals of result batches too: those results were not counted.
func (c *CloudSynchronizationOrchestrator) Finished(ctx context.Context) error {
	ctx, stop := c.bind(ctx)
	defer stop()
	if err := c.flush(ctx); err != nil {
		return errors.Join(fmt.Errorf("deliver the results: %w", err), c.Err())
	}
	if c.isEnded() {
		return c.Err()
	}
	err := c.retry(ctx, "finished", func(ctx context.Context) error {
		s, err := c.api.SynchronizationFinished(ctx, c.session)
		if err == nil {
			c.keepAnswer(s)
		}
		return err
	})
	if errors.Is(err, errRunEnded) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("finish the synchronization: %w", err)
	}
	return errors.Join(c.Err(), err)
}

// Abort asks the server to abort the run. AbortRequested comes from the push, or from the
// answer when the push is late.
func (c *CloudSynchronizationOrchestrator) Abort(ctx context.Context) error {
	if c.isEnded() {
		return nil
	}
	ctx, stop := c.bind(ctx)
	defer stop()
	err := c.retry(ctx, "abort", func(ctx context.Context) error {
		s, err := c.api.AbortSynchronization(ctx, c.session)
		if err == nil {
			c.keepAnswer(s)
		}
		return err
	})
	if err == nil || errors.Is(err, errRunEnded) {
		return nil
	}
	return fmt.Errorf("abort the synchronization: %w", err)
}

func (c *CloudSynchronizationOrchestrator) Events() <-chan Event { return c.events.out }

func (c *CloudSynchronizationOrchestrator) isEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endSeen
}

// Err is the first refusal of a result batch (nil when none): those results were dropped.
func (c *CloudSynchronizationOrchestrator) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops the sender, the retries and the events, and waits for its goroutines. Results
// not delivered yet are dropped.
func (c *CloudSynchronizationOrchestrator) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.events.close()
	})
	return nil
}

// bind returns ctx, also cancelled by Close.
func (c *CloudSynchronizationOrchestrator) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if c.ctx.Err() != nil {
		// Closed already: AfterFunc would cancel ctx only once its goroutine runs, and a call
		// could leave meanwhile.
		cancel(ErrOrchestratorClosed)
	}
	stop := context.AfterFunc(c.ctx, func() { cancel(ErrOrchestratorClosed) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}

// cause puts ctx's cause in err's place when ctx ended, so that Close shows.
func (c *CloudSynchronizationOrchestrator) cause(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
		return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return err
}

// --- events ---

// receive converts the pushes of the session until Close or until pushes is closed.
func (c *CloudSynchronizationOrchestrator) receive(pushes <-chan protocol.Event) {
	defer c.wg.Done()
	for {
		select {
		case e, ok := <-pushes:
			if !ok { // this member no longer follows the session: no end will come
				c.events.finish()
				return
			}
			c.push(e)
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *CloudSynchronizationOrchestrator) push(e protocol.Event) {
	switch e.Type {
	case client.EventReconnected:
		c.requestCatchUp() // the pushes sent meanwhile are lost
		return
	case protocol.EventSyncStarted, protocol.EventSyncAbortRequest, protocol.EventSyncEnded, protocol.EventSyncProgress:
		if e.Session != c.session {
			return
		}
	default:
		return
	}
	if e.Type == protocol.EventSyncProgress {
		var p protocol.SyncProgress
		if err := json.Unmarshal(e.Data, &p); err != nil {
			c.log.Warn("undecodable synchronization push", "type", e.Type, "err", err)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.started {
			c.requestCatchUp() // the Started push was missed: read the run
			return
		}
		c.applyProgress(p)
		return
	}
	var s protocol.Synchronization
	if err := json.Unmarshal(e.Data, &s); err != nil {
		c.log.Warn("undecodable synchronization push", "type", e.Type, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applySync(&s, nil)
}

// applySync emits what s tells that was not emitted yet: Started, Progress (a newer version),
// AbortRequested, Ended. c.mu is held.
func (c *CloudSynchronizationOrchestrator) applySync(s *protocol.Synchronization, groups []protocol.GroupSummary) {
	if s == nil || c.endSeen {
		return
	}
	switch {
	case !c.started:
		c.started, c.cur = true, *s
		c.emit(EventStarted, nil)
	case !s.Started.Equal(c.cur.Started) || s.StartedBy != c.cur.StartedBy:
		c.log.Debug("ignoring another synchronization", "started", s.Started, "by", s.StartedBy)
		return
	case s.Progress.Version > c.cur.Progress.Version:
		c.cur = *s
		c.emit(EventProgress, groups)
	default:
		// Not newer: keep the abort request and the end it may tell of.
		if c.cur.AbortRequested == nil {
			c.cur.AbortRequested, c.cur.AbortRequestedBy = s.AbortRequested, s.AbortRequestedBy
		}
		if c.cur.Ended == nil {
			c.cur.Ended, c.cur.EndStatus, c.cur.EndReason = s.Ended, s.EndStatus, s.EndReason
		}
	}
	if c.cur.IsAbortRequested() && !c.abortSeen {
		c.abortSeen = true
		c.emit(EventAbortRequested, nil)
	}
	if c.cur.IsEnded() {
		c.end()
	}
}

// applyProgress emits a newer progress. c.mu is held.
func (c *CloudSynchronizationOrchestrator) applyProgress(p protocol.SyncProgress) {
	if c.endSeen || !c.started || p.Progress.Version <= c.cur.Progress.Version {
		return
	}
	c.cur.Progress = p.Progress
	c.emit(EventProgress, p.Groups)
}

func (c *CloudSynchronizationOrchestrator) emit(t EventType, groups []protocol.GroupSummary) {
	c.events.push(Event{Type: t, Sync: c.cur, Groups: groups})
}

// end emits Ended and drops the results not sent: the server ignores them now. c.mu is held.
func (c *CloudSynchronizationOrchestrator) end() {
	c.endSeen = true
	close(c.ended)
	c.emit(EventEnded, nil)
	if n := len(c.pending); n > 0 {
		c.log.Debug("run ended: dropping results not sent", "count", n)
	}
	c.pending, c.reported = nil, nil
	c.taken = c.queued
	c.settle(0)
}

// requestCatchUp asks the catch-up worker to read the run; requests made while one waits
// merge.
func (c *CloudSynchronizationOrchestrator) requestCatchUp() {
	select {
	case c.catchUp <- struct{}{}:
	default:
	}
}

// catchUps reads the run whenever pushes may have been missed, and emits what they told.
func (c *CloudSynchronizationOrchestrator) catchUps() {
	defer c.wg.Done()
	for {
		select {
		case <-c.catchUp:
		case <-c.ctx.Done():
			return
		}
		if c.isEnded() {
			continue
		}
		err := c.retry(c.ctx, "read the synchronization", func(ctx context.Context) error {
			c.mu.Lock()
			gen := c.gen
			c.mu.Unlock()
			s, err := c.api.Synchronization(ctx, c.session)
			if err != nil {
				return err
			}
			if err := c.grace(ctx); err != nil {
				return err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			switch {
			case gen != c.gen:
				return errStale // started meanwhile: read again
			case !c.started && s.IsEnded():
				// An earlier run, or one that ended before this member followed it.
				c.log.Debug("catch-up: the session's synchronization ended before", "ended", s.Ended)
			default:
				c.applySync(s, nil)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRunEnded) && c.ctx.Err() == nil {
			// No run yet (404) or not ours: the pushes will tell.
			c.log.Debug("catch-up: read the synchronization", "err", err)
		}
	}
}

// keepAnswer keeps s, the answer to Finished or Abort, for the answers worker.
func (c *CloudSynchronizationOrchestrator) keepAnswer(s *protocol.Synchronization) {
	c.mu.Lock()
	if c.answer == nil || s.Progress.Version >= c.answer.Progress.Version {
		c.answer = s
	}
	c.mu.Unlock()
	select {
	case c.answered <- struct{}{}:
	default:
	}
}

// answers emits what the answers tell, PushGrace after the first of them came, unless the
// pushes told it meanwhile.
func (c *CloudSynchronizationOrchestrator) answers() {
	defer c.wg.Done()
	for {
		select {
		case <-c.answered:
		case <-c.ctx.Done():
			return
		}
		if c.grace(c.ctx) != nil {
			return
		}
		c.mu.Lock()
		c.applySync(c.answer, nil)
		c.answer = nil
		c.mu.Unlock()
	}
}

// grace waits PushGrace, or less when the run ends meanwhile.
func (c *CloudSynchronizationOrchestrator) grace(ctx context.Context) error {
	t := time.NewTimer(c.opts.PushGrace)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ended:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// errStale: a catch-up answer that may describe the run before Start; retried at once.
var errStale = errors.New("stale answer")

// --- results ---

func (c *CloudSynchronizationOrchestrator) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send delivers the batches one at a time until Close.
func (c *CloudSynchronizationOrchestrator) send() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		batch, wait := c.take()
		if batch != nil {
			c.deliver(batch)
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-c.wake:
		case <-fire:
		case <-c.ctx.Done():
			return
		}
		timer.Stop()
	}
}

// take returns the next batch when one is due (full, old, or flushed), else how long until
// the pending results are old enough (0: none pending).
func (c *CloudSynchronizationOrchestrator) take() ([]protocol.ActionResult, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.pending)
	if n == 0 {
		return nil, 0
	}
	if age := time.Since(c.reported[0]); n < c.opts.BatchSize && c.flushTo <= c.taken && age < c.opts.BatchAge {
		return nil, c.opts.BatchAge - age
	}
	n = min(n, c.opts.BatchSize)
	// A queue: appends never reach the batch's elements, and the taken ones are freed when
	// append moves the rest to a new array.
	batch := c.pending[:n:n]
	c.pending, c.reported = c.pending[n:], c.reported[n:]
	c.taken += n
	return batch, 0
}

// deliver sends one batch until it is delivered, refused, useless (the run ended) or Close.
func (c *CloudSynchronizationOrchestrator) deliver(batch []protocol.ActionResult) {
	err := c.retry(c.ctx, "report results", func(ctx context.Context) error {
		_, err := c.api.ReportResults(ctx, c.session, batch)
		return err
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
	case errors.Is(err, errRunEnded):
		c.log.Debug("run ended: dropping a batch not delivered", "count", len(batch))
	case c.ctx.Err() != nil:
	default:
		c.log.Warn("results refused: dropped", "count", len(batch), "first_group", batch[0].Group, "err", err)
		if c.err == nil {
			c.err = fmt.Errorf("report %d results (from group %s): %w", len(batch), batch[0].Group, err)
		}
	}
	c.settle(len(batch))
}

// settle counts n more results settled and wakes the flushes. c.mu is held.
func (c *CloudSynchronizationOrchestrator) settle(n int) {
	c.settled = min(c.settled+n, c.taken)
	if c.endSeen {
		c.settled = c.queued
	}
	close(c.settledCh)
	c.settledCh = make(chan struct{})
}

// flush sends every result reported so far and waits until they are settled.
func (c *CloudSynchronizationOrchestrator) flush(ctx context.Context) error {
	c.mu.Lock()
	target := c.queued
	c.flushTo = max(c.flushTo, target)
	c.mu.Unlock()
	c.nudge()
	for {
		c.mu.Lock()
		done, changed := c.settled >= target, c.settledCh
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// --- retries ---

// retry calls fn until it succeeds, fails definitively, ctx ends, or the run ended
// (errRunEnded) while it waited to try again.
func (c *CloudSynchronizationOrchestrator) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errStale):
			attempt = 0
			continue
		case ctx.Err() != nil:
			return c.cause(ctx, err)
		case !retryable(err):
			return err
		}
		d := backoff.Policy{Base: c.opts.Retry.Base, Max: c.opts.Retry.Max}.Equal(attempt)
		c.log.Debug("retrying", "op", op, "attempt", attempt, "wait", d, "err", err)
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return c.cause(ctx, err)
		case <-c.ended:
			return errRunEnded
		}
	}
}

// retryable tells a failure that may pass: no answer (network, timeout, undecodable answer),
// 5xx, 408 or 429. Any other answer is a refusal: sending the same again gets the same.
func retryable(err error) bool {
	var se *client.StatusError
	if !errors.As(err, &se) {
		return true
	}
	return se.Status >= 500 || se.Status == http.StatusRequestTimeout || se.Status == http.StatusTooManyRequests
}
