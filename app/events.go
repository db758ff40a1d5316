package app

import (
	"context"
	"sync"
	"time"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// Events the webview receives (docs/desktop-api.md).
const (
	EventSessionChanged    = "session:changed"
	EventInventoryProgress = "inventory:progress"
	EventInventoryDone     = "inventory:done"
	EventSync              = "sync:event"
	EventSyncDone          = "sync:done"
	EventProfileRun        = "profile:run"
	// EventProfileWaiting: a shared profile's run waits for its members; sent as they join.
	EventProfileWaiting = "profile:waiting"
	EventTrustAsked     = "trust:asked"
	EventTrustAnswered  = "trust:answered"
	// EventCloseRequested: the window was closed during a synchronization and no tray holds
	// the app, or the tray's Quit was chosen during one; the window stays (or shows), and the
	// webview asks whether to abort and quit.
	EventCloseRequested = "window:close-requested"
)

// EventPayloads is what each event carries (a nil *SessionInfo after Quit). The frontend's types
// of the payloads that no service method returns are generated from it
// (frontend/src/lib/events.gen.ts, `make bindings`), and a test fails when they differ.
var EventPayloads = []struct {
	Name    string
	Payload any
}{
	{EventSessionChanged, (*SessionInfo)(nil)},
	{EventInventoryProgress, []NodeProgress(nil)},
	{EventInventoryDone, InventoryDone{}},
	{EventSync, SyncEvent{}},
	{EventSyncDone, SyncStatus{}},
	{EventProfileRun, ""},
	{EventProfileWaiting, ProfileWaiting{}},
	{EventTrustAsked, TrustQuestion{}},
	{EventTrustAnswered, TrustAnswered{}},
	{EventCloseRequested, SyncStatus{}},
}

// progressEvery is the shortest interval between two progress events of one kind.
const progressEvery = 100 * time.Millisecond

// emitter hands an event to the webview. It must not block.
type emitter interface {
	Emit(name string, data any)
}

// wailsEmitter emits Wails runtime events.
type wailsEmitter struct{ ctx context.Context }

func (w wailsEmitter) Emit(name string, data any) { runtime.EventsEmit(w.ctx, name, data) }

// noEmitter drops events: before the window exists.
type noEmitter struct{}

func (noEmitter) Emit(string, any) {}

// throttle passes values on at most once per interval. A value offered too early waits for the
// next slot and is replaced by any later one; flush sends it at once. Every send happens under
// the throttle's lock, so sends keep their order.
type throttle struct {
	every time.Duration
	send  func(v any)

	mu      sync.Mutex
	last    time.Time
	pending any
	waiting bool
	timer   *time.Timer
	stopped bool
}

func newThrottle(every time.Duration, send func(any)) *throttle {
	return &throttle{every: every, send: send}
}

// offer sends v now when the interval allows, or keeps it for the next slot.
func (t *throttle) offer(v any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	since := time.Since(t.last)
	if !t.waiting && since >= t.every {
		t.last = time.Now()
		t.send(v)
		return
	}
	t.pending, t.waiting = v, true
	if t.timer == nil {
		t.timer = time.AfterFunc(t.every-since, t.fire)
	}
}

func (t *throttle) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	if t.stopped || !t.waiting {
		return
	}
	t.sendPending()
}

func (t *throttle) sendPending() {
	v := t.pending
	t.pending, t.waiting = nil, false
	t.last = time.Now()
	t.send(v)
}

// then sends what waits, then fn's events, in that order (an event that must follow the
// progress so far: started, ended, done).
func (t *throttle) then(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiting && !t.stopped {
		t.sendPending()
	}
	fn()
}

// stop drops what waits; nothing is sent after it returns.
func (t *throttle) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped, t.pending, t.waiting = true, nil, false
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}
