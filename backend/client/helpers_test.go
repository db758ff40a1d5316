package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

// waitFor bounds every wait of a test for something to happen.
const waitFor = 10 * time.Second

// testServer is a real session server on a loopback port. It can stop and start again on the
// same port with the same store and token secret, as a restarted server process would.
type testServer struct {
	t      testing.TB
	cfg    cloud.Config
	wrap   func(http.Handler) http.Handler // in front of the server's handler, when set
	addr   string
	mu     sync.Mutex
	srv    *cloud.Server
	http   *httptest.Server
	cancel context.CancelFunc
	ran    chan struct{}
	// release frees the port of the stopped server (holdPort), nil when it is not held.
	release func()
}

// startServer starts a server with cfg (a memory store and a fixed secret unless given) behind
// wrap (nil for none).
func startServer(t testing.TB, cfg cloud.Config, wrap func(http.Handler) http.Handler) *testServer {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = store.NewMemory()
	}
	if cfg.Secret == nil {
		cfg.Secret = bytes.Repeat([]byte("s"), 32)
	}
	if testing.Verbose() && cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testio.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &testServer{t: t, cfg: cfg, wrap: wrap, addr: "127.0.0.1:0"}
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		cfg.Store.Close()
	})
	return s
}

// URL is the server's address; it stays the same across restarts.
func (s *testServer) URL() string { return "http://" + s.addr }

// Start starts the server (again) on its port.
func (s *testServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		return
	}
	if s.release != nil {
		s.release()
		s.release = nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(waitFor); ; {
		// The port was ours a moment ago; on some systems it takes a moment to free.
		if ln, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen on %s again: %v", s.addr, err)
	}
	s.addr = ln.Addr().String()
	srv, err := cloud.NewServer(s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ran = make(chan struct{})
	go func() {
		defer close(s.ran)
		// Run may report the end of its store subscription as an error once stopped.
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			s.t.Errorf("server run: %v", err)
		}
	}()
	h := srv.Handler()
	if s.wrap != nil {
		h = s.wrap(h)
	}
	s.srv, s.cancel = srv, cancel
	s.http = &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	s.http.Start()
}

// Stop stops the server: connections are closed and the port refuses new ones, held until the
// server starts again or the test ends so that another test's server cannot answer there.
func (s *testServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http == nil {
		return
	}
	s.cancel()
	<-s.ran
	s.srv.Close()
	s.http.CloseClientConnections()
	s.http.Close()
	s.http, s.srv = nil, nil
	release, err := holdPort(s.addr)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
	case err != nil:
		// Another listener could take the port and answer in place of a stopped server.
		s.t.Errorf("stopped server: %v", err)
	default:
		s.release = release
		s.t.Cleanup(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.release != nil {
				s.release()
				s.release = nil
			}
		})
	}
}

// newClient makes a client with a new identity for the server at url, logged in.
func newClient(t testing.TB, url string, opts Options) *Client {
	t.Helper()
	c := newClientNoLogin(t, url, opts)
	if err := c.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

func newClientNoLogin(t testing.TB, url string, opts Options) *Client {
	t.Helper()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() && opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testio.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(url, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fastRetry keeps the tests quick.
var fastRetry = Retry{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}

func newSession(t testing.TB, c *Client) *protocol.Session {
	t.Helper()
	s, err := c.CreateSession(t.Context(), protocol.CreateSessionRequest{
		Settings: protocol.Blob("settings"), PrivateData: protocol.Blob("machine"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// counter counts the requests reaching the server, by "METHOD /path" with the API prefix cut
// and the ids replaced by their route names where the tests need it.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
	codes  map[int]int
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &codeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.counts == nil {
			c.counts, c.codes = map[string]int{}, map[int]int{}
		}
		c.counts[r.Method+" "+strings.TrimPrefix(r.URL.Path, protocol.APIPrefix)]++
		c.codes[rec.code]++
	})
}

func (c *counter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

func (c *counter) code(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codes[code]
}

// codeRecorder keeps the answer's status and lets websockets through.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (r *codeRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *codeRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *codeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *codeRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.code = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// statusLog records, in the order the server applied them, the status updates it answered
// with applied=true: what the server saw, duplicates excluded.
type statusLog struct {
	mu      sync.Mutex
	applied []protocol.StatusUpdate
	changed chan struct{}
}

func newStatusLog() *statusLog { return &statusLog{changed: make(chan struct{})} }

func (l *statusLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/status") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		// Serialized, so that the log's order is the order the server applied them in.
		l.mu.Lock()
		next.ServeHTTP(rec, r)
		var res protocol.StatusResult
		var upd protocol.StatusUpdate
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &res) == nil && res.Applied &&
			json.Unmarshal(body, &upd) == nil {
			l.applied = append(l.applied, upd)
			close(l.changed)
			l.changed = make(chan struct{})
		}
		l.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes()) // the client sees a short body
	})
}

func (l *statusLog) snapshot() ([]protocol.StatusUpdate, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]protocol.StatusUpdate(nil), l.applied...), l.changed
}

