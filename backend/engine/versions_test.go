package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
)

const stamp = "2026-12-05T201500Z"

func versionsMirror(a, b string, v plan.Versions) plan.Request {
	req := mirrorRequest(a, b, 0)
	req.Options.Versions = v
	return req
}

// A mirror with kept versions (in a folder that is not hidden): what it replaces and deletes is in the run's folder on B with
// its content and dates, the folder itself is never listed, and B's folders keep A's dates.
func TestMirrorKeepsVersions(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "a.txt"), "new a", t0.Add(time.Hour))
	writeFile(t, filepath.Join(b, "a.txt"), "old a", t0)
	writeFile(t, filepath.Join(b, "gone.txt"), "gone", t0.Add(2*time.Hour))
	writeFile(t, filepath.Join(b, "d", "gone", "x.txt"), "x", t0.Add(3*time.Hour))
	writeFile(t, filepath.Join(a, "d", "keep.txt"), "keep", t0)
	writeFile(t, filepath.Join(b, "d", "keep.txt"), "keep", t0)
	ctx := context.Background()
	req := versionsMirror(a, b, plan.Versions{Dir: "kept versions", Stamp: stamp})
	l, err := plan.Make(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rep := engine.Apply(ctx, l.Plan, 2); len(rep.Errors) != 0 {
		t.Fatal(rep.Errors)
	}
	run := filepath.Join(b, "kept versions", stamp)
	for rel, want := range map[string]struct {
		content string
		mtime   time.Time
	}{
		"a.txt":        {"old a", t0},
		"gone.txt":     {"gone", t0.Add(2 * time.Hour)},
		"d/gone/x.txt": {"x", t0.Add(3 * time.Hour)},
	} {
		p := filepath.Join(run, filepath.FromSlash(rel))
		if got := readFile(t, p); got != want.content {
			t.Errorf("kept %s: %q, want %q", rel, got, want.content)
		}
		if got := mtime(t, p); !got.Equal(want.mtime) {
			t.Errorf("kept %s: mtime %v, want %v", rel, got, want.mtime)
		}
	}
	if got := readFile(t, filepath.Join(b, "a.txt")); got != "new a" {
		t.Errorf("a.txt on B: %q", got)
	}
	for _, gone := range []string{"gone.txt", "d/gone"} {
		if _, err := os.Lstat(filepath.Join(b, gone)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it deleted", gone, err)
		}
	}
	for _, rel := range []string{".", "d"} { // the versions folder made in B's root changed nothing
		if got, want := mtime(t, filepath.Join(b, rel)), mtime(t, filepath.Join(a, rel)); !got.Equal(want) {
			t.Errorf("%s on B: mtime %v, want A's %v", rel, got, want)
		}
	}

	again, err := plan.Make(ctx, versionsMirror(a, b, plan.Versions{Dir: "kept versions", Stamp: stamp}))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Plan.Groups) != 0 || len(again.Plan.Rejected) != 0 {
		t.Errorf("a second plan: %+v, refused %+v", again.Plan.Groups, again.Plan.Rejected)
	}
	// Without the setting, the folder is data like any other: the mirror would delete it.
	unset, err := plan.Make(ctx, mirrorRequest(a, b, 0))
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, act := range unset.Plan.Actions() {
		listed = listed || strings.HasPrefix(act.Path, "/kept versions")
	}
	if !listed {
		t.Error("without the setting, the versions folder is not listed: the test proves nothing")
	}
}

// At the end of a successful run, run folders older than KeepDays go; the others stay, and so
// does whatever is not a run's folder.
func TestPruneKeptVersions(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "a.txt"), "new", t0.Add(time.Hour))
	writeFile(t, filepath.Join(b, "a.txt"), "old", t0)
	recent := plan.Stamp(time.Now().Add(-24 * time.Hour))
	for _, rel := range []string{"2000-01-01T000000Z/old.txt", recent + "/recent.txt", "notes/n.txt"} {
		writeFile(t, filepath.Join(b, ".v", filepath.FromSlash(rel)), "x", t0)
	}
	ctx := context.Background()
	l, err := plan.Make(ctx, versionsMirror(a, b, plan.Versions{Dir: ".v", KeepDays: 30}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plan.ParseStamp(l.Plan.Versions.Stamp); !ok {
		t.Fatalf("the plan's run stamp %q", l.Plan.Versions.Stamp)
	}
	if rep := engine.Apply(ctx, l.Plan, 2); len(rep.Errors) != 0 {
		t.Fatal(rep.Errors)
	}
	if _, err := os.Stat(filepath.Join(b, ".v", "2000-01-01T000000Z")); !os.IsNotExist(err) {
		t.Errorf("the old run is still there: %v", err)
	}
	for _, rel := range []string{recent + "/recent.txt", "notes/n.txt", l.Plan.Versions.Stamp + "/a.txt"} {
		if _, err := os.Stat(filepath.Join(b, ".v", filepath.FromSlash(rel))); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
}
