// Package trackertest is the conformance suite every tracker.Store passes: ByteSync's truth
// tables for tracking and the end rule, and one test per ByteSync hazard the tracker fixes.
package trackertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Run runs the suite; newStore returns an empty store for each test.
func Run(t *testing.T, newStore func(t *testing.T) tracker.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"StartCountsDistinctTargets", testStartCounts},
		{"StartEmptySingleMember", testStartEmpty},
		{"StartWhileRunningRefused", testStartWhileRunning},
		{"StartAfterEndReplaces", testStartAfterEnd},
		{"StartRefusesBadDefinitions", testStartInvalid},
		{"CopiedCountsVolumes", testCopied},
		{"TargetOnlyResults", testTargetOnly},
		{"TargetErrorCounts", testTargetError},
		{"SourceErrorFailsEveryTarget", testSourceError},
		{"EndRuleRegular", testEndRegular},
		{"EndRuleAborted", testEndAborted},
		{"EndRuleWaitsForMembers", testEndWaitsMembers},
		{"EndedRunIgnoresUpdates", testEndedIgnores},
		{"RefusesStrangers", testRefuses},
		{"HazardDuplicateMemberFinished", testHazardDuplicateFinished},
		{"HazardNoDoubleCount", testHazardNoDoubleCount},
		{"HazardAbortAfterAllCompleted", testHazardAbortAfterCompleted},
		{"HazardAbortBetweenGroups", testHazardAbortBetweenGroups},
		{"HazardMemberLeft", testHazardMemberLeft},
		{"HazardRetriedBatch", testHazardRetriedBatch},
		{"ConcurrentReports", testConcurrent},
		{"SessionsIndependent", testIndependent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			f := &fixture{t: t, ctx: t.Context(), store: st, session: fmt.Sprintf("s-%s", tc.name)}
			f.tr = tracker.New(st, tracker.Options{TTL: time.Hour, Now: func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				clock = clock.Add(time.Second)
				return clock
			}})
			tc.fn(t, f)
		})
	}
}

type fixture struct {
	t       *testing.T
	ctx     context.Context
	store   tracker.Store
	tr      *tracker.Tracker
	session string
}

const (
	alice = "member-alice"
	bob   = "member-bob"
)

func tg(m, n string) protocol.Target { return protocol.Target{Member: m, Node: n} }

func (f *fixture) start(members []string, defs ...protocol.GroupDefinition) *protocol.Synchronization {
	f.t.Helper()
	s, err := f.tr.Start(f.ctx, f.session, members[0], members, defs)
	if err != nil {
		f.t.Fatalf("start: %v", err)
	}
	return s
}

func (f *fixture) report(member string, rs ...protocol.ActionResult) tracker.Change {
	f.t.Helper()
	c, err := f.tr.Report(f.ctx, f.session, member, rs)
	if err != nil {
		f.t.Fatalf("report %v: %v", rs, err)
	}
	return c
}

func (f *fixture) finished(member string) tracker.Change {
	f.t.Helper()
	c, err := f.tr.MemberFinished(f.ctx, f.session, member)
	if err != nil {
		f.t.Fatalf("member finished: %v", err)
	}
	return c
}

func (f *fixture) abort(member string) tracker.Change {
	f.t.Helper()
	c, err := f.tr.Abort(f.ctx, f.session, member)
	if err != nil {
		f.t.Fatalf("abort: %v", err)
	}
	return c
}

// get reads the run back from the store, not from what a call returned.
func (f *fixture) get() *protocol.Synchronization {
	f.t.Helper()
	s, err := f.tr.Get(f.ctx, f.session)
	if err != nil {
		f.t.Fatalf("get: %v", err)
	}
	return s
}

type counts struct{ total, finished, errors int }

func (f *fixture) wantCounts(want counts) {
	f.t.Helper()
	p := f.get().Progress
	if got := (counts{p.TotalActions, p.FinishedActions, p.ErrorActions}); got != want {
		f.t.Fatalf("counters: got %+v, want %+v", got, want)
	}
}

func (f *fixture) wantEnd(want protocol.EndStatus) {
	f.t.Helper()
	s := f.get()
	if want == "" {
		if s.IsEnded() {
			f.t.Fatalf("run ended %s, want running", s.EndStatus)
		}
		return
	}
	if !s.IsEnded() || s.EndStatus != want {
		f.t.Fatalf("end: ended=%v status=%q, want %q", s.IsEnded(), s.EndStatus, want)
	}
}

