package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

var tRoots = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

// swapFixture is a mirror A → B with a copy, an update and a delete to do, and a folder
// outside both holding files of the same names with A's sizes and dates, so that reading them
// in A's place would go unnoticed by the per-file checks.
func swapFixture(t *testing.T) (a, b, outside string) {
	t.Helper()
	base := t.TempDir()
	a, b, outside = filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "outside")
	writeFile(t, filepath.Join(a, "new.txt"), "from A 1", tRoots)
	writeFile(t, filepath.Join(a, "d/changed.txt"), "from A 2", tRoots.Add(time.Hour))
	writeFile(t, filepath.Join(b, "d/changed.txt"), "on B 2", tRoots)
	writeFile(t, filepath.Join(b, "stale.txt"), "on B 3", tRoots)
	writeFile(t, filepath.Join(outside, "new.txt"), "OUTSIDE1", tRoots)
	writeFile(t, filepath.Join(outside, "d/changed.txt"), "OUTSIDE2", tRoots.Add(time.Hour))
	writeFile(t, filepath.Join(outside, "stale.txt"), "marker", tRoots)
	return a, b, outside
}

// replace moves root away and puts a symbolic link to outside, or a copy of outside, at its
// path; it returns where the folder inventoried went.
func replace(t *testing.T, root, outside string, link bool) string {
	t.Helper()
	moved := root + ".moved"
	if err := os.Rename(root, moved); err != nil {
		t.Fatal(err)
	}
	if link {
		if err := os.Symlink(outside, root); err != nil {
			t.Fatal(err)
		}
	} else if err := os.CopyFS(root, os.DirFS(outside)); err != nil {
		t.Fatal(err)
	}
	return moved
}

var swapCases = []struct {
	name         string
	target, link bool
}{
	{"target by a link", true, true},
	{"target by a folder", true, false},
	{"source by a link", false, true},
	{"source by a folder", false, false},
}

// checkUntouched checks that a refused run left every folder as it was.
func checkUntouched(t *testing.T, before map[string]map[string]string, dirs map[string]string) {
	t.Helper()
	for name, dir := range dirs {
		got := snapshot(t, dir)
		if fmt.Sprint(got) != fmt.Sprint(before[name]) {
			t.Errorf("%s changed:\n got %v\nwant %v", name, got, before[name])
		}
	}
}

func checkReplaced(t *testing.T, err error, root string) {
	t.Helper()
	want := "data source folder " + root + " was replaced since it was inventoried: nothing was changed there"
	if !errors.Is(err, transfer.ErrRootReplaced) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// A data source root replaced between the inventory and the apply, by a link or by another
// folder, target or source: nothing runs, the error names the folder, and nothing is read,
// written or deleted outside the folder inventoried (nor in it).
func TestApplyRootReplaced(t *testing.T) {
	for _, tc := range swapCases {
		t.Run(tc.name, func(t *testing.T) {
			a, b, outside := swapFixture(t)
			p := planMirror(t, a, b)
			root := map[bool]string{true: b, false: a}[tc.target]
			before := map[string]map[string]string{"a": snapshot(t, a), "b": snapshot(t, b), "outside": snapshot(t, outside)}
			moved := replace(t, root, outside, tc.link)
			rep := engine.Apply(context.Background(), p, 2)
			if len(rep.Errors) != 1 || rep.Done != 0 {
				t.Fatalf("report %+v, want one error and nothing done", rep)
			}
			checkReplaced(t, rep.Errors[0], root)
			dirs := map[string]string{"outside": outside, "a": a, "b": b}
			dirs[map[bool]string{true: "b", false: "a"}[tc.target]] = moved
			checkUntouched(t, before, dirs)
		})
	}
}

// The same through Synchronize: the member that starts the run refuses before starting it.
func TestSynchronizeRootReplaced(t *testing.T) {
	for _, tc := range swapCases {
		t.Run(tc.name, func(t *testing.T) {
			a, b, outside := swapFixture(t)
			p := planMirror(t, a, b)
			root := map[bool]string{true: b, false: a}[tc.target]
			before := map[string]map[string]string{"a": snapshot(t, a), "b": snapshot(t, b), "outside": snapshot(t, outside)}
			moved := replace(t, root, outside, tc.link)
			rec := &recorder{}
			o := engine.NewLocalOrchestrator("s1", "me")
			defer o.Close()
			out, err := engine.Synchronize(t.Context(), engine.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
				Status: rec.status, Event: rec.event})
			if out != nil {
				t.Fatalf("outcome %+v, want none", out)
			}
			checkReplaced(t, err, root)
			if rec.count(engine.EventStarted) != 0 || len(rec.statuses) != 1 || rec.statuses[0] != protocol.SynchronizationError {
				t.Fatalf("started %d times, statuses %v", rec.count(engine.EventStarted), rec.statuses)
			}
			dirs := map[string]string{"outside": outside, "a": a, "b": b}
			dirs[map[bool]string{true: "b", false: "a"}[tc.target]] = moved
			checkUntouched(t, before, dirs)
		})
	}
}

