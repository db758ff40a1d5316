// Package testcloud runs Ferry's session server inside a test: on a loopback port, stopped when
// the test ends.
package testcloud

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud"
)

// Server is a running session server.
type Server struct {
	URL   string
	Cloud *cloud.Server
	once  sync.Once
	stop  func()
}

// Start runs a session server of cfg on a loopback port, its handler wrapped by wrap when wrap
// is not nil, until Stop or the end of t. The store of cfg stays open: its maker closes it.
func Start(t testing.TB, cfg cloud.Config, wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	srv, err := cloud.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	var h http.Handler = srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	s := &Server{URL: hs.URL, Cloud: srv}
	s.stop = func() {
		hs.CloseClientConnections()
		hs.Close()
		_ = srv.Close()
		cancel()
		<-done
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server as a killed process would stop: its connections are cut and its port
// refuses new ones. Stopping again does nothing.
func (s *Server) Stop() { s.once.Do(s.stop) }
