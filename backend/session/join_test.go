package session_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// Two, then three members join; all hold the session key, and each side of each join saw the
// same safety words.
func TestJoinTwoAndThree(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			st, _ := newTestStore(t, kind)
			ts := newTestServer(t, st)
			a := create(t, ts.URL, testOptions()...)
			if p := a.Password(); len(p) != 23 {
				t.Fatalf("generated password %q", p)
			}
			dir := t.TempDir()
			b, err := join(t, newClient(t, ts.URL), a.ID(), a.Password(), []plan.NodeSpec{{Code: "B", Roots: []string{dir}}}, testOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			sameKey(t, a, b)
			c, err := join(t, newClient(t, ts.URL), a.ID(), strings.ToLower(a.Password()), nil, testOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			sameKey(t, a, b, c)
			if got := memberIDs(t, c); !slices.Equal(got, []string{a.Self(), b.Self(), c.Self()}) {
				t.Fatalf("members %v", got)
			}

			// Safety words: the validator's check of each joiner and the joiner's check of the
			// validator show the same words.
			checks := a.KeyChecks()
			if len(checks) != 2 {
				t.Fatalf("validator checks: %+v", checks)
			}
			for i, j := range []*session.Member{b, c} {
				mine := j.KeyChecks()
				if len(mine) != 1 || mine[0].Role != session.RoleValidator || mine[0].Peer != a.Client().ClientID() ||
					checks[i].Role != session.RoleJoiner || checks[i].Peer != j.Client().ClientID() || checks[i].Instance != j.Self() {
					t.Fatalf("checks: validator %+v, joiner %+v", checks[i], mine)
				}
				if len(mine[0].SafetyWords) != crypto.SafetyWordCount || !slices.Equal(mine[0].SafetyWords, checks[i].SafetyWords) {
					t.Fatalf("safety words differ: validator %v, joiner %v", checks[i].SafetyWords, mine[0].SafetyWords)
				}
			}
			if slices.Equal(checks[0].SafetyWords, checks[1].SafetyWords) {
				t.Fatal("two joiners got the same safety words")
			}

			// B's node description, with its machine name, is sealed with the session key.
			s, err := a.Client().Session(t.Context(), a.ID())
			if err != nil {
				t.Fatal(err)
			}
			plain, err := a.Key().Open(s.Members[1].Nodes[0].Data, "node:B")
			host, _ := os.Hostname()
			var nd struct{ Code, Machine string }
			if err != nil || json.Unmarshal(plain, &nd) != nil || nd.Code != "B" || nd.Machine != host {
				t.Fatalf("B's node: %s %v", plain, err)
			}
		})
	}
}

