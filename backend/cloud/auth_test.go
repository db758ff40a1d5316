package cloud

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

var _ = register("Login", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	c := cloudtest.New(t, e.URL)
	c.Login()
	want, _ := crypto.ClientID(c.Public())
	if c.Tokens.ClientID != want || c.Tokens.InstanceID != c.Instance {
		t.Fatalf("tokens for %s/%s, want %s/%s", c.Tokens.ClientID, c.Tokens.InstanceID, want, c.Instance)
	}
	if c.Tokens.AccessToken == "" || c.Tokens.RefreshToken == "" || !c.Tokens.AccessExpires.After(time.Now()) {
		t.Fatalf("tokens: %+v", c.Tokens)
	}
	c.CreateSession("s") // the token works
})

var _ = register("LoginRefused", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	c := cloudtest.New(t, e.URL)
	other := cloudtest.New(t, e.URL)
	login := func(req any) (int, *protocol.Error) {
		var tok protocol.Tokens
		return c.CallAs("", http.MethodPost, "/auth/login", req, &tok)
	}
	cases := []struct {
		name   string
		req    func() any
		status int
		code   string
	}{
		{"bad signature", func() any {
			req := c.LoginRequest(c.Challenge().Nonce)
			req.Signature[0] ^= 1
			return req
		}, 401, protocol.ErrCodeUnauthorized},
		{"signed for another instance", func() any {
			req := c.LoginRequest(c.Challenge().Nonce)
			req.InstanceID = "someone-else"
			return req
		}, 401, protocol.ErrCodeUnauthorized},
		{"signed by another key", func() any {
			req := c.LoginRequest(c.Challenge().Nonce)
			req.Signature = ed25519.Sign(other.Key, protocol.LoginMessage(req.Nonce, req.InstanceID, req.ProtocolVersion))
			return req
		}, 401, protocol.ErrCodeUnauthorized},
		{"nonce issued for another key", func() any {
			return other.LoginRequest(c.Challenge().Nonce)
		}, 401, protocol.ErrCodeUnauthorized},
		{"reused nonce", func() any {
			req := c.LoginRequest(c.Challenge().Nonce)
			if st, perr := login(req); st != 200 {
				t.Fatalf("first login: %d %v", st, perr)
			}
			return req
		}, 401, protocol.ErrCodeUnauthorized},
		{"nonce never issued", func() any {
			n := make([]byte, 32)
			_, _ = rand.Read(n)
			return c.LoginRequest(n)
		}, 401, protocol.ErrCodeUnauthorized},
		{"bad instance id", func() any {
			c2 := c.Sibling()
			c2.Instance = "short"
			return c2.LoginRequest(c.Challenge().Nonce)
		}, 400, protocol.ErrCodeBadRequest},
		{"short key", func() any {
			req := c.LoginRequest(c.Challenge().Nonce)
			req.PublicKey = req.PublicKey[:31]
			return req
		}, 400, protocol.ErrCodeBadRequest},
		{"unknown field", func() any {
			b, _ := json.Marshal(c.LoginRequest(c.Challenge().Nonce))
			return append(b[:len(b)-1], []byte(`,"admin":true}`)...)
		}, 400, protocol.ErrCodeBadRequest},
		{"malformed JSON", func() any { return `{"public_key":` }, 400, protocol.ErrCodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, perr := login(tc.req())
			if st != tc.status || perr == nil || perr.Code != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, perr, tc.status, tc.code)
			}
		})
	}
	// A failed attempt uses the nonce up.
	ch := c.Challenge()
	bad := c.LoginRequest(ch.Nonce)
	bad.Signature[5] ^= 0x40
	if st, _ := login(bad); st != 401 {
		t.Fatalf("bad signature: %d", st)
	}
	if st, _ := login(c.LoginRequest(ch.Nonce)); st != 401 {
		t.Fatalf("a nonce used by a failed attempt still works: %d", st)
	}
})

var _ = register("LoginWrongVersion", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	c := cloudtest.New(t, e.URL)
	req := c.LoginRequest(c.Challenge().Nonce)
	req.ProtocolVersion = protocol.Version + 1
	req.Signature = ed25519.Sign(c.Key, protocol.LoginMessage(req.Nonce, req.InstanceID, req.ProtocolVersion))
	st, perr := c.CallAs("", http.MethodPost, "/auth/login", req, nil)
	if st != http.StatusUpgradeRequired || perr.Code != protocol.ErrCodeVersion {
		t.Fatalf("got %d %v, want 426 %s", st, perr, protocol.ErrCodeVersion)
	}
	for _, v := range []string{"version 2", "version 1"} {
		if !strings.Contains(perr.Message, v) {
			t.Errorf("message %q does not name %q", perr.Message, v)
		}
	}
})

