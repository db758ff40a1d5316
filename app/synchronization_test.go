package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
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

func received(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: not within %s", what, wait)
	}
}

// TestAbort aborts a run in its middle: it ends aborted, having done part of the plan, and
// what it wrote is whole. Meanwhile Start and Quit are refused, and closing the window, without
// a tray, keeps it and asks the webview what to do.
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
	if got := desk.got(); slices.Contains(got, "hide") {
		t.Fatalf("window calls %v: the window was hidden without a tray to bring it back", got)
	}
	waitFor(t, a.rec, mark, EventCloseRequested, func(s SyncStatus) bool { return s.State == StateRunning })

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

	// The window stayed: the run's end does not quit the app, and closing it now quits.
	if slices.Contains(desk.got(), "quit") {
		t.Fatalf("window calls %v: the app quit at the end of the run", desk.got())
	}
	if a.BeforeClose(context.Background()) {
		t.Fatal("closing the window after the run was prevented")
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
	// the tray's Quit during a run shows the window and asks, as a close without a tray does
	asked := a.rec.mark()
	a.RequestQuit()
	waitFor[SyncStatus](t, a.rec, asked, EventCloseRequested, nil)
	if got := desk.got(); slices.Contains(got, "quit") || got[len(got)-1] != "show" {
		t.Fatalf("window calls %v after the tray's Quit during a run: want show, no quit", got)
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
	// after the run, the tray's Quit quits
	a.RequestQuit()
	if got := desk.got(); got[len(got)-1] != "quit" {
		t.Fatalf("window calls %v: want quit", got)
	}
}

// countFiles counts the files below dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeleteLimitEmptySource mirrors an empty folder (an unmounted drive) onto one with files:
// the confirmation reports the deletions past the limit, Start refuses them until they are
// allowed for this very plan, and an allowance of an earlier plan does not count.
func TestDeleteLimitEmptySource(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, dst, 20)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	want := Deletions{Part: "B", Node: "B", Root: dst, Deletes: 20, Files: 20, EmptySource: "A", EmptyRoot: src, Over: true}
	if !conf.OverLimit || conf.DeleteLimit != "50% (default)" || conf.Revision == 0 ||
		len(conf.Deletions) != 1 || conf.Deletions[0] != want {
		t.Fatalf("confirmation %+v: want %+v over the default limit", conf, want)
	}

	mark := a.rec.mark()
	err = a.Synchronization.Start()
	if !errors.Is(err, errDeletionsUnconfirmed) || !strings.Contains(err.Error(), "deletes 20 of 20 files on B ("+dst+") while A is empty, over the deletion limit of 50% (default)") {
		t.Fatalf("Start without allowing the deletions: %v", err)
	}
	if got := a.rec.since(mark, EventSync); len(got) != 0 || a.Synchronization.Status().State != StateIdle {
		t.Fatalf("a refused start started: %d events, status %+v", len(got), a.Synchronization.Status())
	}
	if err := a.Synchronization.AllowDeletions(conf.Revision + 1); !errors.Is(err, errPlanChanged) {
		t.Fatalf("AllowDeletions of another revision: %v, want %v", err, errPlanChanged)
	}

	// Allowed, then the plan changes: the allowance was for the plan before.
	if err := a.Synchronization.AllowDeletions(conf.Revision); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"update", "mirror"} {
		if _, err := a.Rules.UsePreset(mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Synchronization.Start(); !errors.Is(err, errDeletionsUnconfirmed) {
		t.Fatalf("Start with the deletions of an earlier plan allowed: %v", err)
	}
	if err := a.Synchronization.AllowDeletions(conf.Revision); !errors.Is(err, errPlanChanged) {
		t.Fatalf("AllowDeletions of an earlier plan: %v, want %v", err, errPlanChanged)
	}
	if n := countFiles(t, dst); n != 20 {
		t.Fatalf("%d files left on B before the run, want 20", n)
	}

	again, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision == conf.Revision || !again.OverLimit {
		t.Fatalf("confirmation of the new plan %+v: want a new revision, over the limit", again)
	}
	if err := a.Synchronization.AllowDeletions(again.Revision); err != nil {
		t.Fatal(err)
	}
	end := a.synchronize(t)
	if end.EndStatus != "regular" || len(end.Errors) != 0 {
		t.Fatalf("end %+v", end)
	}
	if n := countFiles(t, dst); n != 0 {
		t.Fatalf("%d files left on B: want the mirror of an empty folder", n)
	}
}

// TestDeleteLimitSettings: a plan under the default limit starts without confirmation; the
// settings' limit, and a rules file's max_delete over it, decide what is past the limit.
func TestDeleteLimitSettings(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, src, 19)
	manyFiles(t, dst, 20) // f0019 is only on B: the mirror deletes 1 of its 20 files
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	st, err := a.Rules.UsePreset("mirror")
	if err != nil {
		t.Fatal(err)
	}
	confirm := func(wantOver bool, wantLimit string) {
		t.Helper()
		conf, err := a.Synchronization.Confirmation()
		if err != nil {
			t.Fatal(err)
		}
		if conf.OverLimit != wantOver || conf.DeleteLimit != wantLimit || len(conf.Deletions) != 1 ||
			conf.Deletions[0].Deletes != 1 || conf.Deletions[0].Files != 20 || conf.Deletions[0].Over != wantOver ||
			conf.Deletions[0].EmptySource != "" {
			t.Fatalf("confirmation %+v: want over %v, limit %q", conf, wantOver, wantLimit)
		}
	}
	confirm(false, "50% (default)")

	// A limit of no deletion at all in the settings.
	if err := a.Settings.Save(UserSettings{Theme: ThemeSystem, MaxDelete: " 0 "}); err != nil {
		t.Fatal(err)
	}
	if got := a.Settings.Get().MaxDelete; got != "0" {
		t.Fatalf("saved limit %q, want 0", got)
	}
	confirm(true, "0 files")
	if err := a.Synchronization.Start(); !errors.Is(err, errDeletionsUnconfirmed) {
		t.Fatalf("Start past the settings' limit: %v", err)
	}

	// A rules file that allows 5 deletions takes over from the settings.
	custom := strings.Replace(st.Text, "{", `{"settings": {"max_delete": 5},`, 1)
	if st, err := a.Rules.Save(custom); err != nil || len(st.Errors) != 0 || st.Mode != ModeCustom {
		t.Fatalf("rules with max_delete: %+v, %v", st, err)
	}
	confirm(false, "5 files")
	end := a.synchronize(t)
	if end.EndStatus != "regular" || countFiles(t, dst) != 19 {
		t.Fatalf("end %+v with %d files on B", end, countFiles(t, dst))
	}
}

