package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJoinRefused: a second app joins the first one's session through its server; a bad id or
// password, or its key refused by the first app's user, is refused with a reason, and the
// joiner has no session.
func TestJoinRefused(t *testing.T) {
	first := newTestApp(t)
	info, err := first.Sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	second := newTestApp(t)
	if err := second.Settings.Save(UserSettings{ServerURL: info.ServerURL}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, password, says string }{
		{"12-abc", info.Password, "session id"},
		{info.ID, " ", "password"},
	} {
		_, err := second.Sessions.Join(c.id, c.password)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Join(%q, %q): %v, want %q", c.id, c.password, err, c.says)
		}
	}
	// The first app's user does not trust the second's key.
	mark := first.rec.mark()
	done := second.joinAsync(info.ID, info.Password)
	first.answer(t, mark, false)
	if j := <-done; j.err == nil || !strings.Contains(j.err.Error(), "refused") {
		t.Errorf("Join with the key refused: %v, want a refusal", j.err)
	}
	if second.Sessions.Current() != nil {
		t.Fatal("the joiner has a session after a refusal")
	}
	if cur := first.Sessions.Current(); cur == nil || len(cur.Members) != 1 {
		t.Fatalf("the first app's session: %+v", cur)
	}
}

// TestQuitStartsEmpty: after Quit, a new session has no nodes, no rules and no comparison.
func TestQuitStartsEmpty(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, src, 3)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if err := a.Sessions.Quit(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sessions.Create(); err != nil {
		t.Fatal(err)
	}
	if n := a.Data.Nodes(); len(n) != 0 {
		t.Errorf("nodes after Quit then Create: %+v", n)
	}
	if r := a.Rules.Get(); r.Mode != ModeNone || r.Text != "" {
		t.Errorf("rules after Quit then Create: %+v", r)
	}
	if _, err := a.Comparison.Summary(); err == nil {
		t.Error("a comparison after Quit then Create")
	}
	if s := a.Synchronization.Status(); s.State != StateIdle {
		t.Errorf("synchronization after Quit then Create: %+v", s)
	}
}

// TestCreateFolder: a missing target folder is created with its parents; a file in the way is
// an error naming it.
func TestCreateFolder(t *testing.T) {
	a := newTestApp(t)
	root := t.TempDir()
	want := filepath.Join(root, "backup", "photos")
	got, err := a.Data.CreateFolder(want + "/")
	if err != nil || got != want {
		t.Fatalf("CreateFolder: %q, %v", got, err)
	}
	if fi, err := os.Stat(want); err != nil || !fi.IsDir() {
		t.Fatalf("the folder was not made: %v", err)
	}
	if _, err := a.Data.CreateFolder(want); err != nil {
		t.Fatalf("CreateFolder of an existing folder: %v", err)
	}
	writeFiles(t, root, map[string]string{"file": "x"}, at)
	if _, err := a.Data.CreateFolder(filepath.Join(root, "file", "sub")); err == nil || !strings.Contains(err.Error(), "cannot be created") {
		t.Errorf("CreateFolder under a file: %v", err)
	}
	if _, err := a.Data.CreateFolder("relative"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("CreateFolder of a relative path: %v", err)
	}
}
