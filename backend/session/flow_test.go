package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/transfer"
)

// relayServer is a session server with relay storage on a loopback port.
func relayServer(t *testing.T) (url, storage string) {
	t.Helper()
	storage = t.TempDir()
	return testcloud.Start(t, cloud.Config{Store: store.NewMemory(), StorageDir: storage}, nil).URL, storage
}

var flowTime = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func writeAt(t *testing.T, path string, data []byte, at time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// snapshot maps every file below dir to its content and mtime.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() { // its date, the root's too
			out[rel+"/"] = fmt.Sprintf("@%d", fi.ModTime().UnixNano())
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x@%d", data, fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshots(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d files and folders against %d", what, len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s: %s differs", what, k)
		}
	}
}

// flowMember is a member running the flow in this process.
type flowMember struct {
	m    *session.Member
	flow *session.Flow
	out  *engine.Outcome
	err  error
	plan *plan.Plan
}

// runFlows runs every member's flow to its end at once: the first waits for all.
func runFlows(t *testing.T, ms []*flowMember) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, fm := range ms {
		wg.Go(func() {
			if i == 0 {
				if fm.err = fm.flow.AwaitMembers(ctx, len(ms)); fm.err != nil {
					return
				}
			}
			if fm.plan, fm.err = fm.flow.Prepare(ctx); fm.err != nil {
				return
			}
			fm.out, fm.err = fm.flow.Synchronize(ctx, session.SyncOptions{})
		})
	}
	wg.Wait()
	var closing sync.WaitGroup
	for _, fm := range ms {
		closing.Go(func() {
			if err := fm.flow.Close(ctx); err != nil {
				t.Errorf("close the flow: %v", err)
			}
			if _, err := fm.m.Close(ctx, 10*time.Second); err != nil {
				t.Errorf("close the member: %v", err)
			}
		})
	}
	closing.Wait()
}

// members creates a session whose first member plans with rs, and has the others join; each
// brings one node, coded A, B, C… on dirs.
func members(t *testing.T, url string, dirs []string, rs func([]string) ([]rules.Rule, error)) []*flowMember {
	t.Helper()
	return membersPlanning(t, url, dirs, session.Planning{Settings: compare.DefaultSettings(), Rules: rs})
}

// membersPlanning is members with the first member's whole planning.
func membersPlanning(t *testing.T, url string, dirs []string, planning session.Planning) []*flowMember {
	t.Helper()
	var out []*flowMember
	for i, dir := range dirs {
		nodes := []plan.NodeSpec{{Code: string(rune('A' + i)), Roots: []string{dir}}}
		var m *session.Member
		var err error
		if i == 0 {
			m, err = session.Create(t.Context(), newClient(t, url), nodes, testOptions()...)
		} else {
			m, err = session.Join(t.Context(), newClient(t, url), session.JoinRequest{ID: out[0].m.ID(), Password: out[0].m.Password(), Nodes: nodes}, testOptions()...)
		}
		if err != nil {
			t.Fatal(err)
		}
		opts := session.FlowOptions{}
		if i == 0 {
			opts.Planning = planning
		}
		out = append(out, &flowMember{m: m, flow: m.NewFlow(nodes, opts)})
	}
	return out
}

// preset applies a mode from the first part to each other one, or between every two parts for
// two-way.
func preset(mode string) func([]string) ([]rules.Rule, error) {
	return func(parts []string) ([]rules.Rule, error) {
		var all []rules.Rule
		for i, a := range parts {
			for _, b := range parts[i+1:] {
				if i > 0 && mode != "two-way" {
					break
				}
				rs, err := rules.Preset(mode, a, b)
				if err != nil {
					return nil, err
				}
				all = append(all, rs...)
			}
		}
		return all, nil
	}
}