// The nonce expires; the store's clock is moved (memory store only).
func TestLoginExpiredNonce(t *testing.T) {
	clock := &testClock{}
	e := newEnvOn(t, store.NewMemoryWithClock(clock.Now), func(c *Config) { c.Now = clock.Now })
	c := cloudtest.New(t, e.URL)
	ch := c.Challenge()
	if want := time.Now().Add(DefaultChallengeTTL); ch.Expires.Before(want.Add(-5*time.Second)) || ch.Expires.After(want.Add(5*time.Second)) {
		t.Fatalf("challenge expires %v, want about %v", ch.Expires, want)
	}
	clock.Advance(DefaultChallengeTTL + time.Second)
	if st, perr := c.CallAs("", http.MethodPost, "/auth/login", c.LoginRequest(ch.Nonce), nil); st != 401 {
		t.Fatalf("expired nonce: %d %v", st, perr)
	}
}

var _ = register("Refresh", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	c := e.client()
	first := c.Tokens
	var next protocol.Tokens
	c.Must(http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: first.RefreshToken}, &next)
	if next.RefreshToken == first.RefreshToken || next.ClientID != first.ClientID || next.InstanceID != first.InstanceID {
		t.Fatalf("refresh: %+v after %+v", next, first)
	}
	// The old refresh token is spent.
	if st, perr := c.CallAs("", http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: first.RefreshToken}, nil); st != 401 || perr.Code != protocol.ErrCodeUnauthorized {
		t.Fatalf("reused refresh token: %d %v", st, perr)
	}
	// The new pair works, once.
	c.Tokens = next
	c.CreateSession("s")
	c.Must(http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: next.RefreshToken}, &c.Tokens)
	if st, _ := c.CallAs("", http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: next.RefreshToken}, nil); st != 401 {
		t.Fatalf("second use of a refresh token: %d", st)
	}
	if st, _ := c.CallAs("", http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: "made-up"}, nil); st != 401 {
		t.Fatalf("unknown refresh token: %d", st)
	}
	if st, _ := c.CallAs("", http.MethodPost, "/auth/refresh", `{"refresh_token":""}`, nil); st != 400 {
		t.Fatalf("empty refresh token: %d", st)
	}
})

// Expired refresh token: the record outlives its Expires in the store when the server clock
// moves (memory store with the real clock, server clock moved).
func TestRefreshExpired(t *testing.T) {
	e := newEnv(t, memoryStore, func(c *Config) { c.RefreshTTL = time.Hour })
	c := e.client()
	e.clock.Advance(time.Hour + time.Second)
	if st, perr := c.CallAs("", http.MethodPost, "/auth/refresh", protocol.RefreshRequest{RefreshToken: c.Tokens.RefreshToken}, nil); st != 401 {
		t.Fatalf("expired refresh token: %d %v", st, perr)
	}
}

