package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Events the receiver emits itself; the server never sends them.
const (
	// EventDisconnected: the push connection broke; the receiver is reconnecting. Data is the
	// reason, a JSON string.
	EventDisconnected protocol.EventType = "ferry.disconnected"
	// EventReconnected: the push connection is back and the followed sessions are subscribed
	// again. Pushes sent meanwhile are lost: read the sessions again.
	EventReconnected protocol.EventType = "ferry.reconnected"
)

// PushOptions tune the push receivers of a Client. The zero value is ready to use.
type PushOptions struct {
	// Buffer is the capacity of the events channel (64 when zero). When it is full, the
	// receiver stops reading until the caller catches up.
	Buffer int
	// Reconnect bounds the waits between connection attempts (200 ms doubling up to 10 s when
	// zero); its Attempts is ignored: the receiver tries until it is closed.
	Reconnect Retry
	// PingInterval is how often the receiver checks that the connection is alive (15 s when
	// zero); a connection silent for two intervals is taken as broken.
	PingInterval time.Duration
}

// Receiver delivers the pushes of the sessions it follows. It connects the websocket, says
// Hello, and connects again with backoff whenever the connection breaks, until it is closed. A
// server that refuses the connection moves the client to its next URL, tried at once; the
// backoff starts once every URL was tried.
type Receiver struct {
	c      *Client
	opts   PushOptions
	events chan protocol.Event
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	sessions []string
	conn     *websocket.Conn // nil while disconnected
	wmu      sync.Mutex      // one writer at a time on conn
}

// Push starts a receiver following sessions (at most protocol.MaxHelloSessions). It runs until
// Close or until ctx ends, then closes its Events channel.
func (c *Client) Push(ctx context.Context, sessions ...string) (*Receiver, error) {
	sessions = dedup(sessions)
	if len(sessions) > protocol.MaxHelloSessions {
		return nil, fmt.Errorf("push: %d sessions, at most %d", len(sessions), protocol.MaxHelloSessions)
	}
	opts := c.push
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	if opts.Reconnect.Base <= 0 {
		opts.Reconnect.Base = 200 * time.Millisecond
	}
	if opts.Reconnect.Max <= 0 {
		opts.Reconnect.Max = max(10*time.Second, opts.Reconnect.Base)
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 15 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Receiver{
		c:        c,
		opts:     opts,
		events:   make(chan protocol.Event, opts.Buffer),
		cancel:   cancel,
		done:     make(chan struct{}),
		sessions: sessions,
	}
	go r.run(ctx)
	return r, nil
}

// Events delivers the pushes in the order the server sent them, and the receiver's own
// EventDisconnected and EventReconnected. It is closed when the receiver ends.
func (r *Receiver) Events() <-chan protocol.Event { return r.events }

// Sessions are the sessions followed.
func (r *Receiver) Sessions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sessions)
}

// Follow adds a session to those followed. The server answers with protocol.EventSubscribed,
// listing it as followed or refused (unknown session, or not a member nor a pending joiner).
func (r *Receiver) Follow(session string) error {
	r.mu.Lock()
	if slices.Contains(r.sessions, session) {
		r.mu.Unlock()
		return nil
	}
	if len(r.sessions) >= protocol.MaxHelloSessions {
		r.mu.Unlock()
		return fmt.Errorf("push: follow %s: already following %d sessions", session, protocol.MaxHelloSessions)
	}
	r.sessions = append(r.sessions, session)
	r.mu.Unlock()
	r.resubscribe()
	return nil
}

// Unfollow removes a session from those followed.
func (r *Receiver) Unfollow(session string) {
	r.mu.Lock()
	i := slices.Index(r.sessions, session)
	if i < 0 {
		r.mu.Unlock()
		return
	}
	r.sessions = slices.Delete(r.sessions, i, i+1)
	r.mu.Unlock()
	r.resubscribe()
}

// Close ends the receiver, closing the connection cleanly, and waits until Events is closed.
// The events still buffered stay readable.
func (r *Receiver) Close() {
	r.cancel()
	<-r.done
}

// resubscribe says Hello again on the live connection with the current sessions. When that
// fails the connection is broken: the next one says Hello with them anyway.
func (r *Receiver) resubscribe() {
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.PingInterval)
	defer cancel()
	if _, err := r.hello(ctx, conn); err != nil {
		r.c.log.Debug("push: resubscribe failed", "err", err)
		conn.Close()
	}
}

