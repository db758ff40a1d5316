package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/testcloud"
	"github.com/ferrysync/ferry/backend/session"
)

// serviceServer is one server process of a service: a server on a Redis store shared with the
// others, and the token secret of them all.
type serviceServer struct {
	URL  string
	stop func()
}

func startServiceServer(t *testing.T, redisURL, prefix string, secret []byte) *serviceServer {
	t.Helper()
	st, err := store.NewRedis(context.Background(), redisURL, store.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("redis store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() }) // after the server stopped
	s := testcloud.Start(t, cloud.Config{Store: st, Secret: secret}, nil)
	return &serviceServer{URL: s.URL, stop: s.Stop} // as a killed process: connections cut, the port refuses new ones
}

// A member given two URLs of one service keeps its session when the first server stops, for
// longer than the server wait; it gives the session up only once the second stops too.
func TestRedisServerGoneOnlyWhenEveryURLStops(t *testing.T) {
	t.Parallel()
	redisURL, prefix := redistest.URL(t), redistest.Prefix(t)
	secret := bytes.Repeat([]byte("k"), 32)
	first := startServiceServer(t, redisURL, prefix, secret)
	second := startServiceServer(t, redisURL, prefix, secret)
	c := newClient(t, first.URL+","+second.URL)
	const wait = 3 * time.Second // the move to the second server must fit in it, on a busy machine too
	m, err := session.Create(t.Context(), c, nil, session.WithServerWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })

	first.stop()
	select { // three server waits with one URL answering: the session stays
	case <-m.Lost():
		t.Fatalf("session given up while the second server answers: %v", m.Err())
	case <-time.After(3 * wait):
	}
	if s, err := c.Session(t.Context(), m.ID()); err != nil || s.ID != m.ID() {
		t.Fatalf("session read through the second server: %v", err)
	}

	second.stop()
	stopped := time.Now()
	select {
	case <-m.Lost():
	case <-time.After(wait + 30*time.Second):
		t.Fatal("session still held after every server stopped")
	}
	t.Logf("given up %s after the last server stopped", time.Since(stopped).Round(10*time.Millisecond))
	var gone *session.ServerGoneError
	if !errors.As(m.Err(), &gone) || gone.URLs != 2 {
		t.Fatalf("lost with %v, want a *ServerGoneError for 2 URLs", m.Err())
	}
}
