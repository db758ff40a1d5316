package cloud

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

var _ = register("PushHelloRefused", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a := e.client()
	s := a.CreateSession("s")
	other := e.client()
	expired, _, _ := (&tokenIssuer{secret: e.srv.cfg.Secret, ttl: time.Minute, now: func() time.Time { return time.Now().Add(-time.Hour) }}).
		issue(principal{ClientID: a.Tokens.ClientID, InstanceID: a.Instance})
	hello := func(token string, sessions ...string) []byte {
		b, _ := json.Marshal(protocol.Hello{AccessToken: token, Sessions: sessions})
		return b
	}
	many := make([]string, protocol.MaxHelloSessions+1)
	for i := range many {
		many[i] = strings.Replace("000aaa000", "000", itoa(100+i), 1)
	}
	cases := []struct {
		name string
		msgs [][]byte
		code int
	}{
		{"not JSON", [][]byte{[]byte("hello")}, protocol.CloseBadHello},
		{"unknown field", [][]byte{[]byte(`{"access_token":"x","sessions":[],"admin":true}`)}, protocol.CloseBadHello},
		{"no token", [][]byte{hello("", s.ID)}, protocol.CloseBadHello},
		{"bad token", [][]byte{hello("forged.token", s.ID)}, protocol.CloseUnauthorized},
		{"expired token", [][]byte{hello(expired, s.ID)}, protocol.CloseUnauthorized},
		{"bad session id", [][]byte{hello(a.Tokens.AccessToken, "../etc")}, protocol.CloseBadHello},
		{"session twice", [][]byte{hello(a.Tokens.AccessToken, s.ID, s.ID)}, protocol.CloseBadHello},
		{"too many sessions", [][]byte{hello(a.Tokens.AccessToken, many...)}, protocol.CloseBadHello},
		{"too large", [][]byte{[]byte(`{"access_token":"` + strings.Repeat("x", maxHello) + `"}`)}, websocket.CloseMessageTooBig},
		{"another instance later", [][]byte{hello(a.Tokens.AccessToken, s.ID), hello(other.Tokens.AccessToken)}, protocol.CloseForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := a.Dial()
			for _, m := range tc.msgs {
				p.Send(m)
			}
			if ce := p.Closed(); ce.Code != tc.code {
				t.Fatalf("closed with %d %q, want %d", ce.Code, ce.Text, tc.code)
			}
		})
	}
	t.Run("binary", func(t *testing.T) {
		p := a.Dial()
		p.SendBinary([]byte("{}"))
		if ce := p.Closed(); ce.Code != protocol.CloseBadHello {
			t.Fatalf("closed with %d", ce.Code)
		}
	})
})

var _ = register("PushSubscriptions", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID

	// A non-member is refused and receives nothing of the session.
	outsider := e.client()
	own := outsider.CreateSession("own")
	po, sub := outsider.Connect(id, own.ID, "999zzz999")
	if len(sub.Sessions) != 1 || sub.Sessions[0] != own.ID || len(sub.Refused) != 2 {
		t.Fatalf("outsider subscribed: %+v", sub)
	}
	a.Must(http.MethodPut, "/sessions/"+id+"/settings", protocol.SettingsUpdate{Settings: []byte("x")}, nil)
	expectNothingBefore(t, outsider, po, own.ID)

	// join_requested goes to the oldest member only.
	joiner := e.client()
	joinReq, joinTicket := joiner.AskToJoin(id)
	ticket := protocol.JoinTicket{Ticket: joinTicket}
	tm.PushA.Wait(protocol.EventJoinRequested, id)
	// A pending joiner follows the session but sees only what is addressed to it.
	pj, sub := joiner.Connect(id)
	if len(sub.Sessions) != 1 || len(sub.Refused) != 0 {
		t.Fatalf("joiner subscribed: %+v", sub)
	}
	a.Must(http.MethodPut, "/sessions/"+id+"/settings", protocol.SettingsUpdate{Settings: []byte("y")}, nil)
	a.Must(http.MethodPost, "/sessions/"+id+"/join/"+ticket.Ticket+"/admit", a.Admission(id, joinReq), nil)
	if ev := pj.Next(); ev.Type != protocol.EventJoinAdmitted {
		t.Fatalf("joiner's first push: %s", ev.Type)
	}
	if ev := pj.Next(); ev.Type != protocol.EventMemberJoined {
		t.Fatalf("joiner's second push: %s", ev.Type)
	}
	// B (not the oldest) saw no join_requested: its pushes since are settings, settings, joined.
	for _, want := range []protocol.EventType{protocol.EventSettingsUpdated, protocol.EventSettingsUpdated, protocol.EventMemberJoined} {
		ev := tm.PushB.Next()
		for ev.Type == protocol.EventMemberPresent {
			ev = tm.PushB.Next()
		}
		if ev.Type != want {
			t.Fatalf("B received %s, want %s", ev.Type, want)
		}
	}

	// A new Hello replaces the subscriptions.
	s2 := b.CreateSession("second")
	if sub := tm.PushB.Hello(b.Tokens.AccessToken, s2.ID); len(sub.Sessions) != 1 || sub.Sessions[0] != s2.ID {
		t.Fatalf("re-subscribed: %+v", sub)
	}
	a.Must(http.MethodPut, "/sessions/"+id+"/settings", protocol.SettingsUpdate{Settings: []byte("z")}, nil)
	expectNothingBefore(t, b, tm.PushB, s2.ID)

	// Two connections of one instance both receive.
	pa2, _ := a.Connect(id)
	a.Must(http.MethodPut, "/sessions/"+id+"/settings", protocol.SettingsUpdate{Settings: []byte("w")}, nil)
	for _, p := range []*cloudtest.Push{tm.PushA, pa2} {
		for {
			ev := p.Next()
			if ev.Type == protocol.EventSettingsUpdated && string(cloudtest.Decode[protocol.SettingsUpdated](t, ev).Settings) == "w" {
				break
			}
		}
	}
})

