package client

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// relayPair is a session of a and b (admitted) on a server with relay storage.
func relayPair(t testing.TB, srv *testServer) (a, b *Client, session string) {
	t.Helper()
	ctx := t.Context()
	a, b = newClient(t, srv.URL(), Options{Retry: fastRetry}), newClient(t, srv.URL(), Options{Retry: fastRetry})
	s := newSession(t, a)
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}
	return a, b, s.ID
}

// serverClock is the server's clock: real time moved by an offset.
type serverClock struct{ offset atomic.Int64 }

func (c *serverClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *serverClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// relayFault fails the next requests to relay URLs of one method: "503", "drop" (no answer),
// "lose" (the server stores, the answer is lost) or "expire" (the server's clock jumps past the
// URL's lifetime first). It counts the relay requests that reached the server.
type relayFault struct {
	mu      sync.Mutex
	method  string
	mode    string
	left    int
	clock   *serverClock
	after   func()         // runs once a "lose" request was served, before its answer is dropped
	reached map[string]int // method → requests that reached the server
}

func (f *relayFault) fail(method, mode string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.method, f.mode, f.left = method, mode, n
}

func (f *relayFault) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reached[method]
}

func (f *relayFault) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, protocol.APIPrefix+"/relay/") {
			next.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		fail := f.left > 0 && r.Method == f.method
		mode := f.mode
		if fail {
			f.left--
		}
		if !fail || mode == "lose" || mode == "expire" {
			if f.reached == nil {
				f.reached = map[string]int{}
			}
			f.reached[r.Method]++
		}
		f.mu.Unlock()
		switch {
		case !fail:
			next.ServeHTTP(w, r)
		case mode == "503":
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		case mode == "expire":
			f.clock.Advance(cloud.DefaultRelayURLTTL + time.Second)
			next.ServeHTTP(w, r)
		default: // drop, lose
			if mode == "lose" {
				next.ServeHTTP(httptest.NewRecorder(), r)
				f.mu.Lock()
				after := f.after
				f.mu.Unlock()
				if after != nil {
					after()
				}
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}
	})
}

func relayServer(t testing.TB, cfg cloud.Config) (*testServer, *relayFault) {
	t.Helper()
	clock := &serverClock{}
	f := &relayFault{clock: clock}
	cfg.Now = clock.Now
	if cfg.StorageDir == "" && cfg.StorageBucket == nil {
		cfg.StorageDir = t.TempDir()
	}
	return startServer(t, cfg, f.wrap), f
}

func TestRelayCalls(t *testing.T) {
	t.Parallel()
	srv, _ := relayServer(t, cloud.Config{})
	ctx := t.Context()
	a, b, session := relayPair(t, srv)
	req := protocol.TransferRequest{ID: "AAAAAAAAAAAAAAAAAAAAAA", Kind: protocol.TransferInventory, Recipients: []string{b.InstanceID()}}
	st, err := a.CreateTransfer(ctx, session, req)
	if err != nil || st.Owner != a.InstanceID() || len(st.Parts) != 0 {
		t.Fatalf("create: %+v %v", st, err)
	}
	one, two := bytes.Repeat([]byte("1"), 3<<20), []byte("two")
	if err := a.UploadPart(ctx, session, req.ID, 1, one); err != nil {
		t.Fatal(err)
	}
	if err := a.UploadPart(ctx, session, req.ID, 2, two); err != nil {
		t.Fatal(err)
	}
	// Resume: the same request gives the state with both parts.
	if st, err = a.CreateTransfer(ctx, session, req); err != nil || len(st.Parts) != 2 || st.Parts[0].Size != int64(len(one)) {
		t.Fatalf("resume: %+v %v", st, err)
	}
	if err := a.CompleteTransfer(ctx, session, req.ID, 2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.DownloadPart(ctx, session, req.ID, 1); err != nil || !bytes.Equal(got, one) {
		t.Fatalf("download part 1: %d bytes, %v", len(got), err)
	}
	if got, err := b.DownloadPart(ctx, session, req.ID, 2); err != nil || string(got) != "two" {
		t.Fatalf("download part 2: %q %v", got, err)
	}
	if err := b.PartReceived(ctx, session, req.ID, 1); err != nil {
		t.Fatal(err)
	}
	st, err = b.TransferState(ctx, session, req.ID)
	if err != nil || !st.Complete || st.TotalParts != 2 || !st.Parts[0].Deleted || st.Parts[1].Deleted {
		t.Fatalf("state: %+v %v", st, err)
	}
	// Refusals carry their codes.
	if _, err := a.DownloadPart(ctx, session, req.ID, 2); Code(err) != protocol.ErrCodeForbidden {
		t.Fatalf("owner downloads: %v", err)
	}
	if err := b.UploadPart(ctx, session, req.ID, 3, two); Code(err) != protocol.ErrCodeForbidden {
		t.Fatalf("recipient uploads: %v", err)
	}
	if err := a.UploadPart(ctx, session, req.ID, 1, two); Code(err) != protocol.ErrCodePartReceived {
		t.Fatalf("replace a received part: %v", err)
	}
	if err := a.UploadPart(ctx, session, req.ID, 3, make([]byte, protocol.MaxPartSize+1)); err == nil {
		t.Fatal("oversize part sent")
	}
	if err := a.CancelTransfer(ctx, session, req.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.CancelTransfer(ctx, session, req.ID); err != nil {
		t.Fatalf("cancel again: %v", err)
	}
	if _, err := b.TransferState(ctx, session, req.ID); Code(err) != protocol.ErrCodeNotFound {
		t.Fatalf("state after cancel: %v", err)
	}
}

// Relay URLs that fail on the way are used again; expired ones are asked again; a part stored
// by an attempt whose answer was lost is not an error when a recipient has it already.
func TestRelayRetries(t *testing.T) {
	t.Parallel()
	srv, f := relayServer(t, cloud.Config{})
	ctx := t.Context()
	a, b, session := relayPair(t, srv)
	id := "BBBBBBBBBBBBBBBBBBBBBB"
	if _, err := a.CreateTransfer(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{b.InstanceID()}}); err != nil {
		t.Fatal(err)
	}
	data := []byte("sealed")
	for n, mode := range map[int]string{1: "503", 2: "drop", 3: "expire"} {
		before := f.count(http.MethodPut)
		f.fail(http.MethodPut, mode, 2)
		if err := a.UploadPart(ctx, session, id, n, data); err != nil {
			t.Fatalf("upload through %s: %v", mode, err)
		}
		want := 1
		if mode == "expire" {
			want = 3 // two refused as expired, each followed by a new URL
		}
		if got := f.count(http.MethodPut) - before; got != want {
			t.Errorf("%s: %d uploads reached the server, want %d", mode, got, want)
		}
		before = f.count(http.MethodGet)
		f.fail(http.MethodGet, mode, 2)
		if got, err := b.DownloadPart(ctx, session, id, n); err != nil || string(got) != "sealed" {
			t.Fatalf("download through %s: %q %v", mode, got, err)
		}
		if got := f.count(http.MethodGet) - before; got != want {
			t.Errorf("%s: %d downloads reached the server, want %d", mode, got, want)
		}
	}
	// Every attempt fails: the error says the server is unreachable, after the client's attempts.
	f.fail(http.MethodPut, "503", 100)
	if err := a.UploadPart(ctx, session, id, 4, data); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("upload through endless 503: %v", err)
	}
	// Stored, answer lost; the recipient takes the part before the retry, which then finds it
	// received: that is the upload's success, not a refusal.
	var receipt error
	f.fail(http.MethodPut, "lose", 1)
	f.after = func() { receipt = b.PartReceived(ctx, session, id, 5) }
	before := f.count(http.MethodPut)
	if err := a.UploadPart(ctx, session, id, 5, data); err != nil {
		t.Fatalf("upload whose answer was lost: %v", err)
	}
	if receipt != nil {
		t.Fatal(receipt)
	}
	if got := f.count(http.MethodPut) - before; got != 2 {
		t.Errorf("%d uploads reached the server, want 2", got)
	}
}