func copyGroup(id, source string, size int64, targets ...protocol.Target) protocol.GroupDefinition {
	return protocol.GroupDefinition{ID: id, Op: "copy", Source: source, Size: size, Targets: targets}
}

func opGroup(id, op string, targets ...protocol.Target) protocol.GroupDefinition {
	return protocol.GroupDefinition{ID: id, Op: op, Targets: targets}
}

func ok(group string, kind protocol.ResultKind, node string, bytes int64) protocol.ActionResult {
	return protocol.ActionResult{Group: group, Kind: kind, Node: node, Bytes: bytes}
}

func testStartCounts(t *testing.T, f *fixture) {
	s := f.start([]string{alice, bob},
		copyGroup("AGID_1", alice, 100, tg(alice, "B"), tg(bob, "C"), tg(bob, "C")),
		opGroup("AGID_2", "delete", tg(bob, "C")),
		opGroup("AGID_3", "copy-dates", tg(alice, "B")))
	if s.Progress.TotalActions != 4 || s.Progress.TotalVolume != 200 {
		t.Fatalf("start: total %d volume %d, want 4 and 200", s.Progress.TotalActions, s.Progress.TotalVolume)
	}
	f.wantCounts(counts{4, 0, 0})
	f.wantEnd("")
	got := f.get()
	if got.StartedBy != alice || len(got.Progress.Members) != 2 || got.Started.IsZero() {
		t.Fatalf("stored run: %+v", got)
	}
}

func testStartEmpty(t *testing.T, f *fixture) {
	f.start([]string{alice})
	f.wantCounts(counts{0, 0, 0})
	f.wantEnd("")
	c := f.finished(alice)
	if !c.Ended {
		t.Fatal("member finished on an empty run did not end it")
	}
	f.wantEnd(protocol.EndRegular)
}

func testStartWhileRunning(t *testing.T, f *fixture) {
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")))
	_, err := f.tr.Start(f.ctx, f.session, alice, []string{alice}, []protocol.GroupDefinition{
		opGroup("AGID_1", "create", tg(alice, "B")), opGroup("AGID_2", "create", tg(alice, "B"))})
	if !errors.Is(err, tracker.ErrRunning) {
		t.Fatalf("second start: %v, want ErrRunning", err)
	}
	f.wantCounts(counts{1, 0, 0})
}

func testStartAfterEnd(t *testing.T, f *fixture) {
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.finished(alice)
	f.wantEnd(protocol.EndRegular)
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")), opGroup("AGID_2", "create", tg(alice, "C")))
	f.wantCounts(counts{2, 0, 0})
	f.wantEnd("")
}

func testStartInvalid(t *testing.T, f *fixture) {
	bad := [][]protocol.GroupDefinition{
		{opGroup("AGID_1", "create", tg(alice, "B")), opGroup("AGID_1", "create", tg(alice, "C"))},
		{opGroup("", "create", tg(alice, "B"))},
		{opGroup("AGID_1", "explode", tg(alice, "B"))},
		{opGroup("AGID_1", "create")},
		{opGroup("AGID_1", "create", tg(bob, "B"))},
		{copyGroup("AGID_1", bob, 1, tg(alice, "B"))},
		{copyGroup("AGID_1", "", 1, tg(alice, "B"))},
		{{ID: "AGID_1", Op: "delete", Source: alice, Targets: []protocol.Target{tg(alice, "B")}}},
		{copyGroup("AGID_1", alice, -1, tg(alice, "B"))},
	}
	for i, defs := range bad {
		if _, err := f.tr.Start(f.ctx, f.session, alice, []string{alice}, defs); !errors.Is(err, tracker.ErrInvalid) {
			t.Errorf("definitions %d: %v, want ErrInvalid", i, err)
		}
	}
	if _, err := f.tr.Start(f.ctx, f.session, bob, []string{alice}, nil); !errors.Is(err, tracker.ErrNotMember) {
		t.Errorf("start by a stranger: %v, want ErrNotMember", err)
	}
	if _, err := f.tr.Get(f.ctx, f.session); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("a refused start stored a run: %v", err)
	}
}

func testCopied(t *testing.T, f *fixture) {
	f.start([]string{alice}, copyGroup("AGID_1", alice, 1000, tg(alice, "B"), tg(alice, "C")))
	c := f.report(alice, ok("AGID_1", protocol.ResultCopied, "B", 120))
	if !c.Changed || len(c.Groups) != 1 || c.Groups[0].Success || c.Groups[0].Error {
		t.Fatalf("first target: %+v", c)
	}
	c = f.report(alice, ok("AGID_1", protocol.ResultCopied, "C", 1000))
	if len(c.Groups) != 1 || !c.Groups[0].Success {
		t.Fatalf("second target: summaries %+v, want success", c.Groups)
	}
	p := f.get().Progress
	if p.FinishedActions != 2 || p.LocalCopyVolume != 1120 || p.SyncedVolume != 2000 || p.ErrorActions != 0 {
		t.Fatalf("progress %+v", p)
	}
	if c := f.report(alice); c.Changed {
		t.Fatal("an empty batch changed the run")
	}
}

