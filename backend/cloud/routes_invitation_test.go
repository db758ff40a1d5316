package cloud

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

func clientIDOf(t *testing.T, c *cloudtest.Client) string {
	t.Helper()
	id, err := crypto.ClientID(c.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var _ = register("Invitations", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	host, guest, other, stranger := e.client(), e.client(), e.client(), e.client()
	key := "/invitations/" + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	put := protocol.InvitationPut{Guests: []string{clientIDOf(t, guest), clientIDOf(t, other)}, Sealed: protocol.Blob("sealed bytes"), TTLSeconds: 600}

	var made protocol.Invitation
	if st, perr := host.Call(http.MethodPut, key, put, &made); st != http.StatusOK {
		t.Fatalf("put: %d %v", st, perr)
	}
	if made.Host != clientIDOf(t, host) || len(made.Guests) != 2 || made.Expires.IsZero() {
		t.Fatalf("put answered %+v", made)
	}
	for _, c := range []*cloudtest.Client{host, guest, other} {
		var got protocol.Invitation
		if st, perr := c.Call(http.MethodGet, key, nil, &got); st != http.StatusOK || string(got.Sealed) != "sealed bytes" || got.Host != made.Host {
			t.Fatalf("get by host or guest: %d %v %+v", st, perr, got)
		}
	}
	// Someone the host did not list is told there is none, as for an absent key.
	st, perr := stranger.Call(http.MethodGet, key, nil, nil)
	stAbsent, perrAbsent := stranger.Call(http.MethodGet, "/invitations/"+strings.Repeat("A", 43), nil, nil)
	if st != http.StatusNotFound || stAbsent != st || perr.Message != perrAbsent.Message {
		t.Fatalf("get by a stranger: %d %v; absent key: %d %v", st, perr, stAbsent, perrAbsent)
	}
	if st, perr := stranger.Call(http.MethodPut, key, protocol.InvitationPut{Guests: []string{clientIDOf(t, host)}, Sealed: protocol.Blob("mine")}, nil); st != http.StatusConflict {
		t.Fatalf("a stranger replaces it: %d %v, want 409", st, perr)
	}
	if st, perr := guest.Call(http.MethodDelete, key, nil, nil); st != http.StatusNotFound {
		t.Fatalf("a guest deletes it: %d %v, want 404", st, perr)
	}
	var got protocol.Invitation
	if st, _ := guest.Call(http.MethodGet, key, nil, &got); st != http.StatusOK || string(got.Sealed) != "sealed bytes" {
		t.Fatalf("after refused writes: %d %q", st, got.Sealed)
	}
	if st, perr := host.Call(http.MethodDelete, key, nil, nil); st != http.StatusNoContent {
		t.Fatalf("the host deletes it: %d %v", st, perr)
	}
	if st, _ := guest.Call(http.MethodGet, key, nil, nil); st != http.StatusNotFound {
		t.Fatalf("get after delete: %d, want 404", st)
	}
	if st, _ := host.CallAs("", http.MethodGet, key, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("get without a token: %d, want 401", st)
	}
})

func TestInvitationBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, memoryStore)
	host, guest := e.client(), e.client()
	good := "/invitations/" + strings.Repeat("A", 43)
	g := clientIDOf(t, guest)
	for _, c := range []struct {
		name string
		path string
		body protocol.InvitationPut
		want int
	}{
		{"short key", "/invitations/abc", protocol.InvitationPut{Guests: []string{g}, Sealed: protocol.Blob("x")}, http.StatusBadRequest},
		{"no guest", good, protocol.InvitationPut{Sealed: protocol.Blob("x")}, http.StatusBadRequest},
		{"too many guests", good, protocol.InvitationPut{Guests: []string{g, g, g, g, g}, Sealed: protocol.Blob("x")}, http.StatusBadRequest},
		{"not a client id", good, protocol.InvitationPut{Guests: []string{"../etc"}, Sealed: protocol.Blob("x")}, http.StatusBadRequest},
		{"host as guest", good, protocol.InvitationPut{Guests: []string{clientIDOf(t, host)}, Sealed: protocol.Blob("x")}, http.StatusBadRequest},
		{"nothing sealed", good, protocol.InvitationPut{Guests: []string{g}}, http.StatusBadRequest},
		{"too large", good, protocol.InvitationPut{Guests: []string{g}, Sealed: make(protocol.Blob, protocol.MaxInvitationBytes+1)}, http.StatusRequestEntityTooLarge},
		{"ttl too long", good, protocol.InvitationPut{Guests: []string{g}, Sealed: protocol.Blob("x"), TTLSeconds: 2 * 86400}, http.StatusBadRequest},
	} {
		if st, perr := host.Call(http.MethodPut, c.path, c.body, nil); st != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, st, perr, c.want)
		}
	}
	if st, _ := guest.Call(http.MethodGet, good, nil, nil); st != http.StatusNotFound {
		t.Fatalf("a refused put stored something: %d", st)
	}
}
