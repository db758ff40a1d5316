package twoway_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/twoway"
)

// threeWay runs a two-way synchronization of three folders decided by BeginAll, with record
// sides named by node code: the record does not depend on where the folders are.
func threeWay(t *testing.T, store twoway.Store, roots map[string]string) *plan.Plan {
	t.Helper()
	ctx := context.Background()
	req := plan.Request{Settings: compare.DefaultSettings()}
	for _, code := range []string{"A", "B", "C"} {
		req.Nodes = append(req.Nodes, plan.NodeSpec{Code: code, Roots: []string{roots[code]}})
	}
	local, err := plan.Inventory(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	run, err := store.BeginAll(local.Comparison)
	if err != nil {
		t.Fatal(err)
	}
	req.Targeted = run.Targeted()
	req.Options = run.PlanOptions(local.Comparison, req.Options)
	if err := local.Evaluate(req); err != nil {
		t.Fatal(err)
	}
	if len(local.Plan.Rejected) > 0 {
		t.Fatalf("refused actions: %+v", local.Plan.Rejected)
	}
	h := engine.NewHandler()
	err = engine.Execute(ctx, h, local.Plan.Groups, 2, func(r engine.TargetResult) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Target.Path(), r.Err)
		}
		run.Result(r)
	})
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Save(local); err != nil {
		t.Fatal(err)
	}
	return local.Plan
}

func writeAt(t *testing.T, path, content string, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, roots map[string]string, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for code, r := range roots {
		b, err := os.ReadFile(filepath.Join(r, name))
		if err != nil {
			out[code] = "(none)"
			continue
		}
		out[code] = string(b)
	}
	return out
}

// Three folders: the first run copies the newest date of every file everywhere and deletes
// nothing; then, the folders moved elsewhere (the record names its sides, not roots), a run
// decided by the record spreads edits and deletions from every side and converges.
func TestThreeSidesNamedRecord(t *testing.T) {
	dir := t.TempDir()
	store := twoway.Store{Dir: filepath.Join(dir, "state"), Machine: "test",
		Side: func(p *compare.Part) string { return "member of " + p.Node + "/" + p.Inv.Code }}
	roots := map[string]string{"A": filepath.Join(dir, "a"), "B": filepath.Join(dir, "b"), "C": filepath.Join(dir, "c")}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for code, r := range roots {
		writeAt(t, filepath.Join(r, "common.txt"), "same", t0)
		writeAt(t, filepath.Join(r, "del-"+code+".txt"), "to delete", t0)
	}
	writeAt(t, filepath.Join(roots["A"], "edited.txt"), "old", t0)
	writeAt(t, filepath.Join(roots["C"], "edited.txt"), "newest", t0.Add(time.Hour))
	writeAt(t, filepath.Join(roots["B"], "only-b.txt"), "B's", t0)

	threeWay(t, store, roots)
	for _, name := range []string{"edited.txt", "only-b.txt", "del-A.txt"} {
		got := readAll(t, roots, name)
		if got["A"] != got["B"] || got["B"] != got["C"] || got["A"] == "(none)" {
			t.Fatalf("%s after the first run: %v", name, got)
		}
	}
	if got := readAll(t, roots, "edited.txt"); got["A"] != "newest" {
		t.Fatalf("edited.txt: %v", got)
	}

	moved := map[string]string{}
	for code, r := range roots {
		moved[code] = r + "-moved"
		if err := os.Rename(r, moved[code]); err != nil {
			t.Fatal(err)
		}
	}
	for code, r := range moved {
		if err := os.Remove(filepath.Join(r, "del-"+code+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	writeAt(t, filepath.Join(moved["B"], "edited.txt"), "B's edit", t0.Add(2*time.Hour))
	threeWay(t, store, moved)
	for _, code := range []string{"A", "B", "C"} {
		if got := readAll(t, moved, "del-"+code+".txt"); got["A"]+got["B"]+got["C"] != "(none)(none)(none)" {
			t.Fatalf("del-%s.txt after the second run: %v", code, got)
		}
	}
	if got := readAll(t, moved, "edited.txt"); got["A"] != "B's edit" || got["C"] != "B's edit" {
		t.Fatalf("edited.txt after the second run: %v", got)
	}
	if p := threeWay(t, store, moved); len(p.Groups) != 0 {
		t.Fatalf("the third run plans %d groups: %+v", len(p.Groups), p.Actions())
	}
}
