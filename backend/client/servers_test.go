package client

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/ferrycmd"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Tests of one service with several server URLs: real `ferry server` processes on loopback
// sharing one private Redis, one token secret and one relay storage folder.

// service is several `ferry server` processes of one service.
type service struct {
	procs []*serverProc
}

type serverProc struct {
	url    string
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *testio.Buffer
}

// newService starts n server processes sharing a private Redis, a secret and a relay folder.
func newService(t *testing.T, n int) *service {
	t.Helper()
	bin := ferrycmd.Build(t)
	redisURL, prefix := redistest.URL(t), redistest.Prefix(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := &service{}
	for range n {
		svc.procs = append(svc.procs, startFerryServer(t, bin, "--redis", redisURL, "--redis-prefix", prefix,
			"--secret-file", secret, "--storage", filepath.Join(dir, "relay"), "--log-level", "debug"))
	}
	return svc
}

func startFerryServer(t *testing.T, bin string, args ...string) *serverProc {
	t.Helper()
	p := &serverProc{cmd: exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...),
		done: make(chan struct{}), stderr: &testio.Buffer{}}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server %s logged:\n%s", p.url, p.stderr)
		}
	})
	select {
	case line := <-first:
		url, ok := strings.CutPrefix(line, "ferry server listening on ")
		if !ok {
			t.Fatalf("first line %q", line)
		}
		p.url = url
	case <-p.done:
		t.Fatalf("ferry server exited:\n%s", p.stderr)
	case <-time.After(waitFor):
		t.Fatalf("ferry server did not start:\n%s", p.stderr)
	}
	return p
}

// urls is the service's URLs as a client takes them.
func (s *service) urls() string {
	var u []string
	for _, p := range s.procs {
		u = append(u, p.url)
	}
	return strings.Join(u, ",")
}

