package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
)

// Run is one member's part of a synchronization.
type Run struct {
	Plan         *plan.Plan
	Self         string                   // this member
	Owner        func(node string) string // the member owning a node
	Orchestrator Orchestrator
	Start        bool // this member starts the run (the others wait for Started)
	Workers      int  // DefaultWorkers when zero
	// Status receives this member's statuses for the server; it must not block (the outbox).
	Status func(protocol.MemberStatus)
	// Event observes every event (progress bar, JSON lines, the app); it must not block long.
	Event func(Event)
	// Abort asks for an abort when closed (SIGINT, the abort button).
	Abort <-chan struct{}
	// Result, when set, receives the result of every group target this member ran.
	Result func(TargetResult)
	// Handler runs the actions; NewHandler when nil.
	Handler *Handler
	// Remote carries the copies between this member and others. Nil: copies onto this
	// member's nodes from another member's fail with ErrNeedsRelay (a single member has none).
	// It must take its data source roots from Roots.
	Remote Remote
	// Roots holds this member's data source roots for the run; the caller may have opened and
	// locked them before the inventory, and closes them after. Nil: the run opens its own.
	// Either way the run opens them with OpenRoots before anything else.
	Roots *transfer.Roots
}

// Outcome is how a run ended for this member.
type Outcome struct {
	Sync   protocol.Synchronization // as ended
	Errors []error                  // this member's failed actions, with their paths
}

// ErrOrchestratorStopped: the orchestrator's events ended before the run did (this member left
// the session, or the orchestrator was closed).
var ErrOrchestratorStopped = errors.New("the synchronization's events stopped before its end")

