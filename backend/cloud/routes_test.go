package cloud

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Happy paths of every route, with the pushes each one causes, seen by both members.

var _ = register("SessionLifecycle", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a, b := e.client(), e.client()

	// Create.
	var s protocol.Session
	if st, perr := a.Call(http.MethodPost, "/sessions", protocol.CreateSessionRequest{Settings: []byte("v1"), PrivateData: []byte("A's machine")}, &s); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, perr)
	}
	if !protocol.SessionIDPattern.MatchString(s.ID) || len(s.Members) != 1 || s.Members[0].Letter != "A" ||
		s.Members[0].InstanceID != a.Instance || s.Members[0].ClientID != a.Tokens.ClientID ||
		string(s.Members[0].PrivateData) != "A's machine" || s.Members[0].Status != protocol.InventoryWaitingForStart ||
		string(s.Settings) != "v1" || s.SettingsVersion != 1 || s.InventoryStarted {
		t.Fatalf("created %+v", s)
	}
	if got := a.Session(s.ID); got.ID != s.ID || len(got.Members) != 1 {
		t.Fatalf("get: %+v", got)
	}
	pa, sub := a.Connect(s.ID)
	if len(sub.Sessions) != 1 || len(sub.Refused) != 0 {
		t.Fatalf("subscribed: %+v", sub)
	}
	if !a.Session(s.ID).Members[0].Present {
		t.Fatal("A is connected but not present")
	}

	// Join: B asks, A is told, A admits, B is told, everyone sees B join.
	joinReq, joinTicket := b.AskToJoin(s.ID)
	ticket := protocol.JoinTicket{Ticket: joinTicket}
	pb, sub := b.Connect(s.ID) // pending: only B's own events until admitted
	if len(sub.Sessions) != 1 {
		t.Fatalf("joiner subscribed: %+v", sub)
	}
	ev := pa.Wait(protocol.EventJoinRequested, s.ID)
	req := cloudtest.Decode[protocol.JoinRequested](t, ev)
	if req.Ticket != ticket.Ticket || req.InstanceID != b.Instance || req.ClientID != b.Tokens.ClientID ||
		!bytes.Equal(req.IdentityKey, joinReq.IdentityKey) || !bytes.Equal(req.JoinKey, joinReq.JoinKey) || !bytes.Equal(req.JoinKeySignature, joinReq.JoinKeySignature) {
		t.Fatalf("join_requested: %+v", req)
	}
	admission := a.Admission(s.ID, joinReq)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket.Ticket+"/admit", admission, nil)
	adm := cloudtest.Decode[protocol.JoinAdmitted](t, pb.Wait(protocol.EventJoinAdmitted, s.ID))
	if adm.Ticket != ticket.Ticket || !bytes.Equal(adm.WrappedKey, admission.WrappedKey) || !bytes.Equal(adm.IdentityKey, a.Public()) {
		t.Fatalf("join_admitted: %+v", adm)
	}
	for _, p := range []*cloudtest.Push{pa, pb} {
		m := cloudtest.Decode[protocol.Member](t, p.Wait(protocol.EventMemberJoined, s.ID))
		if m.InstanceID != b.Instance || m.Letter != "B" || len(m.PrivateData) != 0 || !m.Present {
			t.Fatalf("member_joined: %+v", m)
		}
	}
	if got := b.Session(s.ID); len(got.Members) != 2 || got.Members[1].InstanceID != b.Instance || !got.Members[1].Present {
		t.Fatalf("after join: %+v", got.Members)
	}

	// Settings, by the oldest member.
	var out protocol.Session
	a.Must(http.MethodPut, "/sessions/"+s.ID+"/settings", protocol.SettingsUpdate{Settings: []byte("v2")}, &out)
	if string(out.Settings) != "v2" || out.SettingsVersion != 2 {
		t.Fatalf("settings: %+v", out)
	}
	for _, p := range []*cloudtest.Push{pa, pb} {
		su := cloudtest.Decode[protocol.SettingsUpdated](t, p.Wait(protocol.EventSettingsUpdated, s.ID))
		if string(su.Settings) != "v2" || su.SettingsVersion != 2 {
			t.Fatalf("settings_updated: %+v", su)
		}
	}

	// Nodes and sources, each member its own.
	for _, c := range []*cloudtest.Client{a, b} {
		base := "/sessions/" + s.ID + "/members/" + c.Instance + "/nodes"
		c.Must(http.MethodPost, base, protocol.NodeRequest{ID: "n-" + c.Instance, Data: []byte("node")}, &out)
		c.Must(http.MethodPost, base+"/n-"+c.Instance+"/sources", protocol.SourceRequest{ID: "s1", Data: []byte("src")}, &out)
		for _, p := range []*cloudtest.Push{pa, pb} {
			n := cloudtest.Decode[protocol.DataNode](t, p.Wait(protocol.EventNodeAdded, s.ID))
			if n.ID != "n-"+c.Instance || string(n.Data) != "node" {
				t.Fatalf("node_added: %+v", n)
			}
			se := cloudtest.Decode[protocol.SourceEvent](t, p.Wait(protocol.EventSourceAdded, s.ID))
			if se.Node != "n-"+c.Instance || se.Source.ID != "s1" || string(se.Source.Data) != "src" {
				t.Fatalf("source_added: %+v", se)
			}
		}
	}
	// A second node and source for A, then removed again.
	nodes := "/sessions/" + s.ID + "/members/" + a.Instance + "/nodes"
	a.Must(http.MethodPost, nodes, protocol.NodeRequest{ID: "extra", Data: []byte("x")}, nil)
	a.Must(http.MethodPost, nodes+"/extra/sources", protocol.SourceRequest{ID: "s9", Data: []byte("y")}, nil)
	a.Must(http.MethodDelete, nodes+"/extra/sources/s9", nil, &out)
	se := cloudtest.Decode[protocol.SourceEvent](t, pb.Wait(protocol.EventSourceRemoved, s.ID))
	if se.Node != "extra" || se.Source.ID != "s9" {
		t.Fatalf("source_removed: %+v", se)
	}
	a.Must(http.MethodDelete, nodes+"/extra", nil, &out)
	if n := cloudtest.Decode[protocol.DataNode](t, pb.Wait(protocol.EventNodeRemoved, s.ID)); n.ID != "extra" {
		t.Fatalf("node_removed: %+v", n)
	}
	if len(out.Members[0].Nodes) != 1 {
		t.Fatalf("nodes after removal: %+v", out.Members[0].Nodes)
	}
	// Replacing a node keeps its sources.
	a.Must(http.MethodPost, nodes, protocol.NodeRequest{ID: "n-" + a.Instance, Data: []byte("node v2")}, &out)
	if n := out.Members[0].Nodes[0]; string(n.Data) != "node v2" || len(n.Sources) != 1 {
		t.Fatalf("replaced node: %+v", n)
	}

	// Status: newest wins.
	at := time.Now().UTC().Truncate(time.Millisecond)
	var res protocol.StatusResult
	b.Must(http.MethodPut, "/sessions/"+s.ID+"/members/"+b.Instance+"/status", protocol.StatusUpdate{Status: protocol.InventoryRunningIdentification, At: at}, &res)
	if !res.Applied {
		t.Fatal("status not applied")
	}
	su := cloudtest.Decode[protocol.StatusUpdate](t, pa.Wait(protocol.EventStatusUpdated, s.ID))
	if su.Status != protocol.InventoryRunningIdentification || !su.At.Equal(at) {
		t.Fatalf("status_updated: %+v", su)
	}
	b.Must(http.MethodPut, "/sessions/"+s.ID+"/members/"+b.Instance+"/status", protocol.StatusUpdate{Status: protocol.InventoryError, At: at.Add(-time.Second)}, &res)
	if res.Applied {
		t.Fatal("an older status was applied")
	}
	b.Must(http.MethodPut, "/sessions/"+s.ID+"/members/"+b.Instance+"/status", protocol.StatusUpdate{Status: protocol.InventoryFinished, At: at.Add(time.Second)}, &res)
	// The older update was not pushed: the next status push is the newer one.
	if su := cloudtest.Decode[protocol.StatusUpdate](t, pa.Wait(protocol.EventStatusUpdated, s.ID)); su.Status != protocol.InventoryFinished {
		t.Fatalf("status_updated after an ignored one: %+v", su)
	}
	if m := a.Session(s.ID).Members[1]; m.Status != protocol.InventoryFinished || !m.StatusAt.Equal(at.Add(time.Second)) {
		t.Fatalf("stored status: %v at %v", m.Status, m.StatusAt)
	}

	// Inventory start, by the oldest member.
	var started protocol.StartInventoryResult
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/inventory/start", nil, &started)
	if !started.Started {
		t.Fatal("not started")
	}
	for _, p := range []*cloudtest.Push{pa, pb} {
		got := cloudtest.Decode[protocol.Session](t, p.Wait(protocol.EventInventoryStarted, s.ID))
		if !got.InventoryStarted || string(got.Settings) != "v2" {
			t.Fatalf("inventory_started: %+v", got)
		}
	}
	// Reset.
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/reset", nil, &out)
	if out.InventoryStarted || len(out.Members[0].Nodes) != 1 {
		t.Fatalf("reset: %+v", out)
	}
	for _, p := range []*cloudtest.Push{pa, pb} {
		if got := cloudtest.Decode[protocol.Session](t, p.Wait(protocol.EventSessionReset, s.ID)); got.InventoryStarted {
			t.Fatalf("session_reset: %+v", got)
		}
	}

	// A quits: B becomes the oldest (letter A) and keeps its nodes.
	if st, perr := a.Call(http.MethodPost, "/sessions/"+s.ID+"/quit", nil, nil); st != http.StatusNoContent {
		t.Fatalf("quit: %d %v", st, perr)
	}
	for _, p := range []*cloudtest.Push{pa, pb} {
		m := cloudtest.Decode[protocol.Member](t, p.Wait(protocol.EventMemberQuit, s.ID))
		if m.InstanceID != a.Instance || len(m.Nodes) != 1 {
			t.Fatalf("member_quit: %+v", m)
		}
	}
	got := b.Session(s.ID)
	if len(got.Members) != 1 || got.Members[0].InstanceID != b.Instance || got.Members[0].Letter != "A" || len(got.Members[0].Nodes) != 1 {
		t.Fatalf("after A quit: %+v", got.Members)
	}
	if st, _ := a.Call(http.MethodGet, "/sessions/"+s.ID, nil, nil); st != http.StatusNotFound {
		t.Fatalf("A reads after quitting: %d", st)
	}
	// B may now manage the session.
	b.Must(http.MethodPut, "/sessions/"+s.ID+"/settings", protocol.SettingsUpdate{Settings: []byte("v3")}, nil)
	pb.Wait(protocol.EventSettingsUpdated, s.ID)
	// A no longer follows the session: the next event A sees is its own.
	own := a.CreateSession("own")
	pa.Hello(a.Tokens.AccessToken, own.ID)
	expectNothingBefore(t, a, pa, own.ID)

	// The last member quits: the session is gone.
	b.Must(http.MethodPost, "/sessions/"+s.ID+"/quit", nil, nil)
	pb.Wait(protocol.EventMemberQuit, s.ID)
	if st, perr := b.Call(http.MethodGet, "/sessions/"+s.ID, nil, nil); st != http.StatusNotFound {
		t.Fatalf("session after the last quit: %d %v", st, perr)
	}
})