// Two members mirror A onto B through the relay: new files in full, a big changed file as a
// delta, deletes; both end with A's tree, the relay storage holds nothing afterwards.
func TestFlowMirrorTwoMembers(t *testing.T) {
	t.Parallel()
	url, storage := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, "small.txt"), []byte("small"), flowTime)
	writeAt(t, filepath.Join(a, "d", "new.bin"), randomBytes(1, 300<<10), flowTime)
	big := randomBytes(2, 2<<20)
	writeAt(t, filepath.Join(b, "big.bin"), big, flowTime)
	edited := bytes.Clone(big)
	copy(edited[1<<20:], "an edit in the middle")
	writeAt(t, filepath.Join(a, "big.bin"), edited, flowTime.Add(time.Hour))
	writeAt(t, filepath.Join(b, "gone", "old.txt"), []byte("only on B"), flowTime)

	ms := members(t, url, []string{a, b}, preset("mirror"))
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil {
			t.Fatalf("member %d: %v", i, fm.err)
		}
		if fm.out.Sync.EndStatus != protocol.EndRegular || fm.out.Sync.Progress.ErrorActions != 0 || len(fm.out.Errors) > 0 {
			t.Fatalf("member %d: %+v %v", i, fm.out.Sync, fm.out.Errors)
		}
	}
	sameSnapshots(t, "B after the mirror", snapshot(t, a), snapshot(t, b))
	if _, err := os.Stat(filepath.Join(b, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the folder only on B is still there: %v", err)
	}
	delta := false
	for _, g := range ms[1].plan.Groups {
		delta = delta || g.Kind == plan.Delta && g.Targets[0].Path() == "/big.bin"
	}
	if !delta {
		t.Fatal("the big file was not planned as a delta")
	}
	sent := ms[0].flow.Stats().BytesSent
	if sent > 600<<10 {
		t.Fatalf("A sent %d bytes for 300 KiB of new files and a small edit of a 2 MiB file", sent)
	}
	leftovers(t, storage)
}

// The terms the planner chose once the inventory started (ShareTerms) go with its plan: the
// other member, which had none from the planner's nodes, keeps them.
func TestFlowSharesTheTermsWithThePlan(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, "one.txt"), []byte("one"), flowTime)
	ms := members(t, url, []string{a, b}, preset("mirror"))
	ms[1].m.Members(t.Context())
	if got, ok := ms[1].m.PlannerTerms(); ok {
		t.Fatalf("terms before any were shared: %+v", got)
	}
	terms := session.Terms{Mode: "mirror", From: "A", MaxDelete: "5", Versions: ".versions", VersionsKeep: 7}
	ms[0].m.ShareTerms(terms)
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil {
			t.Fatalf("member %d: %v", i, fm.err)
		}
	}
	if got, ok := ms[1].m.PlannerTerms(); !ok || got != terms {
		t.Fatalf("the other member kept the terms %+v, %v; want %+v", got, ok, terms)
	}
}

// leftovers fails when the relay storage holds any file.
func leftovers(t *testing.T, storage string) {
	t.Helper()
	var left []string
	_ = filepath.WalkDir(storage, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("the relay storage still holds %s", strings.Join(left, ", "))
	}
}

// Three members two-way: each one's own files reach the others, the newest version of a changed
// file wins everywhere.
func TestFlowTwoWayThreeMembers(t *testing.T) {
	t.Parallel()
	url, storage := relayServer(t)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		writeAt(t, filepath.Join(d, fmt.Sprintf("only-%d", i), "f.txt"), fmt.Appendf(nil, "from member %d", i), flowTime)
		at := flowTime
		content := []byte("shared, first version")
		if i == 2 {
			at, content = flowTime.Add(time.Hour), []byte("shared, newer version from C")
		}
		writeAt(t, filepath.Join(d, "shared.txt"), content, at)
		// The roots' dates differ: C's, the newest, goes to A and B.
		if err := os.Chtimes(d, at, flowTime.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	ms := members(t, url, dirs, preset("two-way"))
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil {
			t.Fatalf("member %d: %v", i, fm.err)
		}
		// Creates of 3 folders and copies of 3 files on 2 members each, the shared file onto 2,
		// C's root's date onto 2.
		if p := fm.out.Sync.Progress; fm.out.Sync.EndStatus != protocol.EndRegular || p.ErrorActions != 0 || p.TotalActions != 16 || len(fm.plan.Rejected) > 0 {
			t.Fatalf("member %d: %+v %v", i, fm.out.Sync, fm.out.Errors)
		}
	}
	want := snapshot(t, dirs[2])
	if len(want) != 8 { // the root, 3 folders, 4 files
		t.Fatalf("C holds %v", want)
	}
	sameSnapshots(t, "A", want, snapshot(t, dirs[0]))
	sameSnapshots(t, "B", want, snapshot(t, dirs[1]))
	leftovers(t, storage)
}

