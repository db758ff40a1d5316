package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

var fastPush = PushOptions{Reconnect: Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}

func push(t *testing.T, c *Client, sessions ...string) *Receiver {
	t.Helper()
	r, err := c.Push(t.Context(), sessions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// subscribed waits for the answer to a Hello and checks the sessions it lists.
func subscribed(t *testing.T, r *Receiver, want ...string) {
	t.Helper()
	ev := nextEvent(t, r, protocol.EventSubscribed)
	var sub protocol.Subscribed
	if err := json.Unmarshal(ev.Data, &sub); err != nil {
		t.Fatal(err)
	}
	slices.Sort(sub.Sessions)
	slices.Sort(want)
	if !slices.Equal(sub.Sessions, want) {
		t.Fatalf("subscribed to %v, want %v (refused %v)", sub.Sessions, want, sub.Refused)
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	ctx := t.Context()
	a := newClient(t, srv.URL(), Options{Push: fastPush})
	s := newSession(t, a)
	r := push(t, a, s.ID)
	subscribed(t, r, s.ID)

	b := newClient(t, srv.URL(), Options{})
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, r, protocol.EventJoinRequested)
	var jr protocol.JoinRequested
	if err := json.Unmarshal(ev.Data, &jr); err != nil {
		t.Fatal(err)
	}
	if jr.Ticket != ticket.Ticket || jr.InstanceID != b.InstanceID() || !bytes.Equal(jr.JoinKey, joinReq.JoinKey) {
		t.Errorf("join requested: %+v", jr)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, r, protocol.EventMemberJoined); ev.Member != b.InstanceID() || ev.Session != s.ID {
		t.Errorf("member joined: %+v", ev)
	}
	at := time.Now().UTC()
	if _, err := b.SetStatus(ctx, s.ID, protocol.StatusUpdate{Status: protocol.InventoryFinished, At: at}); err != nil {
		t.Fatal(err)
	}
	ev = nextEvent(t, r, protocol.EventStatusUpdated)
	var su protocol.StatusUpdate
	if err := json.Unmarshal(ev.Data, &su); err != nil {
		t.Fatal(err)
	}
	if ev.Member != b.InstanceID() || su.Status != protocol.InventoryFinished || !su.At.Equal(at) {
		t.Errorf("status updated: %+v %+v", ev, su)
	}

	// Follow a second session, then leave the first.
	s2 := newSession(t, a)
	if err := r.Follow(s2.ID); err != nil {
		t.Fatal(err)
	}
	subscribed(t, r, s.ID, s2.ID)
	r.Unfollow(s.ID)
	subscribed(t, r, s2.ID)
	if got := r.Sessions(); !slices.Equal(got, []string{s2.ID}) {
		t.Errorf("Sessions = %v", got)
	}
	if _, err := b.SetStatus(ctx, s.ID, protocol.StatusUpdate{Status: protocol.InventoryError, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateSettings(ctx, s2.ID, protocol.Blob("new")); err != nil {
		t.Fatal(err)
	}
	// Pushes keep their order: had the status of the unfollowed session come, it would be first.
	ev = nextEvent(t, r, protocol.EventStatusUpdated, protocol.EventSettingsUpdated)
	if ev.Type != protocol.EventSettingsUpdated || ev.Session != s2.ID {
		t.Errorf("after unfollowing %s: %+v", s.ID, ev)
	}
}

// TestPushReconnect: when the server goes away and comes back on the same address, the receiver
// tells so, reconnects, follows its sessions again (including one followed while down) and
// delivers the new pushes.
func TestPushReconnect(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	ctx := t.Context()
	a := newClient(t, srv.URL(), Options{Push: fastPush, Retry: fastRetry})
	s := newSession(t, a)
	s2 := newSession(t, a)
	r := push(t, a, s.ID)
	subscribed(t, r, s.ID)

	for round := range 3 {
		srv.Stop()
		nextEvent(t, r, EventDisconnected)
		if round == 0 {
			if err := r.Follow(s2.ID); err != nil {
				t.Fatal(err)
			}
		}
		srv.Start()
		// The server's answer to the new Hello, then the receiver's own event.
		subscribed(t, r, s.ID, s2.ID)
		if ev := <-r.Events(); ev.Type != EventReconnected {
			t.Fatalf("after the subscription: %+v, want %s", ev, EventReconnected)
		}
		at := time.Now().UTC()
		if _, err := a.SetStatus(ctx, s2.ID, protocol.StatusUpdate{Status: protocol.InventoryRunningAnalysis, At: at}); err != nil {
			t.Fatal(err)
		}
		ev := nextEvent(t, r, protocol.EventStatusUpdated)
		if ev.Session != s2.ID || ev.Member != a.InstanceID() {
			t.Errorf("round %d: %+v", round, ev)
		}
	}
}

// TestPushRenewsRefusedToken: a server restarted with another secret closes the connection for
// the token in the Hello; the receiver gets a new token (logging in again) and reconnects.
func TestPushRenewsRefusedToken(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{}, n.wrap)
	a := newClient(t, srv.URL(), Options{Push: fastPush})
	s := newSession(t, a)
	r := push(t, a, s.ID)
	subscribed(t, r, s.ID)

	srv.Stop()
	nextEvent(t, r, EventDisconnected)
	srv.cfg.Secret = bytes.Repeat([]byte("t"), 32)
	srv.cfg.Store = store.NewMemory()
	srv.Start()
	ev := nextEvent(t, r, protocol.EventSubscribed) // the session is gone with the old store
	var sub protocol.Subscribed
	if err := json.Unmarshal(ev.Data, &sub); err != nil {
		t.Fatal(err)
	}
	if len(sub.Sessions) != 0 || !slices.Equal(sub.Refused, []string{s.ID}) {
		t.Errorf("subscribed %+v", sub)
	}
	nextEvent(t, r, EventReconnected)
	if got := n.count("POST /auth/login"); got != 2 {
		t.Errorf("%d logins, want 2", got)
	}
}

// TestPushClose: the receiver ends with its context or Close, and closes Events.
func TestPushClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	a := newClient(t, srv.URL(), Options{Push: fastPush})
	s := newSession(t, a)

	ctx, cancel := context.WithCancel(t.Context())
	r, err := a.Push(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	subscribed(t, r, s.ID)
	cancel()
	drain(t, r)
	r.Close() // after the context: a no-op

	r = push(t, a, s.ID)
	subscribed(t, r, s.ID)
	r.Close()
	drain(t, r)

	// Closing while the server cannot be reached.
	srv.Stop()
	r = push(t, a, s.ID)
	r.Close()
	drain(t, r)

	many := make([]string, protocol.MaxHelloSessions+1)
	for i := range many {
		many[i] = s.ID + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	if _, err := a.Push(t.Context(), many...); err == nil {
		t.Error("Push accepted too many sessions")
	}
}

// drain reads Events until it is closed.
func drain(t *testing.T, r *Receiver) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case _, ok := <-r.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events not closed")
		}
	}
}

// TestPushSilentConnection: a connection that carries nothing any more, not even the answers
// to pings, is given up and replaced.
func TestPushSilentConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	proxy := startProxy(t, strings.TrimPrefix(srv.URL(), "http://"))
	opts := fastPush
	opts.PingInterval = 50 * time.Millisecond
	// No keep-alive: calls never reuse a connection the test froze.
	httpc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	a := newClient(t, proxy.URL(), Options{Push: opts, HTTPClient: httpc})
	s := newSession(t, a)
	r := push(t, a, s.ID)
	subscribed(t, r, s.ID)

	proxy.freeze()
	nextEvent(t, r, EventDisconnected)
	subscribed(t, r, s.ID)
	if ev := <-r.Events(); ev.Type != EventReconnected {
		t.Fatalf("after the subscription: %+v, want %s", ev, EventReconnected)
	}
	if _, err := a.SetStatus(t.Context(), s.ID, protocol.StatusUpdate{Status: protocol.InventoryFinished, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, r, protocol.EventStatusUpdated); ev.Member != a.InstanceID() {
		t.Errorf("status updated: %+v", ev)
	}
}
