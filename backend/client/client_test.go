package client

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

func TestNew(t *testing.T) {
	t.Parallel()
	id, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "ferry.example", "ftp://x", "http://", "://x"} {
		if _, err := New(bad, id, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New("http://127.0.0.1:1", nil, Options{}); err == nil {
		t.Error("New without identity accepted")
	}
	a, err := New("http://127.0.0.1:1/", id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New("http://127.0.0.1:1", id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.InstanceID() == b.InstanceID() {
		t.Error("two clients share an instance id")
	}
	for _, c := range []*Client{a, b} {
		if !protocol.InstanceIDPattern.MatchString(c.InstanceID()) || !strings.HasPrefix(c.InstanceID(), id.ClientID()+"_") {
			t.Errorf("instance id %q", c.InstanceID())
		}
		if c.ClientID() != id.ClientID() {
			t.Errorf("client id %q, want %q", c.ClientID(), id.ClientID())
		}
	}
	if got := a.Server(); got != "http://127.0.0.1:1/api/v1" {
		t.Errorf("base = %q", got)
	}
	// Several URLs of one service: the first is used first.
	m, err := New(" http://127.0.0.1:1/ , https://b.example:7420,", id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Server(); got != "http://127.0.0.1:1/api/v1" || len(m.servers) != 2 || m.servers[1].String() != "https://b.example:7420/api/v1" {
		t.Errorf("servers %v, in use %q", m.servers, got)
	}
	for _, bad := range []string{"http://127.0.0.1:1,ferry.example", ",", "http://a:1, ftp://b"} {
		if _, err := New(bad, id, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// TestCalls goes through every typed call against the real server.
func TestCalls(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	ctx := t.Context()
	a := newClient(t, srv.URL(), Options{})
	if tok := a.Tokens(); tok.InstanceID != a.InstanceID() || tok.ClientID != a.ClientID() || tok.AccessToken == "" {
		t.Fatalf("tokens = %+v", tok)
	}

	s := newSession(t, a)
	if !protocol.SessionIDPattern.MatchString(s.ID) || len(s.Members) != 1 ||
		s.Members[0].InstanceID != a.InstanceID() || s.Members[0].Letter != "A" || string(s.Settings) != "settings" {
		t.Fatalf("created %+v", s)
	}
	got, err := a.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || string(got.Members[0].PrivateData) != "machine" {
		t.Errorf("session = %+v", got)
	}

	got, err = a.UpdateSettings(ctx, s.ID, protocol.Blob("settings 2"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Settings) != "settings 2" || got.SettingsVersion <= s.SettingsVersion {
		t.Errorf("after settings update: %q version %d (was %d)", got.Settings, got.SettingsVersion, s.SettingsVersion)
	}

	at := time.Now().UTC()
	if applied, err := a.SetStatus(ctx, s.ID, protocol.StatusUpdate{Status: protocol.InventoryRunningIdentification, At: at}); err != nil || !applied {
		t.Fatalf("set status: applied %v, %v", applied, err)
	}
	if applied, err := a.SetStatus(ctx, s.ID, protocol.StatusUpdate{Status: protocol.InventoryError, At: at.Add(-time.Second)}); err != nil || applied {
		t.Fatalf("older status: applied %v, %v", applied, err)
	}
	got, err = a.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := got.Members[0]; m.Status != protocol.InventoryRunningIdentification || !m.StatusAt.Equal(at) {
		t.Errorf("member status %v at %v", m.Status, m.StatusAt)
	}

	// Nodes and sources.
	if _, err := a.AddNode(ctx, s.ID, protocol.NodeRequest{ID: "tmp", Data: protocol.Blob("node")}); err != nil {
		t.Fatal(err)
	}
	got, err = a.AddSource(ctx, s.ID, "tmp", protocol.SourceRequest{ID: "src", Data: protocol.Blob("source")})
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Members[0].Nodes; len(n) != 1 || n[0].ID != "tmp" || len(n[0].Sources) != 1 || n[0].Sources[0].ID != "src" {
		t.Fatalf("nodes = %+v", n)
	}
	got, err = a.RemoveSource(ctx, s.ID, "tmp", "src")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Members[0].Nodes; len(n) != 1 || len(n[0].Sources) != 0 {
		t.Fatalf("after removing the source: %+v", n)
	}
	got, err = a.RemoveNode(ctx, s.ID, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Members[0].Nodes; len(n) != 0 {
		t.Fatalf("after removing the node: %+v", n)
	}

	// Join: b is admitted, c refused.
	b := newClient(t, srv.URL(), Options{})
	joinReq := cloudtest.JoinRequest(t, b.Identity().Private, s.ID)
	ticket, err := b.Join(ctx, s.ID, joinReq)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Admit(ctx, s.ID, ticket.Ticket, cloudtest.Admission(t, a.Identity().Private, s.ID, joinReq)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.URL(), Options{})
	ticket, err = c.Join(ctx, s.ID, cloudtest.JoinRequest(t, c.Identity().Private, s.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Refuse(ctx, s.ID, ticket.Ticket, "not today"); err != nil {
		t.Fatal(err)
	}
	got, err = b.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 2 || got.Members[1].InstanceID != b.InstanceID() || got.Members[1].Letter != "B" {
		t.Fatalf("members = %+v", got.Members)
	}
	if _, err := c.Session(ctx, s.ID); Code(err) != protocol.ErrCodeForbidden && Code(err) != protocol.ErrCodeNotFound {
		t.Errorf("refused joiner reads the session: %v", err)
	}

	// Inventory: every member needs a node with a source.
	if _, err := a.StartInventory(ctx, s.ID); Code(err) != protocol.RefuseMemberWithoutNode && Code(err) != protocol.RefuseTooFewNodes {
		t.Errorf("inventory without nodes: %v", err)
	}
	for i, m := range []*Client{a, b} {
		node := "node" + string(rune('A'+i))
		if _, err := m.AddNode(ctx, s.ID, protocol.NodeRequest{ID: node, Data: protocol.Blob("node")}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.AddSource(ctx, s.ID, node, protocol.SourceRequest{ID: "s", Data: protocol.Blob("src")}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.StartInventory(ctx, s.ID)
	if err != nil || !res.Started {
		t.Fatalf("start inventory: %+v, %v", res, err)
	}
	_, err = a.UpdateSettings(ctx, s.ID, protocol.Blob("late"))
	var pe *protocol.Error
	var se *StatusError
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeConflict || !errors.As(err, &se) || se.Status != http.StatusConflict {
		t.Errorf("settings after the inventory started: %v", err)
	}
	if !strings.Contains(err.Error(), "update settings of "+s.ID) {
		t.Errorf("error without its operation: %v", err)
	}
	got, err = a.Reset(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.InventoryStarted {
		t.Error("still started after reset")
	}

	if err := b.Quit(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err = a.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 {
		t.Errorf("members after quit: %+v", got.Members)
	}
}

// TestLazyLogin: a call made before Login logs in first.
func TestLazyLogin(t *testing.T) {
	t.Parallel()
	n := &counter{}
	srv := startServer(t, cloud.Config{}, n.wrap)
	c := newClientNoLogin(t, srv.URL(), Options{})
	newSession(t, c)
	if got := n.count("POST /auth/login"); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	ctx := t.Context()
	a := newClient(t, srv.URL(), Options{})

	_, err := a.Session(ctx, "000aaa000")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeNotFound {
		t.Errorf("unknown session: %v", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Errorf("a 404 is not unreachable: %v", err)
	}

	s := newSession(t, a)
	b := newClient(t, srv.URL(), Options{})
	if _, err := b.Session(ctx, s.ID); Code(err) != protocol.ErrCodeNotFound {
		t.Errorf("a stranger reads a session: %v", err)
	}
	if _, err := a.AddNode(ctx, s.ID, protocol.NodeRequest{ID: "bad id!", Data: protocol.Blob("x")}); Code(err) != protocol.ErrCodeBadRequest {
		t.Errorf("bad node id: %v", err)
	}
	// A status that cannot be encoded never leaves the client.
	if _, err := a.SetStatus(ctx, s.ID, protocol.StatusUpdate{At: time.Now()}); err == nil || Code(err) != "" {
		t.Errorf("unknown status: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: take one and give it back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClientNoLogin(t, "http://"+addr, Options{Retry: fastRetry})
	err = c.Login(t.Context())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("login: %v, want ErrUnreachable", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("the network error is not in the chain: %v", err)
	}
	if _, err := c.Session(t.Context(), "000aaa000"); !errors.Is(err, ErrUnreachable) {
		t.Errorf("call: %v, want ErrUnreachable", err)
	}
}
