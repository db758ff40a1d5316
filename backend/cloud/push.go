package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Pushes: every event goes through Store.Publish; each server process reads them all from its
// Store.Subscribe loop (Run) and hands them to its own websockets. A websocket follows the
// sessions its client named in a Hello and is a member of (or asks to join), and receives the
// events addressed to its client instance.

const (
	helloTimeout = 10 * time.Second
	writeTimeout = 10 * time.Second
	pongWait     = 60 * time.Second
	pingPeriod   = 25 * time.Second
	closeGrace   = time.Second // wait for the client's close frame before dropping the connection
	sendQueue    = 256         // events waiting for a slow client before it is disconnected
	maxHello     = 16 << 10
	// admittedKeep is how long the hub remembers a join_admitted push it routed, for a Hello
	// of the joiner that read the session before its admission (resync).
	admittedKeep = 10 * time.Minute
)

var errHubClosed = errors.New("server stopping")

// hub routes events to this process's websockets.
type hub struct {
	s *Server

	mu        sync.Mutex
	closed    bool
	conns     map[*conn]struct{}
	byKey     map[string]map[*conn]struct{} // principal key → its connections
	bySession map[string]map[*conn]struct{} // session → connections following it
	interest  map[string]time.Time          // session → when a local connection last followed it
	admitted  map[string]time.Time          // principal key and session → when join_admitted was routed
}

// conn is one push websocket: a reader (the handler goroutine) and a writer goroutine fed by a
// bounded queue.
type conn struct {
	ws         *websocket.Conn
	send       chan []byte
	done       chan struct{} // closed by kill: the writer closes the websocket
	killOnce   sync.Once
	closeCode  int
	closeText  string
	readerDone chan struct{}
	writerDone chan struct{}

	// Guarded by hub.mu.
	p    principal
	subs map[string]bool // session → full (true) or pending join (false)
}

func newHub(s *Server) *hub {
	return &hub{
		s:         s,
		conns:     make(map[*conn]struct{}),
		byKey:     make(map[string]map[*conn]struct{}),
		bySession: make(map[string]map[*conn]struct{}),
		interest:  make(map[string]time.Time),
		admitted:  make(map[string]time.Time),
	}
}

// kill closes the connection with a close code, without blocking.
func (c *conn) kill(code int, text string) {
	c.killOnce.Do(func() {
		c.closeCode, c.closeText = code, clipClose(text)
		close(c.done)
	})
}

// clipClose fits a close reason in a control frame.
func clipClose(s string) string {
	const n = 120
	if len(s) <= n {
		return s
	}
	for i := n; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return ""
}

// enqueue queues an event; a client whose queue is full is disconnected (it reconnects and reads
// the state again).
func (c *conn) enqueue(data []byte) {
	select {
	case c.send <- data:
	default:
		c.kill(websocket.CloseTryAgainLater, "too slow: reconnect and read the sessions again")
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case data := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
				c.kill(websocket.CloseAbnormalClosure, "")
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				c.kill(websocket.CloseAbnormalClosure, "")
			}
		case <-c.done:
			if c.closeCode != websocket.CloseAbnormalClosure {
				msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
				if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeTimeout)) == nil {
					select {
					case <-c.readerDone:
					case <-time.After(closeGrace):
					}
				}
			}
			_ = c.ws.Close()
			return
		}
	}
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// Any origin: a push connection carries no ambient credentials; the client authenticates in
	// its Hello with a bearer token.
	CheckOrigin: func(*http.Request) bool { return true },
}

// handlePush: GET /push, the websocket.
func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	up := upgrader
	up.Error = func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
		s.writeError(w, newError(status, protocol.ErrCodeBadRequest, "websocket: %v", reason))
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c := &conn{
		ws:         ws,
		send:       make(chan []byte, sendQueue),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go c.writeLoop()
	s.readLoop(r.Context(), c)
	close(c.readerDone)
	s.hub.unregister(c)
	c.kill(websocket.CloseNormalClosure, "")
	<-c.writerDone
}

