package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

func chtimes(t *testing.T, p string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func mtime(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// Two-way: every folder on both sides ends with the newer of its two dates before the run, the
// root's too, although the run wrote in them; a second plan has nothing to do.
func TestTwoWayDirectoryDatesConverge(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 123, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	writeFile(t, filepath.Join(a, "x", "a.txt"), "new on A", at(5))
	writeFile(t, filepath.Join(b, "x", "a.txt"), "old on B", at(1))
	writeFile(t, filepath.Join(b, "x", "b.txt"), "only on B", at(1))
	writeFile(t, filepath.Join(a, "y", "same.txt"), "same", at(1))
	writeFile(t, filepath.Join(b, "y", "same.txt"), "same", at(1))
	writeFile(t, filepath.Join(a, "only-a", "f"), "f", at(1))
	want := map[string]time.Time{"x": at(20), "y": at(30), "only-a": at(40), ".": at(50)}
	for rel, ta := range map[string]time.Time{"x": at(10), "y": at(30), "only-a": at(40), ".": at(11)} {
		chtimes(t, filepath.Join(a, rel), ta)
	}
	for rel, tb := range map[string]time.Time{"x": at(20), "y": at(3), ".": at(50)} {
		chtimes(t, filepath.Join(b, rel), tb)
	}

	rs, err := rules.Preset("two-way", "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	req := plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}},
		Settings: compare.DefaultSettings(),
		Rules:    rs,
	}
	ctx := context.Background()
	l, err := plan.Make(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rep := engine.Apply(ctx, l.Plan, 2); len(rep.Errors) != 0 {
		t.Fatal(rep.Errors)
	}
	for rel, w := range want {
		for _, side := range []string{a, b} {
			if got := mtime(t, filepath.Join(side, rel)); !got.Equal(w) {
				t.Errorf("%s: mtime %v, want %v", filepath.Join(side, rel), got, w)
			}
		}
	}
	if got := readFile(t, filepath.Join(a, "x", "b.txt")); got != "only on B" {
		t.Errorf("b.txt on A: %q", got)
	}
	again, err := plan.Make(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Plan.Groups) != 0 {
		t.Errorf("a second plan: %+v", again.Plan.Groups)
	}
}
