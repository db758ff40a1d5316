package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// pauseReports holds the results of file copies until release is closed, and tells once that
// the run reached its first copy (the folders are created before).
func pauseReports(a *testApp) (paused <-chan struct{}, release chan struct{}) {
	p, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.c.beforeReport = func(results []protocol.ActionResult) {
		if results[0].Kind != protocol.ResultCopied {
			return
		}
		once.Do(func() { close(p) })
		<-r
	}
	return p, r
}

func received(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: not within %s", what, wait)
	}
}

// TestAbort aborts a run in its middle: it ends aborted, having done part of the plan, and
// what it wrote is whole. Meanwhile Start and Quit are refused, and closing the window hides
// it; without a tray, the app quits once the run ended.
func TestAbort(t *testing.T) {
	a := newTestApp(t)
	desk := newFakeDesktop()
	a.c.desk = desk
	src, dst := t.TempDir(), t.TempDir()
	const n = 300
	manyFiles(t, src, n)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if a.BeforeClose(context.Background()) {
		t.Fatal("closing the window without a run was prevented")
	}

	paused, release := pauseReports(a)
	mark := a.rec.mark()
	if err := a.Synchronization.Start(); err != nil {
		t.Fatal(err)
	}
	received(t, paused, "first result")
	if err := a.Synchronization.Start(); !errors.Is(err, errSyncRunning) {
		t.Fatalf("Start while running: %v, want %v", err, errSyncRunning)
	}
	if err := a.Sessions.Quit(); !errors.Is(err, errSyncRunning) {
		t.Fatalf("Quit while running: %v, want %v", err, errSyncRunning)
	}
	if err := a.Inventory.Start(); !errors.Is(err, errSyncRunning) {
		t.Fatalf("inventory while running: %v, want %v", err, errSyncRunning)
	}
	if _, err := a.Data.AddNode(); !errors.Is(err, errSyncRunning) {
		t.Fatalf("AddNode while running: %v, want %v", err, errSyncRunning)
	}
	if st := a.Synchronization.Status(); st.State != StateRunning || st.Orchestration != "local" {
		t.Fatalf("status while running: %+v", st)
	}
	if !a.BeforeClose(context.Background()) {
		t.Fatal("closing the window during a run was not prevented")
	}
	if got := desk.got(); !slices.Contains(got, "hide") {
		t.Fatalf("window calls %v: want hide", got)
	}

	if err := a.Synchronization.Abort(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.rec, mark, EventSync, func(e SyncEvent) bool { return e.Type == "abort_requested" })
	close(release)
	end := waitFor[SyncStatus](t, a.rec, mark, EventSyncDone, nil)
	// n files, 10 folders, the root's date
	if end.EndStatus != "aborted" || end.Progress.TotalActions != n+11 || end.Progress.FinishedActions >= end.Progress.TotalActions {
		t.Fatalf("end %+v: want aborted before the end", end)
	}
	if err := a.Synchronization.Abort(); !errors.Is(err, errNoSyncRunning) {
		t.Fatalf("Abort after the end: %v", err)
	}

	// Every file written is whole; no temporary file is left.
	copied := 0
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		var i int
		if _, err := fmt.Sscanf(filepath.Base(rel), "f%04d.txt", &i); err != nil {
			return fmt.Errorf("unexpected file %s", rel)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(got) != fmt.Sprintf("content %d", i) {
			return fmt.Errorf("%s holds %q", rel, got)
		}
		copied++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if copied == 0 || copied >= n {
		t.Fatalf("%d of %d files copied: want part of them", copied, n)
	}

	// The window was closed during the run and there is no tray: the app quits.
	deadline := time.After(wait)
	for !slices.Contains(desk.got(), "quit") {
		select {
		case <-desk.changed:
		case <-deadline:
			t.Fatalf("window calls %v: want quit after the run", desk.got())
		}
	}
	if a.BeforeClose(context.Background()) {
		t.Fatal("the quit after the run was prevented")
	}
}

// TestShutdownAbortsRun: shutting down during a run aborts it and leaves the session.
func TestShutdownAbortsRun(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, src, 50)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("update"); err != nil {
		t.Fatal(err)
	}
	paused, release := pauseReports(a)
	mark := a.rec.mark()
	if err := a.Synchronization.Start(); err != nil {
		t.Fatal(err)
	}
	received(t, paused, "first result")
	shut := make(chan struct{})
	go func() {
		a.Shutdown(context.Background())
		close(shut)
	}()
	waitFor(t, a.rec, mark, EventSync, func(e SyncEvent) bool { return e.Type == "abort_requested" })
	close(release)
	received(t, shut, "shutdown")
	end := waitFor[SyncStatus](t, a.rec, mark, EventSyncDone, nil)
	if end.EndStatus != "aborted" {
		t.Fatalf("end %+v", end)
	}
	if _, err := a.Sessions.Create(); !errors.Is(err, errClosing) {
		t.Fatalf("Create after shutdown: %v", err)
	}
}

// TestTrayKeepsApp: with a tray, closing the window during a run hides it, and the app stays
// after the run; the tray follows the run.
func TestTrayKeepsApp(t *testing.T) {
	a := newTestApp(t)
	desk := newFakeDesktop()
	a.c.desk = desk
	tray := &fakeTray{}
	a.SetTray(tray)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, src, 20)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("two-way"); err != nil {
		t.Fatal(err)
	}
	paused, release := pauseReports(a)
	mark := a.rec.mark()
	if err := a.Synchronization.Start(); err != nil {
		t.Fatal(err)
	}
	received(t, paused, "first result")
	if s, abort := tray.last(); s != TrayRunning || !abort {
		t.Fatalf("tray %v, abort %v during the run", s, abort)
	}
	if !a.BeforeClose(context.Background()) {
		t.Fatal("closing the window during a run was not prevented")
	}
	close(release)
	end := waitFor[SyncStatus](t, a.rec, mark, EventSyncDone, nil)
	if end.EndStatus != "regular" || end.Progress.FinishedActions != 31 { // and the root's date
		t.Fatalf("end %+v", end)
	}
	if s, abort := tray.last(); s != TrayIdle || abort {
		t.Fatalf("tray %v, abort %v after the run", s, abort)
	}
	if slices.Contains(desk.got(), "quit") {
		t.Fatalf("window calls %v: the app quit though the tray holds it", desk.got())
	}
	a.ShowWindow()
	if got := desk.got(); got[len(got)-1] != "show" {
		t.Fatalf("window calls %v: want show", got)
	}
	// the tray's Quit quits, also during a run
	a.RequestQuit()
	if got := desk.got(); got[len(got)-1] != "quit" {
		t.Fatalf("window calls %v: want quit", got)
	}
}
