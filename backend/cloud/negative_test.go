package cloud

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Every refused request gets the right 4xx and changes nothing.
var _ = register("Refusals", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	outsider := e.client()
	joiner := e.client()
	joinReq, joinTicket := joiner.AskToJoin(id)
	ticket := protocol.JoinTicket{Ticket: joinTicket}
	tm.PushA.Wait(protocol.EventJoinRequested, id)
	for _, c := range []*cloudtest.Client{a, b} {
		addNodes(t, c, id, 1)
	}
	aNode := a.Session(id).Members[0].Nodes[0].ID
	aSource := a.Session(id).Members[0].Nodes[0].Sources[0].ID

	sess := "/sessions/" + id
	member := func(c *cloudtest.Client) string { return sess + "/members/" + c.Instance }
	status := func(s string) string { return `{"status":"` + s + `","at":"2026-01-02T03:04:05Z"}` }
	bigBlob := make([]byte, protocol.MaxBlobBytes+1)
	bigBody := `{"settings":"` + strings.Repeat("A", protocol.MaxBodyBytes) + `"}`
	settings := protocol.SettingsUpdate{Settings: []byte("changed")}
	node := protocol.NodeRequest{ID: "new-node", Data: []byte("n")}
	source := protocol.SourceRequest{ID: "new-source", Data: []byte("s")}

	cases := []struct {
		name         string
		who          *cloudtest.Client
		method, path string
		body         any
		status       int
		code         string
	}{
		// Not a member.
		{"outsider get", outsider, "GET", sess, nil, 404, protocol.ErrCodeNotFound},
		{"outsider quit", outsider, "POST", sess + "/quit", nil, 404, protocol.ErrCodeNotFound},
		{"outsider reset", outsider, "POST", sess + "/reset", nil, 404, protocol.ErrCodeNotFound},
		{"outsider settings", outsider, "PUT", sess + "/settings", settings, 404, protocol.ErrCodeNotFound},
		{"outsider inventory start", outsider, "POST", sess + "/inventory/start", nil, 404, protocol.ErrCodeNotFound},
		{"outsider own status", outsider, "PUT", member(outsider) + "/status", status("InventoryFinished"), 404, protocol.ErrCodeNotFound},
		{"outsider A's status", outsider, "PUT", member(a) + "/status", status("InventoryFinished"), 404, protocol.ErrCodeNotFound},
		{"outsider own node", outsider, "POST", member(outsider) + "/nodes", node, 404, protocol.ErrCodeNotFound},
		{"outsider A's node", outsider, "POST", member(a) + "/nodes", node, 404, protocol.ErrCodeNotFound},
		{"outsider removes A's node", outsider, "DELETE", member(a) + "/nodes/" + aNode, nil, 404, protocol.ErrCodeNotFound},
		{"outsider A's source", outsider, "POST", member(a) + "/nodes/" + aNode + "/sources", source, 404, protocol.ErrCodeNotFound},
		{"outsider removes A's source", outsider, "DELETE", member(a) + "/nodes/" + aNode + "/sources/" + aSource, nil, 404, protocol.ErrCodeNotFound},
		{"outsider admits", outsider, "POST", sess + "/join/" + ticket.Ticket + "/admit", outsider.Admission(id, joinReq), 404, protocol.ErrCodeNotFound},
		{"outsider refuses", outsider, "POST", sess + "/join/" + ticket.Ticket + "/refuse", nil, 404, protocol.ErrCodeNotFound},
		{"pending joiner get", joiner, "GET", sess, nil, 404, protocol.ErrCodeNotFound},
		{"pending joiner admits itself", joiner, "POST", sess + "/join/" + ticket.Ticket + "/admit", joiner.Admission(id, joinReq), 404, protocol.ErrCodeNotFound},
		{"pending joiner adds a node", joiner, "POST", member(joiner) + "/nodes", node, 404, protocol.ErrCodeNotFound},

		// A member acting for another, or in the oldest member's place.
		{"B sets A's status", b, "PUT", member(a) + "/status", status("InventoryFinished"), 403, protocol.ErrCodeForbidden},
		{"B adds A a node", b, "POST", member(a) + "/nodes", node, 403, protocol.ErrCodeForbidden},
		{"B removes A's node", b, "DELETE", member(a) + "/nodes/" + aNode, nil, 403, protocol.ErrCodeForbidden},
		{"B adds A a source", b, "POST", member(a) + "/nodes/" + aNode + "/sources", source, 403, protocol.ErrCodeForbidden},
		{"B removes A's source", b, "DELETE", member(a) + "/nodes/" + aNode + "/sources/" + aSource, nil, 403, protocol.ErrCodeForbidden},
		{"B adds a source to A's node under its own name", b, "POST", member(b) + "/nodes/" + aNode + "/sources", source, 404, protocol.ErrCodeNotFound},
		{"B changes the settings", b, "PUT", sess + "/settings", settings, 403, protocol.ErrCodeForbidden},
		{"B resets", b, "POST", sess + "/reset", nil, 403, protocol.ErrCodeForbidden},
		{"B starts the inventory", b, "POST", sess + "/inventory/start", nil, 403, protocol.ErrCodeForbidden},
		{"B admits", b, "POST", sess + "/join/" + ticket.Ticket + "/admit", b.Admission(id, joinReq), 403, protocol.ErrCodeForbidden},
		{"B refuses", b, "POST", sess + "/join/" + ticket.Ticket + "/refuse", nil, 403, protocol.ErrCodeForbidden},
		{"B joins again", b, "POST", sess + "/join", b.JoinRequest(id), 409, protocol.ErrCodeConflict},

		// Unknown ids.
		{"unknown session", a, "GET", "/sessions/000aaa000", nil, 404, protocol.ErrCodeNotFound},
		{"unknown session quit", a, "POST", "/sessions/000aaa000/quit", nil, 404, protocol.ErrCodeNotFound},
		{"unknown session join", outsider, "POST", "/sessions/000aaa000/join", outsider.JoinRequest("000aaa000"), 404, protocol.ErrCodeNotFound},
		{"unknown member status", a, "PUT", sess + "/members/nobody-here/status", status("InventoryFinished"), 404, protocol.ErrCodeNotFound},
		{"unknown node", a, "DELETE", member(a) + "/nodes/no-such-node", nil, 404, protocol.ErrCodeNotFound},
		{"source on unknown node", a, "POST", member(a) + "/nodes/no-such-node/sources", source, 404, protocol.ErrCodeNotFound},
		{"unknown source", a, "DELETE", member(a) + "/nodes/" + aNode + "/sources/no-such-source", nil, 404, protocol.ErrCodeNotFound},
		{"unknown ticket", a, "POST", sess + "/join/AAAAAAAAAAAAAAAAAAAAAA/admit", a.Admission(id, joinReq), 404, protocol.ErrCodeNotFound},
		{"unknown route", a, "GET", sess + "/nothing", nil, 404, protocol.ErrCodeNotFound},
		{"wrong method", a, "PATCH", sess, nil, 405, protocol.ErrCodeBadRequest},

		// Malformed input.
		{"bad session id", a, "GET", "/sessions/12abc3456", nil, 400, protocol.ErrCodeBadRequest},
		{"upper-case session id", a, "PUT", "/sessions/123ABC456/settings", settings, 400, protocol.ErrCodeBadRequest},
		{"bad ticket", a, "POST", sess + "/join/short/admit", nil, 400, protocol.ErrCodeBadRequest},
		{"bad node id in path", a, "DELETE", member(a) + "/nodes/a%20b", nil, 400, protocol.ErrCodeBadRequest},
		{"bad node id in body", a, "POST", member(a) + "/nodes", protocol.NodeRequest{ID: "a/b", Data: []byte("n")}, 400, protocol.ErrCodeBadRequest},
		{"long node id", a, "POST", member(a) + "/nodes", protocol.NodeRequest{ID: strings.Repeat("n", 65), Data: []byte("n")}, 400, protocol.ErrCodeBadRequest},
		{"node without data", a, "POST", member(a) + "/nodes", `{"id":"n1"}`, 400, protocol.ErrCodeBadRequest},
		{"invalid status name", a, "PUT", member(a) + "/status", status("Sleeping"), 400, protocol.ErrCodeInvalidStatus},
		{"status Unknown", a, "PUT", member(a) + "/status", status("Unknown"), 400, protocol.ErrCodeInvalidStatus},
		{"status without time", a, "PUT", member(a) + "/status", `{"status":"InventoryFinished"}`, 400, protocol.ErrCodeBadRequest},
		{"status as a number", a, "PUT", member(a) + "/status", `{"status":7,"at":"2026-01-02T03:04:05Z"}`, 400, protocol.ErrCodeBadRequest},
		{"malformed JSON", a, "PUT", sess + "/settings", `{"settings":`, 400, protocol.ErrCodeBadRequest},
		{"not an object", a, "PUT", sess + "/settings", `[1,2]`, 400, protocol.ErrCodeBadRequest},
		{"unknown field", a, "PUT", sess + "/settings", `{"settings":"eA==","admin":true}`, 400, protocol.ErrCodeBadRequest},
		{"two values", a, "PUT", sess + "/settings", `{"settings":"eA=="}{"settings":"eQ=="}`, 400, protocol.ErrCodeBadRequest},
		{"blob not base64", a, "PUT", sess + "/settings", `{"settings":"not base64!"}`, 400, protocol.ErrCodeBadRequest},
		{"empty body", a, "PUT", sess + "/settings", "", 400, protocol.ErrCodeBadRequest},
		{"empty settings", a, "PUT", sess + "/settings", `{"settings":""}`, 400, protocol.ErrCodeBadRequest},
		{"body on a route without one", a, "POST", sess + "/reset", `{"force":true}`, 400, protocol.ErrCodeBadRequest},
		{"oversized body", a, "PUT", sess + "/settings", bigBody, 413, protocol.ErrCodeTooLarge},
		{"oversized blob", a, "PUT", sess + "/settings", protocol.SettingsUpdate{Settings: bigBlob}, 413, protocol.ErrCodeTooLarge},
		{"oversized node", a, "POST", member(a) + "/nodes", protocol.NodeRequest{ID: "big", Data: bigBlob}, 413, protocol.ErrCodeTooLarge},
		{"oversized join request", outsider, "POST", sess + "/join", `{"identity_key":"` + strings.Repeat("A", protocol.MaxBodyBytes) + `"}`, 413, protocol.ErrCodeTooLarge},
		{"long refusal reason", a, "POST", sess + "/join/" + ticket.Ticket + "/refuse", protocol.RefuseRequest{Reason: strings.Repeat("r", protocol.MaxReasonBytes+1)}, 400, protocol.ErrCodeBadRequest},
		{"create without settings", a, "POST", "/sessions", `{"private_data":"eA=="}`, 400, protocol.ErrCodeBadRequest},
		{"create with an oversized blob", a, "POST", "/sessions", protocol.CreateSessionRequest{Settings: []byte("s"), PrivateData: bigBlob}, 413, protocol.ErrCodeTooLarge},
	}
	for _, tc := range cases {
		before := sessionJSON(t, a, id)
		st, perr := tc.who.Call(tc.method, tc.path, tc.body, nil)
		if st != tc.status || perr == nil || perr.Code != tc.code || perr.Message == "" {
			t.Errorf("%s: got %d %v, want %d %s", tc.name, st, perr, tc.status, tc.code)
		}
		if after := sessionJSON(t, a, id); after != before {
			t.Errorf("%s changed the session:\n before %s\n after  %s", tc.name, before, after)
		}
	}
	// The pending join is still there, and no session was created by the refused creates.
	a.Must(http.MethodPost, sess+"/join/"+ticket.Ticket+"/admit", a.Admission(id, joinReq), nil)
	// Nobody saw a push of the refused changes: the next settings push B gets is a real one.
	a.Must(http.MethodPut, sess+"/settings", protocol.SettingsUpdate{Settings: []byte("final")}, nil)
	for {
		ev := tm.PushB.Next()
		switch ev.Type {
		case protocol.EventNodeAdded, protocol.EventSourceAdded, protocol.EventJoinRequested,
			protocol.EventMemberJoined, protocol.EventMemberPresent:
			continue
		case protocol.EventSettingsUpdated:
			if su := cloudtest.Decode[protocol.SettingsUpdated](t, ev); string(su.Settings) != "final" {
				t.Fatalf("settings push: %+v", su)
			}
		default:
			t.Fatalf("push %s after refused requests", ev.Type)
		}
		break
	}
})

// Status times compare as instants, whatever their zone.
var _ = register("StatusTimes", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a := e.client()
	s := a.CreateSession("s")
	route := "/sessions/" + s.ID + "/members/" + a.Instance + "/status"
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	var res protocol.StatusResult
	a.Must(http.MethodPut, route, protocol.StatusUpdate{Status: protocol.InventoryFinished, At: at}, &res)
	// The same instant in another zone is not newer.
	a.Must(http.MethodPut, route, protocol.StatusUpdate{Status: protocol.InventoryError, At: at.UTC()}, &res)
	if res.Applied {
		t.Fatal("the same instant was applied again")
	}
	raw, _ := json.Marshal(a.Session(s.ID).Members[0])
	if !strings.Contains(string(raw), `"status":"InventoryFinished"`) {
		t.Fatalf("member: %s", raw)
	}
})
