package sync_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	stdsync "sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
	fsync "github.com/ferrysync/ferry/backend/sync"
	"github.com/ferrysync/ferry/backend/transfer"
)

// recorder collects what a run emits.
type recorder struct {
	mu       stdsync.Mutex
	events   []fsync.Event
	statuses []protocol.MemberStatus
	onEvent  func(fsync.Event)
}

func (r *recorder) event(e fsync.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.onEvent != nil {
		r.onEvent(e)
	}
}

func (r *recorder) status(s protocol.MemberStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
}

func (r *recorder) count(t fsync.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == t {
			n++
		}
	}
	return n
}

func self(string) string { return "me" }

func localRun(t *testing.T, a, b string, rec *recorder, abort <-chan struct{}) (*fsync.Outcome, error) {
	t.Helper()
	p := planMirror(t, a, b)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	o := fsync.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	return fsync.Synchronize(ctx, fsync.Run{
		Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
		Status: rec.status, Event: rec.event, Abort: abort,
	})
}

func TestLocalSynchronizeMirror(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 40 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("d%d/f%d.txt", i%4, i)), fmt.Sprint("content ", i), t0)
	}
	writeFile(t, filepath.Join(b, "stale.txt"), "old", t0)
	rec := &recorder{}
	out, err := localRun(t, a, b, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Sync.Progress
	if out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 {
		t.Fatalf("end %s, errors %v", out.Sync.EndStatus, out.Errors)
	}
	// 4 creates, 40 copies, 1 delete.
	if p.TotalActions != 45 || p.FinishedActions != 45 || p.ErrorActions != 0 || p.SyncedVolume != p.TotalVolume || p.LocalCopyVolume == 0 {
		t.Fatalf("progress %+v", p)
	}
	if rec.count(fsync.EventStarted) != 1 || rec.count(fsync.EventEnded) != 1 || rec.count(fsync.EventProgress) == 0 {
		t.Fatalf("events: %d started, %d progress, %d ended", rec.count(fsync.EventStarted), rec.count(fsync.EventProgress), rec.count(fsync.EventEnded))
	}
	want := []protocol.MemberStatus{protocol.SynchronizationRunning, protocol.SynchronizationSourceActionsInitiated, protocol.SynchronizationFinished}
	if !slices.Equal(rec.statuses, want) {
		t.Fatalf("statuses %v, want %v", rec.statuses, want)
	}
	if got := readFile(t, filepath.Join(b, "d3/f39.txt")); got != "content 39" {
		t.Fatalf("copied content %q", got)
	}
	if len(planMirror(t, a, b).Groups) != 0 {
		t.Fatal("a second plan is not empty")
	}
	// Progress events only grow.
	last := int64(0)
	for _, e := range rec.events {
		if e.Sync.Progress.Version < last {
			t.Fatalf("version went back from %d to %d", last, e.Sync.Progress.Version)
		}
		last = e.Sync.Progress.Version
	}
}

// ByteSync hazard 1: an abort between two groups ended the loop without memberHasFinished and
// the run never ended. Here the abort stops the loop, the member finishes, the run ends aborted.
func TestLocalSynchronizeAbort(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 300 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("f%03d.txt", i)), "x", t0)
	}
	abort := make(chan struct{})
	var once stdsync.Once
	rec := &recorder{onEvent: func(e fsync.Event) {
		if e.Type == fsync.EventProgress {
			once.Do(func() { close(abort) })
		}
	}}
	out, err := localRun(t, a, b, rec, abort)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Sync.Progress
	if out.Sync.EndStatus != protocol.EndAborted || !out.Sync.IsAbortRequested() {
		t.Fatalf("end %q", out.Sync.EndStatus)
	}
	if p.FinishedActions >= p.TotalActions || p.ErrorActions != 0 || len(out.Errors) != 0 {
		t.Fatalf("aborted run: %+v, errors %v", p, out.Errors)
	}
	if rec.count(fsync.EventAbortRequested) != 1 || rec.count(fsync.EventEnded) != 1 {
		t.Fatal("want one abort request and one end")
	}
	if got := rec.statuses[len(rec.statuses)-1]; got != protocol.SynchronizationFinished {
		t.Fatalf("last status %v", got)
	}
}

// A failed action is counted, reported with its path, and does not stop the run.
func TestLocalSynchronizeActionError(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "f.txt"), "new", t0.Add(time.Hour))
	writeFile(t, filepath.Join(a, "g.txt"), "g", t0)
	writeFile(t, filepath.Join(b, "f.txt"), "old", t0)
	p := planMirror(t, a, b)
	writeFile(t, filepath.Join(b, "f.txt"), "user edit", t0.Add(2*time.Hour)) // after the inventory
	rec := &recorder{}
	o := fsync.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	out, err := fsync.Synchronize(t.Context(), fsync.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true, Status: rec.status, Event: rec.event})
	if err != nil {
		t.Fatal(err)
	}
	if out.Sync.EndStatus != protocol.EndRegular || out.Sync.Progress.ErrorActions != 1 || out.Sync.Progress.FinishedActions != 2 {
		t.Fatalf("run %+v", out.Sync)
	}
	if len(out.Errors) != 1 || !errors.Is(out.Errors[0], transfer.ErrTargetChanged) {
		t.Fatalf("errors %v", out.Errors)
	}
	if got := readFile(t, filepath.Join(b, "f.txt")); got != "user edit" {
		t.Fatalf("the user's edit was overwritten: %q", got)
	}
	var failed bool
	for _, e := range rec.events {
		for _, g := range e.Groups {
			failed = failed || g.Error
		}
	}
	if !failed {
		t.Fatal("no group summary reported the error")
	}
}
