package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

// recorder collects what a run emits.
type recorder struct {
	mu       sync.Mutex
	events   []engine.Event
	statuses []protocol.MemberStatus
	onEvent  func(engine.Event)
}

func (r *recorder) event(e engine.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.onEvent != nil {
		r.onEvent(e)
	}
}

func (r *recorder) status(s protocol.MemberStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
}

func (r *recorder) count(t engine.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == t {
			n++
		}
	}
	return n
}

func self(string) string { return "me" }

func localRun(t *testing.T, a, b string, rec *recorder, abort <-chan struct{}) (*engine.Outcome, error) {
	t.Helper()
	p := planMirror(t, a, b)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	o := engine.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	return engine.Synchronize(ctx, engine.Run{
		Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true,
		Status: rec.status, Event: rec.event, Abort: abort,
	})
}

func TestLocalSynchronizeMirror(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 40 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("d%d/f%d.txt", i%4, i)), fmt.Sprint("content ", i), t0)
	}
	writeFile(t, filepath.Join(b, "stale.txt"), "old", t0)
	chtimes(t, b, t0) // the roots' dates differ
	rec := &recorder{}
	out, err := localRun(t, a, b, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Sync.Progress
	if out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 {
		t.Fatalf("end %s, errors %v", out.Sync.EndStatus, out.Errors)
	}
	// 4 creates, 40 copies, 1 delete, the root's date (the folders created are dated quietly).
	if p.TotalActions != 46 || p.FinishedActions != 46 || p.ErrorActions != 0 || p.SyncedVolume != p.TotalVolume || p.LocalCopyVolume == 0 {
		t.Fatalf("progress %+v", p)
	}
	if rec.count(engine.EventStarted) != 1 || rec.count(engine.EventEnded) != 1 || rec.count(engine.EventProgress) == 0 {
		t.Fatalf("events: %d started, %d progress, %d ended", rec.count(engine.EventStarted), rec.count(engine.EventProgress), rec.count(engine.EventEnded))
	}
	want := []protocol.MemberStatus{protocol.SynchronizationRunning, protocol.SynchronizationSourceActionsInitiated, protocol.SynchronizationFinished}
	if !slices.Equal(rec.statuses, want) {
		t.Fatalf("statuses %v, want %v", rec.statuses, want)
	}
	if got := readFile(t, filepath.Join(b, "d3/f39.txt")); got != "content 39" {
		t.Fatalf("copied content %q", got)
	}
	if snapshot(t, b)["/d3"] != snapshot(t, a)["/d3"] || snapshot(t, b)["/"] != snapshot(t, a)["/"] {
		t.Fatalf("directory dates differ: %v, %v", snapshot(t, a), snapshot(t, b))
	}
	if len(planMirror(t, a, b).Groups) != 0 {
		t.Fatal("a second plan is not empty")
	}
	// Progress events only grow.
	last := int64(0)
	for _, e := range rec.events {
		if e.Sync.Progress.Version < last {
			t.Fatalf("version went back from %d to %d", last, e.Sync.Progress.Version)
		}
		last = e.Sync.Progress.Version
	}
}

// ByteSync hazard 1: an abort between two groups ended the loop without memberHasFinished and
// the run never ended. Here the abort stops the loop, the member finishes, the run ends aborted.
func TestLocalSynchronizeAbort(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 300 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("f%03d.txt", i)), "x", t0)
	}
	abort := make(chan struct{})
	var once sync.Once
	rec := &recorder{onEvent: func(e engine.Event) {
		if e.Type == engine.EventProgress {
			once.Do(func() { close(abort) })
		}
	}}
	out, err := localRun(t, a, b, rec, abort)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Sync.Progress
	if out.Sync.EndStatus != protocol.EndAborted || !out.Sync.IsAbortRequested() {
		t.Fatalf("end %q", out.Sync.EndStatus)
	}
	if p.FinishedActions >= p.TotalActions || p.ErrorActions != 0 || len(out.Errors) != 0 {
		t.Fatalf("aborted run: %+v, errors %v", p, out.Errors)
	}
	if rec.count(engine.EventAbortRequested) != 1 || rec.count(engine.EventEnded) != 1 {
		t.Fatal("want one abort request and one end")
	}
	if got := rec.statuses[len(rec.statuses)-1]; got != protocol.SynchronizationFinished {
		t.Fatalf("last status %v", got)
	}
}

