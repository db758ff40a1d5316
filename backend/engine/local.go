package engine

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/protocol"
)

// LocalSynchronizationOrchestrator orchestrates the run of a single-member session in memory:
// the server's tracker over a memory store, its events emitted here. It makes no request.
type LocalSynchronizationOrchestrator struct {
	session, self string
	tr            *tracker.Tracker
	events        *eventQueue

	// order serializes each tracker call with the emission of its events, so that events
	// follow the tracker's versions.
	order sync.Mutex
	mu    sync.Mutex
	err   error // the first tracking error, returned by Finished
}

// NewLocalOrchestrator returns the orchestrator of self's run in session.
func NewLocalOrchestrator(session, self string) *LocalSynchronizationOrchestrator {
	return &LocalSynchronizationOrchestrator{
		session: session,
		self:    self,
		tr:      tracker.New(tracker.NewMemory(nil), tracker.Options{}),
		events:  newEventQueue(),
	}
}

func (o *LocalSynchronizationOrchestrator) Start(ctx context.Context, groups iter.Seq[protocol.GroupDefinition]) error {
	s, err := o.tr.StartEach(ctx, o.session, o.self, []string{o.self}, groups)
	if err != nil {
		return fmt.Errorf("start the synchronization: %w", err)
	}
	o.events.push(Event{Type: EventStarted, Sync: *s})
	return nil
}

func (o *LocalSynchronizationOrchestrator) Report(results ...protocol.ActionResult) {
	o.order.Lock()
	defer o.order.Unlock()
	c, err := o.tr.Report(context.Background(), o.session, o.self, results)
	if err != nil {
		o.fail(fmt.Errorf("track results: %w", err))
		return
	}
	o.emit(c)
}

func (o *LocalSynchronizationOrchestrator) Finished(ctx context.Context) error {
	o.order.Lock()
	defer o.order.Unlock()
	c, err := o.tr.MemberFinished(ctx, o.session, o.self)
	if err != nil {
		return fmt.Errorf("finish the synchronization: %w", err)
	}
	o.emit(c)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *LocalSynchronizationOrchestrator) Abort(ctx context.Context) error {
	o.order.Lock()
	defer o.order.Unlock()
	c, err := o.tr.Abort(ctx, o.session, o.self)
	if err != nil {
		return fmt.Errorf("abort the synchronization: %w", err)
	}
	o.emit(c)
	return nil
}

func (o *LocalSynchronizationOrchestrator) Events() <-chan Event { return o.events.out }

func (o *LocalSynchronizationOrchestrator) Close() error {
	o.events.close()
	return nil
}

func (o *LocalSynchronizationOrchestrator) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
}

// emit turns a tracker change into the events the server would push for it.
func (o *LocalSynchronizationOrchestrator) emit(c tracker.Change) {
	for _, e := range changeEvents(c) {
		o.events.push(e)
	}
}

// changeEvents are the events of a tracker change, in the server's push order: progress, abort
// request, end.
func changeEvents(c tracker.Change) []Event {
	if c.Sync == nil {
		return nil
	}
	var out []Event
	if c.Changed {
		out = append(out, Event{Type: EventProgress, Sync: *c.Sync, Groups: c.Groups})
	}
	if c.AbortRequested {
		out = append(out, Event{Type: EventAbortRequested, Sync: *c.Sync})
	}
	if c.Ended {
		out = append(out, Event{Type: EventEnded, Sync: *c.Sync})
	}
	return out
}