// flaky answers the next n requests for one route with a failure instead of the server's
// answer.
type flaky struct {
	mu    sync.Mutex
	route string // "METHOD /path" below the API prefix
	mode  string // "503", "drop" (connection closed without an answer) or "lose" (the server answers, the answer is lost)
	left  int
	seen  int // failures served
}

// fail makes the next n requests for route fail.
func (f *flaky) fail(route, mode string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route, f.mode, f.left, f.seen = route, mode, n, 0
}

func (f *flaky) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

func (f *flaky) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fail := f.left > 0 && r.Method+" "+strings.TrimPrefix(r.URL.Path, protocol.APIPrefix) == f.route
		mode := f.mode
		if fail {
			f.left--
			f.seen++
		}
		f.mu.Unlock()
		if fail {
			switch mode {
			case "lose":
				next.ServeHTTP(httptest.NewRecorder(), r)
				fallthrough
			case "drop":
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			default:
				http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// gate holds the status updates of the server until opened, telling when one arrives.
type gate struct {
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{arrived: make(chan struct{}, 1024), open: make(chan struct{})} }

// release lets every status update through, now and later.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/status") {
			g.arrived <- struct{}{}
			<-g.open
		}
		next.ServeHTTP(w, r)
	})
}

func chain(wraps ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(wraps) - 1; i >= 0; i-- {
			h = wraps[i](h)
		}
		return h
	}
}

// nextEvent waits for the next event of one of types, skipping the others.
func nextEvent(t testing.TB, r *Receiver, types ...protocol.EventType) protocol.Event {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-r.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", types)
			}
			for _, typ := range types {
				if ev.Type == typ {
					return ev
				}
			}
		case <-timeout:
			t.Fatalf("no %v event within %v", types, waitFor)
		}
	}
}

// tcpProxy forwards loopback connections to a server. freeze makes the connections open so
// far silent without closing them, as a network that drops everything would (a laptop waking
// up, a NAT that forgot the connection); new connections work.
type tcpProxy struct {
	ln     net.Listener
	target string
	done   chan struct{}
	mu     sync.Mutex
	frozen chan struct{} // closed to freeze the connections made so far
	conns  []net.Conn
}

func startProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, done: make(chan struct{}), frozen: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *tcpProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.frozen)
	p.frozen = make(chan struct{})
}

func (p *tcpProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		frozen := p.frozen
		p.mu.Unlock()
		go p.pipe(in, out, frozen)
		go p.pipe(out, in, frozen)
	}
}

// pipe copies src to dst until either breaks; once frozen it swallows what it reads.
func (p *tcpProxy) pipe(src, dst net.Conn, frozen chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-frozen:
				<-p.done
				return
			default:
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}

// responseErrorFor is the error of an answer with status and a protocol.Error of code.
func responseErrorFor(status int, code string) error {
	body, _ := json.Marshal(protocol.Error{Code: code, Message: "m"})
	return responseError(&http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"1"}},
		Body: io.NopCloser(bytes.NewReader(body))})
}
