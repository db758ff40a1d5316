package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/protocol"
)

// flakyServer is a server behind a proxy that fails the requests it is told to, and a counter
// of the requests that reached the server itself.
func flakyServer(t *testing.T) (*testServer, *flaky, *counter) {
	f, n := &flaky{}, &counter{}
	return startServer(t, cloud.Config{}, chain(f.wrap, n.wrap)), f, n
}

func TestRetryIdempotent(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"503", "drop"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv, f, n := flakyServer(t)
			c := newClient(t, srv.URL(), Options{Retry: fastRetry})
			s := newSession(t, c)
			ctx := t.Context()

			get := "GET /sessions/" + s.ID
			f.fail(get, mode, 3)
			if _, err := c.Session(ctx, s.ID); err != nil {
				t.Fatalf("GET through 3 failures: %v", err)
			}
			if f.failures() != 3 || n.count(get) != 1 {
				t.Errorf("GET: %d failures served, %d reached the server; want 3 and 1", f.failures(), n.count(get))
			}

			put := "PUT /sessions/" + s.ID + "/members/" + c.InstanceID() + "/status"
			f.fail(put, mode, 2)
			applied, err := c.SetStatus(ctx, s.ID, protocol.StatusUpdate{Status: protocol.InventoryFinished, At: time.Now()})
			if err != nil || !applied {
				t.Fatalf("PUT through 2 failures: applied %v, %v", applied, err)
			}
			if f.failures() != 2 || n.count(put) != 1 {
				t.Errorf("PUT: %d failures served, %d reached the server; want 2 and 1", f.failures(), n.count(put))
			}

			if _, err := c.AddNode(ctx, s.ID, protocol.NodeRequest{ID: "n", Data: protocol.Blob("x")}); err != nil {
				t.Fatal(err)
			}
			del := "DELETE /sessions/" + s.ID + "/members/" + c.InstanceID() + "/nodes/n"
			f.fail(del, mode, 1)
			if _, err := c.RemoveNode(ctx, s.ID, "n"); err != nil {
				t.Fatalf("DELETE through 1 failure: %v", err)
			}
			if f.failures() != 1 || n.count(del) != 1 {
				t.Errorf("DELETE: %d failures served, %d reached the server; want 1 and 1", f.failures(), n.count(del))
			}
		})
	}
}

func TestNoRetryNonIdempotent(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"503", "drop"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv, f, n := flakyServer(t)
			c := newClient(t, srv.URL(), Options{Retry: fastRetry})
			f.fail("POST /sessions", mode, 1)
			_, err := c.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: protocol.Blob("s")})
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("create through a failure: %v, want ErrUnreachable", err)
			}
			if mode == "503" && Code(err) != protocol.ErrCodeInternal {
				t.Errorf("a 503 without a protocol body: code %q", Code(err))
			}
			if f.failures() != 1 || n.count("POST /sessions") != 0 {
				t.Errorf("%d failures served, %d reached the server; want 1 and 0", f.failures(), n.count("POST /sessions"))
			}
			// The next one goes through.
			newSession(t, c)
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	srv, f, n := flakyServer(t)
	c := newClient(t, srv.URL(), Options{Retry: fastRetry})
	s := newSession(t, c)
	get := "GET /sessions/" + s.ID
	f.fail(get, "503", 100)
	_, err := c.Session(t.Context(), s.ID)
	var se *StatusError
	if !errors.Is(err, ErrUnreachable) || !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want ErrUnreachable with a 503", err)
	}
	if f.failures() != fastRetry.Attempts || n.count(get) != 0 {
		t.Errorf("%d attempts, want %d", f.failures(), fastRetry.Attempts)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	t.Parallel()
	srv, _, n := flakyServer(t)
	c := newClient(t, srv.URL(), Options{Retry: fastRetry})
	if _, err := c.Session(t.Context(), "000aaa000"); Code(err) != protocol.ErrCodeNotFound {
		t.Fatalf("err = %v", err)
	}
	if got := n.count("GET /sessions/000aaa000"); got != 1 {
		t.Errorf("sent %d times, want 1", got)
	}
}

