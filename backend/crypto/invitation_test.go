package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func newTestIdentity(t *testing.T) *Identity {
	t.Helper()
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newTestSecret(t *testing.T) ProfileSecret {
	t.Helper()
	s, err := NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInvitationRoundTrip(t *testing.T) {
	secret, host := newTestSecret(t), newTestIdentity(t)
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	in := Invitation{Session: "123abc456", Password: "tulip-ocean-42", Servers: []string{"https://ferry.example"}, Issued: now}
	sealed, err := secret.SealInvitation(in, host)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{in.Session, in.Password, "ferry.example", string(host.Public())} {
		if bytes.Contains(sealed, []byte(leak)) {
			t.Errorf("the sealed invitation holds %q in clear", leak)
		}
	}
	out, err := secret.OpenInvitation(sealed, []ed25519.PublicKey{newTestIdentity(t).Public(), host.Public()}, now.Add(time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if out.Session != in.Session || out.Password != in.Password || out.Servers[0] != in.Servers[0] ||
		!out.Issued.Equal(now) || !bytes.Equal(out.HostKey, host.Public()) {
		t.Fatalf("opened %+v, sealed %+v", out, in)
	}
}

func TestInvitationKey(t *testing.T) {
	a, b := newTestSecret(t), newTestSecret(t)
	ka := a.InvitationKey()
	if ka != a.InvitationKey() || ka == b.InvitationKey() {
		t.Fatal("the key must follow the secret")
	}
	raw, err := base64.RawURLEncoding.DecodeString(ka)
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q: %d bytes, %v", ka, len(raw), err)
	}
	if bytes.Equal(raw, a[:]) || bytes.Contains(a[:], raw[:8]) {
		t.Fatal("the key shows the secret")
	}
}

func TestInvitationRefused(t *testing.T) {
	secret, host, stranger := newTestSecret(t), newTestIdentity(t), newTestIdentity(t)
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	good := Invitation{Session: "123abc456", Password: "pw", Issued: now}
	seal := func(inv Invitation, by *Identity) []byte {
		t.Helper()
		b, err := secret.SealInvitation(inv, by)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sealed := seal(good, host)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	trusted := []ed25519.PublicKey{host.Public()}
	for _, c := range []struct {
		name    string
		secret  ProfileSecret
		sealed  []byte
		trusted []ed25519.PublicKey
		now     time.Time
		want    string
	}{
		{"another profile", newTestSecret(t), sealed, trusted, now, "not sealed with this profile"},
		{"tampered", secret, tampered, trusted, now, "not sealed with this profile"},
		{"truncated", secret, sealed[:20], trusted, now, "not sealed with this profile"},
		{"untrusted signer", secret, seal(good, stranger), trusted, now, "does not trust"},
		{"no trusted key", secret, sealed, nil, now, "does not trust"},
		{"too old", secret, sealed, trusted, now.Add(2 * time.Hour), "longer than 1h0m0s"},
		{"from the future", secret, sealed, trusted, now.Add(-10 * time.Minute), "in the future"},
		{"no session", secret, seal(Invitation{Password: "pw", Issued: now}, host), trusted, now, "no session"},
	} {
		_, err := c.secret.OpenInvitation(c.sealed, c.trusted, c.now, time.Hour)
		if !errors.Is(err, ErrInvitation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvitation saying %q", c.name, err, c.want)
		}
	}
}

// A signature made for another profile's key does not carry over, even when the same host
// seals the same invitation bytes.
func TestInvitationSignatureBoundToKey(t *testing.T) {
	a, b, host := newTestSecret(t), newTestSecret(t), newTestIdentity(t)
	now := time.Now()
	sealedA, err := a.SealInvitation(Invitation{Session: "s", Password: "p", Issued: now}, host)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := a.sealKey().Open(sealedA, "invitation:"+a.InvitationKey())
	if err != nil {
		t.Fatal(err)
	}
	resealed := b.sealKey().Seal(plain, "invitation:"+b.InvitationKey())
	if _, err := b.OpenInvitation(resealed, []ed25519.PublicKey{host.Public()}, now, time.Hour); !errors.Is(err, ErrInvitation) ||
		!strings.Contains(err.Error(), "signature") {
		t.Fatalf("a signature moved to another profile: %v", err)
	}
}

func TestProfileSecretOf(t *testing.T) {
	k1, _ := NewSessionKey()
	k2, _ := NewSessionKey()
	s := ProfileSecretOf(k1, "123abc456")
	if s != ProfileSecretOf(k1, "123abc456") {
		t.Fatal("members of one session must derive the same secret")
	}
	if s == ProfileSecretOf(k1, "123abc457") || s == ProfileSecretOf(k2, "123abc456") {
		t.Fatal("another session or key must give another secret")
	}
	if bytes.Equal(s[:], k1[:]) {
		t.Fatal("the secret is the session key")
	}
}
