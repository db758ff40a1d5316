package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

var (
	t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

// mirrorPlan plans a mirror of node A (dir a) onto node B (dir b), with deltas between
// members when delta is set.
func mirrorPlan(t testing.TB, a, b string, analysis compare.Analysis, delta bool) *plan.Plan {
	t.Helper()
	rs, err := rules.Preset("mirror", "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	settings := compare.DefaultSettings()
	settings.Analysis = analysis
	req := plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}},
		Settings: settings,
		Rules:    rs,
	}
	if delta {
		req.Options.PreferDelta = func(size int64, source, target string) bool {
			return transfer.PreferDelta(size, true, source != target)
		}
	}
	l, err := plan.Make(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return l.Plan
}

// signatures computes the signatures of the delta targets on node B, as the flow does at
// inventory time.
func signatures(t testing.TB, p *plan.Plan, b string) remote.SignatureSet {
	t.Helper()
	var paths []string
	for _, g := range p.Groups {
		if g.Kind == plan.Delta {
			for _, tg := range g.Targets {
				if tg.Node == "B" && tg.Exists() && remote.WantsSignature(tg.Size()) {
					paths = append(paths, tg.Path())
				}
			}
		}
	}
	sigs, err := remote.ComputeSignatures(t.Context(), b, paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != len(paths) {
		t.Fatalf("%d signatures for %d targets", len(sigs), len(paths))
	}
	return remote.SignatureSet{"B": sigs}
}

// relayRun is a run of plan p between member 0 (node A) and member 1 (node B).
type relayRun struct {
	p        *plan.Plan
	m        []*member
	sigs     remote.Signatures
	key      string    // the run key, "run 1" when empty
	sent     collector // the sender's reports
	received collector // the recipient's reports
}

func (r *relayRun) run(m *member) remote.Run {
	key := r.key
	if key == "" {
		key = "run 1"
	}
	return remote.Run{Key: key, Plan: r.p, Self: m.id, Owner: func(node string) string {
		return map[string]string{"A": r.m[0].id, "B": r.m[1].id}[node]
	}}
}

// send runs the sender to its end.
func (r *relayRun) send(ctx context.Context) {
	c := remote.NewContent(r.m[0].x, r.sigs, remote.ContentOptions{})
	defer c.Close()
	c.Send(ctx, r.run(r.m[0]), r.sent.add)
}

// receive runs the recipient to its end.
func (r *relayRun) receive(ctx context.Context, t testing.TB) {
	c := remote.NewContent(r.m[1].x, nil, remote.ContentOptions{})
	defer c.Close()
	if err := c.Receive(ctx, r.run(r.m[1]), r.received.add); err != nil {
		t.Error(err)
	}
}

// bothKey runs the sender and the recipient at once as the run key.
func (r *relayRun) bothKey(ctx context.Context, t testing.TB, key string) {
	r.key = key
	r.both(ctx, t)
}

// both runs the sender and the recipient at once.
func (r *relayRun) both(ctx context.Context, t testing.TB) {
	var wg sync.WaitGroup
	wg.Go(func() { r.send(ctx) })
	r.receive(ctx, t)
	wg.Wait()
}

// byPath indexes results by their target path.
func byPath(rs []remote.Result) map[string]remote.Result {
	out := map[string]remote.Result{}
	for _, r := range rs {
		out[r.Target.Path()] = r
	}
	return out
}

// sameTree checks that every file of a is in b with the same content and modification time.
func sameTree(t testing.TB, a, b string) {
	t.Helper()
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the source's %d", rel, len(got), len(want))
		}
		sfi, _ := d.Info()
		if tfi, err := os.Stat(filepath.Join(b, rel)); err == nil && !tfi.ModTime().Equal(sfi.ModTime()) {
			t.Errorf("%s: modified %s, the source %s", rel, tfi.ModTime(), sfi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noTempFiles checks that no temp file is left in dir.
func noTempFiles(t testing.TB, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && inventory.IsTempName(d.Name()) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}

// insert returns data with extra inserted at off.
func insert(data []byte, off int, extra []byte) []byte {
	return slices.Concat(data[:off], extra, data[off:])
}

// Small and large files go from A to B in full, edited large files as deltas against B's
// signatures; every target is reported once, the files are those of A with A's dates, and the
// relay storage is empty at the end.
func TestContentCopy(t *testing.T) {
	t.Parallel()
	for _, analysis := range []compare.Analysis{compare.Smart, compare.Checksum} {
		t.Run(fmt.Sprint("analysis=", analysis), func(t *testing.T) {
			srv := startServer(t)
			_, m := session(t, srv, 2, remote.Options{})
			a, b := t.TempDir(), t.TempDir()
			for i := range 40 {
				writeFile(t, filepath.Join(a, fmt.Sprintf("small/f%02d.txt", i)), random(uint64(i), 100+i*5000), t1)
			}
			writeFile(t, filepath.Join(a, "big/new.bin"), random(100, 3<<20+17), t1)
			writeFile(t, filepath.Join(a, "big/medium.bin"), random(101, 600<<10), t1)
			base := random(102, 4<<20)
			writeFile(t, filepath.Join(b, "big/edited.bin"), base, t0)
			writeFile(t, filepath.Join(a, "big/edited.bin"), insert(base, 1<<20+12345, random(103, 4<<10)), t1)
			same := random(104, 1<<20)
			writeFile(t, filepath.Join(b, "big/same-size.bin"), same, t0)
			same = slices.Clone(same)
			copy(same[500000:], "an edit of the same size")
			writeFile(t, filepath.Join(a, "big/same-size.bin"), same, t1)
			writeFile(t, filepath.Join(b, "small/f03.txt"), []byte("older"), t0)

			p := mirrorPlan(t, a, b, analysis, true)
			r := &relayRun{p: p, m: m, sigs: signatures(t, p, b)}
			ctx, cancel := context.WithTimeout(t.Context(), waitFor)
			defer cancel()
			r.both(ctx, t)

			if sent := r.sent.all(); len(sent) != 0 {
				t.Fatalf("the sender reported %+v", sent)
			}
			got := byPath(r.received.all())
			if len(got) != 44 || len(r.received.all()) != 44 {
				t.Fatalf("%d results for %d paths, want 44", len(r.received.all()), len(got))
			}
			for path, res := range got {
				if res.Err != nil {
					t.Errorf("%s: %v", path, res.Err)
				}
			}
			for _, path := range []string{"/big/edited.bin", "/big/same-size.bin"} {
				fi, err := os.Stat(filepath.Join(a, path))
				if err != nil {
					t.Fatal(err)
				}
				res := got[path]
				t.Logf("%s: delta of %d bytes for a file of %d bytes (%.2f%%)", path, res.Bytes, fi.Size(), 100*float64(res.Bytes)/float64(fi.Size()))
				if res.Bytes <= 0 || res.Bytes > fi.Size()/20 {
					t.Errorf("%s: %d bytes transferred for %d, want a small delta", path, res.Bytes, fi.Size())
				}
			}
			if res := got["/big/new.bin"]; res.Bytes != 3<<20+17 {
				t.Errorf("new.bin: %d bytes reported", res.Bytes)
			}
			sameTree(t, a, b)
			noTempFiles(t, b)

			sx, rx := m[0].x.Stats(), m[1].x.Stats()
			t.Logf("sender %+v, recipient %+v", sx, rx)
			if sx.PartsUploaded != rx.PartsDownloaded || sx.PartsSkipped != 0 {
				t.Errorf("%d parts uploaded, %d downloaded", sx.PartsUploaded, rx.PartsDownloaded)
			}
			for _, x := range []*remote.Exchange{m[1].x, m[0].x} {
				if err := x.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if parts := srv.storedParts(); len(parts) != 0 {
				t.Fatalf("relay storage still holds %v", parts)
			}
		})
	}
}

// A source changed after the plan is not sent: the sender reports its source failed, the
// recipient reports its target failed with the sender's reason and leaves it untouched; the
// other files of the same batch arrive.
func TestContentSourceChanged(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 2, remote.Options{})
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "a.txt"), []byte("first"), t1)
	writeFile(t, filepath.Join(a, "b.txt"), []byte("second, new"), t1)
	writeFile(t, filepath.Join(b, "b.txt"), []byte("second, old"), t0)
	writeFile(t, filepath.Join(a, "c.txt"), []byte("third"), t1)
	p := mirrorPlan(t, a, b, compare.Smart, false)
	writeFile(t, filepath.Join(a, "b.txt"), []byte("second, edited after the plan"), t1.Add(time.Minute))

	r := &relayRun{p: p, m: m}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	r.both(ctx, t)

	sent := r.sent.all()
	if len(sent) != 1 || !sent[0].Source || sent[0].Target.Path() != "/b.txt" || !errors.Is(sent[0].Err, transfer.ErrSourceChanged) {
		t.Fatalf("sender reports %+v, want the source of /b.txt changed", sent)
	}
	got := byPath(r.received.all())
	var se *remote.SourceError
	if res := got["/b.txt"]; !errors.As(res.Err, &se) {
		t.Fatalf("/b.txt: %v, want the sender's reason", res.Err)
	}
	t.Logf("/b.txt: %v", got["/b.txt"].Err)
	for _, path := range []string{"/a.txt", "/c.txt"} {
		if got[path].Err != nil {
			t.Errorf("%s: %v", path, got[path].Err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(b, "b.txt")); string(data) != "second, old" {
		t.Fatalf("the target was changed to %q", data)
	}
	noTempFiles(t, b)
}

// A part altered or moved in the server's storage fails to open: the file it belongs to is
// reported failed and its target is left as it was, with no temp file; another transfer of the
// run is not affected.
func TestContentTampered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, srv *server)
	}{
		{"altered", func(t *testing.T, srv *server) { flipByte(t, srv, 3) }},
		{"reordered", func(t *testing.T, srv *server) {
			p2, p3 := srv.partFile(2), srv.partFile(3)
			d2, _ := os.ReadFile(p2)
			d3, _ := os.ReadFile(p3)
			if err := errors.Join(os.WriteFile(p2, d3, 0o600), os.WriteFile(p3, d2, 0o600)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			_, m := session(t, srv, 2, remote.Options{StartSlice: 128 << 10, MaxSlice: 128 << 10})
			a, b := t.TempDir(), t.TempDir()
			old := random(200, 1<<20)
			writeFile(t, filepath.Join(b, "big.bin"), old, t0)
			writeFile(t, filepath.Join(a, "big.bin"), random(201, 1<<20), t1)
			writeFile(t, filepath.Join(a, "small.txt"), []byte("small"), t1)
			p := mirrorPlan(t, a, b, compare.Smart, false)

			r := &relayRun{p: p, m: m}
			ctx, cancel := context.WithTimeout(t.Context(), waitFor)
			defer cancel()
			r.send(ctx) // every part is stored before anything is received
			tc.tamper(t, srv)
			r.receive(ctx, t)

			got := byPath(r.received.all())
			if err := got["/big.bin"].Err; !errors.Is(err, crypto.ErrOpen) {
				t.Fatalf("/big.bin: %v, want %v", err, crypto.ErrOpen)
			}
			t.Logf("/big.bin: %v", got["/big.bin"].Err)
			if err := got["/small.txt"].Err; err != nil {
				t.Fatalf("/small.txt: %v", err)
			}
			if data, _ := os.ReadFile(filepath.Join(b, "big.bin")); !bytes.Equal(data, old) {
				t.Fatal("the target of the tampered transfer changed")
			}
			noTempFiles(t, b)
		})
	}
}

// The server stops in the middle of a transfer and comes back on the same address and storage:
// both sides retry, the transfer resumes where it was, no part is stored twice, and the
// storage is empty at the end.
func TestContentServerRestart(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 2, remote.Options{
		MinSlice: 256 << 10, StartSlice: 256 << 10, MaxSlice: 256 << 10,
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	})
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "big.bin"), random(300, 6<<20+99), t1)
	for i := range 5 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("s%d.txt", i)), random(uint64(301+i), 1000), t1)
	}
	p := mirrorPlan(t, a, b, compare.Smart, false)
	r := &relayRun{p: p, m: m}

	half := make(chan struct{})
	var once sync.Once
	hook := func(n int64) {
		if n == 8 {
			once.Do(func() { close(half) })
		}
	}
	srv.onPut.Store(&hook)

	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.both(ctx, t)
	}()
	select {
	case <-half:
	case <-ctx.Done():
		t.Fatal("no part stored")
	}
	srv.stop()
	retried := m[0].x.Stats().PartsRetried
	waitUntil(t, "the sender retries while the server is down", func() bool { return m[0].x.Stats().PartsRetried >= retried+3 })
	srv.start()
	<-done

	for _, res := range r.received.all() {
		if res.Err != nil {
			t.Errorf("%s: %v", res.Target.Path(), res.Err)
		}
	}
	if n := len(r.received.all()); n != 6 || len(r.sent.all()) != 0 {
		t.Fatalf("%d results received, %v sent", n, r.sent.all())
	}
	sameTree(t, a, b)
	sx, rx := m[0].x.Stats(), m[1].x.Stats()
	t.Logf("sender %+v, recipient %+v, parts stored by the server %d", sx, rx, srv.puts.Load())
	if srv.puts.Load() != rx.PartsDownloaded {
		t.Fatalf("the server stored %d parts for %d distinct parts: %d uploaded twice",
			srv.puts.Load(), rx.PartsDownloaded, srv.puts.Load()-rx.PartsDownloaded)
	}
	for _, x := range []*remote.Exchange{m[1].x, m[0].x} {
		if err := x.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if parts := srv.storedParts(); len(parts) != 0 {
		t.Fatalf("relay storage still holds %v", parts)
	}
}