var _ = register("AccessTokenRefused", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	c := e.client()
	s := c.CreateSession("s")
	before := sessionJSON(t, c, s.ID)

	otherSecret, err := NewServer(Config{Store: e.store, Secret: []byte("another secret, 32 bytes or more!")})
	if err != nil {
		t.Fatal(err)
	}
	p := principal{ClientID: c.Tokens.ClientID, InstanceID: c.Instance}
	forged, _, _ := otherSecret.tokens.issue(p)
	payload, mac, _ := strings.Cut(c.Tokens.AccessToken, ".")
	body, _ := base64.RawURLEncoding.DecodeString(payload)
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), c.Instance, "inst-000000000000", 1))) + "." + mac
	e2 := &tokenIssuer{secret: e.srv.cfg.Secret, ttl: time.Minute, now: func() time.Time { return time.Now().Add(-time.Hour) }}
	expired, _, _ := e2.issue(p)

	cases := map[string]string{
		"no token":        "",
		"garbage":         "not-a-token",
		"another secret":  forged,
		"tampered claims": tampered,
		"expired":         expired,
		"mac only":        "." + mac,
		"two dots":        c.Tokens.AccessToken + ".x",
		"padded base64":   payload + "=." + mac,
		"truncated mac":   payload + "." + mac[:len(mac)-2],
		"very long":       strings.Repeat("a", 10000),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			for _, r := range []struct{ method, route string }{
				{http.MethodGet, "/sessions/" + s.ID},
				{http.MethodPost, "/sessions/" + s.ID + "/reset"},
				{http.MethodPut, "/sessions/" + s.ID + "/settings"},
				{http.MethodPost, "/sessions"},
			} {
				var body any
				if r.method != http.MethodGet {
					body = `{"settings":"c2V0"}`
				}
				if r.route == "/sessions/"+s.ID+"/reset" {
					body = nil
				}
				st, perr := c.CallAs(tok, r.method, r.route, body, nil)
				if st != 401 || perr.Code != protocol.ErrCodeUnauthorized {
					t.Fatalf("%s %s: %d %v, want 401", r.method, r.route, st, perr)
				}
			}
		})
	}
	// The token expires with the server's clock.
	e.clock.Advance(DefaultAccessTTL + time.Second)
	if st, _ := c.Call(http.MethodGet, "/sessions/"+s.ID, nil, nil); st != 401 {
		t.Fatalf("token past its expiry: %d", st)
	}
	e.clock.Advance(-DefaultAccessTTL - time.Second)
	if got := sessionJSON(t, c, s.ID); got != before {
		t.Fatalf("session changed:\n%s\n%s", before, got)
	}
	// A wrong scheme is refused too.
	req, _ := http.NewRequest(http.MethodGet, e.URL+protocol.APIPrefix+"/sessions/"+s.ID, nil)
	req.Header.Set("Authorization", "Basic "+c.Tokens.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("Basic scheme: %d %v", resp.StatusCode, resp.Header)
	}
})

// Two instances of one installation are two principals; an instance id cannot be taken over by
// another key.
var _ = register("InstanceBoundToKey", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	a := e.client()
	s := a.CreateSession("s")
	// Another key logs in with A's instance id: it gets a token for its own client id, which is
	// not A's membership.
	thief := cloudtest.New(t, e.URL)
	thief.Instance = a.Instance
	thief.Login()
	if thief.Tokens.ClientID == a.Tokens.ClientID {
		t.Fatal("another key got the same client id")
	}
	for _, r := range []struct{ method, route string }{
		{http.MethodGet, "/sessions/" + s.ID},
		{http.MethodPut, "/sessions/" + s.ID + "/members/" + a.Instance + "/status"},
		{http.MethodPost, "/sessions/" + s.ID + "/quit"},
	} {
		var body any
		if r.method == http.MethodPut {
			body = protocol.StatusUpdate{Status: protocol.InventoryFinished, At: time.Now()}
		}
		if st, perr := thief.Call(r.method, r.route, body, nil); st != 404 {
			t.Fatalf("%s %s by a thief of the instance id: %d %v", r.method, r.route, st, perr)
		}
	}
	// Nor can it join under that instance id.
	if st, perr := thief.Call(http.MethodPost, "/sessions/"+s.ID+"/join", thief.JoinRequest(s.ID), nil); st != 409 {
		t.Fatalf("join with a member's instance id: %d %v", st, perr)
	}
	// Its pushes are not A's.
	own := thief.CreateSession("own")
	push, sub := thief.Connect(s.ID, own.ID)
	if len(sub.Refused) != 1 || sub.Refused[0] != s.ID {
		t.Fatalf("thief subscribed: %+v", sub)
	}
	a.Must(http.MethodPut, "/sessions/"+s.ID+"/settings", protocol.SettingsUpdate{Settings: []byte("x")}, nil)
	expectNothingBefore(t, thief, push, own.ID)
})

// expectNothingBefore checks that push received nothing so far: c changes the settings of its
// own session own, and the push of that change must be the next event. Pushes are delivered in
// publish order, so anything published before would show up first.
func expectNothingBefore(t *testing.T, c *cloudtest.Client, push *cloudtest.Push, own string) {
	t.Helper()
	c.Must(http.MethodPut, "/sessions/"+own+"/settings", protocol.SettingsUpdate{Settings: []byte("marker")}, nil)
	for {
		ev := push.Next()
		if ev.Type == protocol.EventSettingsUpdated && ev.Session == own {
			return
		}
		if ev.Session != own {
			t.Fatalf("received %s for session %q", ev.Type, ev.Session)
		}
	}
}
