package cloud

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

func withLimits(l Limits) func(*Config) { return func(c *Config) { c.Limits = l } }

// rawAnswer is an answer with its headers.
type rawAnswer struct {
	status int
	header http.Header
	err    protocol.Error
}

// rawCall sends one request with the client's token and extra headers.
func rawCall(t *testing.T, c *cloudtest.Client, method, route, body string, header map[string]string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(method, c.URL+protocol.APIPrefix+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tokens.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.Tokens.AccessToken)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, route, err)
	}
	defer resp.Body.Close()
	a := rawAnswer{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode >= 300 {
		if err := json.NewDecoder(resp.Body).Decode(&a.err); err != nil {
			t.Fatalf("%s %s: %d without a protocol.Error: %v", method, route, resp.StatusCode, err)
		}
	}
	return a
}

// wantRefusal checks an answer's status, code and Retry-After (when retry).
func wantRefusal(t *testing.T, what string, a rawAnswer, status int, code string, retry bool) {
	t.Helper()
	if a.status != status || a.err.Code != code {
		t.Fatalf("%s: %d %+v, want %d %s", what, a.status, a.err, status, code)
	}
	if a.err.Message == "" {
		t.Fatalf("%s: no message", what)
	}
	if retry {
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("%s: Retry-After %q, want a number of seconds", what, a.header.Get("Retry-After"))
		}
	}
}

