package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// A profile's guest waits for its host's invitation, passes over a stale one, and opens the
// fresh one with the profile's secret; the server held only sealed bytes.
func TestAwaitInvitation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	host, guest := newClient(t, srv.URL(), Options{}), newClient(t, srv.URL(), Options{})
	secret, err := crypto.NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := secret.InvitationKey()
	trusted := []ed25519.PublicKey{host.Identity().Public()}
	leave := func(inv crypto.Invitation) {
		t.Helper()
		sealed, err := secret.SealInvitation(inv, host.Identity())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := host.PutInvitation(t.Context(), key, protocol.InvitationPut{Guests: []string{guest.ClientID()}, Sealed: sealed}); err != nil {
			t.Fatal(err)
		}
	}
	leave(crypto.Invitation{Session: "111aaa111", Password: "old", Issued: time.Now().Add(-3 * time.Hour)})

	type result struct {
		inv crypto.Invitation
		err error
	}
	got := make(chan result, 1)
	refused := make(chan struct{}, 8)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		var opened crypto.Invitation
		_, err := guest.AwaitInvitation(ctx, key, 50*time.Millisecond, func(pi *protocol.Invitation) bool {
			inv, err := secret.OpenInvitation(pi.Sealed, trusted, time.Now(), time.Hour)
			if err != nil {
				refused <- struct{}{}
				return false
			}
			opened = inv
			return true
		})
		got <- result{opened, err}
	}()
	select {
	case <-refused: // the stale one was read and passed over
	case r := <-got:
		t.Fatalf("the wait ended on the stale invitation: %+v %v", r.inv, r.err)
	}
	leave(crypto.Invitation{Session: "222bbb222", Password: "fresh", Issued: time.Now()})
	r := <-got
	if r.err != nil || r.inv.Session != "222bbb222" || r.inv.Password != "fresh" {
		t.Fatalf("awaited %+v, %v", r.inv, r.err)
	}
	if err := host.DeleteInvitation(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.Invitation(t.Context(), key); Code(err) != protocol.ErrCodeNotFound {
		t.Fatalf("read after delete: %v", err)
	}
}

// The wait ends with its context, and on a refusal other than "none yet".
func TestAwaitInvitationEnds(t *testing.T) {
	t.Parallel()
	srv := startServer(t, cloud.Config{}, nil)
	guest := newClient(t, srv.URL(), Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := guest.AwaitInvitation(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 50*time.Millisecond, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no invitation: %v, want the context's deadline", err)
	}
	if _, err := guest.AwaitInvitation(t.Context(), "bad key", 50*time.Millisecond, nil); Code(err) != protocol.ErrCodeBadRequest {
		t.Fatalf("a malformed key: %v, want bad_request", err)
	}
}