// Synchronize runs this member's groups under the orchestrator: start (the starting member),
// wait for Started, run the groups phase by phase, report each result, tell the orchestrator
// this member finished, and wait for the end. It always tells the orchestrator it finished once
// the loop began, aborted or not, so that the run ends. ctx bounds the whole run: cancelling it
// stops waiting without ending the run.
func Synchronize(ctx context.Context, r Run) (*Outcome, error) {
	if r.Status == nil {
		r.Status = func(protocol.MemberStatus) {}
	}
	if r.Event == nil {
		r.Event = func(Event) {}
	}
	o := r.Orchestrator
	mine := func(node string) bool { return r.Owner(node) == r.Self }
	if r.Roots == nil {
		r.Roots = transfer.NewRoots()
		defer r.Roots.Close()
	}
	// A folder replaced since the inventory, or in use by another run, fails before the run
	// starts when this member starts it (nothing changes anywhere); otherwise every action
	// there fails with the reason and the rest of the run goes on.
	if err := OpenRoots(r.Plan, r.Roots, mine); err != nil && r.Start {
		r.Status(protocol.SynchronizationError)
		return nil, transfer.Explain(err)
	}
	// A target folder that cannot take the run (read-only, too full) fails before the run
	// starts when this member starts it; otherwise this member aborts the run as soon as it
	// starts, and runs nothing.
	refused := Preflight(r.Plan, r.Roots, mine, r.Workers)
	if refused != nil && r.Start {
		r.Status(protocol.SynchronizationError)
		return nil, refused
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()

	started := make(chan struct{})
	var run protocol.Synchronization // as started; read once started is closed
	ended := make(chan protocol.Synchronization, 1)
	stopped := make(chan struct{}) // the events ended, with or without Ended
	go func() {
		defer close(stopped)
		startedOnce := false
		for e := range o.Events() {
			r.Event(e)
			switch e.Type {
			case EventStarted:
				if !startedOnce {
					startedOnce = true
					run = e.Sync
					close(started)
				}
			case EventAbortRequested:
				stopLoop()
			case EventEnded:
				stopLoop()
				ended <- e.Sync
				return
			}
		}
	}()

	// endWithStop is the end when the events stopped with it (both may be ready at once).
	endWithStop := func() (protocol.Synchronization, bool) {
		select {
		case s := <-ended:
			return s, true
		default:
			return protocol.Synchronization{}, false
		}
	}

	if r.Start {
		if err := o.Start(ctx, Definitions(r.Plan, r.Owner)); err != nil {
			r.Status(protocol.SynchronizationError)
			return nil, err
		}
	}
	select {
	case <-started:
	case s := <-ended: // ended before this member saw it start: nothing left to do
		return &Outcome{Sync: s}, nil
	case <-stopped:
		if s, ok := endWithStop(); ok {
			return &Outcome{Sync: s}, nil
		}
		return nil, ErrOrchestratorStopped
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the synchronization to start: %w", context.Cause(ctx))
	}
	r.Status(protocol.SynchronizationRunning)

	// An abort asked here is sent before this member says it finished.
	requestAbort := sync.OnceValue(func() error {
		stopLoop()
		return o.Abort(ctx)
	})
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-r.Abort:
			_ = requestAbort()
		case <-returned:
		}
	}()

	var errs []error
	var stopErr error // the failure that stopped the run (StopError)
	if refused == nil {
		errs, stopErr = r.loop(loopCtx, run, func() { _ = requestAbort() })
	}
	aborting := stopErr != nil || refused != nil
	select {
	case <-r.Abort:
		aborting = true
	default:
	}
	if aborting {
		if err := requestAbort(); err != nil {
			errs = append(errs, err)
		}
	}
	var why []error // why this member aborted, for the outcome when the run's end is not seen
	switch {
	case refused != nil:
		why = append(why, refused)
	case stopErr != nil:
		why = append(why, &StopError{Err: stopErr})
	}
	finishErr := o.Finished(ctx)
	if finishErr == nil {
		r.Status(protocol.SynchronizationSourceActionsInitiated)
	} else {
		// Results were refused or lost: the run cannot end regularly; aborting ends it.
		errs = append(errs, finishErr)
		_ = requestAbort()
	}
	var end protocol.Synchronization
	select {
	case end = <-ended:
	case <-stopped:
		var ok bool
		if end, ok = endWithStop(); !ok {
			r.Status(protocol.SynchronizationError)
			return &Outcome{Errors: explainAll(append(errs, why...))}, ErrOrchestratorStopped
		}
	case <-ctx.Done():
		r.Status(protocol.SynchronizationError)
		return &Outcome{Errors: explainAll(append(errs, why...))}, fmt.Errorf("wait for the synchronization to end: %w", context.Cause(ctx))
	}
	if end.EndStatus == protocol.EndError {
		r.Status(protocol.SynchronizationError)
	} else {
		r.Status(protocol.SynchronizationFinished)
	}
	if end.EndStatus == protocol.EndRegular && end.Progress.ErrorActions == 0 && len(errs) == 0 {
		if err := PruneVersions(r.Plan, r.Roots, mine, time.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	out := &Outcome{Sync: end, Errors: explainAll(errs)}
	switch {
	case refused != nil:
		return out, refused
	case stopErr != nil:
		return out, &StopError{Err: stopErr}
	}
	return out, nil
}

// explainAll tells errs in words (transfer.Explain).
func explainAll(errs []error) []error {
	for i, err := range errs {
		errs[i] = transfer.Explain(err)
	}
	return errs
}

// StopError is the failure that stopped a run at its first occurrence, because every later
// write to its folder would fail alike: no space left, quota exceeded, read-only file system,
// failing device. The run was aborted; files already written stay, none is half-written.
type StopError struct {
	Err error // the failed action, with its path
}

func (e *StopError) Error() string {
	return e.Err.Error() + "; the synchronization stopped there, as every later write would fail the same way"
}

func (e *StopError) Unwrap() error { return e.Err }

// stopsRun tells whether an action's error will repeat for every later write to its folder.
// An input/output error stops the run when writing failed (reading a source may fail for one
// file only).
func stopsRun(err error) bool {
	switch {
	case slices.ContainsFunc(targetFull, func(e error) bool { return errors.Is(err, e) }):
		return true
	case errors.Is(err, syscall.EIO):
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return slices.Contains([]string{"write", "pwrite", "pwrite64", "fsync", "close", "create", "syncfs",
				"mkdir", "mkdirat", "rmdir", "remove", "removeat", "unlinkat", "chmod", "futimens", "utimensat"}, pe.Op)
		}
		var le *os.LinkError
		return errors.As(err, &le)
	}
	return false
}