// A failed action is counted, reported with its path, and does not stop the run.
func TestLocalSynchronizeActionError(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "f.txt"), "new", t0.Add(time.Hour))
	writeFile(t, filepath.Join(a, "g.txt"), "g", t0)
	writeFile(t, filepath.Join(b, "f.txt"), "old", t0)
	p := planMirror(t, a, b)
	writeFile(t, filepath.Join(b, "f.txt"), "user edit", t0.Add(2*time.Hour)) // after the inventory
	rec := &recorder{}
	o := engine.NewLocalOrchestrator("s1", "me")
	defer o.Close()
	out, err := engine.Synchronize(t.Context(), engine.Run{Plan: p, Self: "me", Owner: self, Orchestrator: o, Start: true, Status: rec.status, Event: rec.event})
	if err != nil {
		t.Fatal(err)
	}
	if out.Sync.EndStatus != protocol.EndRegular || out.Sync.Progress.ErrorActions != 1 || out.Sync.Progress.FinishedActions != 2 {
		t.Fatalf("run %+v", out.Sync)
	}
	if len(out.Errors) != 1 || !errors.Is(out.Errors[0], transfer.ErrTargetChanged) {
		t.Fatalf("errors %v", out.Errors)
	}
	if got := readFile(t, filepath.Join(b, "f.txt")); got != "user edit" {
		t.Fatalf("the user's edit was overwritten: %q", got)
	}
	var failed bool
	for _, e := range rec.events {
		for _, g := range e.Groups {
			failed = failed || g.Error
		}
	}
	if !failed {
		t.Fatal("no group summary reported the error")
	}
}

// relayed is a session of two members on a server with relay storage: a owns node A at dirs
// A, b owns node B at dirs B; they share a session key.
type relayed struct {
	srv     string
	storage string
	session string
	key     crypto.SessionKey
	a, b    *client.Client
	dirs    map[string]string
}