// Kept versions between members: the joining member's inventory leaves the folder out (else
// the mirror would delete it), and what the run replaces there, through the relay (in full or
// as a delta), or deletes, is kept with its dates.
func TestFlowKeepsVersionsOnEveryMember(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	big := randomBytes(3, 2<<20)
	edited := bytes.Clone(big)
	copy(edited[1<<20:], "an edit in the middle")
	writeAt(t, filepath.Join(a, "big.bin"), edited, flowTime.Add(time.Hour))
	writeAt(t, filepath.Join(b, "big.bin"), big, flowTime)
	writeAt(t, filepath.Join(a, "small.txt"), []byte("new small"), flowTime.Add(time.Hour))
	writeAt(t, filepath.Join(b, "small.txt"), []byte("old"), flowTime)
	writeAt(t, filepath.Join(b, "gone.txt"), []byte("only on B"), flowTime.Add(2*time.Hour))
	writeAt(t, filepath.Join(b, "versions", "2020-01-01T000000Z", "earlier.txt"), []byte("an earlier run's"), flowTime)
	rs := preset("mirror")
	ms := membersPlanning(t, url, []string{a, b}, session.Planning{Settings: compare.DefaultSettings(), Rules: rs,
		Versions: plan.Versions{Dir: "versions"}})
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil || fm.out.Sync.EndStatus != protocol.EndRegular || len(fm.out.Errors) > 0 {
			t.Fatalf("member %d: %v %+v %v", i, fm.err, fm.out, fm.out.Errors)
		}
	}
	v := ms[1].plan.Versions
	if v == nil || v.Dir != "versions" || v.Stamp == "" {
		t.Fatalf("the joining member's plan keeps versions as %+v", v)
	}
	delta := false
	for _, g := range ms[1].plan.Groups {
		delta = delta || g.Kind == plan.Delta && g.Targets[0].Path() == "/big.bin"
	}
	if !delta {
		t.Fatal("the big file was not planned as a delta")
	}
	run := filepath.Join(b, "versions", v.Stamp)
	for name, want := range map[string][]byte{"big.bin": big, "small.txt": []byte("old"), "gone.txt": []byte("only on B")} {
		got, err := os.ReadFile(filepath.Join(run, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("kept %s: %d bytes, %v", name, len(got), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(run, "gone.txt")); err != nil || !fi.ModTime().Equal(flowTime.Add(2*time.Hour)) {
		t.Errorf("kept gone.txt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b, "versions", "2020-01-01T000000Z", "earlier.txt")); err != nil {
		t.Errorf("an earlier run's version: %v", err)
	}
	got, want := snapshot(t, b), snapshot(t, a)
	for k := range got {
		if strings.HasPrefix(k, "versions") {
			delete(got, k)
		}
	}
	sameSnapshots(t, "B after the mirror, but for its versions", want, got)
}

// The oldest member's rules fail to evaluate: the others stop with its reason.
func TestFlowPlanFailureReachesMembers(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, "f.txt"), []byte("x"), flowTime)
	ms := members(t, url, []string{a, b}, func([]string) ([]rules.Rule, error) {
		return nil, errors.New("the rules name part Z")
	})
	runFlows(t, ms)
	if ms[0].err == nil || !strings.Contains(ms[0].err.Error(), "part Z") {
		t.Fatalf("oldest: %v", ms[0].err)
	}
	var pe *session.PlanError
	if !errors.As(ms[1].err, &pe) || !strings.Contains(pe.Reason, "part Z") {
		t.Fatalf("other member: %v", ms[1].err)
	}
}

// A member whose data source is gone when the inventory starts stops with the reason; the
// others stop too instead of waiting for its inventory.
func TestFlowMemberFailureStopsOthers(t *testing.T) {
	t.Parallel()
	url, storage := relayServer(t)
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, "f.txt"), []byte("x"), flowTime)
	ms := members(t, url, []string{a, b, c}, preset("mirror"))
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	runFlows(t, ms)
	if ms[1].err == nil || !strings.Contains(ms[1].err.Error(), "inventory of node B") {
		t.Fatalf("the member without its folder: %v", ms[1].err)
	}
	for _, i := range []int{0, 2} {
		if ms[i].err == nil {
			t.Fatalf("member %d went on", i)
		}
		t.Logf("member %d: %v", i, ms[i].err)
	}
	leftovers(t, storage)
}