func testTargetOnly(t *testing.T, f *fixture) {
	f.start([]string{alice, bob},
		opGroup("AGID_1", "copy-dates", tg(alice, "B")),
		opGroup("AGID_2", "create", tg(alice, "B"), tg(bob, "C")),
		opGroup("AGID_3", "delete", tg(bob, "C"), tg(bob, "D")))
	f.report(alice, ok("AGID_1", protocol.ResultDatesCopied, "B", 0), ok("AGID_2", protocol.ResultCreated, "", 0))
	f.wantCounts(counts{5, 2, 0})
	// No node: every target of the caller.
	c := f.report(bob, ok("AGID_3", protocol.ResultDeleted, "", 0), ok("AGID_2", protocol.ResultCreated, "C", 0))
	if len(c.Groups) != 2 {
		t.Fatalf("summaries %+v", c.Groups)
	}
	f.wantCounts(counts{5, 5, 0})
	if p := f.get().Progress; p.SyncedVolume != 0 || p.LocalCopyVolume != 0 {
		t.Fatalf("target-only actions moved volumes: %+v", p)
	}
}

func testTargetError(t *testing.T, f *fixture) {
	f.start([]string{alice}, copyGroup("AGID_1", alice, 10, tg(alice, "B")))
	c := f.report(alice, protocol.ActionResult{Group: "AGID_1", Kind: protocol.ResultFailed, Node: "B"})
	if len(c.Groups) != 1 || !c.Groups[0].Error || c.Groups[0].Success {
		t.Fatalf("summary %+v", c.Groups)
	}
	f.wantCounts(counts{1, 1, 1})
}

func testSourceError(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, copyGroup("AGID_1", alice, 10, tg(alice, "B"), tg(bob, "C")))
	f.report(alice, protocol.ActionResult{Group: "AGID_1", Kind: protocol.ResultFailed, Source: true})
	f.wantCounts(counts{2, 2, 2})
	// Only the source may fail the source.
	if _, err := f.tr.Report(f.ctx, f.session, bob, []protocol.ActionResult{{Group: "AGID_1", Kind: protocol.ResultFailed, Source: true}}); !errors.Is(err, tracker.ErrNotTarget) {
		t.Fatalf("source error from a target: %v", err)
	}
}

func testEndRegular(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(alice, "B"), tg(bob, "C")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.finished(alice)
	f.report(bob, ok("AGID_1", protocol.ResultCreated, "C", 0))
	f.wantEnd("")
	c := f.finished(bob)
	if !c.Ended {
		t.Fatal("the last member finishing did not report the end")
	}
	f.wantEnd(protocol.EndRegular)
}

func testEndAborted(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(alice, "B"), tg(bob, "C")))
	c := f.abort(bob)
	if !c.AbortRequested || c.Ended {
		t.Fatalf("abort: %+v", c)
	}
	f.finished(alice)
	f.wantEnd("")
	f.finished(bob)
	f.wantEnd(protocol.EndAborted)
	s := f.get()
	if s.AbortRequested == nil || len(s.AbortRequestedBy) != 1 || s.AbortRequestedBy[0] != bob {
		t.Fatalf("abort record %+v", s)
	}
}

func testEndWaitsMembers(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(alice, "B")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.finished(alice)
	f.wantEnd("") // every action done, bob has not completed
}

