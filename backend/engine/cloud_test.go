package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/protocol"
)

// checkCopies checks the counters of a run that ran every one of n copies of size bytes.
func checkCopies(t *testing.T, who string, e Event, n int, size int64) {
	t.Helper()
	p := e.Sync.Progress
	vol := int64(n) * size
	if p.TotalActions != n || p.FinishedActions != n || p.ErrorActions != 0 ||
		p.SyncedVolume != vol || p.LocalCopyVolume != vol || p.TotalVolume != vol || len(p.CompletedMembers) != 2 {
		t.Errorf("%s: progress %+v, want %d actions and %d bytes done", who, p, n, vol)
	}
}

func TestCloudBatchesAndEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var sent batches
	url := startCloud(t, sent.wrap)
	p := newPair(t, url, url)
	ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchAge: time.Minute})
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{BatchAge: time.Minute})

	defs := copies("G", 250, p.a.InstanceID(), "A", 10)
	if err := oa.Start(ctx, slices.Values(defs)); err != nil {
		t.Fatal(err)
	}
	for _, r := range results(defs) {
		oa.Report(r)
	}
	if err := oa.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sent.get(); !slices.Equal(got, []int{100, 100, 50}) {
		t.Errorf("batches sent: %v, want [100 100 50]", got)
	}
	if err := ob.Finished(ctx); err != nil {
		t.Fatal(err)
	}

	checkCopies(t, "a", checkEvents(t, "a", la.all(t), protocol.EndRegular), 250, 10)
	eventsB := lb.all(t)
	checkCopies(t, "b", checkEvents(t, "b", eventsB, protocol.EndRegular), 250, 10)
	// b ran nothing: it learnt every group's state from the progress pushes.
	ok := map[string]bool{}
	for _, e := range eventsB {
		for _, g := range e.Groups {
			ok[g.Group] = g.Success
		}
	}
	for _, d := range defs {
		if !ok[d.ID] {
			t.Errorf("b did not see group %s succeed", d.ID)
			break
		}
	}
}

func TestCloudBatchAge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var sent batches
	url := startCloud(t, sent.wrap)
	p := newPair(t, url, url)
	ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchAge: 50 * time.Millisecond})
	_, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{})

	defs := creates("G", 10, p.a.InstanceID(), "A")
	if err := oa.Start(ctx, slices.Values(defs)); err != nil {
		t.Fatal(err)
	}
	oa.Report(results(defs[:3])...)
	// Nothing else happens: the batch leaves on its age alone.
	la.waitFinished(t, 3)
	lb.waitFinished(t, 3)
	if got := sent.get(); !slices.Equal(got, []int{3}) {
		t.Errorf("batches sent: %v, want [3]", got)
	}
}

func TestCloudRetries(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"503", "429", "drop", "lose"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var sent batches
			url := startCloud(t, sent.wrap)
			proxy, proxyURL := startProxy(t, url)
			p := newPair(t, url, proxyURL)
			ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
			oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchAge: time.Minute})
			ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{})

			defs := copies("G", 120, p.a.InstanceID(), "A", 7)
			if err := oa.Start(ctx, slices.Values(defs)); err != nil {
				t.Fatal(err)
			}
			// More failures than the client's own attempts: the orchestrator retries too.
			const failures = 5
			proxy.fail(mode, failures)
			oa.Report(results(defs)...)
			if err := oa.Finished(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ob.Finished(ctx); err != nil {
				t.Fatal(err)
			}
			if n := proxy.failures(); n != failures {
				t.Errorf("%d failures served, want %d", n, failures)
			}
			checkCopies(t, "a", checkEvents(t, "a", la.all(t), protocol.EndRegular), 120, 7)
			checkCopies(t, "b", checkEvents(t, "b", lb.all(t), protocol.EndRegular), 120, 7)

			total := 0
			for _, n := range sent.get() {
				total += n
			}
			switch {
			case mode == "lose" && total != 120+failures*100:
				t.Errorf("the server received %d results, want %d (the first batch %d times)", total, 120+failures*100, failures+1)
			case mode != "lose" && total != 120:
				t.Errorf("the server received %d results, want 120", total)
			}
		})
	}
}

func TestCloudRefusedBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchSize: 5, BatchAge: time.Minute})
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{})

	defs := creates("G", 10, p.a.InstanceID(), "A")
	if err := oa.Start(ctx, slices.Values(defs)); err != nil {
		t.Fatal(err)
	}
	r := results(defs)
	oa.Report(r[:5]...)
	// The second batch names a group the run does not have: the server refuses all of it.
	oa.Report(protocol.ActionResult{Group: "nope", Kind: protocol.ResultCreated}, r[5], r[6], r[7], r[8])
	oa.Report(r[9])
	err := oa.Finished(ctx)
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != 400 {
		t.Fatalf("Finished: %v, want the 400 refusal of the second batch", err)
	}
	if !errors.As(oa.Err(), &se) || se.Status != 400 {
		t.Errorf("Err = %v, want the refusal", oa.Err())
	}
	la.waitFinished(t, 6)

	// Four actions will never be counted: only an abort ends the run now.
	if err := ob.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	if err := oa.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	for who, l := range map[string]*eventLog{"a": la, "b": lb} {
		end := checkEvents(t, who, l.all(t), protocol.EndAborted)
		if p := end.Sync.Progress; p.FinishedActions != 6 || p.TotalActions != 10 {
			t.Errorf("%s: progress %+v, want 6 of 10 actions", who, p)
		}
	}
}

func TestCloudAbortBySecondMember(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{})
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{})

	da, db := creates("GA", 10, p.a.InstanceID(), "A"), creates("GB", 10, p.b.InstanceID(), "B")
	if err := oa.Start(ctx, slices.Values(append(da, db...))); err != nil {
		t.Fatal(err)
	}
	lb.waitType(t, EventStarted)
	oa.Report(results(da[:3])...)
	if err := ob.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	la.waitType(t, EventAbortRequested)
	lb.waitType(t, EventAbortRequested)
	// The run ends only once both members finished.
	if err := oa.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	if events, _ := lb.snapshot(); slices.ContainsFunc(events, func(e Event) bool { return e.Type == EventEnded }) {
		t.Fatalf("b: ended before it finished: %s", describe(events))
	}
	if err := ob.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	for who, l := range map[string]*eventLog{"a": la, "b": lb} {
		end := checkEvents(t, who, l.all(t), protocol.EndAborted)
		if s := end.Sync; !slices.Equal(s.AbortRequestedBy, []string{p.b.InstanceID()}) || s.Progress.FinishedActions != 3 {
			t.Errorf("%s: ended %+v, want aborted by b after 3 actions", who, s)
		}
	}
}

func TestCloudLateFollower(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	ra := follow(t, p.a, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchAge: 10 * time.Millisecond})

	da, db := creates("GA", 5, p.a.InstanceID(), "A"), creates("GB", 5, p.b.InstanceID(), "B")
	if err := oa.Start(ctx, slices.Values(append(da, db...))); err != nil {
		t.Fatal(err)
	}
	oa.Report(results(da)...)
	la.waitFinished(t, 5)

	// b follows only now: no Started push will come; it reads the run.
	rb := follow(t, p.b, p.session)
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{PushGrace: 20 * time.Millisecond})
	if e := lb.waitType(t, EventStarted); e.Sync.Progress.FinishedActions != 5 || e.Sync.StartedBy != p.a.InstanceID() {
		t.Errorf("b started with %+v, want a's run with 5 actions done", e.Sync)
	}
	ob.Report(results(db)...)
	if err := ob.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	if err := oa.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	for who, l := range map[string]*eventLog{"a": la, "b": lb} {
		if end := checkEvents(t, who, l.all(t), protocol.EndRegular); end.Sync.Progress.FinishedActions != 10 {
			t.Errorf("%s: ended with %+v", who, end.Sync.Progress)
		}
	}
}

func TestCloudReconnectCatchUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{})
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{PushGrace: 20 * time.Millisecond})

	da := creates("GA", 6, p.a.InstanceID(), "A")
	if err := oa.Start(ctx, slices.Values(da)); err != nil {
		t.Fatal(err)
	}
	lb.waitType(t, EventStarted)
	if err := ob.Finished(ctx); err != nil { // b has nothing to run
		t.Fatal(err)
	}

	// b's push connection breaks; meanwhile a reports, aborts and finishes: the run ends.
	rb.cut()
	oa.Report(results(da[:3])...)
	if err := oa.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := oa.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "a", la.all(t), protocol.EndAborted)
	if events, _ := lb.snapshot(); slices.ContainsFunc(events, func(e Event) bool {
		return e.Type == EventAbortRequested || e.Type == EventEnded
	}) {
		t.Fatalf("b saw the abort or the end through a cut connection: %s", describe(events))
	}

	rb.restore()
	events := lb.all(t)
	end := checkEvents(t, "b", events, protocol.EndAborted)
	if !slices.ContainsFunc(events, func(e Event) bool { return e.Type == EventAbortRequested }) {
		t.Errorf("b: no abort request caught up: %s", describe(events))
	}
	if end.Sync.Progress.FinishedActions != 3 {
		t.Errorf("b: ended with %+v", end.Sync.Progress)
	}
}

// TestCloudPushRules feeds crafted pushes: other sessions' are ignored, Started comes once,
// progress only when newer, nothing after Ended.
func TestCloudPushRules(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	pushes := make(chan protocol.Event, 16)
	oa, la := newCloud(t, p.a, p.session, pushes, CloudOptions{})

	if err := oa.Start(ctx, slices.Values(creates("G", 3, p.a.InstanceID(), "A"))); err != nil {
		t.Fatal(err)
	}
	started := la.waitType(t, EventStarted).Sync
	push := func(session string, typ protocol.EventType, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		pushes <- protocol.Event{Type: typ, Session: session, At: time.Now(), Data: data}
	}
	progress := func(version int64, group string) protocol.SyncProgress {
		pr := started.Progress
		pr.Version = version
		return protocol.SyncProgress{Progress: pr, Groups: []protocol.GroupSummary{{Group: group, Success: true}}}
	}
	push(p.session, protocol.EventSyncStarted, started)
	push("other", protocol.EventSyncProgress, progress(9, "other"))
	push(p.session, protocol.EventSyncProgress, progress(5, "G0"))
	push(p.session, protocol.EventSyncProgress, progress(3, "G1"))
	push(p.session, protocol.EventSyncProgress, progress(5, "G1"))
	push(p.session, protocol.EventSyncProgress, progress(6, "G2"))
	ended := started // as the server pushes it: the version of the last progress
	ended.Progress.Version = 6
	at := time.Now().UTC()
	ended.Ended, ended.EndStatus = &at, protocol.EndRegular
	push("other", protocol.EventSyncEnded, ended)
	push(p.session, protocol.EventSyncEnded, ended)
	push(p.session, protocol.EventSyncProgress, progress(8, "G2"))

	events := la.all(t)
	checkEvents(t, "a", events, protocol.EndRegular)
	var versions []int64
	var groups []string
	for _, e := range events {
		if e.Type == EventProgress {
			versions = append(versions, e.Sync.Progress.Version)
			for _, g := range e.Groups {
				groups = append(groups, g.Group)
			}
		}
	}
	// Progress events may merge while the reader is busy: 5 and 6, or 6 with both groups.
	if len(versions) == 0 || versions[len(versions)-1] != 6 || slices.Contains(versions, 3) {
		t.Errorf("progress versions %v, want 5 and 6", versions)
	}
	if slices.Sort(groups); !slices.Equal(groups, []string{"G0", "G2"}) {
		t.Errorf("progress groups %v, want G0 and G2", groups)
	}
	if end := events[len(events)-1]; end.Sync.Progress.Version != 6 {
		t.Errorf("ended at version %d, want 6", end.Sync.Progress.Version)
	}
}

