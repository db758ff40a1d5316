package engine

import (
	"sync"

	"github.com/ferrysync/ferry/backend/protocol"
)

// eventQueue delivers events in order without ever blocking the emitter: consecutive progress
// events wait merged (latest counters, every changed group) while the reader is busy.
type eventQueue struct {
	mu      sync.Mutex
	pending []Event
	// merged indexes the groups of the last pending event when it is a progress event that
	// merged others; nil until then.
	merged  map[string]int
	wake    chan struct{}
	out     chan Event
	closing bool
	done    chan struct{}
	once    sync.Once
}

func newEventQueue() *eventQueue {
	q := &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
	go q.run()
	return q
}

// push queues an event; after Ended the queue closes once drained.
func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return
	}
	if n := len(q.pending); n > 0 && e.Type == EventProgress && q.pending[n-1].Type == EventProgress {
		last := &q.pending[n-1]
		last.Sync = e.Sync
		last.Groups, q.merged = mergeGroups(last.Groups, e.Groups, q.merged)
	} else {
		q.pending, q.merged = append(q.pending, e), nil
	}
	q.closing = e.Type == EventEnded
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// finish closes the queue once what was queued is read.
func (q *eventQueue) finish() {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop closes the queue, dropping what was not read.
func (q *eventQueue) stop() {
	q.mu.Lock()
	q.closing, q.pending, q.merged = true, nil, nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run() {
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			closing := q.closing
			q.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-q.wake:
			case <-q.done:
				return
			}
			continue
		}
		e := q.pending[0]
		q.pending = q.pending[1:]
		if len(q.pending) == 0 {
			q.merged = nil // it indexed e
		}
		q.mu.Unlock()
		select {
		case q.out <- e:
		case <-q.done:
			return
		}
	}
}

// close ends the delivery goroutine at once.
func (q *eventQueue) close() {
	q.stop()
	q.once.Do(func() { close(q.done) })
}

// mergeGroups merges the summaries b into a, the latest state of a group replacing an earlier
// one; at indexes a by group and is kept from one merge into the same a to the next, so that
// merging stays proportional to b while the reader lags.
func mergeGroups(a, b []protocol.GroupSummary, at map[string]int) ([]protocol.GroupSummary, map[string]int) {
	if len(b) == 0 {
		return a, at
	}
	if at == nil {
		at = make(map[string]int, len(a)+len(b))
		for i, g := range a {
			at[g.Group] = i
		}
	}
	for _, g := range b {
		if i, ok := at[g.Group]; ok {
			a[i] = g
		} else {
			at[g.Group] = len(a)
			a = append(a, g)
		}
	}
	return a, at
}
