package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// waitFor bounds every wait of a test for something to happen.
const waitFor = 10 * time.Second

var _ CloudAPI = (*client.Client)(nil)

// startCloud starts a session server with a memory store on a loopback port, its handler
// behind wrap when not nil, and returns its address.
func startCloud(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	cfg := cloud.Config{Store: store.NewMemory(), Secret: bytes.Repeat([]byte("s"), 32)}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := cloud.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("server run: %v", err)
		}
	}()
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		cancel()
		<-ran
		srv.Close()
		hs.CloseClientConnections()
		hs.Close()
		cfg.Store.Close()
	})
	return hs.URL
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newCloudClient makes a client with a new identity for the server at url, logged in, with
// quick retries of its own (the orchestrator's come on top).
func newCloudClient(t *testing.T, url string) *client.Client {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, id, client.Options{
		Retry: client.Retry{Attempts: 2, Base: time.Millisecond, Max: 5 * time.Millisecond},
		Push:  client.PushOptions{Reconnect: client.Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// pair is a session with two members whose inventory started: a (the oldest, which starts
// runs) owns node A, b owns node B.
type pair struct {
	session string
	a, b    *client.Client
}

// newPair makes the session; a talks to the server at aURL, b at url (the same server, a may
// go through a proxy).
func newPair(t *testing.T, url, aURL string) pair {
	t.Helper()
	ctx := t.Context()
	a, b := newCloudClient(t, aURL), newCloudClient(t, url)
	s, err := a.CreateSession(ctx, protocol.CreateSessionRequest{Settings: protocol.Blob("settings"), PrivateData: protocol.Blob("a")})
	if err != nil {
		t.Fatal(err)
	}
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}
	for node, c := range map[string]*client.Client{"A": a, "B": b} {
		if _, err := c.AddNode(ctx, s.ID, protocol.NodeRequest{ID: node, Data: protocol.Blob("node")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSource(ctx, s.ID, node, protocol.SourceRequest{ID: node + "1", Data: protocol.Blob("src")}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := a.StartInventory(ctx, s.ID); err != nil || !res.Started {
		t.Fatalf("start the inventory: %+v, %v", res, err)
	}
	return pair{session: s.ID, a: a, b: b}
}

// relay follows a session with a push receiver and forwards its events; cut drops them from
// then on, as a broken connection would, and restore forwards them again after a
// client.EventReconnected, as the receiver does.
type relay struct {
	out  chan protocol.Event
	mu   sync.Mutex
	cuts bool
}

// follow returns a relay of c's pushes for session, subscribed.
func follow(t *testing.T, c *client.Client, session string) *relay {
	t.Helper()
	r, err := c.Push(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	timeout := time.After(waitFor)
	for subscribed := false; !subscribed; {
		select {
		case ev := <-r.Events():
			var sub protocol.Subscribed
			if ev.Type == protocol.EventSubscribed && json.Unmarshal(ev.Data, &sub) == nil && slices.Contains(sub.Sessions, session) {
				subscribed = true
			}
		case <-timeout:
			t.Fatalf("no subscription to %s within %v", session, waitFor)
		}
	}
	rl := &relay{out: make(chan protocol.Event, 4096)}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range r.Events() {
			rl.mu.Lock()
			cut := rl.cuts
			rl.mu.Unlock()
			if cut {
				continue
			}
			select {
			case rl.out <- ev:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		r.Close()
		<-done
	})
	return rl
}

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cuts = true
}

func (r *relay) restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cuts = false
	r.out <- protocol.Event{Type: client.EventReconnected, At: time.Now()}
}

// eventLog collects an orchestrator's events.
type eventLog struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced at every event
	closed  chan struct{} // closed with the events channel
}

// newCloud returns an orchestrator of p.session for api, and the log of its events; it is
// closed at the end of the test.
func newCloud(t *testing.T, api CloudAPI, session string, pushes <-chan protocol.Event, o CloudOptions) (*CloudOrchestrator, *eventLog) {
	t.Helper()
	if o.Retry.Base == 0 {
		o.Retry = client.Retry{Base: time.Millisecond, Max: 20 * time.Millisecond}
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	c := NewCloudOrchestrator(api, session, pushes, o)
	l := &eventLog{changed: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		defer close(l.closed)
		for e := range c.Events() {
			l.mu.Lock()
			l.events = append(l.events, e)
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-l.closed
	})
	return c, l
}

func (l *eventLog) snapshot() ([]Event, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events), l.changed
}

// wait waits for an event that ok accepts and returns it.
func (l *eventLog) wait(t *testing.T, what string, ok func(Event) bool) Event {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		events, changed := l.snapshot()
		if i := slices.IndexFunc(events, ok); i >= 0 {
			return events[i]
		}
		select {
		case <-changed:
		case <-l.closed:
			events, _ := l.snapshot()
			if i := slices.IndexFunc(events, ok); i >= 0 {
				return events[i]
			}
			t.Fatalf("events closed without %s: %s", what, describe(events))
		case <-timeout:
			t.Fatalf("no %s within %v: %s", what, waitFor, describe(events))
		}
	}
}

func (l *eventLog) waitType(t *testing.T, typ EventType) Event {
	t.Helper()
	return l.wait(t, string(typ), func(e Event) bool { return e.Type == typ })
}

// waitFinished waits for an event whose counters tell n finished actions.
func (l *eventLog) waitFinished(t *testing.T, n int) Event {
	t.Helper()
	return l.wait(t, fmt.Sprintf("%d finished actions", n), func(e Event) bool { return e.Sync.Progress.FinishedActions >= n })
}

// all waits until the events channel is closed and returns every event.
func (l *eventLog) all(t *testing.T) []Event {
	t.Helper()
	select {
	case <-l.closed:
	case <-time.After(waitFor):
		events, _ := l.snapshot()
		t.Fatalf("events still open after %v: %s", waitFor, describe(events))
	}
	events, _ := l.snapshot()
	return events
}

func describe(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s(v%d %d/%d)", e.Type, e.Sync.Progress.Version, e.Sync.Progress.FinishedActions, e.Sync.Progress.TotalActions)
		if e.Type == EventEnded {
			fmt.Fprintf(&b, "[%s]", e.Sync.EndStatus)
		}
		b.WriteString(" ")
	}
	return b.String()
}

// checkEvents checks the shape of a member's events: one Started first, Progress versions
// rising, at most one AbortRequested, one Ended last with status want.
func checkEvents(t *testing.T, who string, events []Event, want protocol.EndStatus) Event {
	t.Helper()
	count := map[EventType]int{}
	var last int64
	for i, e := range events {
		count[e.Type]++
		switch {
		case i == 0 && e.Type != EventStarted:
			t.Errorf("%s: first event %s, want started", who, e.Type)
		case e.Type == EventProgress && e.Sync.Progress.Version <= last:
			t.Errorf("%s: progress version %d after %d", who, e.Sync.Progress.Version, last)
		}
		last = max(last, e.Sync.Progress.Version)
	}
	if count[EventStarted] != 1 || count[EventEnded] != 1 || count[EventAbortRequested] > 1 {
		t.Errorf("%s: %v events: %s", who, count, describe(events))
	}
	end := events[len(events)-1]
	if end.Type != EventEnded || end.Sync.EndStatus != want {
		t.Errorf("%s: last event %s %q, want ended %q: %s", who, end.Type, end.Sync.EndStatus, want, describe(events))
	}
	return end
}

// copies are n content copies of size bytes read and written by member on node.
func copies(prefix string, n int, member, node string, size int64) []protocol.GroupDefinition {
	defs := make([]protocol.GroupDefinition, n)
	for i := range defs {
		defs[i] = protocol.GroupDefinition{ID: fmt.Sprintf("%s%d", prefix, i), Op: "copy", Source: member,
			Targets: []protocol.Target{{Member: member, Node: node}}, Size: size}
	}
	return defs
}

// creates are n creations on member's node.
func creates(prefix string, n int, member, node string) []protocol.GroupDefinition {
	defs := make([]protocol.GroupDefinition, n)
	for i := range defs {
		defs[i] = protocol.GroupDefinition{ID: fmt.Sprintf("%s%d", prefix, i), Op: "create",
			Targets: []protocol.Target{{Member: member, Node: node}}}
	}
	return defs
}

// results are the successes of defs.
func results(defs []protocol.GroupDefinition) []protocol.ActionResult {
	out := make([]protocol.ActionResult, len(defs))
	for i, d := range defs {
		r := protocol.ActionResult{Group: d.ID, Kind: protocol.ResultCreated}
		if d.Op == "copy" {
			r.Kind, r.Bytes = protocol.ResultCopied, d.Size
		}
		out[i] = r
	}
	return out
}

const resultsRoute = "/synchronization/results"

// batches records the size of every results request that reaches the server.
type batches struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batches) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, resultsRoute) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req protocol.ActionResults
			if json.Unmarshal(body, &req) == nil {
				b.mu.Lock()
				b.sizes = append(b.sizes, len(req.Results))
				b.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (b *batches) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// reads counts the requests reading a run that reach the server.
type reads struct {
	mu      sync.Mutex
	n       int
	changed chan struct{}
}

func newReads() *reads { return &reads{changed: make(chan struct{})} }

func (c *reads) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/synchronization") {
			c.mu.Lock()
			c.n++
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	})
}