// A member that joined validates the next joiners once the oldest left: it learned the salt and
// the cost from its own challenge.
func TestJoinAfterTheOldestLeft(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	a, err := session.Create(t.Context(), newClient(t, ts.URL), nil, testOptions(session.WithPassword("kayak sunset 42"))...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := join(t, newClient(t, ts.URL), a.ID(), "KAYAK-SUNSET-42", nil, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Close(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := join(t, newClient(t, ts.URL), b.ID(), "kayak sunset 43", nil, testOptions()...); session.RefusalCode(err) != protocol.JoinWrongPassword {
		t.Fatalf("wrong password with B validating: %v", err)
	}
	c, err := join(t, newClient(t, ts.URL), b.ID(), "kayak sunset 42", nil, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	sameKey(t, b, c)
}

// A wrong password is refused and changes nothing; the validator counts, and after
// MaxFailedJoins refuses everyone.
func TestJoinWrongPassword(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	a := create(t, ts.URL, testOptions()...)
	before := memberIDs(t, a)
	joiner := newClient(t, ts.URL)
	for i := range session.MaxFailedJoins {
		_, err := join(t, joiner, a.ID(), "not-the-password", nil, testOptions()...)
		var re *session.RefusedError
		if !errors.As(err, &re) || re.Code != protocol.JoinWrongPassword || re.Reason == "" {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if got := memberIDs(t, a); !slices.Equal(got, before) {
			t.Fatalf("members after a wrong password: %v", got)
		}
		if n := a.FailedJoins(); n != i+1 {
			t.Fatalf("%d failed joins counted, want %d", n, i+1)
		}
	}
	if _, err := join(t, joiner, a.ID(), a.Password(), nil, testOptions()...); session.RefusalCode(err) != protocol.JoinTooManyAttempts {
		t.Fatalf("after %d wrong passwords: %v", session.MaxFailedJoins, err)
	}
	if got := memberIDs(t, a); !slices.Equal(got, before) {
		t.Fatalf("members: %v", got)
	}
}

// New keys: refused when the validator's user (or policy) does not accept them, on either side.
func TestJoinUntrustedKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	var mu sync.Mutex
	var asked []session.KeyCheck
	refuse := session.ConfirmKey(func(k session.KeyCheck) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, k)
		return false
	})
	a := create(t, ts.URL, session.WithPasswordParams(cheapParams), session.TrustNewKeys(false), refuse)
	joiner := newClient(t, ts.URL)
	if _, err := join(t, joiner, a.ID(), a.Password(), nil, testOptions()...); session.RefusalCode(err) != protocol.JoinUntrustedKey {
		t.Fatalf("joiner with an untrusted key: %v", err)
	}
	mu.Lock()
	if len(asked) != 1 || asked[0].Status != crypto.TrustNew || asked[0].Role != session.RoleJoiner ||
		asked[0].Peer != joiner.ClientID() || len(asked[0].SafetyWords) != crypto.SafetyWordCount {
		t.Fatalf("asked %+v", asked)
	}
	mu.Unlock()

	// Without ConfirmKey nor TrustNewKeys, a new key is refused too.
	strict := create(t, ts.URL, session.WithPasswordParams(cheapParams))
	if _, err := join(t, newClient(t, ts.URL), strict.ID(), strict.Password(), nil, testOptions()...); session.RefusalCode(err) != protocol.JoinUntrustedKey {
		t.Fatalf("default policy: %v", err)
	}

	// The joiner refuses a validator it does not accept.
	open := create(t, ts.URL, testOptions()...)
	_, err := join(t, newClient(t, ts.URL), open.ID(), open.Password(), nil,
		session.WithPasswordParams(cheapParams), session.ConfirmKey(func(k session.KeyCheck) bool { return k.Role != session.RoleValidator }))
	if session.RefusalCode(err) != protocol.JoinUntrustedKey {
		t.Fatalf("joiner refusing the validator: %v", err)
	}
	for _, m := range []*session.Member{a, strict, open} {
		if n := len(memberIDs(t, m)); n != 1 {
			t.Fatalf("%d members", n)
		}
	}
}

// writeTrust makes a trust store in which clientID is remembered with another key than its own.
func writeTrust(t *testing.T, clientID string) *crypto.TrustStore {
	t.Helper()
	dir := t.TempDir()
	other, _ := crypto.KeyFingerprint(newIdentity(t).Public())
	line := fmt.Sprintf("%s %s\n", clientID, other)
	if err := os.WriteFile(filepath.Join(dir, crypto.TrustFile), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := crypto.OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A known client id with another key is refused, whatever the policy for new keys.
func TestJoinKeyChanged(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	joinerID := newIdentity(t)
	a := create(t, ts.URL, testOptions(session.WithTrust(writeTrust(t, joinerID.ClientID())))...)
	_, err := join(t, newClientWith(t, ts.URL, joinerID), a.ID(), a.Password(), nil, testOptions()...)
	if session.RefusalCode(err) != protocol.JoinKeyChanged {
		t.Fatalf("validator with a changed key on record: %v", err)
	}
	// And the joiner refuses a validator whose key changed.
	b := create(t, ts.URL, testOptions()...)
	_, err = join(t, newClient(t, ts.URL), b.ID(), b.Password(), nil,
		testOptions(session.WithTrust(writeTrust(t, b.Client().ClientID())))...)
	if session.RefusalCode(err) != protocol.JoinKeyChanged {
		t.Fatalf("joiner with a changed key on record: %v", err)
	}
	for _, m := range []*session.Member{a, b} {
		if n := len(memberIDs(t, m)); n != 1 {
			t.Fatalf("%d members", n)
		}
	}
}

// Trust on first use: a key accepted once, after a successful join, is known the next time, on
// both sides; a failed join remembers nothing.
func TestJoinRemembersKeys(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	openStore := func() *crypto.TrustStore {
		s, err := crypto.OpenTrustStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	validatorTrust, joinerTrust := openStore(), openStore()
	var asked atomic.Int32
	confirm := session.ConfirmKey(func(session.KeyCheck) bool { asked.Add(1); return true })
	a := create(t, ts.URL, session.WithPasswordParams(cheapParams), session.WithTrust(validatorTrust), confirm)
	joinerID := newIdentity(t)
	joinerOpts := []session.Option{session.WithPasswordParams(cheapParams), session.WithTrust(joinerTrust), confirm}

	if _, err := join(t, newClientWith(t, ts.URL, joinerID), a.ID(), "wrong", nil, joinerOpts...); session.RefusalCode(err) != protocol.JoinWrongPassword {
		t.Fatal(err)
	}
	if st, _ := validatorTrust.Check(joinerID.ClientID(), joinerID.Public()); st != crypto.TrustNew {
		t.Fatalf("a joiner with a wrong password was remembered: %v", st)
	}
	asked.Store(0)
	first, err := join(t, newClientWith(t, ts.URL, joinerID), a.ID(), a.Password(), nil, joinerOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 2 { // each side asked once
		t.Fatalf("asked %d times", n)
	}
	if _, err := first.Close(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	asked.Store(0)
	again, err := join(t, newClientWith(t, ts.URL, joinerID), a.ID(), a.Password(), nil, joinerOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("known keys asked about %d times", n)
	}
	if k := again.KeyChecks(); len(k) != 1 || k[0].Status != crypto.TrustKnown {
		t.Fatalf("joiner's check: %+v", k)
	}
	sameKey(t, a, again)
}

// A sixth member is refused, also when the fifth and the sixth are admitted at the same time:
// the server checks the limit again at admission.
func TestJoinSessionFull(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	var calls atomic.Int32
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	var releaseOnce sync.Once
	admission := session.WithAdmission(func(session.JoinCandidate) error {
		if calls.Add(1) <= 3 {
			return nil
		}
		// The fifth and the sixth wait for each other, so both are admitted in flight.
		arrived <- struct{}{}
		if len(arrived) == 2 {
			releaseOnce.Do(func() { close(release) })
		}
		select {
		case <-release:
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("the other candidate never came")
		}
	})
	a := create(t, ts.URL, testOptions(admission)...)
	members := []*session.Member{a}
	for range 3 {
		m, err := join(t, newClient(t, ts.URL), a.ID(), a.Password(), nil, testOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	type result struct {
		m   *session.Member
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		c := newClient(t, ts.URL)
		go func() {
			m, err := join(t, c, a.ID(), a.Password(), nil, testOptions()...)
			results <- result{m, err}
		}()
	}
	var admitted int
	for range 2 {
		r := <-results
		switch {
		case r.err == nil:
			admitted++
			members = append(members, r.m)
		case session.RefusalCode(r.err) != protocol.JoinSessionFull:
			t.Fatalf("the member over the limit: %v", r.err)
		}
	}
	if admitted != 1 {
		t.Fatalf("%d of the fifth and sixth admitted", admitted)
	}
	if n := len(memberIDs(t, a)); n != protocol.MaxMembers {
		t.Fatalf("%d members", n)
	}
	sameKey(t, members...)
	// Asking once the session is full is refused at once.
	if _, err := join(t, newClient(t, ts.URL), a.ID(), a.Password(), nil, testOptions()...); session.RefusalCode(err) != protocol.JoinSessionFull {
		t.Fatalf("join a full session: %v", err)
	}
}

func TestJoinAfterInventoryStarted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	nodes := []plan.NodeSpec{{Code: "A", Roots: []string{t.TempDir()}}, {Code: "B", Roots: []string{t.TempDir()}}}
	a, err := session.Create(t.Context(), newClient(t, ts.URL), nodes, testOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = a.Close(context.Background(), time.Second) })
	if err := a.StartInventory(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = join(t, newClient(t, ts.URL), a.ID(), a.Password(), nil, testOptions()...)
	if session.RefusalCode(err) != protocol.JoinInventoryStarted {
		t.Fatalf("join after the inventory started: %v", err)
	}
}

func TestJoinBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, store.NewMemory())
	c := newClient(t, ts.URL)
	for _, req := range []session.JoinRequest{{ID: "nope", Password: "p"}, {ID: "123abc456", Password: " - "}} {
		if _, err := session.Join(t.Context(), c, req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := session.Join(ctx, c, session.JoinRequest{ID: "123abc456", Password: "p"}, testOptions()...)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeNotFound {
		t.Fatalf("join an unknown session: %v", err)
	}
}

// changeData changes the data of a pushed event, of type T.
func changeData[T any](t *testing.T, m *store.Message, f func(*T)) {
	var v T
	if err := json.Unmarshal(m.Event.Data, &v); err != nil {
		t.Errorf("decode %s: %v", m.Event.Type, err)
		return
	}
	f(&v)
	m.Event.Data, _ = json.Marshal(v)
}

// A server (or a network) that changes the join's messages is caught by the validator, the
// joiner or the server, and nobody is let in with a key the validator did not give.
func TestJoinTampering(t *testing.T) {
	t.Parallel()
	flip := func(b []byte) []byte { c := slices.Clone(b); c[len(c)/2] ^= 1; return c }
	fresh := func() []byte { k, _ := crypto.NewJoinKey(); return k.Public() }
	cases := []struct {
		name    string
		push    func(t *testing.T, m *store.Message)
		request func(t *testing.T, path string, body []byte) []byte
		check   func(t *testing.T, err error)
	}{
		{name: "join key replaced on its way to the validator",
			push: func(t *testing.T, m *store.Message) {
				if m.Event.Type == protocol.EventJoinRequested {
					changeData(t, m, func(r *protocol.JoinRequested) { r.JoinKey = fresh() })
				}
			},
			check: func(t *testing.T, err error) {
				if session.RefusalCode(err) != protocol.JoinBadSignature {
					t.Fatalf("validator did not catch it: %v", err)
				}
			}},
		{name: "join key replaced on its way to the server",
			request: func(t *testing.T, path string, body []byte) []byte {
				if !strings.HasSuffix(path, "/join") {
					return body
				}
				var r protocol.JoinRequest
				_ = json.Unmarshal(body, &r)
				r.JoinKey = fresh()
				out, _ := json.Marshal(r)
				return out
			},
			check: func(t *testing.T, err error) {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.ErrCodeBadRequest {
					t.Fatalf("server did not catch it: %v", err)
				}
			}},
		{name: "proof key replaced in the challenge",
			push: func(t *testing.T, m *store.Message) {
				if m.Event.Type == protocol.EventJoinChallenge {
					changeData(t, m, func(c *protocol.JoinChallenge) { c.ProofKey = fresh() })
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, crypto.ErrBadSignature) {
					t.Fatalf("joiner did not catch it: %v", err)
				}
			}},
		{name: "cost lowered in the challenge",
			push: func(t *testing.T, m *store.Message) {
				if m.Event.Type == protocol.EventJoinChallenge {
					changeData(t, m, func(c *protocol.JoinChallenge) { c.Params.MemoryKiB = 8 })
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, crypto.ErrBadSignature) {
					t.Fatalf("joiner did not catch it: %v", err)
				}
			}},
		{name: "sealed proof changed",
			push: func(t *testing.T, m *store.Message) {
				if m.Event.Type == protocol.EventJoinProof {
					changeData(t, m, func(p *protocol.JoinProof) { p.Proof = flip(p.Proof) })
				}
			},
			check: func(t *testing.T, err error) {
				if session.RefusalCode(err) != protocol.JoinBadProof {
					t.Fatalf("validator did not catch it: %v", err)
				}
			}},
		{name: "wrapped key changed on its way to the server",
			request: func(t *testing.T, path string, body []byte) []byte {
				if !strings.HasSuffix(path, "/admit") {
					return body
				}
				var r protocol.AdmitRequest
				_ = json.Unmarshal(body, &r)
				r.WrappedKey = flip(r.WrappedKey)
				out, _ := json.Marshal(r)
				return out
			},
			check: func(t *testing.T, err error) {
				if session.RefusalCode(err) != protocol.JoinAdmitFailed {
					t.Fatalf("server did not catch it: %v", err)
				}
			}},
		{name: "wrapped key changed on its way to the joiner",
			push: func(t *testing.T, m *store.Message) {
				if m.Event.Type == protocol.EventJoinAdmitted {
					changeData(t, m, func(a *protocol.JoinAdmitted) { a.WrappedKey = flip(a.WrappedKey) })
				}
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, crypto.ErrUnwrap) {
					t.Fatalf("joiner did not catch it: %v", err)
				}
			}},
		{name: "session key of the server's own, wrapped and signed by the server",
			push: serverKeyPush(),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, crypto.ErrUnwrap) {
					t.Fatalf("joiner did not catch it: %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, store.NewMemory(), func(ts *testServer) {
				if tc.push != nil {
					ts.tamperPush = func(m *store.Message) { tc.push(t, m) }
				}
				if tc.request != nil {
					ts.tamperRequest = func(r *http.Request, b []byte) []byte { return tc.request(t, r.URL.Path, b) }
				}
			})
			a := create(t, ts.URL, testOptions()...)
			m, err := join(t, newClient(t, ts.URL), a.ID(), a.Password(), nil, testOptions()...)
			if err == nil {
				t.Fatalf("joined with key %x", m.Key())
			}
			tc.check(t, err)
			if got := memberIDs(t, a); !slices.Equal(got, []string{a.Self()}) {
				t.Fatalf("members after the tampering: %v", got)
			}
		})
	}
}

// serverKeyPush plays a server that admits the joiner with a session key of its own: it keeps
// the join key from the request and, at admission, wraps its own key for it, signed with its
// own identity.
func serverKeyPush() func(t *testing.T, m *store.Message) {
	var mu sync.Mutex
	var req protocol.JoinRequested
	return func(t *testing.T, m *store.Message) {
		mu.Lock()
		defer mu.Unlock()
		switch m.Event.Type {
		case protocol.EventJoinRequested:
			_ = json.Unmarshal(m.Event.Data, &req)
		case protocol.EventJoinAdmitted:
			evil, _ := crypto.NewIdentity()
			key, _ := crypto.NewSessionKey()
			b := crypto.JoinBinding{SessionID: m.Event.Session, Validator: evil.Public(), Joiner: ed25519.PublicKey(req.IdentityKey), JoinKey: req.JoinKey}
			wrapped, err := crypto.WrapSessionKey(key, evil, b, req.JoinKeySignature)
			if err != nil {
				t.Errorf("wrap: %v", err)
			}
			changeData(t, m, func(a *protocol.JoinAdmitted) { a.IdentityKey, a.WrappedKey = evil.Public(), wrapped })
		}
	}
}