var _ = register("JoinRefusedAndLimits", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a := e.client()
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)

	// Refused.
	j := e.client()
	jReq, jTicket := j.AskToJoin(s.ID)
	ticket := protocol.JoinTicket{Ticket: jTicket}
	pj, _ := j.Connect(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket.Ticket+"/refuse", protocol.RefuseRequest{Code: protocol.JoinUntrustedKey, Reason: "unknown machine"}, nil)
	ref := cloudtest.Decode[protocol.JoinRefused](t, pj.Wait(protocol.EventJoinRefused, s.ID))
	if ref.Ticket != ticket.Ticket || ref.Code != protocol.JoinUntrustedKey || ref.Reason != "unknown machine" {
		t.Fatalf("join_refused: %+v", ref)
	}
	if st, _ := a.Call(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket.Ticket+"/admit", a.Admission(s.ID, jReq), nil); st != http.StatusNotFound {
		t.Fatalf("admit a refused ticket: %d", st)
	}
	if st, _ := j.Call(http.MethodGet, "/sessions/"+s.ID, nil, nil); st != http.StatusNotFound {
		t.Fatalf("refused joiner reads the session: %d", st)
	}

	// Fill the session to 5 members, with two joiners pending when there are 4: the limit is
	// checked again at admission.
	for range 3 {
		admit(t, a, pa, e.client(), s.ID)
	}
	j5, j6 := e.client(), e.client()
	r5, t5 := j5.AskToJoin(s.ID)
	r6, t6 := j6.AskToJoin(s.ID)
	p6, _ := j6.Connect(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+t5+"/admit", a.Admission(s.ID, r5), nil)
	before := sessionJSON(t, a, s.ID)
	if st, perr := a.Call(http.MethodPost, "/sessions/"+s.ID+"/join/"+t6+"/admit", a.Admission(s.ID, r6), nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeSessionFull {
		t.Fatalf("admit a sixth member: %d %v", st, perr)
	}
	if got := sessionJSON(t, a, s.ID); got != before {
		t.Fatalf("refused admission changed the session:\n%s\n%s", before, got)
	}
	late := e.client()
	if st, perr := late.Call(http.MethodPost, "/sessions/"+s.ID+"/join", late.JoinRequest(s.ID), nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeSessionFull {
		t.Fatalf("join a full session: %d %v", st, perr)
	}
	// The oldest member leaving refuses what is pending.
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/quit", nil, nil)
	if ref := cloudtest.Decode[protocol.JoinRefused](t, p6.Wait(protocol.EventJoinRefused, s.ID)); ref.Ticket != t6 || ref.Code != protocol.JoinValidatorLeft {
		t.Fatalf("join_refused after the oldest left: %+v", ref)
	}
})

