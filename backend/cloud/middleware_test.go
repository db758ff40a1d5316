package cloud

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

// One debug line per request, with method, path, status and duration, and never a body, a
// token or a query.
func TestRequestLog(t *testing.T) {
	var logs testio.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, memoryStore, func(c *Config) { c.Logger = logger })
	a := e.client()
	s := a.CreateSession("secret-settings")
	// Whatever they answer, the requests are logged.
	_, _ = a.Call(http.MethodGet, "/sessions/"+s.ID+"?token=query-secret", nil, nil)
	_, _ = a.Call(http.MethodPut, "/sessions/"+s.ID+"/settings", `{"settings":"bm90IGxvZ2dlZA=="`, nil)

	out := logs.String()
	for _, want := range []string{
		`method=POST path=/api/v1/auth/login status=200 duration=`,
		`method=POST path=/api/v1/sessions status=201`,
		`method=GET path=/api/v1/sessions/` + s.ID + ` status=200`,
		`method=PUT path=/api/v1/sessions/` + s.ID + `/settings status=400`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{a.Tokens.AccessToken, a.Tokens.RefreshToken, "query-secret", "bm90IGxvZ2dlZA", "c2VjcmV0LXNldHRpbmdz"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q", secret)
		}
	}
}

// A panic is a bug: it becomes a logged 500 with a protocol.Error body, and the server goes on.
func TestRecoverPanic(t *testing.T) {
	var logs testio.Buffer
	srv, err := NewServer(Config{Store: memoryStore(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	var perr protocol.Error
	if rec.Code != 500 || json.Unmarshal(rec.Body.Bytes(), &perr) != nil || perr.Code != protocol.ErrCodeInternal {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "panic=bug") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestNewServerConfig(t *testing.T) {
	if _, err := NewServer(Config{}); err == nil {
		t.Fatal("no store accepted")
	}
	if _, err := NewServer(Config{Store: memoryStore(t), Secret: []byte("short")}); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := NewServer(Config{Store: memoryStore(t), AccessTTL: -1}); err == nil {
		t.Fatal("negative TTL accepted")
	}
	srv, err := NewServer(Config{Store: memoryStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.cfg.AccessTTL != DefaultAccessTTL || srv.cfg.SessionTTL != DefaultSessionTTL ||
		srv.cfg.PresenceTimeout != DefaultPresenceTimeout || len(srv.cfg.Secret) != minSecretBytes {
		t.Fatalf("defaults: %+v", srv.cfg)
	}
}

// Tokens of a server with a random secret do not work on another.
func TestRandomSecretsDiffer(t *testing.T) {
	one := newEnv(t, memoryStore, func(c *Config) { c.Secret = nil })
	two := newEnv(t, memoryStore, func(c *Config) { c.Secret = nil })
	a := cloudtest.LoggedIn(t, one.URL)
	a.URL = two.URL
	if st, _ := a.Call(http.MethodPost, "/sessions", protocol.CreateSessionRequest{Settings: []byte("s")}, nil); st != 401 {
		t.Fatalf("token of another server: %d", st)
	}
}