// Close disconnects every websocket with "going away".
func TestPushServerClose(t *testing.T) {
	e := newEnv(t, memoryStore)
	a := e.client()
	s := a.CreateSession("s")
	p, _ := a.Connect(s.ID)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if ce := p.Closed(); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d", ce.Code)
	}
	// New connections are refused.
	p2 := a.Dial()
	p2.Send([]byte(`{"access_token":"` + a.Tokens.AccessToken + `","sessions":[]}`))
	if ce := p2.Closed(); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("new connection closed with %d", ce.Code)
	}
}

// A connection whose queue is full is disconnected rather than slowing the others.
func TestPushSlowClientDisconnected(t *testing.T) {
	c := &conn{send: make(chan []byte, 2), done: make(chan struct{})}
	c.enqueue([]byte("1"))
	c.enqueue([]byte("2"))
	select {
	case <-c.done:
		t.Fatal("killed before its queue was full")
	default:
	}
	c.enqueue([]byte("3"))
	select {
	case <-c.done:
	default:
		t.Fatal("not killed with a full queue")
	}
	if c.closeCode != websocket.CloseTryAgainLater {
		t.Fatalf("close code %d", c.closeCode)
	}
}

// resync fixes the subscriptions of a connection registered while membership changed.
func TestHubResync(t *testing.T) {
	h := newHub(nil)
	c := &conn{send: make(chan []byte, 4), done: make(chan struct{})}
	p := principal{ClientID: "C", InstanceID: "inst-00000001"}
	// The admission's push went by before the connection was registered.
	h.dispatch(store.Message{To: p.key(), Event: protocol.Event{Type: protocol.EventJoinAdmitted, Session: "111aaa111"}})
	was := map[string]bool{"111aaa111": false, "222bbb222": true, "333ccc333": true}
	if err := h.subscribe(c, p, was, protocol.Event{Type: protocol.EventSubscribed}); err != nil {
		t.Fatal(err)
	}
	h.resync(c, was, map[string]bool{"111aaa111": true, "222bbb222": true})
	if !c.subs["111aaa111"] || !c.subs["222bbb222"] || len(c.subs) != 2 {
		t.Fatalf("subscriptions %v", c.subs)
	}
	if _, ok := h.bySession["333ccc333"]; ok {
		t.Fatal("dropped session still routed to the connection")
	}
	if _, ok := h.interest["333ccc333"]; !ok {
		t.Fatal("a dropped full subscription is no longer watched for presence")
	}
}

// A joiner admitted while its Hello was being answered, its join_admitted push not routed yet:
// resync leaves the subscription pending, so that the joiner receives join_admitted first and
// no push of the session published before it (the settings it was not a member for).
func TestHubResyncBeforeTheAdmissionPush(t *testing.T) {
	h := newHub(nil)
	c := &conn{send: make(chan []byte, 8), done: make(chan struct{})}
	p := principal{ClientID: "C", InstanceID: "inst-00000001"}
	const id = "111aaa111"
	was := map[string]bool{id: false}
	if err := h.subscribe(c, p, was, protocol.Event{Type: protocol.EventSubscribed}); err != nil {
		t.Fatal(err)
	}
	<-c.send // subscribed
	h.resync(c, was, map[string]bool{id: true})
	if c.subs[id] {
		t.Fatal("resync made the subscription full before the join_admitted push")
	}
	// Published before the admission, routed after the resync.
	h.dispatch(store.Message{Session: id, Event: protocol.Event{Type: protocol.EventSettingsUpdated, Session: id}})
	h.dispatch(store.Message{To: p.key(), Event: protocol.Event{Type: protocol.EventJoinAdmitted, Session: id}})
	h.dispatch(store.Message{Session: id, Event: protocol.Event{Type: protocol.EventMemberJoined, Session: id}})
	var got []protocol.EventType
	for len(c.send) > 0 {
		var ev protocol.Event
		if err := json.Unmarshal(<-c.send, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type)
	}
	if want := []protocol.EventType{protocol.EventJoinAdmitted, protocol.EventMemberJoined}; !slices.Equal(got, want) {
		t.Fatalf("the joiner received %v, want %v", got, want)
	}
	if !c.subs[id] {
		t.Fatal("the subscription is still pending after join_admitted")
	}
}