func newRelayed(t *testing.T) *relayed {
	t.Helper()
	storage := t.TempDir()
	st := store.NewMemory()
	srv, err := cloud.NewServer(cloud.Config{Store: st, StorageDir: storage})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = srv.Run(ctx)
	}()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		cancel()
		<-ran
		srv.Close()
		hs.CloseClientConnections()
		hs.Close()
		st.Close()
	})
	r := &relayed{srv: hs.URL, storage: storage, dirs: map[string]string{"A": t.TempDir(), "B": t.TempDir()}}
	if r.key, err = crypto.NewSessionKey(); err != nil {
		t.Fatal(err)
	}
	login := func() *client.Client {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(hs.URL, id, client.Options{Retry: client.Retry{Attempts: 2, Base: time.Millisecond, Max: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(t.Context()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	r.a, r.b = login(), login()
	s, err := r.a.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: protocol.Blob("settings"), PrivateData: protocol.Blob("a")})
	if err != nil {
		t.Fatal(err)
	}
	r.session = s.ID
	req := cloudtest.JoinRequest(t, r.b.Identity().Private, s.ID)
	ticket, err := r.b.Join(t.Context(), s.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.a.Admit(t.Context(), s.ID, ticket.Ticket, cloudtest.Admission(t, r.a.Identity().Private, s.ID, req)); err != nil {
		t.Fatal(err)
	}
	for node, c := range map[string]*client.Client{"A": r.a, "B": r.b} {
		if _, err := c.AddNode(t.Context(), s.ID, protocol.NodeRequest{ID: node, Data: protocol.Blob("node")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSource(t.Context(), s.ID, node, protocol.SourceRequest{ID: node + "1", Data: protocol.Blob("src")}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := r.a.StartInventory(t.Context(), s.ID); err != nil || !res.Started {
		t.Fatalf("start the inventory: %+v, %v", res, err)
	}
	return r
}

func (r *relayed) owner(node string) string {
	if node == "A" {
		return r.a.InstanceID()
	}
	return r.b.InstanceID()
}

// pushes follows the session for c and hands every push to n channels.
func (r *relayed) pushes(t *testing.T, c *client.Client, n int) []<-chan protocol.Event {
	t.Helper()
	recv, err := c.Push(context.Background(), r.session)
	if err != nil {
		t.Fatal(err)
	}
	// Pushes count from the subscription on.
	timeout := time.After(10 * time.Second)
	for subscribed := false; !subscribed; {
		select {
		case ev := <-recv.Events():
			var sub protocol.Subscribed
			subscribed = ev.Type == protocol.EventSubscribed && json.Unmarshal(ev.Data, &sub) == nil && slices.Contains(sub.Sessions, r.session)
		case <-timeout:
			t.Fatalf("no subscription to %s", r.session)
		}
	}
	stop := make(chan struct{})
	outs := make([]chan protocol.Event, n)
	ro := make([]<-chan protocol.Event, n)
	for i := range outs {
		outs[i] = make(chan protocol.Event, 64)
		ro[i] = outs[i]
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for _, o := range outs {
				close(o)
			}
		}()
		for e := range recv.Events() {
			for _, o := range outs {
				select {
				case o <- e:
				case <-stop:
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		recv.Close()
		<-done
	})
	return ro
}

// member runs c's part of a synchronization of p with relayed copies; start makes it the
// member that starts the run.
func (r *relayed) member(t *testing.T, c *client.Client, p *plan.Plan, sigs remote.Signatures, start bool) (*engine.Outcome, error) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ch := r.pushes(t, c, 2)
	o := engine.NewCloudOrchestrator(c, r.session, ch[0], engine.CloudOptions{Retry: client.Retry{Base: time.Millisecond, Max: 20 * time.Millisecond}})
	defer o.Close()
	x := remote.NewExchange(c, r.session, r.key, c.InstanceID(), ch[1], remote.Options{})
	roots := transfer.NewRoots() // shared by the local work and the relayed copies, as a session does
	defer roots.Close()
	content := remote.NewContent(x, sigs, remote.ContentOptions{Roots: roots})
	defer content.Close()
	out, err := engine.Synchronize(ctx, engine.Run{Plan: p, Self: c.InstanceID(), Owner: r.owner, Orchestrator: o, Start: start, Remote: content, Roots: roots})
	closeCtx := ctx
	if err != nil || out.Sync.EndStatus != protocol.EndRegular { // nobody will receive anything more, as session.Flow does
		var stop context.CancelFunc
		closeCtx, stop = context.WithCancel(ctx)
		stop()
	}
	if cerr := x.Close(closeCtx); cerr != nil {
		t.Errorf("close the exchange: %v", cerr)
	}
	return out, err
}

// A mirror between two members: deletes and creates run locally on B, copies travel through
// the relay (small files batched, a large file in full, an edited one as a delta), each member
// reports its part, the run ends regularly with every action done, and the relay storage is
// empty at the end.
func TestSynchronizeRelayed(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range 30 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("d%d/f%02d.txt", i%3, i)), fmt.Sprint("content ", i), t0)
	}
	large := strings.Repeat("large file content ", 200_000) // 3.8 MB
	writeFile(t, filepath.Join(a, "large.bin"), large, t0)
	writeFile(t, filepath.Join(b, "large.bin"), large[:len(large)-5000], t0.Add(-time.Hour))
	writeFile(t, filepath.Join(a, "new.bin"), large[:1<<20], t0)
	writeFile(t, filepath.Join(b, "stale/old.txt"), "old", t0)
	req := mirrorRequest(a, b, compare.Smart)
	req.Options.PreferDelta = func(size int64, src, dst string) bool {
		return transfer.PreferDelta(size, true, r.owner(src) != r.owner(dst))
	}
	l, err := plan.Make(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	p := l.Plan
	sigs, err := remote.ComputeSignatures(t.Context(), b, []string{"/large.bin"})
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		out *engine.Outcome
		err error
	}
	results := make(chan result, 1)
	go func() {
		out, err := r.member(t, r.b, p, nil, false)
		results <- result{out, err}
	}()
	outA, err := r.member(t, r.a, p, remote.SignatureSet{"B": sigs}, true)
	if err != nil {
		t.Fatal(err)
	}
	resB := <-results
	if resB.err != nil {
		t.Fatal(resB.err)
	}
	for who, out := range map[string]*engine.Outcome{"A": outA, "B": resB.out} {
		pr := out.Sync.Progress
		if out.Sync.EndStatus != protocol.EndRegular || len(out.Errors) != 0 || pr.ErrorActions != 0 || pr.FinishedActions != pr.TotalActions {
			t.Fatalf("member %s: end %q, errors %v, progress %+v", who, out.Sync.EndStatus, out.Errors, pr)
		}
	}
	if got := readFile(t, filepath.Join(b, "large.bin")); got != large {
		t.Fatal("large.bin differs")
	}
	if _, err := os.Stat(filepath.Join(b, "stale")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale directory: %v", err)
	}
	if snapshot(t, b)["/d3"] != snapshot(t, a)["/d3"] || snapshot(t, b)["/"] != snapshot(t, a)["/"] {
		t.Fatalf("directory dates differ: %v, %v", snapshot(t, a), snapshot(t, b))
	}
	if len(planMirror(t, a, b).Groups) != 0 {
		t.Fatal("a second plan is not empty")
	}
	var parts []string
	_ = filepath.WalkDir(r.storage, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".part") {
			parts = append(parts, p)
		}
		return nil
	})
	if len(parts) != 0 {
		t.Fatalf("relay storage holds %v", parts)
	}
}

// Without a Remote, copies from another member fail with ErrNeedsRelay, as before.
func TestSynchronizeWithoutRemote(t *testing.T) {
	r := newRelayed(t)
	writeFile(t, filepath.Join(r.dirs["A"], "f.txt"), "x", time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	p := planMirror(t, r.dirs["A"], r.dirs["B"])
	ch := r.pushes(t, r.b, 1)
	o := engine.NewCloudOrchestrator(r.b, r.session, ch[0], engine.CloudOptions{})
	defer o.Close()
	chA := r.pushes(t, r.a, 1)
	oa := engine.NewCloudOrchestrator(r.a, r.session, chA[0], engine.CloudOptions{})
	defer oa.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := engine.Synchronize(ctx, engine.Run{Plan: p, Self: r.a.InstanceID(), Owner: r.owner, Orchestrator: oa, Start: true})
		done <- err
	}()
	out, err := engine.Synchronize(ctx, engine.Run{Plan: p, Self: r.b.InstanceID(), Owner: r.owner, Orchestrator: o})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || !errors.Is(out.Errors[0], engine.ErrNeedsRelay) || out.Sync.Progress.ErrorActions != 1 {
		t.Fatalf("errors %v, progress %+v", out.Errors, out.Sync.Progress)
	}
}

// A source changed after the plan: its member reports the source failed, the target's member
// reports its target failed with the reason, the target is untouched, and the run ends with one
// failed action among the others done.
func TestSynchronizeRelayedSourceChanged(t *testing.T) {
	r := newRelayed(t)
	a, b := r.dirs["A"], r.dirs["B"]
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(a, "ok.txt"), "fine", t0)
	writeFile(t, filepath.Join(a, "edited.txt"), "new", t0)
	writeFile(t, filepath.Join(b, "edited.txt"), "old", t0.Add(-time.Hour))
	chtimes(t, a, t0) // one date: the plan dates neither root, however slow the writes
	chtimes(t, b, t0)
	p := planMirror(t, a, b)
	writeFile(t, filepath.Join(a, "edited.txt"), "edited after the plan", t0.Add(time.Hour))

	errs := make(chan []error, 1)
	go func() {
		out, err := r.member(t, r.b, p, nil, false)
		if err != nil {
			t.Error(err)
			errs <- nil
			return
		}
		errs <- out.Errors
	}()
	outA, err := r.member(t, r.a, p, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	errsB := <-errs
	pr := outA.Sync.Progress
	if outA.Sync.EndStatus != protocol.EndRegular || pr.ErrorActions != 1 || pr.FinishedActions != pr.TotalActions || pr.TotalActions != 2 {
		t.Fatalf("end %q, progress %+v", outA.Sync.EndStatus, pr)
	}
	if len(outA.Errors) != 1 || !errors.Is(outA.Errors[0], transfer.ErrSourceChanged) {
		t.Fatalf("source member errors %v", outA.Errors)
	}
	var se *remote.SourceError
	if len(errsB) != 1 || !errors.As(errsB[0], &se) {
		t.Fatalf("target member errors %v", errsB)
	}
	t.Logf("source: %v; target: %v", outA.Errors[0], errsB[0])
	if got := readFile(t, filepath.Join(b, "edited.txt")); got != "old" {
		t.Fatalf("target changed to %q", got)
	}
	if got := readFile(t, filepath.Join(b, "ok.txt")); got != "fine" {
		t.Fatalf("ok.txt = %q", got)
	}
}