func testEndedIgnores(t *testing.T, f *fixture) {
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")), opGroup("AGID_2", "create", tg(alice, "C")))
	f.abort(alice)
	f.finished(alice)
	f.wantEnd(protocol.EndAborted)
	before := f.get()
	c := f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	if c.Changed {
		t.Fatal("a result changed an ended run")
	}
	if _, err := f.tr.Abort(f.ctx, f.session, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tr.MemberLeft(f.ctx, f.session, alice, "quit"); err != nil {
		t.Fatal(err)
	}
	after := f.get()
	if after.Progress.Version != before.Progress.Version || after.EndStatus != protocol.EndAborted || after.Progress.FinishedActions != 0 {
		t.Fatalf("ended run changed: before %+v after %+v", before, after)
	}
}

func testRefuses(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(alice, "B")), copyGroup("AGID_2", alice, 5, tg(alice, "B")))
	cases := []struct {
		member string
		r      protocol.ActionResult
		want   error
	}{
		{"stranger", ok("AGID_1", protocol.ResultCreated, "B", 0), tracker.ErrNotMember},
		{alice, ok("AGID_9", protocol.ResultCreated, "B", 0), tracker.ErrUnknownGroup},
		{bob, ok("AGID_1", protocol.ResultCreated, "B", 0), tracker.ErrNotTarget},
		{alice, ok("AGID_1", protocol.ResultCreated, "Z", 0), tracker.ErrNotTarget},
		{alice, ok("AGID_1", protocol.ResultDeleted, "B", 0), tracker.ErrInvalid},
		{alice, ok("AGID_2", protocol.ResultCopied, "B", -3), tracker.ErrInvalid},
	}
	for _, tc := range cases {
		// A good result in the same batch must not land either: batches are all or nothing.
		_, err := f.tr.Report(f.ctx, f.session, tc.member, []protocol.ActionResult{ok("AGID_2", protocol.ResultCopied, "B", 5), tc.r})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s %+v: %v, want %v", tc.member, tc.r, err, tc.want)
		}
	}
	for _, fn := range []func(context.Context, string, string) (tracker.Change, error){f.tr.MemberFinished, f.tr.Abort} {
		if _, err := fn(f.ctx, f.session, "stranger"); !errors.Is(err, tracker.ErrNotMember) {
			t.Errorf("stranger: %v", err)
		}
	}
	f.wantCounts(counts{2, 0, 0})
	f.wantEnd("")
	if s := f.get(); s.IsAbortRequested() || len(s.Progress.CompletedMembers) != 0 || s.Progress.Version != 1 {
		t.Fatalf("refused calls changed the run: %+v", s)
	}
	if _, err := f.tr.Report(f.ctx, "no-such-session", alice, []protocol.ActionResult{ok("AGID_1", protocol.ResultCreated, "B", 0)}); !errors.Is(err, tracker.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
}

// ByteSync hazard 10: a repeated memberHasFinished satisfied AllMembersCompleted early.
func testHazardDuplicateFinished(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(bob, "C")))
	f.finished(alice)
	if c := f.finished(alice); c.Changed || c.Ended {
		t.Fatalf("repeated member finished: %+v", c)
	}
	f.abort(alice)
	f.wantEnd("") // bob still runs
	if got := f.get().Progress.CompletedMembers; len(got) != 1 {
		t.Fatalf("completed members %v", got)
	}
	f.finished(bob)
	f.wantEnd(protocol.EndAborted)
}

// ByteSync hazard 5: source error and target success raced into over-counting.
func testHazardNoDoubleCount(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, copyGroup("AGID_1", alice, 10, tg(alice, "B"), tg(bob, "C")),
		copyGroup("AGID_2", alice, 10, tg(bob, "C")))
	f.report(alice, ok("AGID_1", protocol.ResultCopied, "B", 10))
	f.report(alice, protocol.ActionResult{Group: "AGID_1", Kind: protocol.ResultFailed, Source: true})
	f.wantCounts(counts{3, 2, 1}) // B stays a success; only C fails
	f.report(bob, ok("AGID_1", protocol.ResultCopied, "C", 10))
	f.report(bob, protocol.ActionResult{Group: "AGID_1", Kind: protocol.ResultFailed, Node: "C"})
	f.wantCounts(counts{3, 2, 1})
	// Success, then an error for the same target: the first word stands.
	f.report(bob, ok("AGID_2", protocol.ResultCopied, "C", 10))
	f.report(bob, protocol.ActionResult{Group: "AGID_2", Kind: protocol.ResultFailed, Node: "C"})
	f.report(bob, ok("AGID_2", protocol.ResultCopied, "C", 10))
	f.wantCounts(counts{3, 3, 1})
	if p := f.get().Progress; p.SyncedVolume != 20 {
		t.Fatalf("synced volume %d, want 20", p.SyncedVolume)
	}
}

// ByteSync hazard 2: an abort after every member completed never ended the run.
func testHazardAbortAfterCompleted(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, copyGroup("AGID_1", alice, 10, tg(bob, "C")))
	f.finished(alice)
	f.finished(bob) // bob's copy is still pending
	f.wantEnd("")
	c := f.abort(bob)
	if !c.Ended || !c.AbortRequested {
		t.Fatalf("abort after every member completed: %+v", c)
	}
	f.wantEnd(protocol.EndAborted)
}