// readLoop reads Hellos until the connection ends.
func (s *Server) readLoop(ctx context.Context, c *conn) {
	ws := c.ws
	ws.SetReadLimit(maxHello)
	_ = ws.SetReadDeadline(time.Now().Add(helloTimeout))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	var self principal
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return // a message over the limit was answered with 1009 by the websocket library
		}
		if typ != websocket.TextMessage {
			c.kill(protocol.CloseBadHello, "want a JSON Hello in a text message")
			return
		}
		hello, err := decodeHello(data)
		if err != nil {
			c.kill(protocol.CloseBadHello, err.Error())
			return
		}
		p, err := s.tokens.parse(hello.AccessToken)
		if err != nil {
			c.kill(protocol.CloseUnauthorized, err.Error())
			return
		}
		first := self == principal{}
		if !first && p != self {
			c.kill(protocol.CloseForbidden, "a push connection serves one client instance")
			return
		}
		self = p
		if first {
			if err := s.waitReady(ctx); err != nil {
				c.kill(websocket.CloseTryAgainLater, "server not ready")
				return
			}
			s.touch(ctx, p)
		}
		subs, answer := s.subscriptions(ctx, p, hello.Sessions)
		// Report the member present before answering: once subscribed, the sessions say so.
		for id, full := range subs {
			if full {
				s.sweepSession(ctx, id)
			}
		}
		if err := s.hub.subscribe(c, p, subs, s.event(protocol.EventSubscribed, "", p.InstanceID, answer)); err != nil {
			c.kill(websocket.CloseGoingAway, err.Error())
			return
		}
		// Membership may have changed while the connection was not registered yet (an admission
		// or a quit whose push went by): check again now that every later push reaches it.
		if again, _ := s.subscriptions(ctx, p, hello.Sessions); !maps.Equal(again, subs) {
			s.hub.resync(c, subs, again)
		}
		_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// waitReady waits until Run listens to the store, so that no event is lost after "subscribed".
func (s *Server) waitReady(ctx context.Context) error {
	t := time.NewTimer(helloTimeout)
	defer t.Stop()
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("not running")
	}
}

// subscriptions sorts the sessions of a Hello: followed fully by members, pending for a joiner
// waiting for admission, refused otherwise.
func (s *Server) subscriptions(ctx context.Context, p principal, ids []string) (map[string]bool, protocol.Subscribed) {
	subs := make(map[string]bool, len(ids))
	answer := protocol.Subscribed{Sessions: []string{}}
	for _, id := range ids {
		sess, err := s.store.GetSession(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("read a session for a push subscription", "session", id, "err", err)
		}
		switch {
		case err != nil:
			answer.Refused = append(answer.Refused, id)
		case memberIndex(sess, p) >= 0:
			subs[id] = true
			answer.Sessions = append(answer.Sessions, id)
		case pendingJoin(sess, p):
			subs[id] = false
			answer.Sessions = append(answer.Sessions, id)
		default:
			answer.Refused = append(answer.Refused, id)
		}
	}
	return subs, answer
}

func pendingJoin(sess *store.Session, p principal) bool {
	for _, j := range sess.Joins {
		if j.InstanceID == p.InstanceID && j.ClientID == p.ClientID {
			return true
		}
	}
	return false
}

// subscribe registers c for p (first Hello) and replaces its subscriptions; the answer is queued
// before any event of the new subscriptions.
func (h *hub) subscribe(c *conn, p principal, subs map[string]bool, answer protocol.Event) error {
	data, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHubClosed
	}
	if _, ok := h.conns[c]; !ok {
		h.conns[c] = struct{}{}
		c.p = p
		addTo(h.byKey, p.key(), c)
	}
	now := time.Now()
	for id := range c.subs {
		if _, keep := subs[id]; !keep {
			h.unfollowLocked(c, id, now)
		}
	}
	for id, full := range subs {
		addTo(h.bySession, id, c)
		if c.subs == nil {
			c.subs = make(map[string]bool)
		}
		c.subs[id] = full
	}
	c.enqueue(data)
	return nil
}

// resync corrects the subscriptions of c from was to now: it drops what is no longer allowed
// and turns pending joins that became memberships into full subscriptions when their
// join_admitted push went by before c was registered. It adds nothing.
func (h *hub) resync(c *conn, was, now map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range was {
		full, ok := now[id]
		if _, following := c.subs[id]; !following {
			continue // a push dropped it meanwhile
		}
		switch {
		case !ok:
			h.unfollowLocked(c, id, time.Now())
		case full && !c.subs[id]:
			// A join_admitted push still on its way turns the subscription full itself, in
			// order: the joiner receives it first, and none of the session's pushes published
			// before it.
			if _, routed := h.admitted[admittedKey(c.p.key(), id)]; routed {
				c.subs[id] = true
			}
		}
	}
}

