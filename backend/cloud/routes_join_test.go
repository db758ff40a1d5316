package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// storedJSON is everything the store holds about a session, pending joins and version included:
// a refused request must leave it byte for byte as it was.
func storedJSON(t *testing.T, e *env, id string) string {
	t.Helper()
	s, err := e.store.GetSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// refusal is a request that must be refused with status and code and change nothing.
type refusal struct {
	name   string
	who    *cloudtest.Client
	path   string
	body   any
	status int
	code   string
}

func expectRefused(t *testing.T, e *env, id string, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		before := storedJSON(t, e, id)
		st, perr := tc.who.Call(http.MethodPost, tc.path, tc.body, nil)
		if st != tc.status || perr == nil || perr.Code != tc.code || perr.Message == "" {
			t.Errorf("%s: got %d %v, want %d %s", tc.name, st, perr, tc.status, tc.code)
		}
		if after := storedJSON(t, e, id); after != before {
			t.Errorf("%s changed the session:\n before %s\n after  %s", tc.name, before, after)
		}
	}
}

// flip returns b with one bit changed.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i%len(c)] ^= 1
	return c
}

// The whole exchange, each step refused when the caller may not take it or when a key or a
// signature is not right; the pushes reach only whom they are for.
var _ = register("JoinExchange", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	joiner, outsider := e.client(), e.client()
	sess := "/sessions/" + id
	join := sess + "/join"

	// The request: the identity key must be the caller's and sign the join key for this session.
	good := joiner.JoinRequest(id)
	otherSession := joiner.JoinRequest("999zzz999")
	stolen := good
	stolen.IdentityKey = a.Public()
	badSig := good
	badSig.JoinKeySignature = flip(good.JoinKeySignature, 7)
	swapped := good
	swapped.JoinKey = outsider.JoinRequest(id).JoinKey
	short := good
	short.JoinKey = good.JoinKey[:16]
	expectRefused(t, e, id, []refusal{
		{"join with another client's identity key", joiner, join, stolen, 403, protocol.ErrCodeForbidden},
		{"join with a bad signature", joiner, join, badSig, 400, protocol.ErrCodeBadRequest},
		{"join with a substituted join key", joiner, join, swapped, 400, protocol.ErrCodeBadRequest},
		{"join with a key signed for another session", joiner, join, otherSession, 400, protocol.ErrCodeBadRequest},
		{"join with a short join key", joiner, join, short, 400, protocol.ErrCodeBadRequest},
		{"join without keys", joiner, join, protocol.JoinRequest{}, 400, protocol.ErrCodeBadRequest},
		{"join with an unknown field", joiner, join, `{"private_data":"eA=="}`, 400, protocol.ErrCodeBadRequest},
	})

	var ticket protocol.JoinTicket
	joiner.Must(http.MethodPost, join, good, &ticket)
	requested := cloudtest.Decode[protocol.JoinRequested](t, tm.PushA.Wait(protocol.EventJoinRequested, id))
	if requested.Ticket != ticket.Ticket || requested.InstanceID != joiner.Instance || requested.ClientID != joiner.Tokens.ClientID ||
		!bytes.Equal(requested.IdentityKey, good.IdentityKey) || !bytes.Equal(requested.JoinKey, good.JoinKey) ||
		!bytes.Equal(requested.JoinKeySignature, good.JoinKeySignature) {
		t.Fatalf("join_requested: %+v", requested)
	}
	pj, _ := joiner.Connect(id)
	base := join + "/" + ticket.Ticket

	// No answer before a challenge.
	expectRefused(t, e, id, []refusal{
		{"proof before the challenge", joiner, base + "/proof", protocol.JoinProofRequest{Proof: []byte("p")}, 409, protocol.ErrCodeConflict},
	})

	// The challenge: the oldest member only, with its own key, signed for this very join.
	challenge := cloudtest.Challenge(t, a.Key, id, good)
	byB := cloudtest.Challenge(t, b.Key, id, good)
	byOutsider := cloudtest.Challenge(t, outsider.Key, id, good)
	byJoiner := cloudtest.Challenge(t, joiner.Key, id, good)
	claimsB := challenge
	claimsB.IdentityKey = b.Public()
	forOtherJoin := cloudtest.Challenge(t, a.Key, id, outsider.JoinRequest(id))
	tampered := challenge
	tampered.Params.MemoryKiB *= 2
	lowered := challenge
	lowered.Params.Time = 0
	wrongNonce := challenge
	wrongNonce.Nonce = flip(challenge.Nonce, 3)
	expectRefused(t, e, id, []refusal{
		{"challenge by a member that is not the oldest", b, base + "/challenge", byB, 403, protocol.ErrCodeForbidden},
		{"challenge by an outsider", outsider, base + "/challenge", byOutsider, 404, protocol.ErrCodeNotFound},
		{"challenge by the joiner", joiner, base + "/challenge", byJoiner, 404, protocol.ErrCodeNotFound},
		{"challenge naming another member's key", a, base + "/challenge", claimsB, 403, protocol.ErrCodeForbidden},
		{"challenge signed for another join", a, base + "/challenge", forOtherJoin, 400, protocol.ErrCodeBadRequest},
		{"challenge with changed parameters", a, base + "/challenge", tampered, 400, protocol.ErrCodeBadRequest},
		{"challenge with zero passes", a, base + "/challenge", lowered, 400, protocol.ErrCodeBadRequest},
		{"challenge with another nonce", a, base + "/challenge", wrongNonce, 400, protocol.ErrCodeBadRequest},
		{"challenge of an unknown ticket", a, join + "/AAAAAAAAAAAAAAAAAAAAAA/challenge", challenge, 404, protocol.ErrCodeNotFound},
		{"challenge of a malformed ticket", a, join + "/short/challenge", challenge, 400, protocol.ErrCodeBadRequest},
		{"challenge without a body", a, base + "/challenge", nil, 400, protocol.ErrCodeBadRequest},
	})
	a.Must(http.MethodPost, base+"/challenge", challenge, nil)
	got := cloudtest.Decode[protocol.JoinChallenge](t, pj.Wait(protocol.EventJoinChallenge, id))
	if got.Ticket != ticket.Ticket || !bytes.Equal(got.Signature, challenge.Signature) || got.Params != challenge.Params ||
		!bytes.Equal(got.IdentityKey, a.Public()) {
		t.Fatalf("join_challenge: %+v", got)
	}
	// The joiner checks it as the validator signed it.
	if err := crypto.VerifyJoinChallenge(crypto.JoinChallenge{
		Salt: got.Salt, Nonce: got.Nonce, ProofKey: got.ProofKey, Signature: got.Signature,
		Params: crypto.PasswordParams{Time: got.Params.Time, MemoryKiB: got.Params.MemoryKiB, Threads: got.Params.Threads},
	}, cloudtest.Binding(a.Key, id, good)); err != nil {
		t.Fatalf("the relayed challenge does not verify: %v", err)
	}

	// The answer: the ticket's joiner only, once.
	proof := protocol.JoinProofRequest{Proof: []byte("sealed proof")}
	expectRefused(t, e, id, []refusal{
		{"a second challenge", a, base + "/challenge", cloudtest.Challenge(t, a.Key, id, good), 409, protocol.ErrCodeConflict},
		{"proof by the oldest member", a, base + "/proof", proof, 403, protocol.ErrCodeForbidden},
		{"proof by another member", b, base + "/proof", proof, 403, protocol.ErrCodeForbidden},
		{"proof by an outsider", outsider, base + "/proof", proof, 404, protocol.ErrCodeNotFound},
		{"empty proof", joiner, base + "/proof", protocol.JoinProofRequest{}, 400, protocol.ErrCodeBadRequest},
		{"oversized proof", joiner, base + "/proof", protocol.JoinProofRequest{Proof: make([]byte, protocol.MaxProofBytes+1)}, 400, protocol.ErrCodeBadRequest},
	})
	joiner.Must(http.MethodPost, base+"/proof", proof, nil)
	if p := cloudtest.Decode[protocol.JoinProof](t, tm.PushA.Wait(protocol.EventJoinProof, id)); p.Ticket != ticket.Ticket || string(p.Proof) != "sealed proof" {
		t.Fatalf("join_proof: %+v", p)
	}

	// The admission: the oldest member only, with the key wrapped for this join and signed by it.
	admission := a.Admission(id, good)
	forOther := a.Admission(id, outsider.JoinRequest(id))
	signedByB := b.Admission(id, good)
	namesB := admission
	namesB.IdentityKey = b.Public()
	expectRefused(t, e, id, []refusal{
		{"a second proof", joiner, base + "/proof", proof, 409, protocol.ErrCodeConflict},
		{"admission by another member", b, base + "/admit", signedByB, 403, protocol.ErrCodeForbidden},
		{"admission by the joiner", joiner, base + "/admit", joiner.Admission(id, good), 404, protocol.ErrCodeNotFound},
		{"admission naming another member's key", a, base + "/admit", namesB, 403, protocol.ErrCodeForbidden},
		{"admission signed by another member", a, base + "/admit", protocol.AdmitRequest{IdentityKey: a.Public(), WrappedKey: signedByB.WrappedKey}, 400, protocol.ErrCodeBadRequest},
		{"admission wrapped for another join", a, base + "/admit", forOther, 400, protocol.ErrCodeBadRequest},
		{"admission with a tampered key", a, base + "/admit", protocol.AdmitRequest{IdentityKey: a.Public(), WrappedKey: flip(admission.WrappedKey, 40)}, 400, protocol.ErrCodeBadRequest},
		{"admission with a short key", a, base + "/admit", protocol.AdmitRequest{IdentityKey: a.Public(), WrappedKey: admission.WrappedKey[:10]}, 400, protocol.ErrCodeBadRequest},
		{"admission without a key", a, base + "/admit", nil, 400, protocol.ErrCodeBadRequest},
		{"refusal with a malformed code", a, base + "/refuse", protocol.RefuseRequest{Code: "Not A Code!"}, 400, protocol.ErrCodeBadRequest},
	})
	a.Must(http.MethodPost, base+"/admit", admission, nil)
	adm := cloudtest.Decode[protocol.JoinAdmitted](t, pj.Wait(protocol.EventJoinAdmitted, id))
	if adm.Ticket != ticket.Ticket || !bytes.Equal(adm.WrappedKey, admission.WrappedKey) || !bytes.Equal(adm.IdentityKey, a.Public()) {
		t.Fatalf("join_admitted: %+v", adm)
	}
	if m := a.Session(id).Members; len(m) != 3 || m[2].InstanceID != joiner.Instance {
		t.Fatalf("members after the admission: %+v", m)
	}
	// B, a member but not the oldest, saw neither the challenge nor the proof nor the request.
	for {
		ev := tm.PushB.Next()
		if ev.Type == protocol.EventMemberJoined {
			break
		}
		switch ev.Type {
		case protocol.EventJoinRequested, protocol.EventJoinChallenge, protocol.EventJoinProof, protocol.EventJoinAdmitted:
			t.Fatalf("B received %s", ev.Type)
		}
	}
})

