// Package cloudtest is a small client of the session server for tests: it logs in with a real
// Ed25519 key, calls routes with raw or typed bodies and reads pushes from a real websocket.
package cloudtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Wait bounds every wait for a push.
const Wait = 10 * time.Second

// Client is one client instance.
type Client struct {
	t        testing.TB
	URL      string // the server, e.g. http://127.0.0.1:7420
	Key      ed25519.PrivateKey
	Instance string
	Tokens   protocol.Tokens
	HTTP     *http.Client
}

// New returns a client with a fresh key and instance id; it is not logged in.
func New(t testing.TB, url string) *Client {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Client{t: t, URL: strings.TrimSuffix(url, "/"), Key: key, Instance: "inst-" + hex.EncodeToString(b), HTTP: &http.Client{Timeout: Wait}}
}

// LoggedIn returns a new client, logged in.
func LoggedIn(t testing.TB, url string) *Client {
	t.Helper()
	c := New(t, url)
	c.Login()
	return c
}

// Sibling is another instance of the same installation (same key), not logged in.
func (c *Client) Sibling() *Client {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Client{t: c.t, URL: c.URL, Key: c.Key, Instance: "inst-" + hex.EncodeToString(b), HTTP: c.HTTP}
}

// Public is the client's public key.
func (c *Client) Public() ed25519.PublicKey { return c.Key.Public().(ed25519.PublicKey) }

// Challenge asks for a login nonce.
func (c *Client) Challenge() protocol.Challenge {
	c.t.Helper()
	var ch protocol.Challenge
	if st, perr := c.Call(http.MethodPost, "/auth/challenge", protocol.ChallengeRequest{PublicKey: c.Public()}, &ch); st != http.StatusOK {
		c.t.Fatalf("challenge: %d %v", st, perr)
	}
	return ch
}

// LoginRequest is a correctly signed login for nonce.
func (c *Client) LoginRequest(nonce []byte) protocol.LoginRequest {
	return protocol.LoginRequest{
		PublicKey:       c.Public(),
		InstanceID:      c.Instance,
		ProtocolVersion: protocol.Version,
		Nonce:           nonce,
		Signature:       ed25519.Sign(c.Key, protocol.LoginMessage(nonce, c.Instance, protocol.Version)),
		MachineOS:       "linux",
	}
}

// Login logs in, failing the test on any error.
func (c *Client) Login() {
	c.t.Helper()
	ch := c.Challenge()
	if st, perr := c.Call(http.MethodPost, "/auth/login", c.LoginRequest(ch.Nonce), &c.Tokens); st != http.StatusOK {
		c.t.Fatalf("login: %d %v", st, perr)
	}
}

// Call sends body (nil: none; []byte or string: as is; anything else: as JSON) to the route
// (relative to /api/v1) with the client's access token, decodes a 2xx answer into out (when not
// nil) and returns the status and, for an error, its protocol.Error.
func (c *Client) Call(method, route string, body, out any) (int, *protocol.Error) {
	c.t.Helper()
	return c.CallAs(c.Tokens.AccessToken, method, route, body, out)
}

// CallAs is Call with another access token ("" sends none).
func (c *Client) CallAs(token, method, route string, body, out any) (int, *protocol.Error) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.URL+protocol.APIPrefix+route, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, route, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read: %v", method, route, err)
	}
	if resp.StatusCode >= 300 {
		var perr protocol.Error
		if err := json.Unmarshal(data, &perr); err != nil || perr.Code == "" {
			c.t.Fatalf("%s %s: %d with a body that is not a protocol.Error: %q", method, route, resp.StatusCode, data)
		}
		return resp.StatusCode, &perr
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, route, data, err)
		}
	}
	return resp.StatusCode, nil
}

// Must is Call that fails the test unless the answer is 2xx.
func (c *Client) Must(method, route string, body, out any) {
	c.t.Helper()
	if st, perr := c.Call(method, route, body, out); st >= 300 {
		c.t.Fatalf("%s %s: %d %v", method, route, st, perr)
	}
}

// CreateSession creates a session with the given settings.
func (c *Client) CreateSession(settings string) protocol.Session {
	c.t.Helper()
	var s protocol.Session
	c.Must(http.MethodPost, "/sessions", protocol.CreateSessionRequest{Settings: []byte(settings), PrivateData: []byte("machine of " + c.Instance)}, &s)
	return s
}