// One upload of a full copy serves every member owning a target; a delta is made per target.
func TestContentToTwoMembers(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 3, remote.Options{})
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for i := range 10 {
		writeFile(t, filepath.Join(a, fmt.Sprintf("f%d.txt", i)), random(uint64(i), 1000+i), t1)
	}
	writeFile(t, filepath.Join(a, "big.bin"), random(400, 2<<20), t1)
	base := random(401, 1<<20)
	edited := insert(base, 300000, []byte("an insertion"))
	writeFile(t, filepath.Join(a, "edited.bin"), edited, t1)
	writeFile(t, filepath.Join(b, "edited.bin"), base, t0)
	writeFile(t, filepath.Join(c, "edited.bin"), base[:len(base)-1000], t0)

	toB, _ := rules.Preset("mirror", "A", "B")
	toC, _ := rules.Preset("mirror", "A", "C")
	l, err := plan.Make(t.Context(), plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}, {Code: "C", Roots: []string{c}}},
		Settings: compare.DefaultSettings(),
		Rules:    append(toB, toC...),
		Options: plan.Options{PreferDelta: func(size int64, source, target string) bool {
			return transfer.PreferDelta(size, true, source != target)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := l.Plan
	sigs := remote.SignatureSet{}
	for node, dir := range map[string]string{"B": b, "C": c} {
		s, err := remote.ComputeSignatures(t.Context(), dir, []string{"/edited.bin"})
		if err != nil {
			t.Fatal(err)
		}
		sigs[node] = s
	}
	owners := map[string]string{"A": m[0].id, "B": m[1].id, "C": m[2].id}
	run := func(self string) remote.Run {
		return remote.Run{Key: "run 3", Plan: p, Self: self, Owner: func(n string) string { return owners[n] }}
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	var sent collector
	got := []*collector{{}, {}}
	var wg sync.WaitGroup
	wg.Go(func() {
		cx := remote.NewContent(m[0].x, sigs, remote.ContentOptions{})
		defer cx.Close()
		cx.Send(ctx, run(m[0].id), sent.add)
	})
	for i, r := range m[1:] {
		wg.Go(func() {
			cx := remote.NewContent(r.x, nil, remote.ContentOptions{})
			defer cx.Close()
			if err := cx.Receive(ctx, run(r.id), got[i].add); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(sent.all()) != 0 {
		t.Fatalf("sender reports %+v", sent.all())
	}
	for i, dir := range []string{b, c} {
		results := got[i].all()
		if len(results) != 12 {
			t.Fatalf("member %d: %d results, want 12", i+1, len(results))
		}
		for _, res := range results {
			if res.Err != nil {
				t.Errorf("member %d: %s: %v", i+1, res.Target.Path(), res.Err)
			}
			if res.Target.Path() == "/edited.bin" && res.Bytes > int64(len(edited))/10 {
				t.Errorf("member %d: edited.bin took %d bytes, want a delta", i+1, res.Bytes)
			}
		}
		sameTree(t, a, dir)
	}
	// The batch and big.bin went up once for both members; edited.bin once per target, as a
	// delta of one part: shared parts are downloaded twice, the deltas once.
	up, downB, downC := m[0].x.Stats().PartsUploaded, m[1].x.Stats().PartsDownloaded, m[2].x.Stats().PartsDownloaded
	shared := downB + downC - up
	t.Logf("parts uploaded %d (%d shared), downloaded by B %d, by C %d", up, shared, downB, downC)
	if shared < 2 || up-shared != 2 {
		t.Fatalf("%d parts uploaded, %d and %d downloaded: want the full copies shared and two deltas", up, downB, downC)
	}
}

// A sender that stops mid-transfer (the run aborted on its side) deletes what it sent: the
// recipient stops waiting, reports the file failed and leaves the target as it was.
func TestContentSenderStops(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 2, remote.Options{StartSlice: 64 << 10, MaxSlice: 64 << 10})
	a, b := t.TempDir(), t.TempDir()
	old := random(500, 2<<20)
	writeFile(t, filepath.Join(b, "big.bin"), old, t0)
	writeFile(t, filepath.Join(a, "big.bin"), random(501, 2<<20), t1)
	p := mirrorPlan(t, a, b, compare.Smart, false)
	r := &relayRun{p: p, m: m}

	sendCtx, stopSending := context.WithCancel(t.Context())
	hook := func(n int64) {
		if n == 5 {
			stopSending()
		}
	}
	srv.onPut.Store(&hook)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { r.send(sendCtx) })
	r.receive(ctx, t)
	wg.Wait()

	if sent := r.sent.all(); len(sent) != 0 {
		t.Fatalf("a stopped sender reports %+v", sent)
	}
	got := r.received.all()
	if len(got) != 1 || got[0].Err == nil {
		t.Fatalf("results %+v, want big.bin failed", got)
	}
	t.Logf("/big.bin: %v", got[0].Err)
	if data, _ := os.ReadFile(filepath.Join(b, "big.bin")); !bytes.Equal(data, old) {
		t.Fatal("the target changed")
	}
	noTempFiles(t, b)
	waitUntil(t, "the stopped transfer is deleted", func() bool { return len(srv.storedParts()) == 0 })
}

// A member owning two targets of a copy receives the content once and writes both; the copy it
// kept meanwhile is gone at the end.
func TestContentTwoTargetsOneMember(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 2, remote.Options{})
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "big.bin"), random(600, 1<<20), t1)
	writeFile(t, filepath.Join(a, "small.txt"), []byte("small"), t1)
	writeFile(t, filepath.Join(c, "small.txt"), []byte("older"), t0)
	toB, _ := rules.Preset("mirror", "A", "B")
	toC, _ := rules.Preset("mirror", "A", "C")
	l, err := plan.Make(t.Context(), plan.Request{
		Nodes:    []plan.NodeSpec{{Code: "A", Roots: []string{a}}, {Code: "B", Roots: []string{b}}, {Code: "C", Roots: []string{c}}},
		Settings: compare.DefaultSettings(),
		Rules:    append(toB, toC...),
	})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{"A": m[0].id, "B": m[1].id, "C": m[1].id}
	r := &relayRun{p: l.Plan, m: m}
	run := func(self string) remote.Run {
		return remote.Run{Key: "run 4", Plan: l.Plan, Self: self, Owner: func(n string) string { return owners[n] }}
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		cx := remote.NewContent(m[0].x, nil, remote.ContentOptions{})
		defer cx.Close()
		cx.Send(ctx, run(m[0].id), r.sent.add)
	})
	cx := remote.NewContent(m[1].x, nil, remote.ContentOptions{})
	defer cx.Close()
	if err := cx.Receive(ctx, run(m[1].id), r.received.add); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := r.received.all()
	if len(got) != 4 {
		t.Fatalf("%d results, want 4", len(got))
	}
	for _, res := range got {
		if res.Err != nil {
			t.Errorf("%s on %s: %v", res.Target.Path(), res.Target.Node, res.Err)
		}
	}
	sameTree(t, a, b)
	sameTree(t, a, c)
	noTempFiles(t, b)
	noTempFiles(t, c)
}
