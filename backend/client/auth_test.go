package client

import (
	"bytes"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

// testClock is the real clock moved forward by the test.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// noDate drops the Date header, which follows the real clock, not the test's.
func noDate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		next.ServeHTTP(w, r)
	})
}

// clockedServer runs a server (and its store) on clk, counting requests.
func clockedServer(t *testing.T, clk *testClock, cfg cloud.Config) (*testServer, *counter) {
	cfg.Now = clk.Now
	cfg.Store = store.NewMemoryWithClock(clk.Now)
	n := &counter{}
	return startServer(t, cfg, chain(n.wrap, noDate)), n
}

// TestRefreshBeforeExpiry: the access token is refreshed before it expires, without a refusal.
func TestRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	clk := &testClock{}
	srv, n := clockedServer(t, clk, cloud.Config{AccessTTL: time.Minute})
	c := newClientNoLogin(t, srv.URL(), Options{})
	c.now = clk.Now
	if err := c.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, c)
	for i := 1; i <= 3; i++ {
		clk.Advance(50 * time.Second) // past three quarters of the lifetime
		if _, err := c.Session(t.Context(), s.ID); err != nil {
			t.Fatal(err)
		}
		if got := n.count("POST /auth/refresh"); got != i {
			t.Errorf("after %d lifetimes: %d refreshes", i, got)
		}
	}
	if got := n.code(http.StatusUnauthorized); got != 0 {
		t.Errorf("%d refusals, want none", got)
	}
	if got := n.count("POST /auth/login"); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

// TestRefreshOn401: a token the server refuses while the client holds it for valid is refreshed
// once and the call sent again.
func TestRefreshOn401(t *testing.T) {
	t.Parallel()
	clk := &testClock{} // the server's only
	srv, n := clockedServer(t, clk, cloud.Config{AccessTTL: time.Minute})
	c := newClient(t, srv.URL(), Options{})
	s := newSession(t, c)
	clk.Advance(2 * time.Minute)
	if _, err := c.Session(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if got := n.code(http.StatusUnauthorized); got != 1 {
		t.Errorf("%d refusals, want 1", got)
	}
	if got := n.count("POST /auth/refresh"); got != 1 {
		t.Errorf("%d refreshes, want 1", got)
	}
	if got := n.count("GET /sessions/" + s.ID); got != 2 {
		t.Errorf("the call was sent %d times, want 2", got)
	}
}

// TestReloginWhenRefreshRefused: when the refresh token has expired too, the client logs in
// again.
func TestReloginWhenRefreshRefused(t *testing.T) {
	t.Parallel()
	clk := &testClock{}
	srv, n := clockedServer(t, clk, cloud.Config{AccessTTL: time.Minute, RefreshTTL: 5 * time.Minute})
	c := newClient(t, srv.URL(), Options{})
	s := newSession(t, c)
	clk.Advance(10 * time.Minute)
	if _, err := c.Session(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if got := n.count("POST /auth/refresh"); got != 1 {
		t.Errorf("%d refreshes, want 1", got)
	}
	if got := n.count("POST /auth/login"); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

// TestReloginAfterServerReset: a server that restarted with a new secret and an empty store
// knows neither token; the client logs in again by itself.
func TestReloginAfterServerReset(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{}, n.wrap)
	c := newClient(t, srv.URL(), Options{})
	newSession(t, c)
	srv.Stop()
	srv.cfg.Secret = bytes.Repeat([]byte("t"), 32)
	srv.cfg.Store = store.NewMemory()
	srv.Start()
	if _, err := c.Session(t.Context(), "000aaa000"); Code(err) != "not_found" {
		t.Fatalf("after the reset: %v, want not_found", err)
	}
	newSession(t, c)
	if got := n.count("POST /auth/login"); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

// TestConcurrentRefresh: calls that find the token due at the same time refresh it once (a
// refresh token works once).
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	clk := &testClock{}
	srv, n := clockedServer(t, clk, cloud.Config{AccessTTL: time.Minute})
	c := newClientNoLogin(t, srv.URL(), Options{})
	c.now = clk.Now
	s := newSession(t, c) // logs in
	clk.Advance(55 * time.Second)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := c.Session(t.Context(), s.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := n.count("POST /auth/refresh"); got != 1 {
		t.Errorf("%d refreshes, want 1", got)
	}
	if got := n.count("POST /auth/login"); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

// TestClockSkew: a client whose clock is ahead of the server's measures the token's lifetime on
// the server's clock (its Date header) and does not refresh at every call.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{AccessTTL: time.Minute}, n.wrap)
	c := newClientNoLogin(t, srv.URL(), Options{})
	clk := &testClock{}
	clk.Advance(10 * time.Minute)
	c.now = clk.Now
	s := newSession(t, c)
	for range 3 {
		if _, err := c.Session(t.Context(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.count("POST /auth/refresh"); got != 0 {
		t.Errorf("%d refreshes, want none", got)
	}
	clk.Advance(50 * time.Second)
	if _, err := c.Session(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if got := n.count("POST /auth/refresh"); got != 1 {
		t.Errorf("%d refreshes after 50 s, want 1", got)
	}
}
