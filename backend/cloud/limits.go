package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Limits bound what one client may cost the server: no client can fill its memory with
// sessions or bodies, hold its connections with bodies that never end, or flood it with
// requests. A client is the authenticated installation (its client id) once there is a token,
// the remote address before (an IPv6 address counts by its /64).
//
// A zero field takes its default; a negative count or rate means no limit.
type Limits struct {
	// Off turns every limit below off but the body sizes (benchmarks measure the difference).
	Off bool
	// SessionsPerClient bounds the sessions one client created that still exist.
	SessionsPerClient int
	// Rate (requests a second, on average) and Burst (at once) bound the requests of one
	// authenticated client; AnonRate and AnonBurst those of one address before authentication
	// (challenges, logins, refreshes, push connections, refused tokens). Relayed parts count
	// through the URL requests that allow them.
	Rate      float64
	Burst     int
	AnonRate  float64
	AnonBurst int
	// BodyBytes bounds a JSON request body; StartBodyBytes a synchronization start, which
	// carries the whole plan. Routes that take nothing but ids and keys take smallBodyBytes.
	BodyBytes      int64
	StartBodyBytes int64
	// InFlightBytes bounds the bytes of JSON bodies read at once by all clients (each counts
	// its Content-Length, or its route's limit when it has none; a synchronization start
	// counts startWeight times that, for the plan it becomes in memory). A request waits up to
	// BusyWait for room, then is refused with 503 busy.
	InFlightBytes int64
	BusyWait      time.Duration
	// A request body must arrive within BodyTimeout plus one second per BodyMinRate bytes
	// received: a body that trickles in is cut off with 408.
	BodyTimeout time.Duration
	BodyMinRate int64
	// TrustForwardedFor takes a request's address from the last X-Forwarded-For entry, which a
	// reverse proxy in front of the server appends; never set it without such a proxy, as
	// clients could then claim any address.
	TrustForwardedFor bool
}

// Defaults of Limits. They leave room for real use: 5 members each with a session or two,
// plans of hundreds of thousands of groups, parts of protocol.MaxPartSize on slow links.
const (
	DefaultSessionsPerClient = 20
	DefaultRate              = 50
	DefaultBurst             = 500
	DefaultAnonRate          = 10
	DefaultAnonBurst         = 100
	DefaultBodyBytes         = protocol.MaxBodyBytes
	DefaultStartBodyBytes    = 64 << 20
	DefaultInFlightBytes     = 256 << 20
	DefaultBusyWait          = 30 * time.Second
	DefaultBodyTimeout       = 30 * time.Second
	DefaultBodyMinRate       = 4 << 10

	smallBodyBytes = 64 << 10 // routes of ids, keys and signatures
	startWeight    = 4        // memory of a start being decoded and tracked, per byte of body
	maxLimiterKeys = 100_000  // clients tracked by a rate limiter at once
	retryAfterBusy = 5 * time.Second
)

// ErrLimits is in the chain of NewServer's error when Config.Limits do not hold together.
var ErrLimits = errors.New("invalid limits")