// A body sent a byte at a time is cut off with 408 long before it would have ended.
func TestBodyReadTimeout(t *testing.T) {
	e := newEnv(t, memoryStore, withLimits(Limits{BodyTimeout: 300 * time.Millisecond, BodyMinRate: 1 << 20}))
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const length = 200 // at a byte per 50 ms: 10 s
	fmt.Fprintf(conn, "POST %s/auth/challenge HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		protocol.APIPrefix, u.Host, length)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sent := make(chan int, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		n := 0
		defer func() { sent <- n }()
		for n < length {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{' '}); err != nil {
				return
			}
			n++
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(cloudtest.Wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickling body: %v", err)
	}
	defer resp.Body.Close()
	cancel()
	if n := <-sent; n >= length {
		t.Fatalf("the whole body (%d bytes) was sent before the answer", n)
	}
	var perr protocol.Error
	_ = json.NewDecoder(resp.Body).Decode(&perr)
	if resp.StatusCode != http.StatusRequestTimeout || perr.Code != protocol.ErrCodeBodyTimeout {
		t.Fatalf("trickling body: %d %+v, want 408 %s", resp.StatusCode, perr, protocol.ErrCodeBodyTimeout)
	}
}

// Each route takes bodies up to its own limit: small routes little, blobs BodyBytes, a
// synchronization start StartBodyBytes.
func TestBodyLimitsPerRoute(t *testing.T) {
	e := newEnv(t, memoryStore, withLimits(Limits{BodyBytes: 200 << 10, StartBodyBytes: 1 << 20}))
	a := e.client()
	s := a.CreateSession("s")
	sess := "/sessions/" + s.ID
	blob := func(n int) string { return `{"settings":"` + strings.Repeat("A", n) + `"}` }
	groups := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"groups":[`)
		for i := 0; b.Len() < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"g%d","op":"delete","targets":[]}`, i)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	check := func(name, method, route, body string, tooLarge bool) {
		t.Helper()
		got := rawCall(t, a, method, route, body, nil)
		if tooLarge != (got.status == http.StatusRequestEntityTooLarge) {
			t.Errorf("%s: %d %+v, want 413: %v", name, got.status, got.err, tooLarge)
		}
		if tooLarge && got.err.Code != protocol.ErrCodeTooLarge {
			t.Errorf("%s: code %s, want %s", name, got.err.Code, protocol.ErrCodeTooLarge)
		}
	}
	check("settings over BodyBytes", "PUT", sess+"/settings", blob(300<<10), true)
	check("settings within BodyBytes", "PUT", sess+"/settings", blob(40<<10), false)
	check("quit with a large body", "POST", sess+"/quit", blob(100<<10), true)
	addNodes(t, a, s.ID, 2)
	a.Must(http.MethodPost, sess+"/inventory/start", nil, nil)
	check("start over StartBodyBytes", "POST", sess+"/synchronization/start", groups(2<<20), true)
	check("start within StartBodyBytes", "POST", sess+"/synchronization/start", groups(900<<10), false)
}

// A client has at most SessionsPerClient sessions; quitting one makes room.
func TestSessionsPerClient(t *testing.T) {
	e := newEnv(t, memoryStore, withLimits(Limits{SessionsPerClient: 3}))
	a, b := e.client(), e.client()
	var ids []string
	for range 3 {
		ids = append(ids, a.CreateSession("s").ID)
	}
	body := `{"settings":"cw=="}`
	wantRefusal(t, "a fourth session", rawCall(t, a, "POST", "/sessions", body, nil), http.StatusTooManyRequests, protocol.ErrCodeSessionLimit, false)
	b.CreateSession("s") // another client has its own count
	a.Must(http.MethodPost, "/sessions/"+ids[0]+"/quit", nil, nil)
	a.CreateSession("s")
	// Another instance of the same installation shares its count.
	sib := a.Sibling()
	sib.Login()
	wantRefusal(t, "a sibling instance", rawCall(t, sib, "POST", "/sessions", body, nil), http.StatusTooManyRequests, protocol.ErrCodeSessionLimit, false)
}

// A client over its rate is refused with 429 and Retry-After until its bucket refills; others
// are not affected. Before authentication the address counts, and X-Forwarded-For only when
// trusted.
func TestRateLimits(t *testing.T) {
	t.Run("Client", func(t *testing.T) {
		e := newEnv(t, memoryStore, withLimits(Limits{Rate: 1, Burst: 5}))
		a, b := e.client(), e.client()
		s := a.CreateSession("s")
		for range 4 {
			a.Session(s.ID)
		}
		wantRefusal(t, "the request after the burst", rawCall(t, a, "GET", "/sessions/"+s.ID, "", nil), http.StatusTooManyRequests, protocol.ErrCodeRateLimited, true)
		b.CreateSession("s")
		e.clock.Advance(2 * time.Second)
		a.Session(s.ID)
	})
	t.Run("Address", func(t *testing.T) {
		e := newEnv(t, memoryStore, withLimits(Limits{AnonRate: 1, AnonBurst: 3}))
		c := cloudtest.New(t, e.URL)
		body := `{"public_key":"` + jsonBytes(t, c.Public()) + `"}`
		for i := range 3 {
			if got := rawCall(t, c, "POST", "/auth/challenge", body, map[string]string{"X-Forwarded-For": fmt.Sprint("192.0.2.", i)}); got.status != 200 {
				t.Fatalf("challenge %d: %d %+v", i, got.status, got.err)
			}
		}
		wantRefusal(t, "a fourth challenge from another claimed address", rawCall(t, c, "POST", "/auth/challenge", body,
			map[string]string{"X-Forwarded-For": "192.0.2.99"}), http.StatusTooManyRequests, protocol.ErrCodeRateLimited, true)
		wantRefusal(t, "a refused token", rawCall(t, &cloudtest.Client{URL: c.URL, HTTP: c.HTTP, Tokens: protocol.Tokens{AccessToken: "x.y"}},
			"GET", "/sessions/123abc456", "", nil), http.StatusTooManyRequests, protocol.ErrCodeRateLimited, true)
	})
	t.Run("TrustedProxy", func(t *testing.T) {
		e := newEnv(t, memoryStore, withLimits(Limits{AnonRate: 1, AnonBurst: 1, TrustForwardedFor: true}))
		c := cloudtest.New(t, e.URL)
		body := `{"public_key":"` + jsonBytes(t, c.Public()) + `"}`
		from := func(addr string) map[string]string {
			return map[string]string{"X-Forwarded-For": "198.51.100.7, " + addr}
		}
		if got := rawCall(t, c, "POST", "/auth/challenge", body, from("192.0.2.1")); got.status != 200 {
			t.Fatalf("first address: %d %+v", got.status, got.err)
		}
		wantRefusal(t, "same address again", rawCall(t, c, "POST", "/auth/challenge", body, from("192.0.2.1")), http.StatusTooManyRequests, protocol.ErrCodeRateLimited, true)
		if got := rawCall(t, c, "POST", "/auth/challenge", body, from("192.0.2.2")); got.status != 200 {
			t.Fatalf("another address: %d %+v", got.status, got.err)
		}
	})
}

func jsonBytes(t *testing.T, b []byte) string {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(data), `"`)
}

