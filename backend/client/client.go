// Package client talks to Ferry's session server: typed calls for the HTTP API with login,
// token refresh and bounded retries, a push receiver that reconnects by itself, and an outbox
// that delivers member statuses in order while the server comes and goes. A client may be given
// several URLs of one service, and moves to the next when its server stops answering.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// ErrUnreachable is in the chain of an error when the server could not be reached: a network
// error, or a gateway in front of it answering 502, 503 or 504 after every retry.
var ErrUnreachable = errors.New("server unreachable")

// Options tune a Client. The zero value is ready to use.
type Options struct {
	// HTTPClient sends the requests; nil means a client of its own with keep-alive connections.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt of one request (30 s when zero).
	RequestTimeout time.Duration
	// Retry shapes the retries of idempotent calls (see Retry for the defaults).
	Retry Retry
	// MachineOS is sent at login (runtime.GOOS when empty).
	MachineOS string
	// Push tunes the push receivers (Push).
	Push PushOptions
	// Outbox tunes the status outboxes (NewOutbox).
	Outbox OutboxOptions
	// Logger receives debug lines about retries, refreshes and reconnections (none when nil).
	Logger *slog.Logger
}

// Client is one client instance of an installation: a new instance id at every New, one login,
// and the calls made on its behalf. It is safe for concurrent use.
type Client struct {
	servers    []*url.URL   // scheme and host, with the API prefix as path; one service
	cur        atomic.Int32 // index in servers of the server in use
	id         *crypto.Identity
	instanceID string
	http       *http.Client
	timeout    time.Duration
	retry      Retry
	machineOS  string
	log        *slog.Logger
	push       PushOptions
	outbox     OutboxOptions
	auth       auth
	now        func() time.Time // the client's clock, for token lifetimes
}