// kill kills process i at once (SIGKILL) and waits until it is gone.
func (s *service) kill(t *testing.T, i int) {
	t.Helper()
	if err := s.procs[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.procs[i].done
}

// TestRedisServersFailover: two members use a service of two server processes, listed first to
// second. The first is killed: their calls, pushes (reconnected, resubscribed, with
// EventReconnected), status outbox and relayed parts go on through the second, and a relay URL
// the first process handed out works on the second.
func TestRedisServersFailover(t *testing.T) {
	t.Parallel()
	svc := newService(t, 2)
	ctx := t.Context()
	opts := Options{Retry: fastRetry, Outbox: fastOutbox,
		Push: PushOptions{Reconnect: Retry{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}}}
	a, b := newClient(t, svc.urls(), opts), newClient(t, svc.urls(), opts)
	if a.Server() != svc.procs[0].url+protocol.APIPrefix {
		t.Fatalf("a uses %s, want the first URL", a.Server())
	}
	s := newSession(t, a)
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}

	ra, err := a.Push(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	nextEvent(t, ra, protocol.EventSubscribed)
	ob := b.NewOutbox(ctx, s.ID)
	defer ob.Close()
	ob.Post(protocol.InventoryWaitingForStart)
	flush(t, ob)
	statusOf(t, ra, b.InstanceID(), protocol.InventoryWaitingForStart)

	// A part goes up through the first process, and b asks it for the download URL.
	const transfer = "AAAAAAAAAAAAAAAAAAAAAA"
	part1, part2 := bytes.Repeat([]byte("one "), 1000), bytes.Repeat([]byte("two "), 2000)
	if _, err := a.CreateTransfer(ctx, s.ID, protocol.TransferRequest{ID: transfer, Kind: protocol.TransferContent,
		Recipients: []string{b.InstanceID()}}); err != nil {
		t.Fatal(err)
	}
	if err := a.UploadPart(ctx, s.ID, transfer, 1, part1); err != nil {
		t.Fatal(err)
	}
	ref, err := b.partURL(ctx, s.ID, transfer, 1, "download", nil)
	if err != nil {
		t.Fatal(err)
	}

	svc.kill(t, 0)
	killed := time.Now()

	// Pushes: the receiver reconnects to the second process and resubscribes.
	nextEvent(t, ra, EventDisconnected)
	nextEvent(t, ra, EventReconnected)
	t.Logf("pushes back through the second server %s after the kill", time.Since(killed).Round(time.Millisecond))
	// Calls: a reads the session through the second process.
	if _, err := a.Session(ctx, s.ID); err != nil {
		t.Fatalf("a call after the first server died: %v", err)
	}
	if a.Server() != svc.procs[1].url+protocol.APIPrefix {
		t.Fatalf("a uses %s, want the second URL", a.Server())
	}
	// Outbox: b's next status reaches the second process, and a is told.
	ob.Post(protocol.InventoryRunningIdentification)
	flush(t, ob)
	statusOf(t, ra, b.InstanceID(), protocol.InventoryRunningIdentification)
	if b.Server() != svc.procs[1].url+protocol.APIPrefix {
		t.Fatalf("b uses %s, want the second URL", b.Server())
	}
	// Relay: the URL the first process handed out works on the second.
	u, own := b.server().resolve(ref.URL)
	if !own || !strings.HasPrefix(u, svc.procs[1].url) {
		t.Fatalf("relay URL %q resolved to %q", ref.URL, u)
	}
	got, err := b.getPart(ctx, u)
	if err != nil || !bytes.Equal(got, part1) {
		t.Fatalf("part 1 through the second server: %d bytes, %v", len(got), err)
	}
	// and parts go on moving.
	if err := a.UploadPart(ctx, s.ID, transfer, 2, part2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.DownloadPart(ctx, s.ID, transfer, 2); err != nil || !bytes.Equal(got, part2) {
		t.Fatalf("part 2 after the first server died: %d bytes, %v", len(got), err)
	}
}

// statusOf waits for the push telling member's status.
func statusOf(t *testing.T, r *Receiver, member string, want protocol.MemberStatus) {
	t.Helper()
	for {
		ev := nextEvent(t, r, protocol.EventStatusUpdated)
		var u protocol.StatusUpdate
		if err := json.Unmarshal(ev.Data, &u); err != nil {
			t.Fatal(err)
		}
		if ev.Member == member && u.Status == want {
			return
		}
	}
}

// A call that may have acted is not sent again on the next server, but the next call goes
// there; a call that never left (the first server refuses connections) is sent to the next.
func TestServersResendOnlyWhatDidNotLeave(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	fa, nb := &flaky{}, &counter{}
	first := startServer(t, cloud.Config{Store: st}, fa.wrap)
	second := startServer(t, cloud.Config{Store: st}, nb.wrap)
	// No kept-alive connections: one the transport puts back in its pool just after a call
	// returned would carry the create below to the stopped server, where it may have left.
	noKeepAlive := http.DefaultTransport.(*http.Transport).Clone()
	noKeepAlive.DisableKeepAlives = true
	c := newClient(t, first.URL()+","+second.URL(), Options{Retry: fastRetry, HTTPClient: &http.Client{Transport: noKeepAlive}})

	fa.fail("POST /sessions", "lose", 1) // created, and the answer lost
	_, err := c.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: protocol.Blob("s")})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("create with its answer lost: %v", err)
	}
	if n := nb.count("POST /sessions"); n != 0 {
		t.Fatalf("the create was sent again to the second server (%d times)", n)
	}
	if c.Server() != second.URL()+protocol.APIPrefix {
		t.Fatalf("client uses %s after the first server failed, want the second", c.Server())
	}
	s := newSession(t, c) // on the second server, with the token of the first
	if n := nb.count("POST /sessions"); n != 1 {
		t.Fatalf("%d creates reached the second server, want 1", n)
	}

	// The second server stops: a new create never leaves (the connection is refused), and goes
	// to the first.
	second.Stop()
	if _, err := c.CreateSession(t.Context(), protocol.CreateSessionRequest{Settings: protocol.Blob("s")}); err != nil {
		t.Fatalf("create while the second server refuses connections: %v", err)
	}
	if _, err := c.Session(t.Context(), s.ID); err != nil {
		t.Fatalf("the session made on the second server, read on the first: %v", err)
	}
	// With every server gone the error says so.
	first.Stop()
	if _, err := c.Session(t.Context(), s.ID); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "none of the 2 server URLs answered") {
		t.Fatalf("every server stopped: %v", err)
	}
}