// ByteSync hazard 1: the initiator's abort between two groups skipped memberHasFinished. The
// looper always finishes (tested with it); here: abort then finished ends the run, whatever
// the results.
func testHazardAbortBetweenGroups(t *testing.T, f *fixture) {
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")), opGroup("AGID_2", "create", tg(alice, "B")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.abort(alice)
	c := f.report(alice, ok("AGID_2", protocol.ResultCreated, "B", 0)) // in flight when the abort came
	if !c.Changed || c.Ended {
		t.Fatalf("in-flight result after abort: %+v", c)
	}
	if c := f.finished(alice); !c.Ended {
		t.Fatal("finished after abort did not end")
	}
	f.wantEnd(protocol.EndAborted)
	f.wantCounts(counts{2, 2, 0})
}

// ByteSync hazard 3: a member quitting mid-run left it running forever.
func testHazardMemberLeft(t *testing.T, f *fixture) {
	f.start([]string{alice, bob}, opGroup("AGID_1", "create", tg(alice, "B"), tg(bob, "C")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.finished(alice)
	c, err := f.tr.MemberLeft(f.ctx, f.session, bob, "member B quit")
	if err != nil || !c.Ended {
		t.Fatalf("member left: %+v %v", c, err)
	}
	s := f.get()
	if s.EndStatus != protocol.EndError || s.EndReason != "member B quit" {
		t.Fatalf("end %q %q", s.EndStatus, s.EndReason)
	}
}

// ByteSync hazard 4: a lost report was never sent again. Reports are safe to resend: a batch
// applied twice counts once.
func testHazardRetriedBatch(t *testing.T, f *fixture) {
	f.start([]string{alice}, copyGroup("AGID_1", alice, 7, tg(alice, "B")), opGroup("AGID_2", "delete", tg(alice, "B")))
	batch := []protocol.ActionResult{ok("AGID_1", protocol.ResultCopied, "B", 7), ok("AGID_2", protocol.ResultDeleted, "B", 0)}
	f.report(alice, batch...)
	v := f.get().Progress.Version
	if c := f.report(alice, batch...); c.Changed {
		t.Fatal("a resent batch changed the run")
	}
	p := f.get().Progress
	if p.Version != v || p.FinishedActions != 2 || p.LocalCopyVolume != 7 || p.SyncedVolume != 7 {
		t.Fatalf("after resend: %+v", p)
	}
}

func testConcurrent(t *testing.T, f *fixture) {
	const members, groupsPer = 4, 50
	names := make([]string, members)
	var defs []protocol.GroupDefinition
	for m := range members {
		names[m] = fmt.Sprintf("member-%d", m)
		for g := range groupsPer {
			defs = append(defs, copyGroup(fmt.Sprintf("AGID_%d", m*groupsPer+g+1), names[m], 3, tg(names[m], "N")))
		}
	}
	f.start(names, defs...)
	var wg sync.WaitGroup
	errs := make(chan error, members*groupsPer)
	for m := range members {
		wg.Go(func() {
			for g := range groupsPer {
				id := fmt.Sprintf("AGID_%d", m*groupsPer+g+1)
				if _, err := f.tr.Report(f.ctx, f.session, names[m], []protocol.ActionResult{ok(id, protocol.ResultCopied, "N", 3)}); err != nil {
					errs <- err
				}
			}
			if _, err := f.tr.MemberFinished(f.ctx, f.session, names[m]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := members * groupsPer
	f.wantCounts(counts{n, n, 0})
	f.wantEnd(protocol.EndRegular)
	if p := f.get().Progress; p.LocalCopyVolume != int64(3*n) || p.Version != int64(1+n+members) {
		t.Fatalf("progress %+v", p)
	}
}

func testIndependent(t *testing.T, f *fixture) {
	other := &fixture{t: t, ctx: f.ctx, store: f.store, tr: f.tr, session: f.session + "-other"}
	f.start([]string{alice}, opGroup("AGID_1", "create", tg(alice, "B")))
	other.start([]string{bob}, opGroup("AGID_1", "create", tg(bob, "B")))
	f.report(alice, ok("AGID_1", protocol.ResultCreated, "B", 0))
	f.finished(alice)
	f.wantEnd(protocol.EndRegular)
	other.wantEnd("")
	other.wantCounts(counts{1, 0, 0})
	if err := f.store.Delete(f.ctx, f.session); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tr.Get(f.ctx, f.session); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	other.wantCounts(counts{1, 0, 0})
}