// wait waits until n reads were answered.
func (c *reads) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		c.mu.Lock()
		got, changed := c.n, c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%d reads of the synchronization, want %d", got, n)
		}
	}
}

// faultyProxy is a reverse proxy to a server that fails the next results requests.
type faultyProxy struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	mode  string // "503", "429", "drop" (no answer, the server saw nothing), "lose" (the server answered, the answer is lost)
	left  int    // failures still to serve; < 0: fail every one
	seen  int    // failures served
}

// startProxy returns a proxy to the server at target, and its address.
func startProxy(t *testing.T, target string) (*faultyProxy, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	hs := httptest.NewServer(p)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return p, hs.URL
}

// fail makes the next n results requests fail in mode (n < 0: all of them).
func (p *faultyProxy) fail(mode string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.left, p.seen = mode, n, 0
}

func (p *faultyProxy) failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fail := p.left != 0 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, resultsRoute)
	mode := p.mode
	if fail {
		p.left--
		p.seen++
	}
	p.mu.Unlock()
	if !fail {
		p.proxy.ServeHTTP(w, r)
		return
	}
	switch mode {
	case "503":
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
	case "429":
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "lose":
		p.proxy.ServeHTTP(httptest.NewRecorder(), r)
		fallthrough
	default: // drop
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}
}