// The two-way preset remembers the state each run left: the next run carries a deletion on
// either side, and an edit on both sides keeps both contents.
func TestTwoWayRemembers(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"gone-on-a.txt": "1", "gone-on-b.txt": "2", "both.txt": "3"}, at)
	a.session(t, src, dst)
	run := func() SyncStatus {
		t.Helper()
		if done := a.inventory(t); done.Error != "" {
			t.Fatal(done.Error)
		}
		if _, err := a.Rules.UsePreset("two-way"); err != nil {
			t.Fatal(err)
		}
		end := a.synchronize(t)
		if end.EndStatus != "regular" || len(end.Errors) != 0 {
			t.Fatalf("end %+v", end)
		}
		return end
	}
	run()
	if n := countFiles(t, dst); n != 3 {
		t.Fatalf("%d files on B after the first run, want 3", n)
	}
	if err := os.Remove(filepath.Join(src, "gone-on-a.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dst, "gone-on-b.txt")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, src, map[string]string{"both.txt": "A's edit"}, at.Add(2*time.Hour))
	writeFiles(t, dst, map[string]string{"both.txt": "B's edit"}, at.Add(time.Hour))
	run()
	for _, dir := range []string{src, dst} {
		for name, want := range map[string]string{"both.txt": "A's edit", "both.conflict-B-20240301-130000.txt": "B's edit"} {
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
				t.Errorf("%s: %q, %v; want %q", filepath.Join(dir, name), got, err, want)
			}
		}
		for _, name := range []string{"gone-on-a.txt", "gone-on-b.txt"} {
			if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
				t.Errorf("%s, deleted on one side, is still there (%v)", filepath.Join(dir, name), err)
			}
		}
	}
}

