package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/protocol"
)

var fastOutbox = OutboxOptions{Retry: Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}

// statuses are the member statuses in a cycle of n.
func statuses(n int) []protocol.MemberStatus {
	out := make([]protocol.MemberStatus, n)
	for i := range out {
		out[i] = protocol.MemberStatus(1 + i%int(protocol.SynchronizationFinished))
	}
	return out
}

func newOutbox(t *testing.T, c *Client, session string) *Outbox {
	t.Helper()
	o := c.NewOutbox(t.Context(), session)
	t.Cleanup(o.Close)
	return o
}

func flush(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkApplied checks that the server applied exactly want, in order, with increasing stamps.
func checkApplied(t *testing.T, got []protocol.StatusUpdate, want []protocol.MemberStatus) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("server applied %d statuses, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Status != want[i] {
			t.Errorf("status %d: %v, want %v", i, got[i].Status, want[i])
		}
		if i > 0 && !got[i].At.After(got[i-1].At) {
			t.Errorf("status %d stamped %v, not after %v", i, got[i].At, got[i-1].At)
		}
	}
}

func TestOutboxDelivers(t *testing.T) {
	t.Parallel()
	log, n := newStatusLog(), &counter{}
	srv := startServer(t, cloud.Config{}, chain(n.wrap, log.wrap))
	c := newClient(t, srv.URL(), Options{Outbox: fastOutbox})
	s := newSession(t, c)
	o := newOutbox(t, c, s.ID)

	if err := o.Flush(t.Context()); err != nil {
		t.Fatalf("flush of nothing: %v", err)
	}
	want := statuses(40)
	for _, st := range want {
		o.Post(st)
	}
	flush(t, o)
	if o.Pending() != 0 {
		t.Errorf("pending %d after flush", o.Pending())
	}
	got, _ := log.snapshot()
	checkApplied(t, got, want)
	if sent := n.count("PUT /sessions/" + s.ID + "/members/" + c.InstanceID() + "/status"); sent != len(want) {
		t.Errorf("%d requests for %d statuses", sent, len(want))
	}
	sess, err := c.Session(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := sess.Members[0]; m.Status != want[len(want)-1] || !m.StatusAt.Equal(got[len(got)-1].At) {
		t.Errorf("member status %v at %v", m.Status, m.StatusAt)
	}
}

// TestOutboxServerDown is the outbox's acceptance test: the server stops while statuses are
// queued and comes back; each arrives once, in order. Flush gives up with its context while
// the server is down and succeeds once it is back.
func TestOutboxServerDown(t *testing.T) {
	t.Parallel()
	log, n := newStatusLog(), &counter{}
	srv := startServer(t, cloud.Config{}, chain(n.wrap, log.wrap))
	c := newClient(t, srv.URL(), Options{Outbox: fastOutbox, Retry: fastRetry})
	s := newSession(t, c)
	o := newOutbox(t, c, s.ID)
	want := statuses(30)

	for _, st := range want[:10] {
		o.Post(st)
	}
	flush(t, o)

	srv.Stop()
	for _, st := range want[10:] {
		o.Post(st)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	err := o.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush while the server is down: %v, want the deadline", err)
	}
	if got := o.Pending(); got != 20 {
		t.Errorf("pending %d while the server is down, want 20", got)
	}

	srv.Start()
	flush(t, o)
	if got := o.Pending(); got != 0 {
		t.Errorf("pending %d after the server came back", got)
	}
	got, _ := log.snapshot()
	checkApplied(t, got, want)
	if sent := n.count("PUT /sessions/" + s.ID + "/members/" + c.InstanceID() + "/status"); sent != len(want) {
		t.Errorf("%d requests reached the server for %d statuses: an acknowledged one was sent again", sent, len(want))
	}
}

// TestOutboxLostAnswer: the server applies a status but its answer is lost; the outbox sends it
// again and the server, having it already, does not apply it twice.
func TestOutboxLostAnswer(t *testing.T) {
	t.Parallel()
	log, f := newStatusLog(), &flaky{}
	srv := startServer(t, cloud.Config{}, chain(f.wrap, log.wrap))
	c := newClient(t, srv.URL(), Options{Outbox: fastOutbox})
	s := newSession(t, c)
	o := newOutbox(t, c, s.ID)
	f.fail("PUT /sessions/"+s.ID+"/members/"+c.InstanceID()+"/status", "lose", 2)
	want := statuses(5)
	for _, st := range want {
		o.Post(st)
	}
	flush(t, o)
	if f.failures() != 2 {
		t.Errorf("%d answers lost, want 2", f.failures())
	}
	got, _ := log.snapshot()
	checkApplied(t, got, want)
}

// TestOutboxCoalesce: Post never waits, even while a delivery hangs; a full queue drops its
// oldest waiting status and keeps the newest.
func TestOutboxCoalesce(t *testing.T) {
	t.Parallel()
	log, g := newStatusLog(), newGate()
	srv := startServer(t, cloud.Config{}, chain(g.wrap, log.wrap))
	opts := fastOutbox
	opts.Capacity = 4
	c := newClient(t, srv.URL(), Options{Outbox: opts})
	s := newSession(t, c)
	o := newOutbox(t, c, s.ID)
	defer g.release() // before the server stops

	want := statuses(1000)
	o.Post(want[0])
	select {
	case <-g.arrived: // the first status is in flight, held by the server
	case <-time.After(waitFor):
		t.Fatal("the first status never reached the server")
	}
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		for _, st := range want[1:] {
			o.Post(st)
		}
	}()
	select {
	case <-posted:
	case <-time.After(waitFor):
		t.Fatal("Post blocked")
	}
	if got := o.Pending(); got != 1+opts.Capacity {
		t.Errorf("pending %d, want %d", got, 1+opts.Capacity)
	}
	g.release()
	flush(t, o)
	got, _ := log.snapshot()
	checkApplied(t, got, append([]protocol.MemberStatus{want[0]}, want[len(want)-opts.Capacity:]...))
}

