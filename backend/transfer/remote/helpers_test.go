package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

// waitFor bounds every wait of a test for something to happen.
const waitFor = 30 * time.Second

var _ remote.API = (*client.Client)(nil)

// server is a session server with relay storage on a loopback port. It can be stopped and
// started again on the same address, store and storage folder, as a restarted process would.
type server struct {
	t       testing.TB
	store   store.Store
	secret  []byte
	Storage string
	addr    string

	// Part uploads the server stored (successful PUTs of a relay URL), and a hook called
	// after each.
	puts    atomic.Int64
	onPut   atomic.Pointer[func(n int64)]
	running *running
}

type running struct {
	srv    *cloud.Server
	hs     *http.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{t: t, store: store.NewMemory(), secret: bytes.Repeat([]byte("s"), 32), Storage: t.TempDir()}
	s.start()
	t.Cleanup(func() {
		s.stop()
		s.store.Close()
	})
	return s
}

func (s *server) URL() string { return "http://" + s.addr }

// start runs the server, on its former address when it had one.
func (s *server) start() {
	s.t.Helper()
	cfg := cloud.Config{Store: s.store, Secret: s.secret, StorageDir: s.Storage}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testio.LogWriter(s.t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := cloud.NewServer(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	deadline := time.Now().Add(waitFor)
	for {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the former listener's port is being released
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, cancel: cancel, done: make(chan struct{})}
	r.hs = &http.Server{Handler: s.count(srv.Handler())}
	go func() {
		defer close(r.done)
		_ = srv.Run(ctx)
	}()
	go func() { _ = r.hs.Serve(ln) }()
	s.running = r
}

// stop closes the listener and every connection at once, as a crashed process would.
func (s *server) stop() {
	r := s.running
	if r == nil {
		return
	}
	s.running = nil
	r.cancel()
	r.srv.Close()
	r.hs.Close()
	<-r.done
}

// count counts the parts stored.
func (s *server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, protocol.APIPrefix+"/relay/") {
			next.ServeHTTP(w, r) // the push websocket needs the connection itself
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status < 300 {
			n := s.puts.Add(1)
			if f := s.onPut.Load(); f != nil {
				(*f)(n)
			}
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// storedParts lists the part files in the relay storage.
func (s *server) storedParts() []string {
	s.t.Helper()
	var parts []string
	err := filepath.WalkDir(s.Storage, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".part") {
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return parts
}

// member is a client instance in a session, with its exchange.
type member struct {
	c  *client.Client
	x  *remote.Exchange
	id string
}

// session makes a session of n members on srv sharing one session key, each following the
// pushes with an Exchange of options o. Member 0 owns node A, member 1 node B, and so on.
func session(t testing.TB, srv *server, n int, o remote.Options) (string, []*member) {
	t.Helper()
	ctx := context.Background()
	key, err := crypto.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*client.Client, n)
	for i := range clients {
		id, err := crypto.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		clients[i], err = client.New(srv.URL(), id, client.Options{
			Retry:          client.Retry{Attempts: 2, Base: 5 * time.Millisecond, Max: 20 * time.Millisecond},
			RequestTimeout: 10 * time.Second,
			Push:           client.PushOptions{Reconnect: client.Retry{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := clients[i].Login(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a := clients[0]
	s, err := a.CreateSession(ctx, protocol.CreateSessionRequest{Settings: protocol.Blob("settings"), PrivateData: protocol.Blob("a")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clients[1:] {
		req := cloudtest.JoinRequest(t, c.Identity().Private, s.ID)
		ticket, err := c.Join(ctx, s.ID, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, req)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		node := string(rune('A' + i))
		if _, err := c.AddNode(ctx, s.ID, protocol.NodeRequest{ID: node, Data: protocol.Blob("node")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSource(ctx, s.ID, node, protocol.SourceRequest{ID: node + "1", Data: protocol.Blob("src")}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := a.StartInventory(ctx, s.ID); err != nil || !res.Started {
		t.Fatalf("start the inventory: %+v, %v", res, err)
	}
	if o.Logger == nil && testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(testio.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	members := make([]*member, n)
	for i, c := range clients {
		members[i] = &member{c: c, id: c.InstanceID(), x: remote.NewExchange(c, s.ID, key, c.InstanceID(), follow(t, c, s.ID), o)}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		for _, m := range members {
			_ = m.x.Close(ctx)
		}
	})
	return s.ID, members
}

// follow returns c's pushes for session once subscribed.
func follow(t testing.TB, c *client.Client, session string) <-chan protocol.Event {
	t.Helper()
	r, err := c.Push(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	timeout := time.After(waitFor)
	for {
		select {
		case ev := <-r.Events():
			var sub protocol.Subscribed
			if ev.Type == protocol.EventSubscribed && json.Unmarshal(ev.Data, &sub) == nil && slices.Contains(sub.Sessions, session) {
				return r.Events()
			}
		case <-timeout:
			t.Fatalf("no subscription to %s within %v", session, waitFor)
		}
	}
}

// waitUntil polls cond until it holds or the wait bound passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// random is deterministic pseudo-random content.
func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// collector gathers results from several goroutines.
type collector struct {
	mu      sync.Mutex
	results []remote.Result
}

func (c *collector) add(r remote.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results = append(c.results, r)
}

func (c *collector) all() []remote.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.results)
}

// partFile is the storage file of part n of the only transfer holding one.
func (s *server) partFile(n int) string {
	s.t.Helper()
	var found []string
	for _, p := range s.storedParts() {
		if filepath.Base(p) == strconv.Itoa(n)+".part" {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		s.t.Fatalf("part %d stored as %v, want one file", n, found)
	}
	return found[0]
}

// flipByte alters one byte of part n in the storage, past its header.
func flipByte(t testing.TB, s *server, n int) {
	t.Helper()
	p := s.partFile(n)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