// TestTwoWayConflictConfirmed edits a file on both sides between two two-way runs, with kept
// versions on: the confirmation lists the conflict (the newest edit keeps the name, the other is
// kept under its conflict name) and where the replaced files go, and the run keeps B's edit
// under both.
func TestTwoWayConflictConfirmed(t *testing.T) {
	a := newTestApp(t)
	if err := a.Settings.Save(UserSettings{Versions: ".ferry-versions"}); err != nil {
		t.Fatal(err)
	}
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"both.txt": "1", "other.txt": "2"}, at)
	a.session(t, src, dst)
	confirm := func() Confirmation {
		t.Helper()
		if done := a.inventory(t); done.Error != "" {
			t.Fatal(done.Error)
		}
		if _, err := a.Rules.UsePreset("two-way"); err != nil {
			t.Fatal(err)
		}
		conf, err := a.Synchronization.Confirmation()
		if err != nil {
			t.Fatal(err)
		}
		return conf
	}
	if conf := confirm(); conf.Conflicts == nil || len(conf.Conflicts) != 0 {
		t.Fatalf("first run: conflicts %#v, want none", conf.Conflicts)
	}
	if end := a.synchronize(t); end.EndStatus != "regular" || len(end.Errors) != 0 {
		t.Fatalf("end %+v", end)
	}

	writeFiles(t, src, map[string]string{"both.txt": "A's edit"}, at.Add(2*time.Hour))
	writeFiles(t, dst, map[string]string{"both.txt": "B's edit"}, at.Add(time.Hour))
	conf := confirm()
	const kept = "/both.conflict-B-20240301-130000.txt"
	want := []Conflict{{Path: "/both.txt", Winner: "A", Kept: []string{kept}}}
	if !slices.EqualFunc(conf.Conflicts, want, func(x, y Conflict) bool {
		return x.Path == y.Path && x.Winner == y.Winner && slices.Equal(x.Kept, y.Kept)
	}) {
		t.Fatalf("conflicts %+v, want %+v", conf.Conflicts, want)
	}
	if conf.Versions == nil || conf.Versions.Dir != ".ferry-versions" || conf.Replaces != 1 {
		t.Fatalf("confirmation %+v, versions %+v: want B's both.txt replaced, kept in .ferry-versions", conf, conf.Versions)
	}
	if end := a.synchronize(t); end.EndStatus != "regular" || len(end.Errors) != 0 {
		t.Fatalf("end %+v", end)
	}
	for name, want := range map[string]string{
		"both.txt": "A's edit",
		kept[1:]:   "B's edit",
		".ferry-versions/" + conf.Versions.Stamp + "/both.txt": "B's edit",
	} {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(got) != want {
			t.Errorf("B's %s: %q, %v; want %q", name, got, err, want)
		}
	}
}

// A run whose target another Ferry run holds, or whose target was replaced since the
// inventory, ends with an error naming the folder and changes nothing.
func TestSynchronizationFolderInUseOrReplaced(t *testing.T) {
	a := newTestApp(t)
	src, dst, outside := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"f.txt": "from A"}, at)
	writeFiles(t, outside, map[string]string{"marker.txt": "outside"}, at)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	other := transfer.NewRoots()
	if _, err := other.Open(dst, inventory.DirID{}, transfer.Shared); err != nil {
		t.Fatal(err)
	}
	end := a.synchronize(t)
	other.Close()
	if end.EndStatus != "error" || !strings.Contains(strings.Join(end.Errors, "\n"), "another Ferry run is using "+dst) {
		t.Fatalf("end %+v: want an error naming %s", end, dst)
	}
	if countFiles(t, dst) != 0 {
		t.Fatal("the refused run wrote in the target")
	}

	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if err := os.Rename(dst, dst+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dst); err != nil {
		t.Fatal(err)
	}
	end = a.synchronize(t)
	want := "data source folder " + dst + " was replaced since it was inventoried: nothing was changed there"
	if end.EndStatus != "error" || !strings.Contains(strings.Join(end.Errors, "\n"), want) {
		t.Fatalf("end %+v: want %q", end, want)
	}
	if countFiles(t, outside) != 1 || countFiles(t, dst+".moved") != 0 {
		t.Fatal("the run wrote outside the folder inventoried")
	}
}
