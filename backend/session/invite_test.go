package session_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// trusting is a client with an identity and a trust store of its own, as a computer has.
type trusting struct {
	c     *client.Client
	trust *crypto.TrustStore
}

func newTrusting(t *testing.T, url string) trusting {
	t.Helper()
	dir := t.TempDir()
	id, err := crypto.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := crypto.OpenTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return trusting{c: newClientWith(t, url, id), trust: store}
}

// create makes a session of one member without nodes, closed when the test ends.
func (tr trusting) create(t *testing.T, opts ...session.Option) *session.Member {
	t.Helper()
	m, err := session.Create(t.Context(), tr.c, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = m.Close(context.Background(), time.Second) })
	return m
}

// firstRun has b join a's session once, trusting new keys, and returns what each would save in
// a shared profile: its peers and the secret.
func firstRun(t *testing.T, url string, a, b trusting) (peersOfA, peersOfB []session.Peer, secret crypto.ProfileSecret) {
	t.Helper()
	terms := session.Terms{Mode: "mirror", From: "A", MaxDelete: "5"}
	host, err := session.Create(t.Context(), a.c, []plan.NodeSpec{{Code: "A", Roots: []string{t.TempDir()}}},
		testOptions(session.WithTrust(a.trust), session.WithTerms(terms))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = host.Close(context.Background(), time.Second) }()
	guest, err := join(t, b.c, host.ID(), host.Password(), []plan.NodeSpec{{Code: "B", Roots: []string{t.TempDir()}}}, testOptions(session.WithTrust(b.trust))...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = guest.Close(context.Background(), time.Second) }()
	host.Members(t.Context())
	guest.Members(t.Context())
	peersOfA, peersOfB = host.Peers(), guest.Peers()
	if got, ok := guest.PlannerTerms(); !ok || got != terms {
		t.Fatalf("the guest read the host's terms %+v, %v; want %+v", got, ok, terms)
	}
	if _, ok := host.PlannerTerms(); !ok {
		t.Fatal("the host does not read its own terms")
	}
	if host.ProfileSecret() != guest.ProfileSecret() {
		t.Fatal("the members derived different profile secrets")
	}
	machine, _ := os.Hostname()
	if len(peersOfA) != 1 || peersOfA[0].ClientID != b.c.ClientID() || !peersOfA[0].Key.Equal(b.c.Identity().Public()) || peersOfA[0].Name != machine {
		t.Fatalf("the host's peers: %+v", peersOfA)
	}
	if len(peersOfB) != 1 || peersOfB[0].ClientID != a.c.ClientID() || !peersOfB[0].Key.Equal(a.c.Identity().Public()) {
		t.Fatalf("the guest's peers: %+v", peersOfB)
	}
	return peersOfA, peersOfB, host.ProfileSecret()
}

