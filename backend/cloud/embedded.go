package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

// Embedded is a session server on a loopback port, with its state in memory, for the lifetime
// of one process (the `ferry sync` command, the desktop app): the flow still goes through HTTP
// and the websocket, as with a remote server.
type Embedded struct {
	url  string
	srv  *Server
	http *http.Server
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// StartEmbedded starts a server on 127.0.0.1 on a free port; log may be nil.
func StartEmbedded(ctx context.Context, log *slog.Logger) (*Embedded, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// One user on loopback: its own requests are not rationed, its bodies still bounded.
	srv, err := NewServer(Config{Store: store.NewMemory(), Logger: log,
		Limits: Limits{SessionsPerClient: -1, Rate: -1, AnonRate: -1}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	e := &Embedded{
		url:  "http://" + ln.Addr().String(),
		srv:  srv,
		http: NewHTTPServer(srv.Handler(), log),
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stop = stop
	e.wg.Go(func() { _ = srv.Run(runCtx) })
	e.wg.Go(func() {
		if err := e.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("embedded server", "err", err)
		}
	})
	return e, nil
}

// URL is the server's base URL.
func (e *Embedded) URL() string { return e.url }

// Close stops the server at once: its user has left its sessions, so nothing in flight matters,
// and a graceful shutdown would wait for the client's idle connections.
func (e *Embedded) Close() {
	_ = e.srv.Close()
	_ = e.http.Close()
	e.stop()
	e.wg.Wait()
}

// Timeouts of the HTTP servers of a session server. There is no overall read or write timeout:
// a relayed part may take long on a slow link; bodies are bounded by Limits.BodyTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// NewHTTPServer is an http.Server for h with the timeouts a session server needs: headers
// within 10 s, idle connections closed after 2 minutes, headers of at most 64 KiB.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