// A server without relay storage is no outage: the refusal comes at once, with its code.
func TestRelayUnavailable(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{}, n.wrap)
	c := newClient(t, srv.URL(), Options{Retry: fastRetry})
	s := newSession(t, c)
	_, err := c.CreateTransfer(t.Context(), s.ID, protocol.TransferRequest{ID: "CCCCCCCCCCCCCCCCCCCCCC", Kind: protocol.TransferPlan, Recipients: []string{"someone-else"}})
	if Code(err) != protocol.ErrCodeRelayUnavailable || errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "--storage") {
		t.Fatalf("create without relay storage: %v", err)
	}
	if got := n.count("POST /sessions/" + s.ID + "/transfers"); got != 1 {
		t.Fatalf("%d attempts, want 1", got)
	}
}

func TestRelayQuota(t *testing.T) {
	t.Parallel()
	srv, _ := relayServer(t, cloud.Config{StorageQuota: 100})
	ctx := t.Context()
	a, b, session := relayPair(t, srv)
	id := "DDDDDDDDDDDDDDDDDDDDDD"
	if _, err := a.CreateTransfer(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{b.InstanceID()}}); err != nil {
		t.Fatal(err)
	}
	if err := a.UploadPart(ctx, session, id, 1, make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	err := a.UploadPart(ctx, session, id, 2, make([]byte, 60))
	var se *StatusError
	if Code(err) != protocol.ErrCodeQuotaExceeded || !errors.As(err, &se) || se.Status != http.StatusInsufficientStorage {
		t.Fatalf("over quota: %v", err)
	}
}

// BenchmarkRelay256MiB moves 256 MiB in 16 MiB parts from one member to another through a real
// server on loopback (upload, download, receipt of each part) beside cp of the same bytes
// between two files, in the same run: read the ratio (build/bench/ratios.awk).
func BenchmarkRelay256MiB(b *testing.B) {
	const total, partSize = 256 << 20, 16 << 20
	data := make([]byte, total)
	_, _ = rand.Read(data)
	b.Run("ferry-relay", func(b *testing.B) {
		srv, _ := relayServer(b, cloud.Config{})
		ctx := b.Context()
		owner, recipient, session := relayPair(b, srv)
		b.SetBytes(total)
		b.ResetTimer()
		for i := range b.N {
			id := fmt.Sprintf("bench%017d", i)
			if _, err := owner.CreateTransfer(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{recipient.InstanceID()}}); err != nil {
				b.Fatal(err)
			}
			for n := 1; n*partSize <= total; n++ {
				if err := owner.UploadPart(ctx, session, id, n, data[(n-1)*partSize:n*partSize]); err != nil {
					b.Fatal(err)
				}
			}
			for n := 1; n*partSize <= total; n++ {
				got, err := recipient.DownloadPart(ctx, session, id, n)
				if err != nil || len(got) != partSize {
					b.Fatalf("part %d: %d bytes, %v", n, len(got), err)
				}
				if err := recipient.PartReceived(ctx, session, id, n); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("cp", func(b *testing.B) {
		dir := b.TempDir()
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v %s", err, out)
			}
			b.StopTimer()
			_ = os.Remove(dst)
			b.StartTimer()
		}
	})
}