func TestCloudCloseStopsRetries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	proxy, proxyURL := startProxy(t, url)
	p := newPair(t, url, proxyURL)
	ra := follow(t, p.a, p.session)
	oa, la := newCloud(t, p.a, p.session, ra.out, CloudOptions{BatchAge: time.Minute})

	defs := creates("G", 3, p.a.InstanceID(), "A")
	if err := oa.Start(ctx, slices.Values(defs)); err != nil {
		t.Fatal(err)
	}
	proxy.fail("503", -1) // the server stays unreachable
	oa.Report(results(defs)...)

	// Finished honors its context while the batch is retried.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := oa.Finished(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Finished with a short context: %v", err)
	}
	if proxy.failures() < 2 {
		t.Errorf("%d attempts while Finished waited", proxy.failures())
	}

	// Close interrupts a Finished that waits, and ends the events without Ended.
	finished := make(chan error, 1)
	go func() { finished <- oa.Finished(ctx) }()
	oa.Close()
	select {
	case err := <-finished:
		if !errors.Is(err, ErrOrchestratorClosed) {
			t.Errorf("Finished after Close: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Finished still waiting after Close")
	}
	if events := la.all(t); slices.ContainsFunc(events, func(e Event) bool { return e.Type == EventEnded }) {
		t.Errorf("events after Close: %s", describe(events))
	}
	oa.Report(results(defs)...) // no effect, no panic
	if err := oa.Abort(ctx); !errors.Is(err, ErrOrchestratorClosed) {
		t.Errorf("Abort after Close: %v", err)
	}
}

// TestCloudAnswersStandInForLatePushes: a member whose pushes do not come learns the abort and
// the end from the answers to its own calls, once.
func TestCloudAnswersStandInForLatePushes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := startCloud(t, nil)
	p := newPair(t, url, url)
	rb := follow(t, p.b, p.session)
	silent := make(chan protocol.Event) // a's pushes never come
	oa, la := newCloud(t, p.a, p.session, silent, CloudOptions{PushGrace: 20 * time.Millisecond})
	ob, lb := newCloud(t, p.b, p.session, rb.out, CloudOptions{})

	da, db := creates("GA", 4, p.a.InstanceID(), "A"), creates("GB", 4, p.b.InstanceID(), "B")
	if err := oa.Start(ctx, slices.Values(append(da, db...))); err != nil {
		t.Fatal(err)
	}
	lb.waitType(t, EventStarted)
	if err := ob.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ob.Finished(ctx); err != nil {
		t.Fatal(err)
	}
	lb.waitType(t, EventAbortRequested)
	oa.Report(results(da[:2])...)
	if err := oa.Finished(ctx); err != nil { // its answer: aborted and ended
		t.Fatal(err)
	}
	for who, l := range map[string]*eventLog{"a": la, "b": lb} {
		events := l.all(t)
		end := checkEvents(t, who, events, protocol.EndAborted)
		if !slices.ContainsFunc(events, func(e Event) bool { return e.Type == EventAbortRequested }) {
			t.Errorf("%s: no abort request: %s", who, describe(events))
		}
		if end.Sync.Progress.FinishedActions != 2 {
			t.Errorf("%s: ended with %+v", who, end.Sync.Progress)
		}
	}
}

// TestCloudSecondRun: orchestrators of a new run in the same session read the previous, ended
// run when they begin, and must not take it for theirs.
func TestCloudSecondRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	gets := newReads()
	url := startCloud(t, gets.wrap)
	p := newPair(t, url, url)
	for run := range 2 {
		// Fresh subscriptions for every run, as the session package makes them.
		ra, rb := follow(t, p.a, p.session), follow(t, p.b, p.session)
		// No grace: what the first reads find is taken at once.
		opts := CloudOptions{PushGrace: time.Nanosecond, BatchAge: 10 * time.Millisecond}
		oa, la := newCloud(t, p.a, p.session, ra.out, opts)
		ob, lb := newCloud(t, p.b, p.session, rb.out, opts)
		gets.wait(t, 2*(run+1)) // both read the previous run (none, then the ended one)
		da, db := creates("GA", run+1, p.a.InstanceID(), "A"), creates("GB", 1, p.b.InstanceID(), "B")
		if err := oa.Start(ctx, slices.Values(append(da, db...))); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		lb.waitType(t, EventStarted)
		oa.Report(results(da)...)
		ob.Report(results(db)...)
		if err := oa.Finished(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ob.Finished(ctx); err != nil {
			t.Fatal(err)
		}
		for who, l := range map[string]*eventLog{"a": la, "b": lb} {
			end := checkEvents(t, who, l.all(t), protocol.EndRegular)
			if end.Sync.Progress.TotalActions != run+2 || end.Sync.Progress.FinishedActions != run+2 {
				t.Errorf("run %d, %s: ended with %+v", run, who, end.Sync.Progress)
			}
		}
		oa.Close()
		ob.Close()
	}
}