// Session reads a session.
func (c *Client) Session(id string) protocol.Session {
	c.t.Helper()
	var s protocol.Session
	c.Must(http.MethodGet, "/sessions/"+id, nil, &s)
	return s
}

// Push is a push websocket.
type Push struct {
	t      testing.TB
	ws     *websocket.Conn
	events chan protocol.Event
	closed chan struct{} // closed when the connection ends
	err    error         // why it ended; read after closed
}

// Dial opens a push websocket without saying Hello.
func (c *Client) Dial() *Push {
	c.t.Helper()
	u := "ws" + strings.TrimPrefix(c.URL, "http") + protocol.APIPrefix + "/push"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		c.t.Fatalf("dial %s: %v", u, err)
	}
	p := &Push{t: c.t, ws: ws, events: make(chan protocol.Event, 4096), closed: make(chan struct{})}
	go p.read()
	c.t.Cleanup(p.Close)
	return p
}

// Connect opens a push websocket following sessions and returns the subscribed answer.
func (c *Client) Connect(sessions ...string) (*Push, protocol.Subscribed) {
	c.t.Helper()
	p := c.Dial()
	return p, p.Hello(c.Tokens.AccessToken, sessions...)
}

func (p *Push) read() {
	defer close(p.closed)
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			p.err = err
			return
		}
		var e protocol.Event
		if err := json.Unmarshal(data, &e); err != nil {
			p.err = fmt.Errorf("decode push %q: %w", data, err)
			return
		}
		p.events <- e
	}
}

// Send writes a raw message.
func (p *Push) Send(data []byte) {
	p.t.Helper()
	if err := p.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		p.t.Fatalf("push send: %v", err)
	}
}

// SendBinary writes a raw binary message.
func (p *Push) SendBinary(data []byte) {
	p.t.Helper()
	if err := p.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		p.t.Fatalf("push send: %v", err)
	}
}

// Hello sends a Hello and waits for its answer.
func (p *Push) Hello(token string, sessions ...string) protocol.Subscribed {
	p.t.Helper()
	data, _ := json.Marshal(protocol.Hello{AccessToken: token, Sessions: append([]string{}, sessions...)})
	p.Send(data)
	e := p.Wait(protocol.EventSubscribed, "")
	var sub protocol.Subscribed
	if err := json.Unmarshal(e.Data, &sub); err != nil {
		p.t.Fatalf("subscribed: %v", err)
	}
	return sub
}

// Next returns the next event, failing the test after Wait.
func (p *Push) Next() protocol.Event {
	p.t.Helper()
	e, ok := p.NextWithin(Wait)
	if !ok {
		p.t.Fatalf("no push within %v (connection: %v)", Wait, p.Err())
	}
	return e
}

// NextWithin returns the next event, or false when none came within d or the connection ended.
func (p *Push) NextWithin(d time.Duration) (protocol.Event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case e := <-p.events:
		return e, true
	case <-p.closed:
		select {
		case e := <-p.events:
			return e, true
		default:
			return protocol.Event{}, false
		}
	case <-t.C:
		return protocol.Event{}, false
	}
}

// Wait skips events until one of type typ (about session, when not empty) arrives.
func (p *Push) Wait(typ protocol.EventType, session string) protocol.Event {
	p.t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		e, ok := p.NextWithin(time.Until(deadline))
		if !ok {
			p.t.Fatalf("no %s push for session %q within %v (connection: %v)", typ, session, Wait, p.Err())
		}
		if e.Type == typ && (session == "" || e.Session == session) {
			return e
		}
	}
}

// Closed waits until the server closes the connection and returns the close error.
func (p *Push) Closed() *websocket.CloseError {
	p.t.Helper()
	select {
	case <-p.closed:
	case <-time.After(Wait):
		p.t.Fatalf("connection still open after %v", Wait)
	}
	ce, ok := p.err.(*websocket.CloseError)
	if !ok {
		p.t.Fatalf("connection ended without a close frame: %v", p.err)
	}
	return ce
}

// Err tells why the connection ended (nil while it is open).
func (p *Push) Err() error {
	select {
	case <-p.closed:
		return p.err
	default:
		return nil
	}
}

// Close closes the connection.
func (p *Push) Close() {
	_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = p.ws.Close()
	<-p.closed
}

// Decode decodes the data of an event.
func Decode[T any](t testing.TB, e protocol.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("decode %s data %q: %v", e.Type, e.Data, err)
	}
	return v
}

// WithTimeout is a context bounded by Wait.
func WithTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return ctx
}
