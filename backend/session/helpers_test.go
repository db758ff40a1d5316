package session_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/session"
)

// cheapParams keep Argon2id cheap in tests.
var cheapParams = crypto.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}

// testOptions: cheap password hashing, new keys taken without asking.
func testOptions(more ...session.Option) []session.Option {
	return append([]session.Option{session.WithPasswordParams(cheapParams), session.TrustNewKeys(true)}, more...)
}

// testServer is a session server on a loopback port that records what it logs, what it
// publishes and every request body it receives, and lets a test tamper with pushes and
// requests as a malicious server (or network) would.
type testServer struct {
	URL   string
	store store.Store

	tamperPush    func(*store.Message)                   // set before the server starts
	tamperRequest func(r *http.Request, b []byte) []byte // idem

	mu        sync.Mutex
	logs      bytes.Buffer
	published []store.Message
	bodies    [][]byte
}

// storeKind names the stores the join tests run on.
var storeKinds = []string{"memory", "redis"}

// newTestStore makes a store of a kind; Redis tests are skipped when there is no Redis.
func newTestStore(t *testing.T, kind string) (store.Store, string) {
	t.Helper()
	if kind == "memory" {
		return store.NewMemory(), ""
	}
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	st, err := store.NewRedis(context.Background(), url, store.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("redis store: %v", err)
	}
	return st, url + "|" + prefix
}

func newTestServer(t testing.TB, st store.Store, tweak ...func(*testServer)) *testServer {
	t.Helper()
	ts := &testServer{store: st}
	for _, f := range tweak {
		f(ts)
	}
	logger := slog.New(slog.NewTextHandler(lockedWriter{ts}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() { _ = st.Close() }) // after the server stopped
	ts.URL = testcloud.Start(t, cloud.Config{Store: recordingStore{Store: st, ts: ts}, Logger: logger}, ts.wrap).URL
	return ts
}

// wrap records (and maybe changes) request bodies on their way to the server.
func (ts *testServer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Header.Get("Upgrade") == "" {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
			if ts.tamperRequest != nil {
				body = ts.tamperRequest(r, body)
			}
			ts.mu.Lock()
			ts.bodies = append(ts.bodies, slices.Clone(body))
			ts.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		h.ServeHTTP(w, r)
	})
}

// recordingStore records (and maybe changes) what the server publishes.
type recordingStore struct {
	store.Store
	ts *testServer
}

func (s recordingStore) Publish(ctx context.Context, m store.Message) error {
	if s.ts.tamperPush != nil {
		s.ts.tamperPush(&m)
	}
	s.ts.mu.Lock()
	s.ts.published = append(s.ts.published, m)
	s.ts.mu.Unlock()
	return s.Store.Publish(ctx, m)
}

type lockedWriter struct{ ts *testServer }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.ts.mu.Lock()
	defer w.ts.mu.Unlock()
	return w.ts.logs.Write(p)
}

func newClientWith(t testing.TB, url string, id *crypto.Identity) *client.Client {
	t.Helper()
	c, err := client.New(url, id, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

func newIdentity(t testing.TB) *crypto.Identity {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// create makes a session of one member without nodes, closed when the test ends.
func create(t testing.TB, url string, opts ...session.Option) *session.Member {
	t.Helper()
	m, err := session.Create(t.Context(), newClient(t, url), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })
	return m
}

// join has a new client join the session of m with password, bounded by 30 s; the member is
// closed when the test ends.
func join(t *testing.T, c *client.Client, id, password string, nodes []plan.NodeSpec, opts ...session.Option) (*session.Member, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	m, err := session.Join(ctx, c, session.JoinRequest{ID: id, Password: password, Nodes: nodes}, opts...)
	if err == nil {
		t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })
	}
	return m, err
}

// memberIDs reads the members of a session from the server, as m sees them.
func memberIDs(t *testing.T, m *session.Member) []string {
	t.Helper()
	s, err := m.Client().Session(t.Context(), m.ID())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(s.Members))
	for i, mb := range s.Members {
		ids[i] = mb.InstanceID
	}
	return ids
}

// sameKey proves that members hold one session key: each seals, every other opens.
func sameKey(t *testing.T, members ...*session.Member) {
	t.Helper()
	for i, a := range members {
		sealed := a.Key().Seal([]byte("from "+a.Self()), "test")
		for j, b := range members {
			if i == j {
				continue
			}
			got, err := b.Key().Open(sealed, "test")
			if err != nil || string(got) != "from "+a.Self() {
				t.Fatalf("member %d cannot open what member %d sealed: %q %v", j, i, got, err)
			}
		}
	}
}