// admittedKey names a join_admitted push by its principal key and session.
func admittedKey(key, session string) string { return key + "\x00" + session }

// admittedLocked remembers, for admittedKeep, that a join_admitted push was routed (key:
// admittedKey).
func (h *hub) admittedLocked(key string, now time.Time) {
	for k, t := range h.admitted {
		if now.Sub(t) > admittedKeep {
			delete(h.admitted, k)
		}
	}
	h.admitted[key] = now
}

func (h *hub) unregister(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	now := time.Now()
	for id := range c.subs {
		h.unfollowLocked(c, id, now)
	}
	delete(h.conns, c)
	removeFrom(h.byKey, c.p.key(), c)
}

// unfollowLocked ends the subscription of c to a session; the session stays watched for presence
// a while, so that its members are seen leaving.
func (h *hub) unfollowLocked(c *conn, id string, now time.Time) {
	if c.subs[id] {
		h.interest[id] = now
	}
	delete(c.subs, id)
	removeFrom(h.bySession, id, c)
}

func addTo(m map[string]map[*conn]struct{}, k string, c *conn) {
	set := m[k]
	if set == nil {
		set = make(map[*conn]struct{})
		m[k] = set
	}
	set[c] = struct{}{}
}

func removeFrom(m map[string]map[*conn]struct{}, k string, c *conn) {
	delete(m[k], c)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// dispatch hands a published message to the local connections it is for. It never blocks: a
// connection that cannot take it is disconnected.
func (h *hub) dispatch(m store.Message) {
	data, err := json.Marshal(m.Event)
	if err != nil {
		h.s.log.Error("encode a push", "event", m.Event.Type, "err", err)
		return
	}
	id := m.Event.Session
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case m.To != "":
		if m.Event.Type == protocol.EventJoinAdmitted {
			h.admittedLocked(admittedKey(m.To, id), time.Now())
		}
		for c := range h.byKey[m.To] {
			c.enqueue(data)
			full, following := c.subs[id]
			switch {
			case !following || full:
			case m.Event.Type == protocol.EventJoinAdmitted:
				c.subs[id] = true
			case m.Event.Type == protocol.EventJoinRefused:
				h.unfollowLocked(c, id, time.Now())
			}
		}
	case m.Session != "":
		for c := range h.bySession[m.Session] {
			if c.subs[m.Session] {
				c.enqueue(data)
			}
			if m.Event.Type == protocol.EventMemberQuit && c.p.InstanceID == m.Event.Member {
				h.unfollowLocked(c, m.Session, time.Now())
			}
		}
	}
}

// closeAll disconnects every connection and refuses new ones.
// closeAll tells every connection the server is stopping and waits, a bounded time, until their
// close frames are written, so a process that exits next does not cut them short.
func (h *hub) closeAll() {
	h.mu.Lock()
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		c.kill(websocket.CloseGoingAway, "server stopping")
		conns = append(conns, c)
	}
	h.mu.Unlock()
	deadline := time.After(writeTimeout + closeGrace)
	for _, c := range conns {
		select {
		case <-c.writerDone:
		case <-deadline:
			return
		}
	}
}

// principals lists the clients holding a connection here.
func (h *hub) principals() []principal {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]principal, 0, len(h.byKey))
	for _, set := range h.byKey {
		for c := range set {
			out = append(out, c.p)
			break
		}
	}
	return out
}

// watched lists the sessions whose presence this process keeps: those a local connection follows
// as a member, and those it followed less than keep ago.
func (h *hub) watched(keep time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for id, set := range h.bySession {
		for c := range set {
			if c.subs[id] {
				h.interest[id] = now
				break
			}
		}
	}
	out := make([]string, 0, len(h.interest))
	for id, t := range h.interest {
		if now.Sub(t) > keep {
			delete(h.interest, id)
			continue
		}
		out = append(out, id)
	}
	return out
}