// Trees already in sync: an empty plan, a run that ends at once.
func TestFlowNothingToDo(t *testing.T) {
	t.Parallel()
	url, storage := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		writeAt(t, filepath.Join(d, "same.txt"), []byte("same"), flowTime)
		if err := os.Chtimes(d, flowTime, flowTime); err != nil { // the roots' dates agree too
			t.Fatal(err)
		}
	}
	ms := members(t, url, []string{a, b}, preset("mirror"))
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil {
			t.Fatalf("member %d: %v", i, fm.err)
		}
		if len(fm.plan.Groups) != 0 || fm.out.Sync.EndStatus != protocol.EndRegular || fm.out.Sync.Progress.TotalActions != 0 {
			t.Fatalf("member %d: %d groups, %+v", i, len(fm.plan.Groups), fm.out.Sync)
		}
	}
	leftovers(t, storage)
}

// A member whose folder another Ferry run holds stops at its inventory, naming the folder, and
// the others stop too.
func TestFlowRootInUse(t *testing.T) {
	t.Parallel()
	url, storage := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, "f.txt"), []byte("x"), flowTime)
	other := transfer.NewRoots()
	defer other.Close()
	if _, err := other.Open(b, inventory.DirID{}, transfer.Exclusive); err != nil {
		t.Fatal(err)
	}
	ms := members(t, url, []string{a, b}, preset("mirror"))
	runFlows(t, ms)
	if err := ms[1].err; !errors.Is(err, transfer.ErrRootBusy) || !strings.Contains(err.Error(), "another Ferry run is using "+b) {
		t.Fatalf("the member whose folder is in use: %v", err)
	}
	if ms[0].err == nil {
		t.Fatal("the host went on")
	}
	if _, err := os.Stat(filepath.Join(b, "f.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("B was written: %v", err)
	}
	leftovers(t, storage)
}

