package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
)

// listed returns the comparison's item paths in dir or below it.
func listed(t *testing.T, a *testApp, dir string) []string {
	t.Helper()
	page, err := a.Comparison.Page("", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range page.Items {
		if it.Path == "/"+dir || strings.HasPrefix(it.Path, "/"+dir+"/") {
			out = append(out, it.Path)
		}
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVersionsKept mirrors with a folder for kept versions in the settings: the inventory
// neither lists that folder nor Ferry's stale temp files (it removes them), the confirmation
// says where the run keeps what it replaces and deletes, and the run keeps the replaced file's
// old content and the deleted file, with their dates, in <dir>/<stamp>/, then removes the run
// folders older than the days to keep.
func TestVersionsKept(t *testing.T) {
	a := newTestApp(t)
	// Not a hidden name: hidden names are left out anyway.
	if err := a.Settings.Save(UserSettings{Versions: "kept", VersionsKeep: 7}); err != nil {
		t.Fatal(err)
	}
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "new", "same.txt": "same", "kept/other-side.txt": "x"}, at.Add(time.Hour))
	writeFiles(t, dst, map[string]string{"a.txt": "old", "same.txt": "same", "gone.txt": "gone"}, at)
	if err := os.Chtimes(filepath.Join(dst, "same.txt"), at.Add(time.Hour), at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const old = "2020-01-01T000000Z" // a run folder of long ago
	writeFiles(t, dst, map[string]string{"kept/" + old + "/a.txt": "older", "kept/notes.txt": "not a run"}, at)
	temp := filepath.Join(dst, inventory.TempName("a.txt", "0123abcd"))
	if err := os.WriteFile(temp, []byte("half a copy"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if got := listed(t, a, "kept"); len(got) != 0 {
		t.Fatalf("the inventory lists the folder of kept versions: %v", got)
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Fatalf("the stale temp file is still there (%v)", err)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	conf, err := a.Synchronization.Confirmation()
	if err != nil {
		t.Fatal(err)
	}
	v := conf.Versions
	if v == nil || v.Dir != "kept" || v.KeepDays != 7 || conf.Replaces != 1 || len(conf.Conflicts) != 0 {
		t.Fatalf("confirmation %+v, versions %+v: want them kept in kept/, for 7 days; 1 file replaced", conf, v)
	}
	if _, ok := plan.ParseStamp(v.Stamp); !ok {
		t.Fatalf("stamp %q", v.Stamp)
	}

	end := a.synchronize(t)
	if end.EndStatus != "regular" || len(end.Errors) != 0 {
		t.Fatalf("end %+v", end)
	}
	run := filepath.Join(dst, "kept", v.Stamp)
	for name, want := range map[string]string{"a.txt": "old", "gone.txt": "gone"} {
		p := filepath.Join(run, name)
		if got := readFile(t, p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(at) {
			t.Errorf("%s: dates not kept (%v, %v)", p, fi.ModTime(), err)
		}
	}
	if got := readFile(t, filepath.Join(dst, "a.txt")); got != "new" {
		t.Errorf("B's a.txt: %q, want the new content", got)
	}
	if _, err := os.Stat(filepath.Join(dst, "gone.txt")); !os.IsNotExist(err) {
		t.Errorf("gone.txt is still on B (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "kept", old)); !os.IsNotExist(err) {
		t.Errorf("the run folder of 2020 is still there, past the 7 days to keep (%v)", err)
	}
	if got := readFile(t, filepath.Join(dst, "kept", "notes.txt")); got != "not a run" {
		t.Errorf("kept/notes.txt, not a run folder: %q", got)
	}
	// The folders of kept versions are left alone: A's is not copied, B's not deleted.
	if _, err := os.Stat(filepath.Join(dst, "kept", "other-side.txt")); !os.IsNotExist(err) {
		t.Errorf("A's folder of kept versions was copied (%v)", err)
	}

	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if got := listed(t, a, "kept"); len(got) != 0 {
		t.Fatalf("the next inventory lists the folder of kept versions: %v", got)
	}
	if again, err := a.Synchronization.Confirmation(); err != nil || again.Actions != 0 {
		t.Fatalf("after the run: %+v, %v; want nothing to do", again, err)
	}
}

// TestVersionsFollowSettings changes the folder for kept versions after the inventory: the plan
// keeps versions there at once, and the inventory runs again by itself only when it listed the
// new folder or left out the one before. A rules file's versions and versions_keep override the
// settings'.
func TestVersionsFollowSettings(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "new"}, at.Add(time.Hour))
	writeFiles(t, dst, map[string]string{"a.txt": "old", "kept/x.txt": "x"}, at)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	versions := func() *KeptVersions {
		t.Helper()
		conf, err := a.Synchronization.Confirmation()
		if err != nil {
			t.Fatal(err)
		}
		return conf.Versions
	}
	if v := versions(); v != nil || len(listed(t, a, "kept")) != 2 {
		t.Fatalf("versions %+v, listed %v: want none kept, kept/ an ordinary folder", v, listed(t, a, "kept"))
	}

	// A hidden folder: hidden names are left out anyway, the inventory stands.
	mark := a.rec.mark()
	if err := a.Settings.Save(UserSettings{Versions: ".ferry-versions", VersionsKeep: 3}); err != nil {
		t.Fatal(err)
	}
	if v := versions(); v == nil || v.Dir != ".ferry-versions" || v.KeepDays != 3 {
		t.Fatalf("versions %+v: want .ferry-versions, 3 days", v)
	}
	if got := a.rec.since(mark, EventInventoryProgress); len(got) != 0 {
		t.Fatalf("the inventory ran again for a folder it does not list")
	}

	// A folder the inventory lists: it runs again, without it.
	mark = a.rec.mark()
	if err := a.Settings.Save(UserSettings{Versions: "kept"}); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	if got := listed(t, a, "kept"); len(got) != 0 {
		t.Fatalf("the new inventory lists the folder of kept versions: %v", got)
	}
	if v := versions(); v == nil || v.Dir != "kept" || v.KeepDays != 0 {
		t.Fatalf("versions %+v: want kept, kept for ever", v)
	}

	// The rules file's settings come first; the inventory runs again for them too.
	mark = a.rec.mark()
	if _, err := a.Rules.Save(`{"settings": {"versions": "old/versions", "versions_keep": 10}, "rules": []}`); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	if v := versions(); v == nil || v.Dir != "old/versions" || v.KeepDays != 10 {
		t.Fatalf("versions %+v: want the rules file's", v)
	}
	if got := listed(t, a, "kept"); len(got) != 2 {
		t.Fatalf("kept/ is an ordinary folder again, listed %v", got)
	}
}
