package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/app/notify"
)

// wait bounds every wait for an event.
const wait = 30 * time.Second

// recorded is one event as the webview would receive it: its JSON.
type recorded struct {
	name string
	data json.RawMessage
}

// recorder is the emitter of the tests: it keeps every event, as JSON.
type recorder struct {
	t  testing.TB
	mu sync.Mutex
	ev []recorded
	ch chan struct{} // closed and replaced at every event
}

func newRecorder(t testing.TB) *recorder { return &recorder{t: t, ch: make(chan struct{})} }

func (r *recorder) Emit(name string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		r.t.Errorf("event %s: %v", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, recorded{name, b})
	close(r.ch)
	r.ch = make(chan struct{})
}

// mark is the number of events so far: waits from a mark see only later events.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ev)
}

// since returns the events named name after mark.
func (r *recorder) since(mark int, name string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, e := range r.ev[mark:] {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits for an event named name after mark that ok accepts (nil: any), decoded into v.
func waitFor[T any](t testing.TB, r *recorder, mark int, name string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(wait)
	seen := mark
	for {
		r.mu.Lock()
		evs, ch := r.ev[seen:], r.ch
		r.mu.Unlock()
		for _, e := range evs {
			seen++
			if e.name != name {
				continue
			}
			var v T
			if err := json.Unmarshal(e.data, &v); err != nil {
				t.Fatalf("event %s: %v: %s", name, err, e.data)
			}
			if ok == nil || ok(v) {
				return v
			}
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s event within %s", name, wait)
		}
	}
}

// fakeDesktop records what the window was asked.
type fakeDesktop struct {
	noDesktop
	mu      sync.Mutex
	calls   []string
	changed chan struct{}
}

func newFakeDesktop() *fakeDesktop { return &fakeDesktop{changed: make(chan struct{}, 16)} }

func (d *fakeDesktop) record(call string) {
	d.mu.Lock()
	d.calls = append(d.calls, call)
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *fakeDesktop) hideWindow()           { d.record("hide") }
func (d *fakeDesktop) showWindow()           { d.record("show") }
func (d *fakeDesktop) fitScreen()            { d.record("fit") }
func (d *fakeDesktop) quit()                 { d.record("quit") }
func (d *fakeDesktop) setTheme(theme string) { d.record("theme " + theme) }

func (d *fakeDesktop) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// fakeTray records the tray's states.
type fakeTray struct {
	mu     sync.Mutex
	states []TrayState
	abort  []bool
}

func (f *fakeTray) SetState(s TrayState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = append(f.states, s)
}

func (f *fakeTray) SetAbortEnabled(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abort = append(f.abort, on)
}

func (f *fakeTray) last() (TrayState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[len(f.states)-1], f.abort[len(f.abort)-1]
}

// fakeNotifier records the notifications.
type fakeNotifier struct {
	sent chan notify.Notification
}

func (f *fakeNotifier) Send(_ context.Context, n notify.Notification) (uint32, error) {
	f.sent <- n
	return 1, nil
}

// testApp is an App with its events recorded, a private configuration folder, and logs in the
// test's output.
type testApp struct {
	*App
	rec    *recorder
	stderr *bytes.Buffer
}

func newTestApp(t testing.TB) *testApp {
	t.Helper()
	rec := newRecorder(t)
	var stderr bytes.Buffer
	a, err := New(Options{
		ConfigDir: t.TempDir(),
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Stderr:    &stderr,
		Getenv:    func(string) string { return "" },
		emitter:   rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return &testApp{App: a, rec: rec, stderr: &stderr}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// at is the modification time given to test files.
var at = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// writeFiles writes files (path → content) below dir, each with modification time mtime.
func writeFiles(t testing.TB, dir string, files map[string]string, mtime time.Time) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
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
}

// manyFiles writes n small files below dir.
func manyFiles(t testing.TB, dir string, n int) {
	t.Helper()
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("d%02d/f%04d.txt", i%10, i)] = fmt.Sprintf("content %d", i)
	}
	writeFiles(t, dir, files, at)
}

// session creates a session with two nodes: A holding src, B holding dst.
func (a *testApp) session(t testing.TB, src, dst string) SessionInfo {
	t.Helper()
	info, err := a.Sessions.Create()
	if err != nil {
		t.Fatal(err)
	}
	for i, dir := range []string{src, dst} {
		// The roots' dates differ, as two folders' do: the plan dates one of them.
		if err := os.Chtimes(dir, at, at.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		n, err := a.Data.AddNode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Data.AddSource(n.Code, dir); err != nil {
			t.Fatal(err)
		}
	}
	return info
}

// inventory runs the inventory and waits for its end.
func (a *testApp) inventory(t testing.TB) InventoryDone {
	t.Helper()
	mark := a.rec.mark()
	if err := a.Inventory.Start(); err != nil {
		t.Fatal(err)
	}
	return waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil)
}

// synchronize starts the plan and waits for sync:done.
func (a *testApp) synchronize(t testing.TB) SyncStatus {
	t.Helper()
	mark := a.rec.mark()
	if err := a.Synchronization.Start(); err != nil {
		t.Fatal(err)
	}
	return waitFor[SyncStatus](t, a.rec, mark, EventSyncDone, nil)
}