// withDefaults fills in the zero fields and checks the others.
func (l Limits) withDefaults() (Limits, error) {
	if l.SessionsPerClient == 0 {
		l.SessionsPerClient = DefaultSessionsPerClient
	}
	if l.Rate == 0 {
		l.Rate = DefaultRate
	}
	if l.Burst == 0 {
		l.Burst = DefaultBurst
	}
	if l.AnonRate == 0 {
		l.AnonRate = DefaultAnonRate
	}
	if l.AnonBurst == 0 {
		l.AnonBurst = DefaultAnonBurst
	}
	for _, v := range []struct {
		p   *int64
		def int64
	}{
		{&l.BodyBytes, DefaultBodyBytes},
		{&l.StartBodyBytes, DefaultStartBodyBytes},
		{&l.InFlightBytes, DefaultInFlightBytes},
		{&l.BodyMinRate, DefaultBodyMinRate},
	} {
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	if l.BusyWait == 0 {
		l.BusyWait = DefaultBusyWait
	}
	if l.BodyTimeout == 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	switch {
	case l.BodyBytes < 0 || l.StartBodyBytes < 0:
		return l, fmt.Errorf("%w: body size limits must be positive", ErrLimits)
	case l.Burst < 0 && l.Rate > 0 || l.AnonBurst < 0 && l.AnonRate > 0:
		return l, fmt.Errorf("%w: a rate limit needs a positive burst", ErrLimits)
	case l.InFlightBytes > 0 && l.InFlightBytes < max(startWeight*l.StartBodyBytes, l.BodyBytes):
		return l, fmt.Errorf("%w: the in-flight body budget (%d bytes) is too small for the largest bodies allowed, which could then never be read: give at least %d bytes (%d times the largest start, the largest other body) or lower the body limits",
			ErrLimits, l.InFlightBytes, max(startWeight*l.StartBodyBytes, l.BodyBytes), startWeight)
	}
	return l, nil
}

// guards are the limits in force.
type guards struct {
	lim      Limits
	clients  *rateLimiter // nil: no limit
	anon     *rateLimiter
	inFlight *semaphore.Weighted // nil: no budget
}

func newGuards(l Limits, now func() time.Time) guards {
	g := guards{lim: l}
	if l.Off {
		return g
	}
	if l.Rate > 0 {
		g.clients = newRateLimiter(l.Rate, l.Burst, now)
	}
	if l.AnonRate > 0 {
		g.anon = newRateLimiter(l.AnonRate, l.AnonBurst, now)
	}
	if l.InFlightBytes > 0 {
		g.inFlight = semaphore.NewWeighted(l.InFlightBytes)
	}
	return g
}

// sessionLimit is the number of sessions one client may have created, 0 for no limit.
func (g guards) sessionLimit() int {
	if g.lim.Off || g.lim.SessionsPerClient < 0 {
		return 0
	}
	return g.lim.SessionsPerClient
}

// bodyClass is how a route's body is bounded.
type bodyClass int

const (
	bodySmall bodyClass = iota // ids, keys, signatures: smallBodyBytes
	bodyJSON                   // blobs, results: Limits.BodyBytes
	bodyStart                  // a synchronization start: Limits.StartBodyBytes
	bodyPart                   // a relayed part, streamed to disk: protocol.MaxPartSize, no budget
)

func (g guards) bodyLimit(c bodyClass) int64 {
	switch c {
	case bodyJSON:
		return g.lim.BodyBytes
	case bodyStart:
		return g.lim.StartBodyBytes
	case bodyPart:
		return protocol.MaxPartSize
	}
	return min(smallBodyBytes, g.lim.BodyBytes)
}

// guardBody replaces r.Body with one read under the limits of its route; release returns
// its share of the in-flight budget once the handler is done with the body.
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request, c bodyClass) (release func()) {
	limit := s.guards.bodyLimit(c)
	b := &guardedBody{
		body:  http.MaxBytesReader(w, r.Body, limit),
		ctx:   r.Context(),
		limit: limit,
		rc:    http.NewResponseController(w),
		start: time.Now(),
	}
	if !s.guards.lim.Off {
		b.timeout, b.minRate = s.guards.lim.BodyTimeout, s.guards.lim.BodyMinRate
		if s.guards.inFlight != nil && c != bodyPart && r.ContentLength != 0 {
			b.budget, b.busyWait = s.guards.inFlight, s.guards.lim.BusyWait
			b.charge = limit
			if r.ContentLength > 0 && r.ContentLength < limit {
				b.charge = r.ContentLength
			}
			if c == bodyStart {
				b.charge *= startWeight
			}
		}
	}
	r.Body = b
	return b.release
}