// hello says Hello on conn with the sessions followed at the time of writing, so that the last
// Hello written always holds the latest Follow or Unfollow. It returns the token it sent.
func (r *Receiver) hello(ctx context.Context, conn *websocket.Conn) (string, error) {
	token, err := r.c.accessToken(ctx)
	if err != nil {
		return "", fmt.Errorf("push: hello: %w", err)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	h := protocol.Hello{AccessToken: token, Sessions: r.Sessions()}
	if h.Sessions == nil {
		h.Sessions = []string{}
	}
	conn.SetWriteDeadline(time.Now().Add(r.opts.PingInterval))
	if err := conn.WriteJSON(h); err != nil {
		return "", fmt.Errorf("push: hello: %w", err)
	}
	return token, nil
}

func (r *Receiver) run(ctx context.Context) {
	defer close(r.done)
	defer close(r.events)
	wasUp := false // a connection was subscribed before
	failures := 0
	missed := 0 // servers that refused a connection in a row
	for {
		s := r.c.server()
		conn, token, err := r.connect(ctx, s)
		if err == nil {
			missed = 0
			var up bool
			up, err = r.serve(ctx, conn, wasUp)
			if ctx.Err() != nil {
				return
			}
			if up {
				wasUp, failures = true, 0
				reason, _ := json.Marshal(err.Error())
				r.emit(ctx, EventDisconnected, reason)
			}
		}
		if ctx.Err() != nil {
			return
		}
		r.c.log.Debug("push: connection lost", "err", err, "server", s.base.Host)
		if websocket.IsCloseError(err, protocol.CloseUnauthorized) {
			// The server refused the token (it restarted with another secret…): renew it.
			if err := r.c.renew(ctx, token); err != nil {
				r.c.log.Debug("push: renew token", "err", err)
			}
		}
		if errors.Is(err, ErrUnreachable) && len(r.c.servers) > 1 {
			// This server does not answer: the next one is tried at once, and the waits start
			// once every server was tried.
			r.c.moveOn(s.i, err)
			if missed++; missed%len(r.c.servers) != 0 {
				continue
			}
		}
		failures++
		if sleep(ctx, r.opts.Reconnect.backoff(failures)) != nil {
			return
		}
	}
}

// connect dials the websocket of server s and says Hello; it returns the access token it sent.
func (r *Receiver) connect(ctx context.Context, s server) (*websocket.Conn, string, error) {
	u := *s.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/push"
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: r.c.timeout}
	if t, ok := r.c.http.Transport.(*http.Transport); ok { // same proxy and TLS as the calls
		d.Proxy, d.TLSClientConfig = t.Proxy, t.TLSClientConfig
	}
	conn, resp, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		switch {
		case resp != nil && gateway(resp.StatusCode): // a proxy whose server is down
			return nil, "", fmt.Errorf("push: connect: %w: %w (HTTP %d)", ErrUnreachable, err, resp.StatusCode)
		case resp != nil:
			return nil, "", fmt.Errorf("push: connect: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, "", fmt.Errorf("push: connect: %w: %w", ErrUnreachable, err)
	}
	r.setConn(conn) // from now on Follow and Unfollow say Hello again on it
	token, err := r.hello(ctx, conn)
	if err != nil {
		r.setConn(nil)
		conn.Close()
		return nil, "", err
	}
	return conn, token, nil
}

func (r *Receiver) setConn(conn *websocket.Conn) {
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
}

// serve reads events from conn until it breaks or ctx ends, pinging it meanwhile. up tells
// whether the server accepted the Hello (answered protocol.EventSubscribed); after a reconnection
// that answer is followed by EventReconnected.
func (r *Receiver) serve(ctx context.Context, conn *websocket.Conn, reconnected bool) (up bool, err error) {
	defer r.setConn(nil)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { r.keepAlive(ctx, conn) })

	// The deadline counts from when reading starts again, not from the last event: the caller
	// may take its time with the events.
	alive := func() { conn.SetReadDeadline(time.Now().Add(2 * r.opts.PingInterval)) }
	conn.SetPongHandler(func(string) error { alive(); return nil })
	conn.SetReadLimit(protocol.MaxBodyBytes)
	for {
		alive()
		_, data, err := conn.ReadMessage()
		if err != nil {
			return up, err
		}
		var ev protocol.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			r.c.log.Debug("push: undecodable event", "err", err)
			continue
		}
		if !r.deliver(ctx, ev) {
			return up, context.Cause(ctx)
		}
		if ev.Type == protocol.EventSubscribed && !up {
			up = true
			if reconnected && !r.emit(ctx, EventReconnected, nil) {
				return up, context.Cause(ctx)
			}
		}
	}
}

// keepAlive pings conn until ctx ends, then closes it, telling the server first.
func (r *Receiver) keepAlive(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(r.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.wmu.Lock()
			err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(r.opts.PingInterval))
			r.wmu.Unlock()
			if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
				conn.Close()
				return
			}
		case <-ctx.Done():
			r.wmu.Lock()
			conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			r.wmu.Unlock()
			conn.Close()
			return
		}
	}
}

// deliver hands an event to the caller; false when ctx ended first.
func (r *Receiver) deliver(ctx context.Context, ev protocol.Event) bool {
	select {
	case r.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// emit delivers one of the receiver's own events.
func (r *Receiver) emit(ctx context.Context, t protocol.EventType, data json.RawMessage) bool {
	return r.deliver(ctx, protocol.Event{Type: t, At: time.Now().UTC(), Data: data})
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
