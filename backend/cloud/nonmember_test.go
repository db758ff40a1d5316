package cloud

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// A non-member cannot tell a session that exists from one that does not: every route that names
// a session answers it exactly as for an absent session. The routes come from the server's own
// list, so a new route is covered (and needs a body here).
var _ = register("NonMemberSeesNoSession", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, withStorage(t.TempDir()))
	a := e.client()
	outsider := e.client()
	s := a.CreateSession("s")
	addNodes(t, a, s.ID, 2)
	absent := "999zzz999"
	if s.ID == absent {
		absent = "998zzz998"
	}
	const transfer = "AAAAAAAAAAAAAAAAAAAAAA"

	// The one route meant for non-members: asking to join needs the session to exist.
	exempt := map[string]string{
		"POST /api/v1/sessions/{id}/join": "a non-member asks to join an existing session",
	}
	// A valid body for each route, so that the answer depends on the session alone.
	bodies := map[string]func(id string) any{
		"GET /api/v1/sessions/{id}":          nil,
		"POST /api/v1/sessions/{id}/quit":    nil,
		"POST /api/v1/sessions/{id}/reset":   nil,
		"PUT /api/v1/sessions/{id}/settings": func(string) any { return protocol.SettingsUpdate{Settings: []byte("x")} },
		"PUT /api/v1/sessions/{id}/members/{instance}/status": func(string) any {
			return `{"status":"InventoryFinished","at":"2026-01-02T03:04:05Z"}`
		},
		"POST /api/v1/sessions/{id}/members/{instance}/nodes": func(string) any {
			return protocol.NodeRequest{ID: "n9", Data: []byte("n")}
		},
		"DELETE /api/v1/sessions/{id}/members/{instance}/nodes/{node}": nil,
		"POST /api/v1/sessions/{id}/members/{instance}/nodes/{node}/sources": func(string) any {
			return protocol.SourceRequest{ID: "s9", Data: []byte("s")}
		},
		"DELETE /api/v1/sessions/{id}/members/{instance}/nodes/{node}/sources/{source}": nil,
		"POST /api/v1/sessions/{id}/inventory/start":                                    nil,
		"POST /api/v1/sessions/{id}/join/{ticket}/challenge": func(id string) any {
			return cloudtest.Challenge(t, outsider.Key, id, outsider.JoinRequest(id))
		},
		"POST /api/v1/sessions/{id}/join/{ticket}/proof": func(string) any { return protocol.JoinProofRequest{Proof: []byte("p")} },
		"POST /api/v1/sessions/{id}/join/{ticket}/admit": func(id string) any {
			return outsider.Admission(id, a.JoinRequest(id))
		},
		"POST /api/v1/sessions/{id}/join/{ticket}/refuse":                    nil,
		"POST /api/v1/sessions/{id}/synchronization/start":                   func(string) any { return protocol.StartSynchronization{} },
		"GET /api/v1/sessions/{id}/synchronization":                          nil,
		"POST /api/v1/sessions/{id}/synchronization/results":                 func(string) any { return protocol.ActionResults{} },
		"POST /api/v1/sessions/{id}/synchronization/finished":                nil,
		"POST /api/v1/sessions/{id}/synchronization/abort":                   nil,
		"GET /api/v1/sessions/{id}/transfers/{transfer}":                     nil,
		"DELETE /api/v1/sessions/{id}/transfers/{transfer}":                  nil,
		"POST /api/v1/sessions/{id}/transfers/{transfer}/parts/{n}/download": nil,
		"POST /api/v1/sessions/{id}/transfers/{transfer}/parts/{n}/received": nil,
		"POST /api/v1/sessions/{id}/transfers/{transfer}/parts/{n}/uploaded": nil,
		"POST /api/v1/sessions/{id}/transfers": func(string) any {
			return protocol.TransferRequest{ID: transfer, Kind: protocol.TransferContent, Recipients: []string{a.Instance}}
		},
		"POST /api/v1/sessions/{id}/transfers/{transfer}/complete": func(string) any {
			return protocol.CompleteRequest{Parts: 1}
		},
		"POST /api/v1/sessions/{id}/transfers/{transfer}/parts/{n}/upload": func(string) any {
			return protocol.UploadRequest{Size: 10}
		},
	}

	covered := 0
	for _, rt := range e.srv.routeList() {
		if !strings.Contains(rt.pattern, "{id}") || exempt[rt.pattern] != "" {
			continue
		}
		body, ok := bodies[rt.pattern]
		if !ok {
			t.Errorf("route %s names a session but has no body in this test: add one", rt.pattern)
			continue
		}
		method, pattern, _ := strings.Cut(rt.pattern, " ")
		for _, instance := range []string{outsider.Instance, a.Instance} {
			answer := func(id string) (int, protocol.Error) {
				path := strings.NewReplacer("{id}", id, "{instance}", instance, "{node}", "n1", "{source}", "s1",
					"{ticket}", "BBBBBBBBBBBBBBBBBBBBBB", "{transfer}", transfer, "{n}", "1").Replace(pattern)
				var b any
				if body != nil {
					b = body(id)
				}
				st, perr := outsider.Call(method, strings.TrimPrefix(path, protocol.APIPrefix), b, nil)
				if perr == nil {
					t.Fatalf("%s %s by a non-member: %d, want a refusal", method, path, st)
				}
				// The message may name the session: compare it with the id taken out.
				perr.Message = strings.ReplaceAll(perr.Message, id, "ID")
				return st, *perr
			}
			stExists, errExists := answer(s.ID)
			stAbsent, errAbsent := answer(absent)
			if stAbsent != http.StatusNotFound || errAbsent.Code != protocol.ErrCodeNotFound {
				t.Errorf("%s for an absent session: %d %v, want 404 not_found", rt.pattern, stAbsent, errAbsent)
			}
			if stExists != stAbsent || errExists != errAbsent {
				t.Errorf("%s (instance %s) tells a non-member the session exists: %d %v, but %d %v for an absent one",
					rt.pattern, instance, stExists, errExists, stAbsent, errAbsent)
			}
		}
		covered++
	}
	if covered < len(bodies) {
		t.Errorf("%d session routes checked, %d listed here: a route was removed or renamed", covered, len(bodies))
	}
})