// A member joins with its folder given as a symbolic link: the flow works in the folder it led
// to at the inventory, names with backslashes included; a folder replaced after the plan fails
// that member's actions there, and nothing outside changes.
func TestFlowLinkedRootReplaced(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b, outside := t.TempDir(), t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, `back\slash.txt`), []byte("new"), flowTime)
	writeAt(t, filepath.Join(b, `old\name.txt`), []byte("old"), flowTime)
	writeAt(t, filepath.Join(outside, `old\name.txt`), []byte("marker"), flowTime)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	ms := members(t, url, []string{a, link}, preset("mirror"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	prepareAll(t, ctx, ms)
	if got := ms[1].plan.Parts[1].Root; got != b {
		t.Fatalf("B's root in the plan %q, want %q", got, b)
	}
	before := snapshot(t, outside)
	if err := os.Rename(b, b+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, b); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, fm := range ms {
		wg.Go(func() { fm.out, fm.err = fm.flow.Synchronize(ctx, session.SyncOptions{}) })
	}
	wg.Wait()
	for _, fm := range ms {
		if err := fm.flow.Close(ctx); err != nil {
			t.Errorf("close the flow: %v", err)
		}
		if _, err := fm.m.Close(ctx, 10*time.Second); err != nil {
			t.Errorf("close the member: %v", err)
		}
	}
	if ms[0].err != nil || ms[1].err != nil {
		t.Fatalf("errors %v, %v", ms[0].err, ms[1].err)
	}
	if len(ms[1].out.Errors) == 0 {
		t.Fatal("B's actions did not fail")
	}
	for _, err := range ms[1].out.Errors {
		if !errors.Is(err, transfer.ErrRootReplaced) {
			t.Errorf("B's error %v, want its folder replaced", err)
		}
	}
	sameSnapshots(t, "outside", before, snapshot(t, outside))
	if _, err := os.Stat(filepath.Join(b+".moved", `old\name.txt`)); err != nil {
		t.Fatalf("the folder inventoried changed: %v", err)
	}
}

// The same without the swap: the linked folder and its backslashed names are mirrored.
func TestFlowLinkedRootBackslashNames(t *testing.T) {
	t.Parallel()
	url, _ := relayServer(t)
	a, b := t.TempDir(), t.TempDir()
	writeAt(t, filepath.Join(a, `d\x`, `back\slash.txt`), []byte("new"), flowTime)
	writeAt(t, filepath.Join(b, `old\name.txt`), []byte("old"), flowTime)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	ms := members(t, url, []string{a, link}, preset("mirror"))
	runFlows(t, ms)
	for i, fm := range ms {
		if fm.err != nil || fm.out.Sync.Progress.ErrorActions != 0 || len(fm.out.Errors) != 0 {
			t.Fatalf("member %d: %v %+v", i, fm.err, fm.out)
		}
	}
	sameSnapshots(t, "B after the mirror", snapshot(t, a), snapshot(t, b))
}

// A member alone goes through the same flow with its two nodes: it plans on its own
// inventories and runs under the local orchestrator, with no settings, transfer nor
// synchronization request to the server; Orchestration cloud sends the run to the server.
func TestFlowAlone(t *testing.T) {
	t.Parallel()
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force-cloud=%v", force), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths []string
			url := testcloud.Start(t, cloud.Config{Store: store.NewMemory(), StorageDir: t.TempDir()}, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					paths = append(paths, r.Method+" "+r.URL.Path)
					mu.Unlock()
					h.ServeHTTP(w, r)
				})
			}).URL
			a, b := t.TempDir(), t.TempDir()
			writeAt(t, filepath.Join(a, "d", "new.txt"), []byte("new"), flowTime)
			writeAt(t, filepath.Join(b, "gone.txt"), []byte("only on B"), flowTime)
			nodes := []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}}
			m, err := session.Create(t.Context(), newClient(t, url), nodes, testOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })
			var steps []session.StepName
			flow := m.NewFlow(nodes, session.FlowOptions{ForceCloud: force, Step: func(s session.Step) { steps = append(steps, s.Name) },
				Planning: session.Planning{Settings: compare.DefaultSettings(), Rules: preset("mirror")}})
			l, err := flow.Inventory(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !flow.Alone() || !flow.Plans() || l == nil || len(l.Nodes) != 2 || l.Comparison == nil {
				t.Fatalf("alone %v, plans %v, inventory %+v", flow.Alone(), flow.Plans(), l)
			}
			rs, _ := rules.Preset("mirror", "A", "B")
			res, err := rules.Evaluate(l.Comparison, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := plan.Build(l.Comparison, res, flow.PlanOptions(plan.Options{}))
			if err := flow.Propose(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			var chosen engine.Orchestration
			out, err := flow.Synchronize(t.Context(), session.SyncOptions{Chosen: func(o engine.Orchestration) { chosen = o }})
			if err != nil || out.Sync.EndStatus != protocol.EndRegular {
				t.Fatalf("run: %+v, %v", out, err)
			}
			if err := flow.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(b, "d", "new.txt")); err != nil || string(got) != "new" {
				t.Fatalf("B's copy: %q, %v", got, err)
			}
			if _, err := os.Stat(filepath.Join(b, "gone.txt")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("gone.txt is still on B: %v", err)
			}
			want := []session.StepName{session.StepInventoryStarted, session.StepFullInventories, session.StepPlanned, session.StepSynchronizing}
			if !slices.Equal(steps, want) {
				t.Fatalf("steps %v, want %v", steps, want)
			}
			mu.Lock()
			defer mu.Unlock()
			syncs, relayed := 0, 0
			for _, p := range paths {
				switch {
				case strings.Contains(p, "/synchronization"):
					syncs++
				case strings.Contains(p, "/transfers") || strings.HasSuffix(p, "/settings"):
					relayed++
				}
			}
			switch {
			case relayed != 0:
				t.Fatalf("%d settings or relay requests: %v", relayed, paths)
			case !force && (chosen != engine.OrchestrationLocal || syncs != 0):
				t.Fatalf("orchestration %s, %d synchronization requests: %v", chosen, syncs, paths)
			case force && (chosen != engine.OrchestrationCloud || syncs < 3):
				t.Fatalf("orchestration %s, %d synchronization requests: want the server's start, results and finished", chosen, syncs)
			}
		})
	}
}