// loop runs this member's groups and reports their results; after loopCtx ends (abort, end)
// the targets not run yet are neither run nor reported. With a Remote, the copies to and from
// other members run beside the local groups: sending from the start, receiving once the local
// deletes and creates are done, as the local copies do.
//
// The first failure that every later write would repeat (stopsRun) is reported, then stop is
// called (it aborts the run and ends ctx) and the failure returned as stopped; the same failures
// of actions under way meanwhile are neither reported nor returned.
func (r *Run) loop(ctx context.Context, started protocol.Synchronization, stop func()) (errs []error, stopped error) {
	h := r.Handler
	if h == nil {
		h = planHandler(r.Plan, r.Roots)
	}
	var mu sync.Mutex
	addErr := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	report := func(t TargetResult, source bool) {
		if t.Err != nil && ctx.Err() != nil && errors.Is(t.Err, ctx.Err()) {
			return // not run: aborted
		}
		stopping := t.Err != nil && stopsRun(t.Err)
		if stopping {
			mu.Lock()
			first := stopped == nil
			if first {
				stopped = t.Err
			}
			mu.Unlock()
			if !first {
				return // the same failure again, under way when the run stopped
			}
			defer stop()
		}
		if t.Quiet { // not tracked
			if t.Err != nil && !stopping {
				addErr(t.Err)
			}
			return
		}
		res := protocol.ActionResult{Group: t.Group, Node: t.Target.Node, Kind: resultKind(t.Op), Bytes: t.Bytes}
		if source {
			res.Node, res.Source = "", true
		}
		if t.Err != nil {
			res.Kind, res.Bytes = protocol.ResultFailed, 0
			if !stopping {
				addErr(t.Err)
			}
		}
		if r.Result != nil && !source {
			r.Result(t)
		}
		r.Orchestrator.Report(res)
	}
	local := func(t TargetResult) { report(t, false) }
	own, relayed := r.ownGroups()
	if r.Remote == nil {
		for _, g := range relayed {
			for _, t := range g.Targets {
				local(TargetResult{Group: g.ID(), Op: g.Op, Target: t.Location,
					Err: fmt.Errorf("%s %s on %s: %w", g.Op, t.Path(), t.Part, ErrNeedsRelay)})
			}
		}
		if err := Execute(ctx, h, own, r.Workers, local); err != nil {
			addErr(fmt.Errorf("make the written files durable: %w", err))
		}
		return errs, stopped
	}
	copies := phaseStart(own, plan.PhaseCopy)
	dates := phaseStart(own, plan.PhaseDirDates)
	ready := make(chan struct{})
	relayDone := make(chan error, 1)
	go func() { relayDone <- r.relay(ctx, started, ready, report) }()
	err := Execute(ctx, h, own[:copies], r.Workers, local)
	close(ready)
	err = errors.Join(err, Execute(ctx, h, own[copies:dates], r.Workers, local))
	// Directories are dated once the relayed copies onto them are written too.
	if err := <-relayDone; err != nil {
		addErr(err)
	}
	err = errors.Join(err, Execute(ctx, h, own[dates:], r.Workers, local))
	if err != nil {
		addErr(fmt.Errorf("make the written files durable: %w", err))
	}
	return errs, stopped
}

// phaseStart is the index of the first group of groups (in plan order) in phase or a later one.
func phaseStart(groups []plan.Group, phase plan.Phase) int {
	if i := slices.IndexFunc(groups, func(g plan.Group) bool { return g.Phase >= phase }); i >= 0 {
		return i
	}
	return len(groups)
}

// ErrNeedsRelay: a content copy from another member's node in a run without a Remote.
var ErrNeedsRelay = errors.New("copies between members need the relay, and this run has none")

// ownGroups are the groups this member runs, restricted to its own targets: content copies it
// reads and every other action on its nodes, in the plan's phase order. relayed are content
// copies onto its nodes that another member reads (the Remote derives its work from the plan).
// When this member owns every node the plan touches, own is the plan's groups themselves (they
// are read, never changed): no copy of them.
func (r *Run) ownGroups() (own, relayed []plan.Group) {
	foreign := func(t plan.Endpoint) bool { return r.Owner(t.Node) != r.Self }
	if !slices.ContainsFunc(r.Plan.Groups, func(g plan.Group) bool {
		return len(g.Targets) == 0 || slices.ContainsFunc(g.Targets, foreign) || g.Source != nil && foreign(*g.Source)
	}) {
		return r.Plan.Groups, nil
	}
	own = make([]plan.Group, 0, len(r.Plan.Groups))
	for _, g := range r.Plan.Groups {
		targets := g.Targets
		if slices.ContainsFunc(targets, foreign) {
			targets = slices.DeleteFunc(slices.Clone(targets), foreign)
		}
		if len(targets) == 0 {
			continue
		}
		g.Targets = targets
		if g.Source != nil && (g.Op == plan.OpCopy || g.Op == plan.OpCopyContent) && r.Owner(g.Source.Node) != r.Self {
			relayed = append(relayed, g)
			continue
		}
		own = append(own, g)
	}
	return own, relayed
}

func resultKind(op plan.Op) protocol.ResultKind {
	switch op {
	case plan.OpCopy, plan.OpCopyContent:
		return protocol.ResultCopied
	case plan.OpCopyDates:
		return protocol.ResultDatesCopied
	case plan.OpCreate:
		return protocol.ResultCreated
	default:
		return protocol.ResultDeleted
	}
}