// Tickets expire, and a new request replaces the previous one (the only way to a new
// challenge).
var _ = register("JoinTickets", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, func(c *Config) { c.AccessTTL = 2 * joinMaxAge }) // tokens outlive the tickets
	a := e.client()
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)
	j := e.client()
	join := "/sessions/" + s.ID + "/join/"

	first, t1 := j.AskToJoin(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, join+t1+"/challenge", cloudtest.Challenge(t, a.Key, s.ID, first), nil)
	second, t2 := j.AskToJoin(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	expectRefused(t, e, s.ID, []refusal{
		{"answer to a replaced request", j, join + t1 + "/proof", protocol.JoinProofRequest{Proof: []byte("p")}, 404, protocol.ErrCodeNotFound},
		{"admission of a replaced request", a, join + t1 + "/admit", a.Admission(s.ID, first), 404, protocol.ErrCodeNotFound},
		{"admission of the new request with the old join key", a, join + t2 + "/admit", a.Admission(s.ID, first), 400, protocol.ErrCodeBadRequest},
	})
	a.Must(http.MethodPost, join+t2+"/challenge", cloudtest.Challenge(t, a.Key, s.ID, second), nil)

	e.clock.Advance(joinMaxAge + 1)
	expectRefused(t, e, s.ID, []refusal{
		{"answer to an expired request", j, join + t2 + "/proof", protocol.JoinProofRequest{Proof: []byte("p")}, 404, protocol.ErrCodeNotFound},
		{"admission of an expired request", a, join + t2 + "/admit", a.Admission(s.ID, second), 404, protocol.ErrCodeNotFound},
		{"refusal of an expired request", a, join + t2 + "/refuse", protocol.RefuseRequest{}, 404, protocol.ErrCodeNotFound},
	})
	// The joiner may ask again.
	third, t3 := j.AskToJoin(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, join+t3+"/admit", a.Admission(s.ID, third), nil)
	if n := len(a.Session(s.ID).Members); n != 2 {
		t.Fatalf("%d members", n)
	}
})

