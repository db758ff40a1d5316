package app

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/app/notify"
	"github.com/ferrysync/ferry/backend/buildinfo"
	"github.com/ferrysync/ferry/backend/protocol"
)

func TestVersion(t *testing.T) {
	a := newTestApp(t)
	if got, want := a.Settings.Version(), buildinfo.Version(); got != want || got == "" {
		t.Fatalf("Version() = %q, want %q", got, want)
	}
}

// TestMirror goes through the whole wizard against the embedded server: a session, two nodes,
// the inventory, the comparison and its filters, a preset, a targeted action, the
// confirmation, the synchronization and its events, and quitting.
func TestMirror(t *testing.T) {
	a := newTestApp(t)
	tray := &fakeTray{}
	a.SetTray(tray)
	notes := &fakeNotifier{sent: make(chan notify.Notification, 1)}
	a.c.notifier = notes

	src, dst := t.TempDir(), t.TempDir()
	later := at.Add(time.Hour)
	writeFiles(t, src, map[string]string{
		"same.txt":       "same",
		"onlysrc.txt":    "only in A",
		"dir/nested.txt": "nested",
		"photo.jpg":      "jpeg",
	}, at)
	writeFiles(t, src, map[string]string{"changed.txt": "new content"}, later)
	writeFiles(t, dst, map[string]string{
		"same.txt":    "same",
		"changed.txt": "old content", // same size, older: the content is read to compare
		"onlydst.txt": "only in B",
		"photo.jpg":   "old jpeg",
	}, at)
	if err := os.Mkdir(filepath.Join(dst, "olddir"), 0o755); err != nil {
		t.Fatal(err)
	}

	mark := a.rec.mark()
	info := a.session(t, src, dst)
	if !info.Embedded || info.ServerURL == "" || !protocol.SessionIDPattern.MatchString(info.ID) {
		t.Fatalf("session %+v: want an embedded server and a session id", info)
	}
	if info.Password == "" || len(info.Members) != 1 || !info.Members[0].Self || info.Members[0].Letter != "A" {
		t.Fatalf("session %+v: want a generated password and this member as A", info)
	}
	waitFor(t, a.rec, mark, EventSessionChanged, func(s *SessionInfo) bool { return s != nil && s.ID == info.ID })
	if cur := a.Sessions.Current(); cur == nil || cur.ID != info.ID {
		t.Fatalf("Current() = %+v, want session %s", cur, info.ID)
	}
	nodes := a.Data.Nodes()
	if len(nodes) != 2 || nodes[0].Code != "A" || nodes[1].Code != "B" || nodes[1].Sources[0].Code != "B1" ||
		nodes[1].Sources[0].Kind != KindFolder || nodes[0].Member != "A" {
		t.Fatalf("nodes %+v", nodes)
	}

	if _, err := a.Comparison.Summary(); !errors.Is(err, errNoInventory) {
		t.Fatalf("Summary before the inventory: %v, want %v", err, errNoInventory)
	}
	mark = a.rec.mark()
	if done := a.inventory(t); done.Error != "" {
		t.Fatalf("inventory: %s", done.Error)
	}
	progress := a.rec.since(mark, EventInventoryProgress)
	if len(progress) == 0 {
		t.Fatal("no inventory:progress event")
	}
	last := waitFor(t, a.rec, mark, EventInventoryProgress, func(p []NodeProgress) bool { return len(p) == 2 && p[0].Done })
	if last[0].Node != "A" || last[0].Files != 5 || last[0].Dirs != 1 || last[1].Files != 4 || last[1].Dirs != 1 ||
		last[0].Bytes != int64(len("same")+len("only in A")+len("nested")+len("jpeg")+len("new content")) {
		t.Fatalf("last progress %+v", last)
	}
	if last[0].HashedFiles+last[1].HashedFiles != 2 {
		t.Fatalf("progress %+v: want changed.txt read on both nodes", last)
	}
	// the status posted through the outbox comes back as a push
	waitFor(t, a.rec, mark, EventSessionChanged, func(s *SessionInfo) bool {
		return s != nil && s.Members[0].Status == protocol.InventoryFinished.String()
	})

	sum, err := a.Comparison.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 8 || !slices.Equal(sum.Parts, []string{"A", "B"}) || sum.WithActions != 0 {
		t.Fatalf("summary %+v: want 8 items on A and B, no action before a preset", sum)
	}
	paths := func(filter string) []string {
		t.Helper()
		page, err := a.Comparison.Page(filter, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if page.FilterError != nil {
			t.Fatalf("filter %q: %+v", filter, page.FilterError)
		}
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Path)
		}
		if page.Total != len(out) {
			t.Fatalf("filter %q: total %d, %d items", filter, page.Total, len(out))
		}
		return out
	}
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"", []string{"/changed.txt", "/dir", "/dir/nested.txt", "/olddir", "/onlydst.txt", "/onlysrc.txt", "/photo.jpg", "/same.txt"}},
		{"on:B", []string{"/changed.txt", "/olddir", "/onlydst.txt", "/photo.jpg", "/same.txt"}},
		{"only:A", []string{"/dir", "/dir/nested.txt", "/onlysrc.txt"}},
		{"is:file on:B", []string{"/changed.txt", "/onlydst.txt", "/photo.jpg", "/same.txt"}},
		{"name:photo", []string{"/photo.jpg"}},
		{"only", []string{"/onlydst.txt", "/onlysrc.txt"}},
		{"on:A on:B A.content != B.content", []string{"/changed.txt", "/photo.jpg"}},
	} {
		if got := paths(c.filter); !slices.Equal(got, c.want) {
			t.Errorf("filter %q: %v, want %v", c.filter, got, c.want)
		}
	}
	page, err := a.Comparison.Page("on:Z OR", 0, 100)
	if err != nil {
		t.Fatalf("a bad filter is not an error: %v", err)
	}
	if page.FilterError == nil || page.FilterError.Msg == "" || page.FilterError.End <= page.FilterError.Pos || len(page.Items) != 0 {
		t.Fatalf("bad filter: %+v", page)
	}
	page, _ = a.Comparison.Page("", 2, 3)
	if page.Total != 8 || page.Offset != 2 || len(page.Items) != 3 || page.Items[0].Path != "/dir/nested.txt" {
		t.Fatalf("page 2+3: %+v", page)
	}
	page, _ = a.Comparison.Page("name:changed", 0, 10)
	changed := page.Items[0]
	ca, cb := changed.Cells["A"], changed.Cells["B"]
	if !ca.Present || !cb.Present || ca.Content == cb.Content || ca.Date == cb.Date || ca.Size != 11 ||
		ca.Mtime != later.Format(time.RFC3339Nano) || changed.Kind != "file" {
		t.Fatalf("changed.txt: %+v", changed)
	}
	page, _ = a.Comparison.Page("name:same", 0, 10)
	if s := page.Items[0].Cells; s["A"].Content != "A" || s["B"].Content != "A" || s["A"].Date != s["B"].Date {
		t.Fatalf("same.txt: %+v", page.Items[0])
	}

	// the mirror preset
	st, err := a.Rules.UsePreset("mirror")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != "mirror" || st.Groups != 8 || len(st.Errors) != 0 || !strings.Contains(st.Text, `"op": "copy"`) { // 7 items, the root's date
		t.Fatalf("mirror: %+v", st)
	}
	sum, _ = a.Comparison.Summary()
	if sum.WithActions != 7 {
		t.Fatalf("mirror: %d items with actions, want 7", sum.WithActions)
	}
	if got := paths("has:actions.delete"); !slices.Equal(got, []string{"/olddir", "/onlydst.txt"}) {
		t.Fatalf("has:actions.delete: %v", got)
	}
	page, _ = a.Comparison.Page("name:onlysrc", 0, 1)
	if acts := page.Items[0].Actions; len(acts) != 1 || acts[0].Op != "copy" || acts[0].Source != "A" ||
		!slices.Equal(acts[0].Targets, []string{"B"}) || acts[0].Targeted {
		t.Fatalf("onlysrc.txt actions: %+v", acts)
	}

	// a targeted action: leave photo.jpg alone
	if _, err := a.Comparison.AddTargetedAction("/same.txt", "copy", "A", []string{"B"}); err == nil {
		t.Fatal("a copy of identical content and dates was accepted")
	}
	if _, err := a.Comparison.AddTargetedAction("/nothere", "delete", "", []string{"B"}); err == nil {
		t.Fatal("an action on a missing item was accepted")
	}
	sum, err = a.Comparison.AddTargetedAction("/photo.jpg", "do-nothing", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.WithActions != 6 {
		t.Fatalf("after do-nothing on photo.jpg: %d items with actions, want 6", sum.WithActions)
	}
	page, _ = a.Comparison.Page("has:actions.targeted", 0, 10)
	if len(page.Items) != 1 || page.Items[0].Actions[0].Op != "do-nothing" || !page.Items[0].Actions[0].Targeted {
		t.Fatalf("targeted: %+v", page.Items)
	}

	conf, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	wantBytes := int64(len("new content") + len("nested") + len("only in A"))
	if conf.Actions != 7 || conf.Bytes != wantBytes || len(conf.Destinations) != 1 {
		t.Fatalf("confirmation %+v", conf)
	}
	if d := conf.Destinations[0]; d != (Destination{Node: "B", Copies: 3, Creates: 1, Deletes: 2, Dates: 1, Bytes: wantBytes}) { // the root's date
		t.Fatalf("destination %+v", d)
	}
	// onlydst.txt of B's four files (olddir is a folder): under the deletion limit
	if conf.OverLimit || len(conf.Deletions) != 1 ||
		conf.Deletions[0] != (Deletions{Part: "B", Node: "B", Root: dst, Deletes: 1, Files: 4}) {
		t.Fatalf("deletions %+v", conf.Deletions)
	}

	mark = a.rec.mark()
	end := a.synchronize(t)
	if end.State != StateEnded || end.EndStatus != "regular" || end.Orchestration != "local" || len(end.Errors) != 0 ||
		end.Progress.TotalActions != 7 || end.Progress.FinishedActions != 7 || len(end.Items) != 7 {
		t.Fatalf("end %+v", end)
	}
	for _, it := range end.Items {
		if !it.OK || it.Target != "B" || it.Path == "" {
			t.Fatalf("item %+v", it)
		}
	}
	events := a.rec.since(mark, EventSync)
	var types []string
	for _, e := range events {
		var ev SyncEvent
		if err := json.Unmarshal(e.data, &ev); err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
	}
	if len(types) < 2 || types[0] != "started" || types[len(types)-1] != "ended" {
		t.Fatalf("sync events %v: want started first and ended last", types)
	}
	for _, ty := range types[1 : len(types)-1] {
		if ty != "progress" {
			t.Fatalf("sync events %v: want only progress between started and ended", types)
		}
	}
	if i, j := lastIndex(a.rec, mark, EventSync), lastIndex(a.rec, mark, EventSyncDone); i > j {
		t.Fatal("sync:done came before the last sync:event")
	}

	// the disk
	for name, want := range map[string]string{"changed.txt": "new content", "onlysrc.txt": "only in A", "dir/nested.txt": "nested", "photo.jpg": "old jpeg", "same.txt": "same"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "changed.txt")); err != nil || !fi.ModTime().Equal(later) {
		t.Errorf("changed.txt mtime %v, %v; want %v", fi.ModTime(), err, later)
	}
	for _, gone := range []string{"onlydst.txt", "olddir"} {
		if _, err := os.Lstat(filepath.Join(dst, gone)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it deleted", gone, err)
		}
	}
	for _, dir := range []string{".", "dir"} { // folders' dates follow their source's
		fs, err := os.Stat(filepath.Join(src, dir))
		if err != nil {
			t.Fatal(err)
		}
		if fd, err := os.Stat(filepath.Join(dst, dir)); err != nil || !fd.ModTime().Equal(fs.ModTime()) {
			t.Errorf("%s: %v, %v; want the source's mtime %v", dir, fd, err, fs.ModTime())
		}
	}

	if st := a.Synchronization.Status(); st.State != StateEnded || len(st.Items) != 7 {
		t.Fatalf("status %+v", st)
	}
	if err := a.Synchronization.Start(); !errors.Is(err, errPlanRan) {
		t.Fatalf("second start: %v, want %v", err, errPlanRan)
	}
	select {
	case n := <-notes.sent:
		if n.Summary != "Synchronization finished" {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(wait):
		t.Fatal("no notification")
	}
	if s, abort := tray.last(); s != TrayIdle || abort {
		t.Fatalf("tray %v abort %v after the run", s, abort)
	}
	if !slices.Contains(tray.states, TrayRunning) {
		t.Fatalf("tray states %v: never running", tray.states)
	}
	waitFor(t, a.rec, mark, EventSessionChanged, func(s *SessionInfo) bool {
		return s != nil && s.Members[0].Status == protocol.SynchronizationFinished.String()
	})

	// a new inventory sees the nodes in sync but for photo.jpg
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if got := paths("has:actions"); !slices.Equal(got, []string{"/photo.jpg"}) {
		t.Fatalf("after the run: %v have actions, want photo.jpg (its do-nothing stays)", got)
	}

	mark = a.rec.mark()
	if err := a.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.rec, mark, EventSessionChanged, func(s *SessionInfo) bool { return s == nil })
	if a.Sessions.Current() != nil {
		t.Fatal("a session is still current after Quit")
	}
	if _, err := a.Comparison.Summary(); !errors.Is(err, errNoInventory) {
		t.Fatalf("Summary after Quit: %v", err)
	}
}

func lastIndex(r *recorder, mark int, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := -1
	for i, e := range r.ev[mark:] {
		if e.name == name {
			last = i
		}
	}
	return last
}
