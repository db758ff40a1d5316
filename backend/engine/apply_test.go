package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

func writeFile(t *testing.T, p, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func planMirror(t *testing.T, a, b string) *plan.Plan {
	t.Helper()
	l, err := plan.Make(context.Background(), mirrorRequest(a, b, compare.Smart))
	if err != nil {
		t.Fatal(err)
	}
	return l.Plan
}

// Changes made after the inventory are never overwritten: the action fails and reports why.
func TestApplyRefusesChangesSinceInventory(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(a, b string)
		want   error
		check  func(t *testing.T, a, b string)
	}{
		{
			name:   "target edited",
			change: func(a, b string) { writeFile(t, filepath.Join(b, "f.txt"), "user edit", t0.Add(time.Hour)) },
			want:   transfer.ErrTargetChanged,
			check: func(t *testing.T, a, b string) {
				if got := readFile(t, filepath.Join(b, "f.txt")); got != "user edit" {
					t.Errorf("target = %q, the edit was overwritten", got)
				}
			},
		},
		{
			name:   "target appeared",
			change: func(a, b string) { writeFile(t, filepath.Join(b, "new.txt"), "made meanwhile", t0) },
			want:   transfer.ErrTargetChanged,
			check: func(t *testing.T, a, b string) {
				if got := readFile(t, filepath.Join(b, "new.txt")); got != "made meanwhile" {
					t.Errorf("new file = %q, overwritten", got)
				}
			},
		},
		{
			name:   "source edited",
			change: func(a, b string) { writeFile(t, filepath.Join(a, "f.txt"), "ver 3", t0.Add(2*time.Hour)) },
			want:   transfer.ErrSourceChanged,
			check: func(t *testing.T, a, b string) {
				if got := readFile(t, filepath.Join(b, "f.txt")); got != "ver 1" {
					t.Errorf("target = %q, want it untouched", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			writeFile(t, filepath.Join(a, "f.txt"), "ver 2", t0.Add(time.Minute))
			writeFile(t, filepath.Join(a, "new.txt"), "from A", t0)
			writeFile(t, filepath.Join(b, "f.txt"), "ver 1", t0)
			p := planMirror(t, a, b)
			tt.change(a, b)
			rep := engine.Apply(context.Background(), p, 2)
			if len(rep.Errors) != 1 || !errors.Is(rep.Errors[0], tt.want) {
				t.Fatalf("errors = %v, want one %v", rep.Errors, tt.want)
			}
			tt.check(t, a, b)
		})
	}
}

// A directory that still holds files the inventory skipped (hidden ones here) is not deleted.
func TestApplyKeepsDirectoryWithSkippedFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "keep.txt"), "k", t0)
	writeFile(t, filepath.Join(b, "old", ".hidden"), "h", t0)
	writeFile(t, filepath.Join(b, "old", "visible.txt"), "v", t0)
	p := planMirror(t, a, b)
	rep := engine.Apply(context.Background(), p, 2)
	for _, err := range rep.Errors {
		t.Errorf("unexpected error: %v", err)
	}
	if got := readFile(t, filepath.Join(b, "old", ".hidden")); got != "h" {
		t.Fatalf("hidden file = %q", got)
	}
	if _, err := os.Stat(filepath.Join(b, "old", "visible.txt")); !os.IsNotExist(err) {
		t.Errorf("visible.txt should be deleted: %v", err)
	}
	var refused []string
	for _, r := range p.Rejected {
		refused = append(refused, r.Op+" "+r.Path+": "+string(r.Reason))
	}
	if len(refused) != 1 || refused[0] != "delete /old: directory still holds files" {
		t.Errorf("refused = %q, want the delete of /old", refused)
	}
}

// Replacements are put in place in batches (one file-system sync for many files): every one
// lands once, each result is reported once, and a target edited after the inventory is still
// refused among them.
func TestApplyReplacesInBatches(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	a, b := t.TempDir(), t.TempDir()
	const n = 150 // more than a worker holds at once
	for i := range n {
		rel := filepath.Join(fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d", i))
		writeFile(t, filepath.Join(a, rel), fmt.Sprintf("new %d", i), t0.Add(time.Hour))
		writeFile(t, filepath.Join(b, rel), "old", t0)
	}
	p := planMirror(t, a, b)
	edited := filepath.Join(b, "d1", "f100")
	writeFile(t, edited, "a user's edit", t0.Add(2*time.Hour))

	var results []engine.TargetResult
	h := engine.NewHandler()
	defer h.Close()
	var mu sync.Mutex
	if err := engine.Execute(t.Context(), h, p.Groups, 4, func(r engine.TargetResult) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	failed := 0
	for _, r := range results {
		if r.Op != plan.OpCopy {
			continue // the folders' dates
		}
		if seen[r.Target.Path()] {
			t.Errorf("%s reported twice", r.Target.Path())
		}
		seen[r.Target.Path()] = true
		if r.Err != nil {
			failed++
			if !errors.Is(r.Err, transfer.ErrTargetChanged) || r.Target.Path() != "/d1/f100" {
				t.Errorf("%s: %v", r.Target.Path(), r.Err)
			}
		}
	}
	if len(seen) != n || failed != 1 {
		t.Fatalf("%d targets reported, %d failed; want %d and 1", len(seen), failed, n)
	}
	for i := range n {
		rel := filepath.Join(fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d", i))
		want := fmt.Sprintf("new %d", i)
		if i == 100 {
			want = "a user's edit"
		}
		if got := readFile(t, filepath.Join(b, rel)); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	_ = filepath.WalkDir(b, func(p string, d os.DirEntry, err error) error {
		if err == nil && inventory.IsTempName(d.Name()) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}
