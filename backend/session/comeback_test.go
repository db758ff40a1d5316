package session_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// cutProxy stands between a member and its server: cut closes every connection and turns new
// requests away unanswered, as an unplugged network would, until restore.
type cutProxy struct {
	srv      *httptest.Server
	mu       sync.Mutex
	cut      bool
	conns    map[net.Conn]struct{}
	statuses int // status updates the server accepted while not cut
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{conns: map[net.Conn]struct{}{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = c.Close()
			}
			return
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		if strings.HasSuffix(r.URL.Path, "/status") && rec.status == http.StatusOK {
			p.mu.Lock()
			p.statuses++
			p.mu.Unlock()
		}
	}))
	p.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch s {
		case http.StateNew:
			p.conns[c] = struct{}{}
		case http.StateClosed: // hijacked ones (the push websocket) stay, to be cut
			delete(p.conns, c)
		}
	}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (p *cutProxy) setCut(cut bool) (accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
	}
	return p.statuses
}

func (p *cutProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statuses
}

// A member alone whose server stopped answering for longer than the server wait gives the
// session up, but its run goes on without the server: when the server answers again within the
// wait of Close, the statuses it posted meanwhile are still delivered.
func TestStatusesDeliveredWhenServerComesBack(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	p := newCutProxy(t, ts.URL)
	const wait = time.Second
	m := create(t, p.srv.URL, session.WithServerWait(wait))

	before := p.setCut(true)
	select {
	case <-m.Lost():
	case <-time.After(wait + 30*time.Second):
		t.Fatal("session still held while the server does not answer")
	}
	m.Status(protocol.SynchronizationFinished)
	p.setCut(false)

	undelivered, err := m.Close(context.Background(), 30*time.Second)
	if err != nil || undelivered != 0 {
		t.Fatalf("close: %d undelivered, %v", undelivered, err)
	}
	if p.accepted() <= before {
		t.Fatalf("no status reached the server after it came back (%d before the cut, %d after)", before, p.accepted())
	}
}

// A member alone whose server never comes back waits for it no longer than the wait given,
// and counts the status undelivered.
func TestStatusesUndeliveredWhenServerStaysGone(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	p := newCutProxy(t, ts.URL)
	const wait = time.Second
	m := create(t, p.srv.URL, session.WithServerWait(wait))
	p.setCut(true)
	<-m.Lost()
	m.Status(protocol.SynchronizationFinished)
	undelivered, err := m.Close(context.Background(), 2*time.Second)
	if undelivered == 0 || err == nil {
		t.Fatalf("close: %d undelivered, %v; want the status undelivered", undelivered, err)
	}
}