// Large bodies share an in-flight budget: a request that finds it taken waits BusyWait, then is
// refused with 503 busy and Retry-After; once the budget is free it goes through.
func TestInFlightBudget(t *testing.T) {
	const limit = 512 << 10
	e := newEnv(t, memoryStore, withLimits(Limits{BodyBytes: limit, StartBodyBytes: limit / 4, InFlightBytes: limit + 100<<10, BusyWait: 200 * time.Millisecond}))
	a := e.client()
	s := a.CreateSession("s")
	route := protocol.APIPrefix + "/sessions/" + s.ID + "/settings"

	// A slow request announces 500 KiB and sends a little of it.
	u, _ := url.Parse(e.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{\"settings\":\"AAAA",
		route, u.Host, a.Tokens.AccessToken, 500<<10)
	deadline := time.Now().Add(cloudtest.Wait)
	for e.srv.guards.inFlight.TryAcquire(200 << 10) {
		e.srv.guards.inFlight.Release(200 << 10)
		if time.Now().After(deadline) {
			t.Fatal("the slow request never took its share of the budget")
		}
		time.Sleep(5 * time.Millisecond)
	}
	body := `{"settings":"` + strings.Repeat("A", 300<<10) + `"}`
	wantRefusal(t, "a large body while the budget is taken", rawCall(t, a, "PUT", "/sessions/"+s.ID+"/settings", body, nil),
		http.StatusServiceUnavailable, protocol.ErrCodeBusy, true)
	if got := rawCall(t, a, "PUT", "/sessions/"+s.ID+"/settings", `{"settings":"c21hbGw="}`, nil); got.status != 200 {
		t.Fatalf("a small body fits beside it: %d %+v", got.status, got.err)
	}
	conn.Close() // the slow request ends and frees its share
	deadline = time.Now().Add(cloudtest.Wait)
	// Read at last, the body is refused for its content only (a blob over MaxBlobBytes).
	for {
		got := rawCall(t, a, "PUT", "/sessions/"+s.ID+"/settings", body, nil)
		if got.err.Code != protocol.ErrCodeBusy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow request ended: %d %+v", got.status, got.err)
		}
	}
}

// When Redis goes away, requests are answered 503 unavailable with Retry-After, not 500.
func TestRedisDownIsUnavailable(t *testing.T) {
	rs := redistest.Private(t)
	// No command retries: each request finds Redis gone at once.
	st, err := store.NewRedis(t.Context(), rs.URL+"?max_retries=-1", store.RedisOptions{Prefix: redistest.Prefix(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, st)
	a := e.client()
	s := a.CreateSession("s")
	rs.Stop()
	for _, c := range []struct{ method, route, body string }{
		{"GET", "/sessions/" + s.ID, ""},
		{"POST", "/sessions", `{"settings":"cw=="}`},
		{"PUT", "/sessions/" + s.ID + "/members/" + a.Instance + "/status", `{"status":"InventoryFinished","at":"2026-01-02T03:04:05Z"}`},
		{"POST", "/sessions/" + s.ID + "/quit", ""},
	} {
		wantRefusal(t, c.method+" "+c.route+" with Redis down", rawCall(t, a, c.method, c.route, c.body, nil),
			http.StatusServiceUnavailable, protocol.ErrCodeUnavailable, true)
	}
	c := cloudtest.New(t, e.URL)
	wantRefusal(t, "a challenge with Redis down", rawCall(t, c, "POST", "/auth/challenge", `{"public_key":"`+jsonBytes(t, c.Public())+`"}`, nil),
		http.StatusServiceUnavailable, protocol.ErrCodeUnavailable, true)
}