// The members of a shared profile meet again: the host invites, the peer finds the invitation
// and joins with it, no password typed and no key question asked; a stranger cannot read it.
func TestInvitationJoin(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newTrusting(t, url), newTrusting(t, url)
	peersOfA, peersOfB, secret := firstRun(t, url, a, b)

	if _, err := session.FindInvitation(t.Context(), b.c, secret, peersOfB); !errors.Is(err, session.ErrNoInvitation) {
		t.Fatalf("FindInvitation before any: %v, want ErrNoInvitation", err)
	}

	// B waits for the invitation before A leaves it.
	type found struct {
		inv crypto.Invitation
		err error
	}
	awaited := make(chan found, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		inv, err := session.AwaitInvitation(ctx, b.c, secret, peersOfB, 20*time.Millisecond)
		awaited <- found{inv, err}
	}()

	host := a.create(t, session.WithPasswordParams(cheapParams), session.WithTrust(a.trust), session.OnlyPeers(peersOfA))
	if err := host.Invite(t.Context(), secret, peersOfA, time.Hour); err != nil {
		t.Fatal(err)
	}
	got := <-awaited
	if got.err != nil {
		t.Fatal(got.err)
	}
	inv, err := session.FindInvitation(t.Context(), b.c, secret, peersOfB)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Session != host.ID() || inv.Password != host.Password() || got.inv.Session != host.ID() ||
		len(inv.Servers) != 1 || inv.Servers[0] != url {
		t.Fatalf("invitation %+v (awaited %+v), want session %s at %s", inv, got.inv, host.ID(), url)
	}

	// B, running the profile at the same time, cannot replace A's invitation.
	other := b.create(t, session.WithPasswordParams(cheapParams), session.WithTrust(b.trust), session.OnlyPeers(peersOfB))
	if err := other.Invite(t.Context(), secret, peersOfB, time.Hour); !errors.Is(err, session.ErrInvitationTaken) {
		t.Fatalf("a second invitation: %v, want ErrInvitationTaken", err)
	}

	// A stranger knowing even the secret is told there is none.
	stranger := newTrusting(t, url)
	if _, err := session.FindInvitation(t.Context(), stranger.c, secret, peersOfB); !errors.Is(err, session.ErrNoInvitation) {
		t.Fatalf("a stranger's FindInvitation: %v, want ErrNoInvitation", err)
	}

	// B joins with it: no key is new to it nor asked about (no confirm, no TrustNewKeys).
	asked := false
	guest, err := join(t, b.c, inv.Session, inv.Password, nil, session.WithPasswordParams(cheapParams),
		session.WithTrust(b.trust), session.OnlyPeers(peersOfB), session.ConfirmKey(func(session.KeyCheck) bool { asked = true; return false }))
	if err != nil {
		t.Fatal(err)
	}
	if asked {
		t.Fatal("a key question was asked")
	}
	sameKey(t, host, guest)

	if err := host.Uninvite(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	if err := host.Uninvite(t.Context(), secret); err != nil {
		t.Fatalf("Uninvite again: %v", err)
	}
	if _, err := session.FindInvitation(t.Context(), b.c, secret, peersOfB); !errors.Is(err, session.ErrNoInvitation) {
		t.Fatalf("FindInvitation after Uninvite: %v, want ErrNoInvitation", err)
	}
}

// An invitation that opens with another secret, that a key outside the profile signed, or that
// is stale, is not taken; nor is a session whose validator is not one of the profile's members.
func TestInvitationRefused(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newTrusting(t, url), newTrusting(t, url)
	peersOfA, peersOfB, secret := firstRun(t, url, a, b)
	key := secret.InvitationKey()

	leave := func(by *client.Client, sealed []byte) {
		t.Helper()
		if _, err := by.PutInvitation(t.Context(), key, protocol.InvitationPut{Guests: []string{b.c.ClientID()}, Sealed: sealed}); err != nil {
			t.Fatal(err)
		}
	}
	fresh := crypto.Invitation{Session: "123abc456", Password: "pw", Issued: time.Now()}
	other, err := crypto.NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	stranger := newTrusting(t, url)
	for _, c := range []struct {
		name   string
		by     *client.Client
		secret crypto.ProfileSecret
		inv    crypto.Invitation
		want   string
	}{
		{"another secret", a.c, other, fresh, "not sealed with this profile's secret"},
		{"a stranger's key", stranger.c, secret, fresh, "signed by a key this profile does not trust"},
		{"stale", a.c, secret, crypto.Invitation{Session: "123abc456", Password: "pw", Issued: time.Now().Add(-session.InvitationMaxAge - time.Minute)}, "longer than"},
	} {
		sealed, err := c.secret.SealInvitation(c.inv, c.by.Identity())
		if err != nil {
			t.Fatal(err)
		}
		leave(c.by, sealed)
		_, err = session.FindInvitation(t.Context(), b.c, secret, peersOfB)
		if !errors.Is(err, session.ErrNoInvitation) || !errors.Is(err, crypto.ErrInvitation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: FindInvitation = %v; want ErrNoInvitation saying %q", c.name, err, c.want)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, err = session.AwaitInvitation(ctx, b.c, secret, peersOfB, 20*time.Millisecond)
		cancel()
		if !errors.Is(err, session.ErrNoInvitation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: AwaitInvitation = %v; want ErrNoInvitation saying %q", c.name, err, c.want)
		}
		if err := c.by.DeleteInvitation(t.Context(), key); err != nil {
			t.Fatal(err)
		}
	}

	// A session created by a stranger with a genuine password: B, following the profile,
	// refuses its validator.
	strangers := create(t, url, session.WithPasswordParams(cheapParams), session.TrustNewKeys(true))
	_, err = join(t, b.c, strangers.ID(), strangers.Password(), nil, session.WithPasswordParams(cheapParams),
		session.WithTrust(b.trust), session.OnlyPeers(peersOfB))
	if code := session.RefusalCode(err); code != protocol.JoinUntrustedKey || !strings.Contains(err.Error(), "not one of this profile's members") {
		t.Fatalf("join a stranger's session: %v, want %s", err, protocol.JoinUntrustedKey)
	}

	// And A's profile session does not admit the stranger, password or not.
	host := a.create(t, session.WithPasswordParams(cheapParams), session.WithTrust(a.trust), session.OnlyPeers(peersOfA))
	_, err = join(t, stranger.c, host.ID(), host.Password(), nil, testOptions()...)
	if code := session.RefusalCode(err); code != protocol.JoinUntrustedKey {
		t.Fatalf("a stranger joins a profile's session: %v, want %s", err, protocol.JoinUntrustedKey)
	}
}
