package twoway_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/twoway"
)

// paths are the files the edits touch; "/d" is a folder some of them share.
var paths = []string{"/a.txt", "/b", "/d/c.txt", "/d/e.txt", "/d/f/g"}

// fataler is what the world needs of a test: a rapid.T or a testing.T.
type fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// world is two folders under two-way synchronization with its record, and a clock for edits.
type world struct {
	t     fataler
	roots [2]string
	store twoway.Store
	clock time.Time
	n     int // contents written so far
}

func newWorld(t *testing.T, ft fataler) *world {
	dir := t.TempDir()
	w := &world{t: ft, store: twoway.Store{Dir: filepath.Join(dir, "state"), Machine: "test"},
		clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range w.roots {
		w.roots[i] = filepath.Join(dir, string(rune('A'+i)))
		if err := os.Mkdir(w.roots[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// write puts new, unique content at p on side, newer than anything written before.
func (w *world) write(side int, p string) string {
	w.n++
	w.clock = w.clock.Add(time.Second)
	content := fmt.Sprintf("content %d written on %c at %s\n", w.n, 'A'+side, p)
	full := filepath.Join(w.roots[side], filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Chtimes(full, w.clock, w.clock); err != nil {
		w.t.Fatal(err)
	}
	return content
}

func (w *world) remove(side int, p string) {
	if err := os.RemoveAll(filepath.Join(w.roots[side], filepath.FromSlash(p))); err != nil {
		w.t.Fatal(err)
	}
}

// sync runs a two-way synchronization of both folders. With stopAfter ≥ 0 only that many
// groups run and the record is not saved: the process was killed.
func (w *world) sync(stopAfter int) *plan.Plan {
	ctx := context.Background()
	preset, err := rules.Preset("two-way", "A", "B")
	if err != nil {
		w.t.Fatal(err)
	}
	req := plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{w.roots[0]}}, {Code: "B", Roots: []string{w.roots[1]}}},
		Settings: compare.DefaultSettings(),
		Rules:    preset,
	}
	local, err := plan.Inventory(ctx, req)
	if err != nil {
		w.t.Fatal(err)
	}
	run, err := w.store.Plan(local, req, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	groups := local.Plan.Groups
	if stopAfter >= 0 {
		groups = groups[:min(stopAfter, len(groups))]
	}
	h := engine.NewHandler()
	var failed []error
	err = engine.Execute(ctx, h, groups, 2, func(r engine.TargetResult) {
		if r.Err != nil {
			failed = append(failed, r.Err)
		}
		run.Result(r)
	})
	h.Close()
	if err := errors.Join(append(failed, err)...); err != nil {
		w.t.Fatalf("run: %v", err)
	}
	if len(local.Plan.Rejected) > 0 {
		w.t.Fatalf("refused actions: %+v", local.Plan.Rejected)
	}
	if stopAfter < 0 {
		if err := run.Save(local); err != nil {
			w.t.Fatal(err)
		}
	}
	return local.Plan
}

// files lists a folder's files with their contents.
func (w *world) files(side int) map[string]string {
	out := map[string]string{}
	root := w.roots[side]
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out["/"+filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// contents are the contents of every file on either side.
func (w *world) contents() []string {
	var out []string
	for side := range w.roots {
		for _, c := range w.files(side) {
			out = append(out, c)
		}
	}
	return out
}

// TestNoEditLost edits both sides at random between two-way runs, some of them killed part-way,
// and checks after every complete run that both sides are the same, that every content present
// before the run still exists (an edit is never lost, not even to a deletion on the other side
// or a run killed half-way), and that a further run has nothing to do.
func TestNoEditLost(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(t, rt)
		// The first run has no record: it copies both ways, the newest wins (as a first run of
		// any two-way tool). The edits after it are what must never be lost.
		for _, p := range paths {
			if rapid.Bool().Draw(rt, "initial "+p) {
				w.write(rapid.IntRange(0, 1).Draw(rt, "side"), p)
			}
		}
		w.sync(-1)
		rounds := rapid.IntRange(1, 5).Draw(rt, "rounds")
		for round := range rounds {
			edits := rapid.IntRange(0, 6).Draw(rt, "edits")
			written := map[string]bool{}
			for range edits {
				side := rapid.IntRange(0, 1).Draw(rt, "side")
				p := rapid.SampledFrom(paths).Draw(rt, "path")
				switch rapid.IntRange(0, 3).Draw(rt, "op") {
				case 0:
					w.remove(side, p)
				case 1:
					w.remove(side, "/d")
				default:
					written[w.write(side, p)] = true
				}
			}
			// The edits still there when the run starts must all survive it.
			var before []string
			for _, c := range w.contents() {
				if written[c] {
					before = append(before, c)
				}
			}
			if rapid.Bool().Draw(rt, "killed") {
				w.sync(rapid.IntRange(0, 8).Draw(rt, "groups before the kill"))
			}
			w.sync(-1)
			a, b := w.files(0), w.files(1)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				rt.Fatalf("round %d: the sides differ:\nA %v\nB %v", round, a, b)
			}
			var after []string
			for _, c := range a {
				after = append(after, c)
			}
			for _, c := range before {
				if !slices.Contains(after, c) {
					rt.Fatalf("round %d: lost %q; after the run: %v", round, strings.TrimSpace(c), a)
				}
			}
			if p := w.sync(-1); len(p.Groups) != 0 {
				rt.Fatalf("round %d: a further run plans %d groups: %+v", round, len(p.Groups), p.Actions())
			}
		}
	})
}

// A folder created on one side inside a folder deleted on the other keeps its parent: the
// deletion of the parent would otherwise be refused (it still holds the new folder).
func TestNewFolderKeepsDeletedParent(t *testing.T) {
	w := newWorld(t, t)
	w.write(0, "/d/c.txt")
	w.sync(-1)
	w.remove(0, "/d")
	if err := os.MkdirAll(filepath.Join(w.roots[1], "d", "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.sync(-1)
	for side := range w.roots {
		if fi, err := os.Stat(filepath.Join(w.roots[side], "d", "new")); err != nil || !fi.IsDir() {
			t.Errorf("side %d: /d/new: %v", side, err)
		}
	}
	if _, err := os.Stat(filepath.Join(w.roots[1], "d", "c.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("B: /d/c.txt deleted on A is still there: %v", err)
	}
	if p := w.sync(-1); len(p.Groups) != 0 {
		t.Errorf("a further run plans %+v", p.Actions())
	}
}