// Once the run has opened its roots, it works in the very directories inventoried: a root
// swapped for a link during the run changes nothing outside, and the work lands in the folder
// inventoried wherever it went.
func TestSynchronizeRootSwappedDuringRun(t *testing.T) {
	a, b, outside := swapFixture(t)
	p := planMirror(t, a, b)
	before := snapshot(t, outside)
	var moved string
	rec := &recorder{onEvent: func(e engine.Event) {
		if e.Type == engine.EventStarted { // before the first action
			moved = replace(t, b, outside, true)
		}
	}}
	o := engine.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	out, err := engine.Synchronize(t.Context(), engine.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
		Status: rec.status, Event: rec.event})
	if err != nil || out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if got := fmt.Sprint(snapshot(t, outside)); got != fmt.Sprint(before) {
		t.Fatalf("outside changed:\n got %v\nwant %v", got, before)
	}
	if readFile(t, filepath.Join(moved, "new.txt")) != "from A 1" || readFile(t, filepath.Join(moved, "d/changed.txt")) != "from A 2" {
		t.Fatal("the folder inventoried did not get the copies")
	}
	if _, err := os.Stat(filepath.Join(moved, "stale.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale.txt in the folder inventoried: %v", err)
	}
}

// A run holds its roots locked: a second run writing a target of the first, or reading it,
// fails at once naming the folder and changes nothing; one only reading the first run's source
// goes on; the first run is unaffected, and its locks go with its end.
func TestSynchronizeRootLocked(t *testing.T) {
	a, b, _ := swapFixture(t)
	c := filepath.Join(t.TempDir(), "c")
	writeFile(t, filepath.Join(c, "c.txt"), "c", tRoots)
	p := planMirror(t, a, b)
	var during []string
	rec := &recorder{onEvent: func(e engine.Event) {
		if e.Type != engine.EventStarted {
			return
		}
		for _, tc := range []struct {
			name     string
			from, to string
			busy     bool
		}{
			{"the same mirror", a, b, true},
			{"another source onto the target", c, b, true},
			{"the target as a source", b, c, true},
			{"the source as a source", a, c, false},
		} {
			before := snapshot(t, b)
			rep := engine.Apply(context.Background(), planMirror(t, tc.from, tc.to), 2)
			var busy error
			if len(rep.Errors) > 0 {
				busy = rep.Errors[0]
			}
			want := "another Ferry run is using " + b
			switch {
			case tc.busy && (len(rep.Errors) != 1 || !errors.Is(busy, transfer.ErrRootBusy) || !strings.Contains(busy.Error(), want)):
				during = append(during, fmt.Sprintf("%s: errors %v, want %q", tc.name, rep.Errors, want))
			case tc.busy && fmt.Sprint(snapshot(t, b)) != fmt.Sprint(before):
				during = append(during, tc.name+": changed "+b)
			case !tc.busy && len(rep.Errors) != 0:
				during = append(during, fmt.Sprintf("%s: errors %v", tc.name, rep.Errors))
			}
		}
	}}
	o := engine.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	out, err := engine.Synchronize(t.Context(), engine.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
		Status: rec.status, Event: rec.event})
	for _, d := range during {
		t.Error(d)
	}
	if err != nil || out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 || out.Sync.Progress.FinishedActions != out.Sync.Progress.TotalActions {
		t.Fatalf("the first run: %+v, %v", out, err)
	}
	if readFile(t, filepath.Join(b, "new.txt")) != "from A 1" {
		t.Fatal("the first run did not copy")
	}
	writeFile(t, filepath.Join(a, "later.txt"), "later", tRoots)
	if rep := engine.Apply(context.Background(), planMirror(t, a, b), 2); len(rep.Errors) != 0 || rep.Done == 0 {
		t.Fatalf("the run after: %+v", rep)
	}
}