// TestOutboxRefused: a status the server refuses for good is dropped and reported by Flush.
func TestOutboxRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	c := newClient(t, srv.URL(), Options{Outbox: fastOutbox})
	o := newOutbox(t, c, "000aaa000")
	o.Post(protocol.InventoryFinished)
	o.Post(protocol.StatusUnknown) // not a status: refused at once
	o.Post(protocol.SynchronizationRunning)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	err := o.Flush(ctx)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeNotFound {
		t.Fatalf("flush: %v, want not_found", err)
	}
	if o.Pending() != 0 {
		t.Errorf("pending %d", o.Pending())
	}
	// The server does not know the session: both statuses it was sent stay undelivered.
	if n := o.Undelivered(); n != 2 {
		t.Errorf("undelivered %d, want 2", n)
	}
	if err := o.Flush(ctx); err != nil {
		t.Errorf("second flush: %v, want the refusals reported once", err)
	}
}

// TestOutboxClose: Close ends the sender at once, even in the middle of its waits; Flush then
// reports what was left.
func TestOutboxClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	c := newClient(t, srv.URL(), Options{Outbox: OutboxOptions{Retry: Retry{Base: time.Hour, Max: time.Hour}}, Retry: fastRetry})
	s := newSession(t, c)
	o := c.NewOutbox(t.Context(), s.ID)
	srv.Stop()
	o.Post(protocol.InventoryFinished)
	closed := make(chan struct{})
	go func() {
		o.Close()
		o.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close hangs")
	}
	if err := o.Flush(t.Context()); !errors.Is(err, ErrOutboxClosed) {
		t.Errorf("flush after close: %v, want ErrOutboxClosed", err)
	}
	o.Post(protocol.InventoryError) // harmless
}