var _ = register("JoinAfterInventoryStarted", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a := e.client()
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)
	j := e.client()
	req, ticket := j.AskToJoin(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	addNodes(t, a, s.ID, 2)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/inventory/start", nil, nil)
	// Pending when the inventory started: admission is refused.
	admission := a.Admission(s.ID, req)
	if st, perr := a.Call(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket+"/admit", admission, nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeInventoryStarted {
		t.Fatalf("admit after the start: %d %v", st, perr)
	}
	late := e.client()
	if st, perr := late.Call(http.MethodPost, "/sessions/"+s.ID+"/join", late.JoinRequest(s.ID), nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeInventoryStarted {
		t.Fatalf("join after the start: %d %v", st, perr)
	}
	// After a reset the pending join can be admitted.
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/reset", nil, nil)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket+"/admit", admission, nil)
	if n := len(a.Session(s.ID).Members); n != 2 {
		t.Fatalf("%d members", n)
	}
})

// addNodes gives c n nodes with one source each.
func addNodes(t *testing.T, c *cloudtest.Client, id string, n int) {
	t.Helper()
	base := "/sessions/" + id + "/members/" + c.Instance + "/nodes"
	for i := range n {
		node := "node" + string(rune('a'+i)) + c.Instance[len(c.Instance)-4:]
		c.Must(http.MethodPost, base, protocol.NodeRequest{ID: node, Data: []byte("n")}, nil)
		c.Must(http.MethodPost, base+"/"+node+"/sources", protocol.SourceRequest{ID: "src", Data: []byte("s")}, nil)
	}
}

var _ = register("InventoryStartMatrix", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	start := func(c *cloudtest.Client, id string) (int, string) {
		st, perr := c.Call(http.MethodPost, "/sessions/"+id+"/inventory/start", nil, nil)
		if perr != nil {
			return st, perr.Code
		}
		return st, ""
	}
	type member struct{ nodes, sources int }
	cases := []struct {
		name    string
		members []member
		code    string
	}{
		{"one member one node", []member{{1, 1}}, protocol.RefuseTooFewNodes},
		{"one member no node", []member{{0, 0}}, protocol.RefuseMemberWithoutNode},
		{"one member two nodes", []member{{2, 1}}, ""},
		{"one member five nodes", []member{{5, 1}}, ""},
		{"node without source", []member{{2, 0}}, protocol.RefuseNodeWithoutSource},
		{"two members one node each", []member{{1, 1}, {1, 1}}, ""},
		{"member without node", []member{{2, 1}, {0, 0}}, protocol.RefuseMemberWithoutNode},
		{"six nodes", []member{{3, 1}, {3, 1}}, protocol.RefuseTooManyNodes},
		{"five members", []member{{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.client()
			s := a.CreateSession("s")
			pa, _ := a.Connect(s.ID)
			clients := []*cloudtest.Client{a}
			for range tc.members[1:] {
				c := e.client()
				admit(t, a, pa, c, s.ID)
				clients = append(clients, c)
			}
			for i, m := range tc.members {
				c := clients[i]
				base := "/sessions/" + s.ID + "/members/" + c.Instance + "/nodes"
				for n := range m.nodes {
					node := c.Instance + "-" + string(rune('a'+n))
					c.Must(http.MethodPost, base, protocol.NodeRequest{ID: node, Data: []byte("n")}, nil)
					for k := range m.sources {
						c.Must(http.MethodPost, base+"/"+node+"/sources", protocol.SourceRequest{ID: "s" + string(rune('0'+k)), Data: []byte("s")}, nil)
					}
				}
			}
			before := sessionJSON(t, a, s.ID)
			st, code := start(a, s.ID)
			if tc.code != "" {
				if st != http.StatusConflict || code != tc.code {
					t.Fatalf("start: %d %s, want 409 %s", st, code, tc.code)
				}
				if got := sessionJSON(t, a, s.ID); got != before {
					t.Fatalf("a refused start changed the session")
				}
				return
			}
			if st != http.StatusOK || !a.Session(s.ID).InventoryStarted {
				t.Fatalf("start: %d %s", st, code)
			}
			if st, code := start(a, s.ID); st != http.StatusConflict || code != protocol.RefuseAlreadyStarted {
				t.Fatalf("second start: %d %s", st, code)
			}
			// Frozen: settings, nodes and sources.
			c := clients[len(clients)-1]
			base := "/sessions/" + s.ID + "/members/" + c.Instance + "/nodes"
			for _, r := range []struct {
				c            *cloudtest.Client
				method, path string
				body         any
			}{
				{a, http.MethodPut, "/sessions/" + s.ID + "/settings", protocol.SettingsUpdate{Settings: []byte("x")}},
				{c, http.MethodPost, base, protocol.NodeRequest{ID: "late", Data: []byte("n")}},
				{c, http.MethodDelete, base + "/" + c.Instance + "-a", nil},
				{c, http.MethodPost, base + "/" + c.Instance + "-a/sources", protocol.SourceRequest{ID: "late", Data: []byte("s")}},
				{c, http.MethodDelete, base + "/" + c.Instance + "-a/sources/s0", nil},
			} {
				before := sessionJSON(t, a, s.ID)
				if st, perr := r.c.Call(r.method, r.path, r.body, nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeConflict {
					t.Fatalf("%s %s after the start: %d %v", r.method, r.path, st, perr)
				}
				if got := sessionJSON(t, a, s.ID); got != before {
					t.Fatalf("%s %s changed the session", r.method, r.path)
				}
			}
			// Status updates still go through.
			c.Must(http.MethodPut, "/sessions/"+s.ID+"/members/"+c.Instance+"/status",
				protocol.StatusUpdate{Status: protocol.InventoryRunningAnalysis, At: time.Now()}, nil)
		})
	}
})

var _ = register("NodeLimits", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	a, b := tm.A, tm.B
	base := "/sessions/" + tm.ID + "/members/" + a.Instance + "/nodes"
	for i := range protocol.MaxNodes {
		a.Must(http.MethodPost, base, protocol.NodeRequest{ID: "n" + string(rune('0'+i)), Data: []byte("n")}, nil)
	}
	if st, perr := a.Call(http.MethodPost, base, protocol.NodeRequest{ID: "n9", Data: []byte("n")}, nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeLimit {
		t.Fatalf("sixth node: %d %v", st, perr)
	}
	// Node ids are unique in the session.
	if st, perr := b.Call(http.MethodPost, "/sessions/"+tm.ID+"/members/"+b.Instance+"/nodes", protocol.NodeRequest{ID: "n0", Data: []byte("n")}, nil); st != http.StatusConflict {
		t.Fatalf("B takes A's node id: %d %v", st, perr)
	}
	for i := range protocol.MaxSourcesNode {
		a.Must(http.MethodPost, base+"/n0/sources", protocol.SourceRequest{ID: "s" + itoa(i), Data: []byte("s")}, nil)
	}
	if st, perr := a.Call(http.MethodPost, base+"/n0/sources", protocol.SourceRequest{ID: "one-more", Data: []byte("s")}, nil); st != http.StatusConflict || perr.Code != protocol.ErrCodeLimit {
		t.Fatalf("source over the limit: %d %v", st, perr)
	}
	// Replacing a source is not adding one.
	a.Must(http.MethodPost, base+"/n0/sources", protocol.SourceRequest{ID: "s0", Data: []byte("new")}, nil)
	got := a.Session(tm.ID).Members[0].Nodes[0].Sources[0]
	if !bytes.Equal(got.Data, []byte("new")) {
		t.Fatalf("replaced source: %+v", got)
	}
})

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