// A data source given as a symbolic link to a folder is that folder: inventoried, planned
// and synchronized there, through the directory the link led to at the inventory.
func TestApplySymlinkedRoot(t *testing.T) {
	a, b, _ := swapFixture(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	p := planMirror(t, a, link)
	if got := p.Parts[1].Root; got != b {
		t.Fatalf("B's root %q, want %q", got, b)
	}
	if rep := engine.Apply(context.Background(), p, 2); len(rep.Errors) != 0 {
		t.Fatalf("errors %v", rep.Errors)
	}
	if readFile(t, filepath.Join(b, "new.txt")) != "from A 1" {
		t.Fatal("not copied")
	}
}

// Names holding a backslash, legal on Linux, are mirrored (files and folders), updated and
// deleted like any other, inside the root.
func TestApplyBackslashNames(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	writeFile(t, filepath.Join(a, `new\name.txt`), "new", tRoots)
	writeFile(t, filepath.Join(a, `d\x`, `in\dir`), "in a folder", tRoots)
	writeFile(t, filepath.Join(a, `a\..\..\up`), "stays inside", tRoots)
	writeFile(t, filepath.Join(a, `changed\.txt`), "version 2", tRoots.Add(time.Hour))
	writeFile(t, filepath.Join(b, `changed\.txt`), "version 1", tRoots)
	writeFile(t, filepath.Join(b, `old\gone.txt`), "old", tRoots)
	writeFile(t, filepath.Join(b, `old\dir`, "f"), "old", tRoots)
	p := planMirror(t, a, b)
	if rep := engine.Apply(context.Background(), p, 2); len(rep.Errors) != 0 || rep.Done != len(p.Actions()) {
		t.Fatalf("report %+v", rep)
	}
	if got, want := snapshot(t, b), snapshot(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("b differs from a:\n got %v\nwant %v", got, want)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 2 {
		t.Fatalf("%s holds %d entries, want a and b", base, len(entries))
	}
	if len(planMirror(t, a, b).Groups) != 0 {
		t.Fatal("a second plan is not empty")
	}
}

// Between members, names holding a backslash travel like others: copies in full and as a
// delta, creates and deletes.
func TestSynchronizeRelayedBackslashNames(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	large := strings.Repeat("large file content ", 200_000)
	writeFile(t, filepath.Join(a, `d\x`, `new\name.txt`), "new", tRoots)
	writeFile(t, filepath.Join(a, `big\file.bin`), large, tRoots.Add(time.Hour))
	writeFile(t, filepath.Join(b, `big\file.bin`), large[:len(large)-5000], tRoots)
	writeFile(t, filepath.Join(b, `old\gone.txt`), "old", tRoots)
	req := mirrorRequest(a, b, compare.Smart)
	req.Options.PreferDelta = func(size int64, src, dst string) bool {
		return transfer.PreferDelta(size, true, r.owner(src) != r.owner(dst))
	}
	l, err := plan.Make(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !hasDelta(l.Plan) {
		t.Fatal("the plan has no delta")
	}
	sigs, err := remote.ComputeSignatures(t.Context(), b, []string{`/big\file.bin`})
	if err != nil || len(sigs) != 1 {
		t.Fatalf("signatures %v, %v", sigs, err)
	}
	errs := make(chan error, 1)
	go func() {
		out, err := r.member(t, r.b, l.Plan, nil, false)
		errs <- outcomeErr(out, err)
	}()
	if err := outcomeErr(r.member(t, r.a, l.Plan, remote.SignatureSet{"B": sigs}, true)); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if got, want := snapshot(t, b), snapshot(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("b differs from a:\n got %v\nwant %v", got, want)
	}
}

func hasDelta(p *plan.Plan) bool {
	for _, g := range p.Groups {
		if g.Kind == plan.Delta {
			return true
		}
	}
	return false
}

func outcomeErr(out *engine.Outcome, err error) error {
	switch {
	case err != nil:
		return err
	case out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 || out.Sync.Progress.ErrorActions != 0:
		return fmt.Errorf("end %q, errors %v, progress %+v", out.Sync.EndStatus, out.Errors, out.Sync.Progress)
	}
	return nil
}

// A member whose own root was replaced does not start nor stop the others' run: each of its
// actions there fails with the reason, and nothing outside changes.
func TestSynchronizeRelayedRootReplaced(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	outside := t.TempDir()
	writeFile(t, filepath.Join(a, "new.txt"), "new", tRoots)
	writeFile(t, filepath.Join(b, "stale.txt"), "old", tRoots)
	writeFile(t, filepath.Join(outside, "stale.txt"), "marker", tRoots)
	p := planMirror(t, a, b)
	before := snapshot(t, outside)
	replace(t, b, outside, true)
	errs := make(chan error, 1)
	var outB *engine.Outcome
	go func() {
		var err error
		outB, err = r.member(t, r.b, p, nil, false)
		errs <- err
	}()
	outA, err := r.member(t, r.a, p, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if outA.Sync.Progress.ErrorActions == 0 || len(outB.Errors) == 0 {
		t.Fatalf("A's progress %+v, B's errors %v: want B's actions failed", outA.Sync.Progress, outB.Errors)
	}
	for _, err := range outB.Errors {
		if !errors.Is(err, transfer.ErrRootReplaced) {
			t.Errorf("B's error %v, want the root replaced", err)
		}
	}
	if got := fmt.Sprint(snapshot(t, outside)); got != fmt.Sprint(before) {
		t.Fatalf("outside changed:\n got %v\nwant %v", got, before)
	}
}
