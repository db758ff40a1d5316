package engine

import (
	"context"
	"iter"

	"github.com/ferrysync/ferry/backend/protocol"
)

// EventType names a step of a synchronization.
type EventType string

const (
	EventStarted        EventType = "started"
	EventProgress       EventType = "progress"
	EventAbortRequested EventType = "abort_requested"
	EventEnded          EventType = "ended"
)

// Event is one step of a synchronization, the same from both orchestrations: the run as of the
// event (counters in Sync.Progress) and, for progress, the groups that just changed.
type Event struct {
	Type   EventType                `json:"type"`
	Sync   protocol.Synchronization `json:"synchronization"`
	Groups []protocol.GroupSummary  `json:"groups,omitempty"`
}

// Orchestrator tracks a run: locally for a single-member session, on the server otherwise.
type Orchestrator interface {
	// Start starts the run with every group of the plan; only the starting member calls it.
	// groups may be ranged over more than once.
	Start(ctx context.Context, groups iter.Seq[protocol.GroupDefinition]) error
	// Report hands over results of this member's actions. It never waits for the network.
	Report(results ...protocol.ActionResult)
	// Finished tells that this member ran all its groups; every result reported before it is
	// delivered first.
	Finished(ctx context.Context) error
	// Abort asks to abort the run.
	Abort(ctx context.Context) error
	// Events delivers the run's events in order: one Started, Progress and AbortRequested, one
	// Ended; it is closed after Ended or Close.
	Events() <-chan Event
	// Close releases the orchestrator.
	Close() error
}
