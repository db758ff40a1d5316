package cloud

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// newStoreFunc returns an empty store for one test server (or several sharing it).
type newStoreFunc func(t *testing.T) store.Store

func memoryStore(*testing.T) store.Store { return store.NewMemory() }

// redisStores returns a newStoreFunc whose stores all share one Redis and one key prefix, so
// that several of them behave as several server processes.
func redisStores(t *testing.T) newStoreFunc {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	return func(t *testing.T) store.Store {
		s, err := store.NewRedis(context.Background(), url, store.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("redis store: %v", err)
		}
		return s
	}
}

// redisClusterStores is redisStores on the test binary's Redis Cluster.
func redisClusterStores(t *testing.T) newStoreFunc {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	return func(t *testing.T) store.Store {
		s, err := store.NewRedisCluster(context.Background(), c.Addrs(), store.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("redis cluster store: %v", err)
		}
		return s
	}
}

// testClock is the real clock moved by an offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// env is a running server on a loopback port.
type env struct {
	t     *testing.T
	srv   *Server
	store store.Store
	clock *testClock
	URL   string
}

// newEnv starts a server with its own store from newStore; tweak adjusts its Config.
func newEnv(t *testing.T, newStore newStoreFunc, tweak ...func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, newStore(t), tweak...)
}

// newEnvOn starts a server on st, which it closes when the test ends.
func newEnvOn(t *testing.T, st store.Store, tweak ...func(*Config)) *env {
	t.Helper()
	clock := &testClock{}
	cfg := Config{Store: st, Now: clock.Now, Secret: []byte("0123456789abcdef0123456789abcdef")}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = st.Close()
	})
	return &env{t: t, srv: srv, store: st, clock: clock, URL: hs.URL}
}

func (e *env) client() *cloudtest.Client { return cloudtest.LoggedIn(e.t, e.URL) }

// suite runs a test against the memory store (TestServer) and Redis (TestServerRedis).
type suiteTest struct {
	name string
	run  func(t *testing.T, newStore newStoreFunc)
}

var suite []suiteTest

func register(name string, run func(t *testing.T, newStore newStoreFunc)) bool {
	suite = append(suite, suiteTest{name, run})
	return true
}

func TestServer(t *testing.T) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, memoryStore)
		})
	}
}

func TestServerRedis(t *testing.T) {
	redistest.URL(t) // skips when there is no Redis
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, redisStores(t))
		})
	}
}

// sessionJSON is a session as its members read it, for before/after comparisons.
func sessionJSON(t *testing.T, c *cloudtest.Client, id string) string {
	t.Helper()
	b, err := json.Marshal(c.Session(id))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// twoMembers is a session with A (its creator) and B, both with push connections.
type twoMembers struct {
	A, B         *cloudtest.Client
	PushA, PushB *cloudtest.Push
	ID           string
}

func (e *env) twoMembers() *twoMembers {
	t := e.t
	t.Helper()
	a, b := e.client(), e.client()
	s := a.CreateSession("settings-1")
	pa, _ := a.Connect(s.ID)
	admit(t, a, pa, b, s.ID)
	pb, sub := b.Connect(s.ID)
	if len(sub.Sessions) != 1 {
		t.Fatalf("B subscribed to %v", sub)
	}
	return &twoMembers{A: a, B: b, PushA: pa, PushB: pb, ID: s.ID}
}

// admit has joiner join session id through the oldest member (who follows it on push).
func admit(t *testing.T, oldest *cloudtest.Client, push *cloudtest.Push, joiner *cloudtest.Client, id string) {
	t.Helper()
	req, ticket := joiner.AskToJoin(id)
	e := push.Wait(protocol.EventJoinRequested, id)
	if got := cloudtest.Decode[protocol.JoinRequested](t, e); got.Ticket != ticket {
		t.Fatalf("join_requested for ticket %s, want %s", got.Ticket, ticket)
	}
	oldest.Must(http.MethodPost, "/sessions/"+id+"/join/"+ticket+"/admit", oldest.Admission(id, req), nil)
	push.Wait(protocol.EventMemberJoined, id)
}
