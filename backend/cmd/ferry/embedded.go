package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

// embeddedServer is a session server on a loopback port for the duration of one command: the
// flow still goes through HTTP and the websocket, as with a remote server.
type embeddedServer struct {
	url  string
	srv  *cloud.Server
	http *http.Server
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func startEmbeddedServer(ctx context.Context, log *slog.Logger) (*embeddedServer, error) {
	st := store.NewMemory()
	srv, err := cloud.NewServer(cloud.Config{Store: st, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	e := &embeddedServer{
		url:  "http://" + ln.Addr().String(),
		srv:  srv,
		http: &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second},
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

// Close stops the server at once: the command has left its session, so nothing in flight
// matters, and a graceful shutdown would wait for the client's idle connections.
func (e *embeddedServer) Close() {
	_ = e.srv.Close()
	_ = e.http.Close()
	e.stop()
	e.wg.Wait()
}