// guardedBody is a request body read under the limits: at most limit bytes, in time, and
// within the in-flight budget, taken at the first read.
type guardedBody struct {
	body     io.ReadCloser
	ctx      context.Context
	limit    int64
	rc       *http.ResponseController
	start    time.Time
	timeout  time.Duration // 0: no timeout
	minRate  int64
	budget   *semaphore.Weighted // nil: not counted
	busyWait time.Duration
	charge   int64

	mu   sync.Mutex
	held bool
	read int64
	err  error // sticky: a refusal of the limits
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.budget != nil && !b.held {
		if err := b.acquire(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if b.timeout > 0 {
		deadline := b.deadline()
		if !time.Now().Before(deadline) {
			b.err = b.tooSlow()
			return 0, b.err
		}
		_ = b.rc.SetReadDeadline(deadline)
	}
	n, err := b.body.Read(p)
	b.read += int64(n)
	var ne net.Error
	switch {
	case err != nil && b.timeout > 0 && errors.As(err, &ne) && ne.Timeout():
		b.err = b.tooSlow()
		return n, b.err
	case errors.Is(err, io.EOF) && b.timeout > 0:
		// The whole body is in: the deadline must not cut the connection's background read
		// (which would cancel the request) while the handler works.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadline is when the bytes read so far should have been followed by the rest.
func (b *guardedBody) deadline() time.Time {
	extra := time.Duration(math.Min(float64(b.read)/float64(max(b.minRate, 1))*float64(time.Second), float64(365*24*time.Hour)))
	return b.start.Add(b.timeout + extra)
}

func (b *guardedBody) tooSlow() error {
	return newError(http.StatusRequestTimeout, protocol.ErrCodeBodyTimeout,
		"the request body arrived too slowly (%d bytes in %v; the server waits %v plus a second per %d bytes): send it again over a better connection",
		b.read, time.Since(b.start).Round(time.Second), b.timeout, b.minRate)
}

// reserveBody waits for r's share of the in-flight budget without reading the body, so that a
// handler can check, once it is its turn, whether the body is still worth reading.
func reserveBody(r *http.Request) error {
	b, ok := r.Body.(*guardedBody)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil || b.budget == nil || b.held {
		return b.err
	}
	if err := b.acquire(); err != nil {
		b.err = err
		return err
	}
	return nil
}

func (b *guardedBody) acquire() error {
	ctx, cancel := context.WithTimeout(b.ctx, b.busyWait)
	defer cancel()
	if err := b.budget.Acquire(ctx, b.charge); err != nil {
		if b.ctx.Err() != nil {
			return fmt.Errorf("wait to read the request body: %w", b.ctx.Err())
		}
		ae := newError(http.StatusServiceUnavailable, protocol.ErrCodeBusy,
			"the server is busy reading other large requests: send this one again in a moment")
		ae.retryAfter = retryAfterBusy
		return ae
	}
	b.held = true
	b.start = time.Now() // the time to send the body runs from now
	return nil
}

func (b *guardedBody) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held {
		b.budget.Release(b.charge)
		b.held = false
	}
	b.err = errBodyDone
}

var errBodyDone = errors.New("the request body was read already")

func (b *guardedBody) Close() error { return b.body.Close() }

// readAll reads the body into one buffer of the right size when its length is known.
func (b *guardedBody) readAll(contentLength int64) ([]byte, error) {
	size := int64(512)
	if contentLength > 0 {
		size = min(contentLength, b.limit) + 1 // +1: EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := b.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// --- rates ---

// rateLimiter is a token bucket per client: Burst tokens, refilled at Rate a second.
type rateLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token of key; without one, it tells how long until there is one.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLimiterKeys {
			l.pruneLocked(now)
		}
		if len(l.buckets) >= maxLimiterKeys {
			key = "" // all new clients share one bucket until others go quiet
			b = l.buckets[key]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		}
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// pruneLocked forgets the buckets that are full again: they are as good as new.
func (l *rateLimiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// rateLimited is the answer to a client over its rate.
func rateLimited(wait time.Duration) *apiError {
	ae := newError(http.StatusTooManyRequests, protocol.ErrCodeRateLimited,
		"too many requests: wait %v and send again", max(wait, time.Second).Round(time.Second))
	ae.retryAfter = wait
	return ae
}

// limitClient charges a request of an authenticated client.
func (s *Server) limitClient(p principal) error {
	if s.guards.clients == nil {
		return nil
	}
	if ok, wait := s.guards.clients.allow("c:" + p.ClientID); !ok {
		return rateLimited(wait)
	}
	return nil
}

// limitAddr charges a request made before authentication to its remote address.
func (s *Server) limitAddr(r *http.Request) error {
	if s.guards.anon == nil {
		return nil
	}
	if ok, wait := s.guards.anon.allow("a:" + s.clientAddr(r)); !ok {
		return rateLimited(wait)
	}
	return nil
}

// clientAddr is the address a request counts against: the connection's peer, or the last
// X-Forwarded-For entry when the proxy in front is trusted; an IPv6 address by its /64.
func (s *Server) clientAddr(r *http.Request) string {
	raw := r.RemoteAddr
	if s.guards.lim.TrustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			entries := strings.Split(xff[len(xff)-1], ",")
			raw = strings.TrimSpace(entries[len(entries)-1])
		}
	}
	addr, err := netip.ParseAddr(raw)
	if err != nil {
		ap, err := netip.ParseAddrPort(raw)
		if err != nil {
			return raw
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// --- store failures ---

// storeUnavailable is the answer when the store cannot be reached.
func storeUnavailable() *apiError {
	ae := newError(http.StatusServiceUnavailable, protocol.ErrCodeUnavailable,
		"the server cannot reach its database right now: try again in a moment")
	ae.retryAfter = retryAfterBusy
	return ae
}

// isStoreDown tells whether err is a failure to reach the store: the store says so, or a
// network operation failed (the server's only network peers are its store and its clients,
// whose failures are answered before).
func isStoreDown(err error) bool {
	var op *net.OpError
	return errors.Is(err, store.ErrUnavailable) || errors.As(err, &op)
}