// The oldest member leaving between the challenge and the answer ends the join: the next oldest
// did not challenge it.
var _ = register("JoinValidatorLeaves", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	j := e.client()
	req, ticket := j.AskToJoin(tm.ID)
	pj, _ := j.Connect(tm.ID)
	tm.PushA.Wait(protocol.EventJoinRequested, tm.ID)
	tm.A.Must(http.MethodPost, "/sessions/"+tm.ID+"/join/"+ticket+"/challenge", cloudtest.Challenge(t, tm.A.Key, tm.ID, req), nil)
	tm.A.Must(http.MethodPost, "/sessions/"+tm.ID+"/quit", nil, nil)
	if ref := cloudtest.Decode[protocol.JoinRefused](t, pj.Wait(protocol.EventJoinRefused, tm.ID)); ref.Ticket != ticket || ref.Code != protocol.JoinValidatorLeft {
		t.Fatalf("join_refused: %+v", ref)
	}
	if st, perr := j.Call(http.MethodPost, "/sessions/"+tm.ID+"/join/"+ticket+"/proof", protocol.JoinProofRequest{Proof: []byte("p")}, nil); st != 404 {
		t.Fatalf("answer after the validator left: %d %v", st, perr)
	}
	if st, perr := tm.B.Call(http.MethodPost, "/sessions/"+tm.ID+"/join/"+ticket+"/admit", tm.B.Admission(tm.ID, req), nil); st != 404 {
		t.Fatalf("admission by the next oldest of a join it did not see: %d %v", st, perr)
	}
})

// Nothing in a join request but keys: a body with anything else is refused.
func TestDecodeJoinRequestStrict(t *testing.T) {
	c := cloudtest.New(t, "http://127.0.0.1:1")
	good, _ := json.Marshal(c.JoinRequest("123abc456"))
	if _, err := decodeJoinRequest(good); err != nil {
		t.Fatal(err)
	}
	withPassword := strings.Replace(string(good), "{", `{"password":"secret",`, 1)
	if _, err := decodeJoinRequest([]byte(withPassword)); err == nil {
		t.Fatal("a join request carrying a password was accepted")
	}
}
