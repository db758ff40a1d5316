package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/app/notify"
	"github.com/ferrysync/ferry/backend/profile"
)

// TestProfileSaveAndRun saves a run as a profile, then runs the profile again: a new session with
// the same nodes and rules, inventoried up to the confirmation; its end is recorded in the
// profile and the notification names it.
func TestProfileSaveAndRun(t *testing.T) {
	a := newTestApp(t)
	sent := make(chan notify.Notification, 4)
	a.c.notifier = &fakeNotifier{sent: sent}
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	first := a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if st := a.synchronize(t); st.EndStatus != "regular" {
		t.Fatalf("first run: %+v", st)
	}
	<-sent

	info, err := a.Profiles.Save("Weekly backup")
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode != "mirror" || len(info.Nodes) != 2 || info.Nodes[0].Sources[0] != src || info.LastRun == nil || info.LastRun.Status != profile.StatusDone {
		t.Fatalf("saved %+v", info)
	}
	if _, err := a.Profiles.Save("a/b"); err == nil {
		t.Fatal("a name with a slash was saved")
	}

	writeFiles(t, src, map[string]string{"b.txt": "b"}, at)
	mark := a.rec.mark()
	if err := a.Profiles.Run("Weekly backup"); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	if cur := a.Sessions.Current(); cur == nil || cur.ID == first.ID {
		t.Fatalf("the profile runs in session %+v, want a new one (not %s)", cur, first.ID)
	}
	if st := a.Rules.Get(); st.Mode != "mirror" {
		t.Fatalf("rules after Run: %+v", st)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil || conf.Actions == 0 {
		t.Fatalf("confirmation: %+v, %v", conf, err)
	}
	if st := a.synchronize(t); st.EndStatus != "regular" {
		t.Fatalf("profile run: %+v", st)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "b.txt")); err != nil || string(got) != "b" {
		t.Fatalf("b.txt on the target: %q, %v", got, err)
	}
	n := <-sent
	if !strings.HasPrefix(n.Summary, "Weekly backup: synchronization finished") {
		t.Fatalf("notification %q does not name the profile", n.Summary)
	}
	ps, err := a.Profiles.List()
	if err != nil || len(ps) != 1 {
		t.Fatalf("List = %+v, %v", ps, err)
	}
	if r := ps[0].LastRun; r == nil || r.Status != profile.StatusDone || r.Actions == 0 || r.At < info.LastRun.At {
		t.Fatalf("last run %+v, want a done run after %s", r, info.LastRun.At)
	}

	if err := a.Profiles.Delete("Weekly backup"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := a.Profiles.List(); len(ps) != 0 {
		t.Fatalf("after Delete: %+v", ps)
	}
}

// TestProfileFolderGone: a profile whose folder has gone is refused before anything changes,
// the open session included.
func TestProfileFolderGone(t *testing.T) {
	a := newTestApp(t)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	writeFiles(t, dst, map[string]string{"keep.txt": "keep"}, at)
	s := profile.NewStore(a.c.configDir)
	if err := s.Save(&profile.Profile{Name: "backup", Mode: "mirror",
		Nodes: []profile.Node{{Code: "A", Sources: []string{src}}, {Code: "B", Sources: []string{dst}}}}); err != nil {
		t.Fatal(err)
	}
	other, otherDst := t.TempDir(), t.TempDir()
	before := a.session(t, other, otherDst)
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	err := a.Profiles.Run("backup")
	if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("Run = %v, want an error naming %s", err, src)
	}
	if cur := a.Sessions.Current(); cur == nil || cur.ID != before.ID {
		t.Fatalf("session after the refused run: %+v, want %s still open", cur, before.ID)
	}
	if nodes := a.Data.Nodes(); len(nodes) != 2 || nodes[0].Sources[0].Path != other {
		t.Fatalf("nodes after the refused run: %+v", nodes)
	}
	if _, err := os.Stat(filepath.Join(dst, "keep.txt")); err != nil {
		t.Fatal(err)
	}
}

