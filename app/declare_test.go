package app

import (
	"os"
	"path/filepath"
	"testing"
)

// memberNodes is what the app shows of the member with letter: its nodes' codes and folder
// names.
func memberNodes(info *SessionInfo, letter string) []string {
	var out []string
	for _, m := range info.Members {
		if m.Letter != letter {
			continue
		}
		for _, n := range m.Nodes {
			for _, s := range n.Sources {
				out = append(out, n.Code+":"+s.Name)
			}
		}
	}
	return out
}

// TestFoldersShownAsAdded: in a session with another member, the folders a member adds or
// removes on the Data step reach the other member's app at once, before any inventory; and
// the inventory then starts from them.
func TestFoldersShownAsAdded(t *testing.T) {
	srv := startServer(t)
	host, joiner := onServer(t, srv.URL), onServer(t, srv.URL)
	meet(t, host, joiner)

	base := t.TempDir()
	photos, backup := filepath.Join(base, "Photos"), filepath.Join(base, "Backup")
	for _, dir := range []string{photos, backup} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shows := func(a *testApp, mark int, letter string, want ...string) {
		t.Helper()
		waitFor[*SessionInfo](t, a.rec, mark, EventSessionChanged, func(info *SessionInfo) bool {
			got := memberNodes(info, letter)
			if info == nil || len(got) != len(want) {
				return false
			}
			for i := range got {
				if got[i] != want[i] {
					return false
				}
			}
			return true
		})
	}

	mark := joiner.rec.mark()
	host.addNodes(t, photos)
	shows(joiner, mark, "A", "Aa:Photos")
	mark = host.rec.mark()
	joiner.addNodes(t, backup)
	shows(host, mark, "B", "Ba:Backup")

	mark = joiner.rec.mark()
	if err := host.Data.RemoveSource("Aa1"); err != nil {
		t.Fatal(err)
	}
	shows(joiner, mark, "A")
	mark = joiner.rec.mark()
	if _, err := host.Data.AddSource("Aa", photos); err != nil {
		t.Fatal(err)
	}
	shows(joiner, mark, "A", "Aa:Photos")

	// The oldest member starts the inventory: its own declares the same nodes again, and the
	// other member takes its part without a click (runTogether has both click).
	hostMark, joinMark := host.rec.mark(), joiner.rec.mark()
	if err := host.Inventory.Start(); err != nil {
		t.Fatal(err)
	}
	if d := waitFor[InventoryDone](t, host.rec, hostMark, EventInventoryDone, nil); d.Error != "" {
		t.Fatalf("inventory: %s", d.Error)
	}
	// The other member's part ran (the comparison below holds it), and its screens followed:
	// its inventory ends with the plan of the oldest, not waited for here.
	waitFor[[]NodeProgress](t, joiner.rec, joinMark, EventInventoryProgress, nil)
	if sum, err := host.Comparison.Summary(); err != nil || len(sum.Parts) != 2 {
		t.Fatalf("comparison %+v, %v: want the folders of both", sum, err)
	}
}