// TestRetryContext: the waits between attempts end with the context.
func TestRetryContext(t *testing.T) {
	t.Parallel()
	srv, _, _ := flakyServer(t)
	c := newClient(t, srv.URL(), Options{Retry: Retry{Attempts: 10, Base: time.Hour, Max: time.Hour}})
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Session(ctx, "000aaa000")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > waitFor {
		t.Errorf("returned after %v", d)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	r := Retry{Attempts: 4, Base: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 100: time.Second} {
		if got := r.ceiling(attempt); got != want {
			t.Errorf("ceiling(%d) = %v, want %v", attempt, got, want)
		}
		for range 100 {
			if d := r.backoff(attempt); d < 0 || d >= want {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", attempt, d, want)
			}
		}
	}
	if got := (Retry{}).withDefaults(); got != defaultRetry {
		t.Errorf("zero Retry = %+v, want %+v", got, defaultRetry)
	}
}

// A server over its rate refuses before acting: even a non-idempotent call is sent again after
// the backoff, and gets through.
func TestRetryRateLimited(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{Limits: cloud.Limits{Rate: 50, Burst: 2}}, n.wrap)
	c := newClient(t, srv.URL(), Options{Retry: Retry{Attempts: 6, Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	for i := range 5 {
		if _, err := c.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: protocol.Blob("s")}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if n.code(http.StatusTooManyRequests) == 0 {
		t.Fatal("no request was over the rate: the test proves nothing")
	}
	if created := n.code(http.StatusCreated); created != 5 {
		t.Fatalf("%d sessions created, want 5", created)
	}
}

// A body over the server's limit is refused at once with a clear error, never sent again.
func TestTooLargeIsClear(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{Limits: cloud.Limits{BodyBytes: 2048}}, n.wrap)
	c := newClient(t, srv.URL(), Options{Retry: fastRetry})
	s := newSession(t, c)
	_, err := c.UpdateSettings(t.Context(), s.ID, make(protocol.Blob, 4096))
	if Code(err) != protocol.ErrCodeTooLarge || !strings.Contains(err.Error(), "refuses a request this large") {
		t.Fatalf("settings over the limit: %v", err)
	}
	if errors.Is(err, ErrUnreachable) || n.count("PUT /sessions/"+s.ID+"/settings") != 1 {
		t.Fatalf("a 413 was retried or taken for an outage: %d sends, %v", n.count("PUT /sessions/"+s.ID+"/settings"), err)
	}
}

// Which refusals are sent again, and for which calls.
func TestMayRetry(t *testing.T) {
	t.Parallel()
	answer := func(status int, code string) error {
		return responseErrorFor(status, code)
	}
	for _, tc := range []struct {
		err        error
		idempotent bool
		want       bool
	}{
		{answer(http.StatusTooManyRequests, protocol.ErrCodeRateLimited), false, true},
		{answer(http.StatusTooManyRequests, protocol.ErrCodeSessionLimit), true, true},
		{answer(http.StatusServiceUnavailable, protocol.ErrCodeBusy), false, true},
		{answer(http.StatusServiceUnavailable, protocol.ErrCodeUnavailable), true, true},
		{answer(http.StatusServiceUnavailable, protocol.ErrCodeUnavailable), false, false}, // may have acted
		{answer(http.StatusRequestEntityTooLarge, protocol.ErrCodeTooLarge), true, false},
		{answer(http.StatusNotFound, protocol.ErrCodeNotFound), true, false},
	} {
		if got := mayRetry(tc.err, tc.idempotent); got != tc.want {
			t.Errorf("mayRetry(%v, idempotent %v) = %v, want %v", tc.err, tc.idempotent, got, tc.want)
		}
	}
}