// TestProfileFromTheCommandLine: a profile saved with safety settings runs in the app with them,
// and a file that cannot be read is listed with its error.
func TestProfileFromTheCommandLine(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	s := profile.NewStore(a.c.configDir)
	if err := s.Save(&profile.Profile{Name: "careful", Mode: "mirror", Safety: profile.Safety{MaxDelete: "3"},
		Nodes: []profile.Node{{Code: "A", Sources: []string{src}}, {Code: "B", Sources: []string{dst}}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.Path("x")), "broken.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := a.Profiles.List()
	if err != nil || len(ps) != 2 || ps[0].Name != "careful" || ps[0].LastRun != nil || !strings.Contains(ps[1].Error, "broken.json") {
		t.Fatalf("List = %+v, %v", ps, err)
	}
	if names := a.Profiles.Names(); len(names) != 1 || names[0] != "careful" {
		t.Fatalf("Names = %q", names)
	}

	mark := a.rec.mark()
	if err := a.Profiles.Open("careful"); err != nil {
		t.Fatal(err)
	}
	if got := a.rec.since(mark, EventInventoryProgress); len(got) != 0 {
		t.Fatal("Open started the inventory")
	}
	if err := a.Profiles.Run("careful"); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil || conf.DeleteLimit != "3 files" {
		t.Fatalf("confirmation %+v, %v; want the profile's deletion limit", conf, err)
	}
	if st := a.synchronize(t); st.EndStatus != "regular" {
		t.Fatalf("run: %+v", st)
	}
	// The run is recorded before sync:done.
	p, err := s.Get("careful")
	if err != nil || p.LastRun == nil || p.LastRun.Status != profile.StatusDone {
		t.Fatalf("last run: %+v, %v", p, err)
	}
}

// listingTray is a tray that lists the profiles.
type listingTray struct {
	fakeTray
	lists chan []string
}

func (l *listingTray) SetProfiles(names []string) { l.lists <- names }

// TestProfileTray: the tray follows the saved profiles; its Run entry shows the window and runs
// the profile, and a profile that cannot run is told by a notification.
func TestProfileTray(t *testing.T) {
	a := newTestApp(t)
	desk := newFakeDesktop()
	a.c.desk = desk
	sent := make(chan notify.Notification, 4)
	a.c.notifier = &fakeNotifier{sent: sent}
	tr := &listingTray{lists: make(chan []string, 4)}
	a.SetTray(tr)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	a.session(t, src, dst)
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Profiles.Save("backup"); err != nil {
		t.Fatal(err)
	}
	if got := <-tr.lists; len(got) != 1 || got[0] != "backup" {
		t.Fatalf("tray lists %q, want backup", got)
	}

	mark := a.rec.mark()
	a.RunProfile("backup")
	if got := desk.got(); len(got) == 0 || got[0] != "show" {
		t.Fatalf("window calls %q, want show", got)
	}
	if name := waitFor[string](t, a.rec, mark, EventProfileRun, nil); name != "backup" {
		t.Fatalf("profile:run %q", name)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}

	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	a.RunProfile("backup")
	n := <-sent
	if !strings.HasPrefix(n.Summary, "backup: ") || !strings.Contains(n.Body, dst) {
		t.Fatalf("notification %q / %q, want the profile and the folder gone", n.Summary, n.Body)
	}

	if err := a.Profiles.Delete("backup"); err != nil {
		t.Fatal(err)
	}
	if got := <-tr.lists; len(got) != 0 {
		t.Fatalf("tray lists %q after Delete, want none", got)
	}
}

// TestProfileEdit renames a profile and changes its preset and safety settings; its run keeps
// them (the deletion limit and kept versions of the confirmation), and saving the session again
// keeps them too.
func TestProfileEdit(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	writeFiles(t, dst, map[string]string{"a.txt": "old"}, at.Add(-time.Hour))
	s := profile.NewStore(a.c.configDir)
	nodes := []profile.Node{{Code: "A", Sources: []string{src}}, {Code: "B", Sources: []string{dst}}}
	for _, name := range []string{"backup", "other"} {
		if err := s.Save(&profile.Profile{Name: name, Mode: "mirror", Nodes: nodes}); err != nil {
			t.Fatal(err)
		}
	}
	edit := ProfileEdit{Name: "other", Preset: "update", MaxDelete: "20%", Versions: ".ferry-versions", VersionsKeep: 7}
	if _, err := a.Profiles.Edit("backup", edit); err == nil || !strings.Contains(err.Error(), "already named") {
		t.Fatalf("Edit onto another profile's name = %v", err)
	}
	edit.Name = "Weekly"
	info, err := a.Profiles.Edit("backup", edit)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "Weekly" || info.Preset != "update" || info.MaxDelete != "20%" || info.Versions != ".ferry-versions" || info.VersionsKeep != 7 {
		t.Fatalf("edited %+v", info)
	}
	if _, err := s.Get("backup"); !errors.Is(err, profile.ErrNotFound) {
		t.Fatalf("the old name after a rename: %v", err)
	}
	if _, err := a.Profiles.Edit("Weekly", ProfileEdit{Name: "Weekly", Preset: "update", MaxDelete: "lots"}); err == nil {
		t.Fatal("a deletion limit that is not one was saved")
	}

	mark := a.rec.mark()
	if err := a.Profiles.Run("Weekly"); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	if st := a.Rules.Get(); st.Mode != "update" {
		t.Fatalf("rules of the run: %+v", st)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	if conf.DeleteLimit != "20%" || conf.Versions == nil || conf.Versions.Dir != ".ferry-versions" || conf.Versions.KeepDays != 7 {
		t.Fatalf("confirmation %+v, versions %+v: want the profile's safety settings", conf, conf.Versions)
	}
	if st := a.synchronize(t); st.EndStatus != "regular" {
		t.Fatalf("run: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dst, ".ferry-versions")); err != nil {
		t.Fatalf("the replaced file was not kept: %v", err)
	}
	if _, err := a.Profiles.Save("Weekly"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Get("Weekly"); err != nil || p.Safety != (profile.Safety{MaxDelete: "20%", Versions: ".ferry-versions", VersionsKeep: 7}) {
		t.Fatalf("saved again: %+v, %v", p, err)
	}
	// Quit forgets them: a new session has the settings' again.
	if err := a.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	if a.c.an.safety != (profile.Safety{}) {
		t.Fatalf("safety after Quit: %+v", a.c.an.safety)
	}
}