// New makes a client for the server at baseURL (e.g. "https://ferry.example:7420"), acting for
// the installation id. baseURL may list several URLs of the same service (processes sharing
// one Redis, secret and relay storage) separated by commas: the client uses the first, and
// moves to the next one when its server stops answering. It does not contact the server;
// Login does, and so does any call made before it.
func New(baseURL string, id *crypto.Identity, opts Options) (*Client, error) {
	if id == nil || len(id.Private) == 0 {
		return nil, errors.New("client: no identity")
	}
	list := ServerList(baseURL)
	if len(list) == 0 {
		return nil, fmt.Errorf("client: no server address: want http://HOST[:PORT] or https://…")
	}
	var servers []*url.URL
	for _, s := range list {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("client: server address: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: server address %q: want http://HOST[:PORT] or https://…", s)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + protocol.APIPrefix
		u.RawQuery, u.Fragment = "", ""
		servers = append(servers, u)
	}

	c := &Client{
		servers:    servers,
		id:         id,
		instanceID: newInstanceID(id.ClientID()),
		http:       opts.HTTPClient,
		timeout:    opts.RequestTimeout,
		retry:      opts.Retry.withDefaults(),
		machineOS:  opts.MachineOS,
		log:        opts.Logger,
		push:       opts.Push,
		outbox:     opts.Outbox,
		now:        time.Now,
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		c.http = &http.Client{Transport: t}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.machineOS == "" {
		c.machineOS = runtime.GOOS
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.auth.init()
	return c, nil
}

// newInstanceID is the installation's client id followed by 16 random hex digits.
func newInstanceID(clientID string) string {
	var b [8]byte
	rand.Read(b[:])
	return clientID + "_" + hex.EncodeToString(b[:])
}

// ServerList splits a list of server URLs separated by commas, dropping spaces and empty items.
func ServerList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// server is one of the client's servers: its index and API root.
type server struct {
	i    int
	base *url.URL
}

// server is the server in use.
func (c *Client) server() server {
	i := int(c.cur.Load())
	return server{i: i, base: c.servers[i]}
}

// Server is the URL of the server in use, with the API prefix.
func (c *Client) Server() string { return c.server().base.String() }

// Servers is how many server URLs the client has, all of one service.
func (c *Client) Servers() int { return len(c.servers) }

// moveOn moves the client from server from, which did not answer (err), to the next one; it
// does nothing when another call moved it already.
func (c *Client) moveOn(from int, err error) {
	if len(c.servers) < 2 {
		return
	}
	to := (from + 1) % len(c.servers)
	if c.cur.CompareAndSwap(int32(from), int32(to)) {
		c.log.Warn("session server not answering, moving to the next one",
			"from", c.servers[from].Host, "to", c.servers[to].Host, "err", err)
	}
}

// roam runs try on the server in use, with try's own retries. When that server cannot be
// reached the client moves to the next one, and try runs there too, each server at most once:
// unless the request may have acted (resend false) and was sent, in which case the error
// returns and the next request goes to the next server.
func (c *Client) roam(ctx context.Context, resend bool, try func(server) error) error {
	s := c.server()
	for tried := 1; ; tried++ {
		err := try(s)
		if err == nil || ctx.Err() != nil || !errors.Is(err, ErrUnreachable) || len(c.servers) == 1 {
			return err
		}
		c.moveOn(s.i, err)
		if tried >= len(c.servers) {
			return fmt.Errorf("none of the %d server URLs answered: %w", len(c.servers), err)
		}
		if !resend && !unsent(err) {
			return err
		}
		s = c.server()
	}
}

// unsent tells a network error that happened before the request left: it failed to connect.
func unsent(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// InstanceID names this client instance; it is the member id in sessions.
func (c *Client) InstanceID() string { return c.instanceID }

// ClientID names the installation.
func (c *Client) ClientID() string { return c.id.ClientID() }

// call describes one API request.
type call struct {
	op         string // for errors: "create session"
	method     string
	path       string     // below the API prefix, escaped
	in, out    any        // request and response bodies; nil for none
	idempotent bool       // may be sent again after a failure
	date       *time.Time // receives the answer's Date header, when set
}

// do sends a call with its retries and token renewal, and decodes the answer. When the server
// cannot be reached the call moves on to the next server (roam).
func (c *Client) do(ctx context.Context, k call) error {
	var body []byte
	if k.in != nil {
		var err error
		if body, err = json.Marshal(k.in); err != nil {
			return fmt.Errorf("%s: %w", k.op, err)
		}
	}
	err := c.roam(ctx, k.idempotent, func(s server) error { return c.doOn(ctx, s, k, body) })
	if err != nil {
		return fmt.Errorf("%s: %w", k.op, err)
	}
	return nil
}

// doOn sends a call to server s, with its retries and token renewal.
func (c *Client) doOn(ctx context.Context, s server, k call, body []byte) error {
	renewed := false
	for attempt := 1; ; attempt++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		err = c.send(ctx, s, k, body, token)
		var se *StatusError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case errors.As(err, &se) && se.Status == http.StatusUnauthorized && !renewed:
			// Token refused (clock skew, server restarted with another secret): renew it once
			// and send again; the refusal means the server did nothing.
			renewed = true
			attempt--
			if err := c.renew(ctx, token); err != nil {
				return err
			}
			continue
		case !mayRetry(err, k.idempotent) || attempt >= c.retry.Attempts:
			return err
		}
		d := c.retry.wait(attempt, err)
		c.log.Debug("retrying", "op", k.op, "attempt", attempt, "wait", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// mayRetry tells whether a call that failed with err may be sent again: an idempotent one when
// the server could not be reached, any call the server turned away before doing anything (over
// its rate, busy).
func mayRetry(err error, idempotent bool) bool {
	return idempotent && errors.Is(err, ErrUnreachable) || untried(err)
}

// untried tells the answers of a server that refused a request before acting on it: 429, and
// 503 busy. Sending it again later may work.
func untried(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	return se.Status == http.StatusTooManyRequests ||
		se.Status == http.StatusServiceUnavailable && se.Err.Code == protocol.ErrCodeBusy
}

// send makes one attempt on server s; any answer but a 2xx is an error.
func (c *Client) send(ctx context.Context, s server, k call, body []byte, token string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, s.base.String()+k.path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if k.date != nil {
		*k.date, _ = http.ParseTime(resp.Header.Get("Date"))
	}
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if k.out == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, protocol.MaxBodyBytes))
	} else {
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(k.out)
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax) || errors.As(err, &typ):
		return fmt.Errorf("decode the %d answer: %w", resp.StatusCode, err)
	default: // the connection broke while the answer was read
		return fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
}

// responseError turns a non-2xx answer into a *protocol.Error, inventing one from the status
// when the body is not the server's (a proxy's page).
func responseError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var pe protocol.Error
	if err := json.Unmarshal(raw, &pe); err != nil || pe.Code == "" {
		pe = protocol.Error{Code: codeFor(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
		if pe.Message == "" || len(pe.Message) > 200 {
			pe.Message = http.StatusText(resp.StatusCode)
		}
	}
	se := &StatusError{Status: resp.StatusCode, Err: &pe}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	var err error = se
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		err = fmt.Errorf("the server refuses a request this large (its operator sets the limits): %w", err)
	case gateway(resp.StatusCode) && pe.Code != protocol.ErrCodeRelayUnavailable:
		// A server without relay storage answers 503 itself: that is no outage to wait out.
		err = fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return protocol.ErrCodeBadRequest
	case http.StatusUnauthorized:
		return protocol.ErrCodeUnauthorized
	case http.StatusForbidden:
		return protocol.ErrCodeForbidden
	case http.StatusNotFound:
		return protocol.ErrCodeNotFound
	case http.StatusConflict:
		return protocol.ErrCodeConflict
	case http.StatusRequestEntityTooLarge:
		return protocol.ErrCodeTooLarge
	case http.StatusTooManyRequests:
		return protocol.ErrCodeRateLimited
	case http.StatusUpgradeRequired:
		return protocol.ErrCodeVersion
	}
	if status >= 500 {
		return protocol.ErrCodeInternal
	}
	return protocol.ErrCodeBadRequest
}

// gateway tells the answers of a proxy whose server is down or overloaded.
func gateway(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// StatusError is an answer other than 2xx: its HTTP status and the server's error. errors.As
// finds the *protocol.Error in it too.
type StatusError struct {
	Status int
	Err    *protocol.Error
	// RetryAfter is the server's Retry-After, when it sent one in seconds.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d %v", e.Status, e.Err) }
func (e *StatusError) Unwrap() error { return e.Err }

// Code is the protocol error code in err's chain ("" when there is none).
func Code(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
