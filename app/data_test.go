package app

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/gcpace"
)

func TestDataSources(t *testing.T) {
	a := newTestApp(t)
	root := t.TempDir()
	folder := filepath.Join(root, "photos")
	inside := filepath.Join(folder, "2024")
	file := filepath.Join(root, "notes.txt")
	for _, d := range []string{inside, filepath.Join(root, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, root, map[string]string{"notes.txt": "notes"}, at)
	if err := os.Symlink(folder, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}

	if _, err := a.Data.AddSource("A", folder); err == nil {
		t.Fatal("a source was added to a missing node")
	}
	na, _ := a.Data.AddNode()
	nb, _ := a.Data.AddNode()
	if na.Code != "A" || nb.Code != "B" {
		t.Fatalf("codes %s %s", na.Code, nb.Code)
	}
	s, err := a.Data.AddSource("A", folder+"/")
	if err != nil || s.Code != "A1" || s.Path != folder || s.Kind != KindFolder {
		t.Fatalf("folder source: %+v, %v", s, err)
	}
	s, err = a.Data.AddSource("A", file)
	if err != nil || s.Code != "A2" || s.Kind != KindFile {
		t.Fatalf("file source: %+v, %v", s, err)
	}
	for _, c := range []struct{ node, path, says string }{
		{"B", filepath.Join(root, "missing"), "does not exist"},
		{"B", "relative/path", "not an absolute path"},
		{"B", "", "give the path"},
		{"B", filepath.Join(root, "link"), "symbolic link"},
		{"B", folder, "already data source A1"},
		{"B", inside, "inside data source A1"},
		{"B", root, "holds data source"},
		{"C", filepath.Join(root, "other"), "no data node"},
	} {
		_, err := a.Data.AddSource(c.node, c.path)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("AddSource(%s, %q): %v, want %q", c.node, c.path, err, c.says)
		}
	}
	if _, err := a.Data.AddSource("B", filepath.Join(root, "other")); err != nil {
		t.Fatal(err)
	}
	if err := a.Inventory.Start(); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Fatalf("inventory without a session: %v", err)
	}

	// removing A1 renumbers A2
	if err := a.Data.RemoveSource("A1"); err != nil {
		t.Fatal(err)
	}
	nodes := a.Data.Nodes()
	if len(nodes[0].Sources) != 1 || nodes[0].Sources[0].Code != "A1" || nodes[0].Sources[0].Path != file {
		t.Fatalf("after removing A1: %+v", nodes[0])
	}
	if err := a.Data.RemoveSource("A7"); err == nil {
		t.Fatal("removing a missing source succeeded")
	}
	if err := a.Data.RemoveNode("A"); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.Data.AddNode(); n.Code != "A" {
		t.Fatalf("the free code A was not reused: %s", n.Code)
	}
	for range 3 {
		if _, err := a.Data.AddNode(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Data.AddNode(); err == nil {
		t.Fatal("a sixth node was accepted")
	}
}

// TestInventoryErrors: a source gone before the inventory ends it with an error on its node;
// nodes without sources are refused before anything runs.
func TestInventoryErrors(t *testing.T) {
	a := newTestApp(t)
	if _, err := a.Sessions.Create(); err != nil {
		t.Fatal(err)
	}
	src, gone := t.TempDir(), filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := a.Data.AddNode(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Inventory.Start(); err == nil || !strings.Contains(err.Error(), "has no data source") {
		t.Fatalf("inventory of nodes without sources: %v", err)
	}
	for _, s := range [][2]string{{"A", src}, {"B", gone}} {
		if _, err := a.Data.AddSource(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	mark := a.rec.mark()
	done := a.inventory(t)
	if done.Error == "" || !strings.Contains(done.Error, "node B") {
		t.Fatalf("inventory of a missing folder: %+v", done)
	}
	last := a.rec.since(mark, EventInventoryProgress)
	if len(last) == 0 || !strings.Contains(string(last[len(last)-1].data), `"error"`) {
		t.Fatalf("no progress with the node's error: %v", last)
	}
	if _, err := a.Comparison.Summary(); err == nil {
		t.Fatal("a comparison exists after a failed inventory")
	}
	// fixed, it runs
	if err := a.Data.RemoveSource("B1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Data.AddSource("B", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	// a change of the nodes drops the comparison
	if _, err := a.Data.AddNode(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Comparison.Summary(); err == nil {
		t.Fatal("the comparison outlived a change of the nodes")
	}
}

// TestInventoryPacesTheCollector: while the app holds a comparison and its plan, the collector
// runs with gcpace.KeptPercent (ApplyPercent once the plan runs); the setting the inventory
// found comes back once they are dropped, by a change of nodes or at the end of the run.
func TestInventoryPacesTheCollector(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	gcPercent := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	before := gcPercent()
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	manyFiles(t, src, 20)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if got := gcPercent(); got != gcpace.KeptPercent {
		t.Errorf("with the plan held, the collector runs at %d %%, want %d %%", got, gcpace.KeptPercent)
	}
	if end := a.synchronize(t); end.EndStatus != "regular" {
		t.Fatalf("the run ended %s: %s %v", end.EndStatus, end.EndReason, end.Errors)
	}
	if got := gcPercent(); got != before {
		t.Errorf("once the plan ran, the collector runs at %d %%, want %d %%", got, before)
	}
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Data.AddNode(); err != nil {
		t.Fatal(err)
	}
	if got := gcPercent(); got != before {
		t.Errorf("with the plan dropped, the collector runs at %d %%, want %d %%", got, before)
	}
}
