package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

// Remote carries the content copies whose source and targets are on different members, through
// the session server's relay; *remote.Content implements it. Every member derives the same
// transfers from the plan and the run.
type Remote interface {
	// Send reads this member's sources of copies to other members and sends them; it reports
	// only source failures, the recipients report their targets.
	Send(ctx context.Context, run remote.Run, report func(remote.Result))
	// Receive writes the content other members send onto this member's targets and reports
	// every target; the error is that of making the new files durable.
	Receive(ctx context.Context, run remote.Run, report func(remote.Result)) error
}

var _ Remote = (*remote.Content)(nil)

// runKey names a run alike on every member: the session, who started it and when.
func runKey(s protocol.Synchronization) string {
	return s.Session + " " + s.StartedBy + " " + s.Started.UTC().Format(time.RFC3339Nano)
}

// relay runs the relayed copies of the run beside this member's local work: sending at once,
// receiving once ready is closed (the local deletes and creates are done), both until done or
// ctx ends. report gets each result and whether it is a source failure.
func (r *Run) relay(ctx context.Context, started protocol.Synchronization, ready <-chan struct{}, report func(TargetResult, bool)) error {
	run := remote.Run{Key: runKey(started), Plan: r.Plan, Self: r.Self, Owner: r.Owner}
	result := func(res remote.Result) {
		t := TargetResult{Group: res.Group, Op: res.Op, Target: res.Target, Bytes: res.Bytes, Err: res.Err}
		if t.Err != nil {
			on := "on"
			if res.Source {
				on = "from"
			}
			t.Err = transfer.Explain(fmt.Errorf("%s %s %s %s: %w", res.Op, res.Target.Path(), on, res.Target.Part, res.Err))
		}
		report(t, res.Source)
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		r.Remote.Send(ctx, run, result)
	}()
	defer func() { <-sent }()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil
	}
	if err := r.Remote.Receive(ctx, run, result); err != nil {
		return fmt.Errorf("make the received files durable: %w", err)
	}
	return nil
}
