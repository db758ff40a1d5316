package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

type joinFixture struct {
	validator, joiner *Identity
	jk                *JoinKey
	b                 JoinBinding
	sig               []byte
	key               SessionKey
}

func newJoinFixture(t *testing.T) joinFixture {
	t.Helper()
	v, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	jk, err := NewJoinKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	b := JoinBinding{SessionID: "123abc456", Validator: v.Public(), Joiner: j.Public(), JoinKey: jk.Public()}
	sig, err := SignJoinKey(j, b.SessionID, b.JoinKey)
	if err != nil {
		t.Fatal(err)
	}
	return joinFixture{validator: v, joiner: j, jk: jk, b: b, sig: sig, key: key}
}

func TestJoinKeySignature(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	if err := VerifyJoinKey(f.joiner.Public(), f.b.SessionID, f.b.JoinKey, f.sig); err != nil {
		t.Fatal(err)
	}
	other, _ := NewJoinKey()
	flipped := bytes.Clone(f.sig)
	flipped[0] ^= 1
	for name, c := range map[string]struct {
		pub          ed25519.PublicKey
		session      string
		joinKey, sig []byte
	}{
		"other identity": {f.validator.Public(), f.b.SessionID, f.b.JoinKey, f.sig},
		"other session":  {f.joiner.Public(), "999zzz999", f.b.JoinKey, f.sig},
		"other join key": {f.joiner.Public(), f.b.SessionID, other.Public(), f.sig},
		"tampered sig":   {f.joiner.Public(), f.b.SessionID, f.b.JoinKey, flipped},
		"short sig":      {f.joiner.Public(), f.b.SessionID, f.b.JoinKey, f.sig[:10]},
		"no sig":         {f.joiner.Public(), f.b.SessionID, f.b.JoinKey, nil},
		"short identity": {f.joiner.Public()[:5], f.b.SessionID, f.b.JoinKey, f.sig},
		"short join key": {f.joiner.Public(), f.b.SessionID, f.b.JoinKey[:31], f.sig},
		"empty session":  {f.joiner.Public(), "", f.b.JoinKey, f.sig},
	} {
		if err := VerifyJoinKey(c.pub, c.session, c.joinKey, c.sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := SignJoinKey(f.joiner, "", f.b.JoinKey); err == nil {
		t.Error("signed for an empty session id")
	}
	if _, err := SignJoinKey(f.joiner, "s", []byte("short")); err == nil {
		t.Error("signed a short join key")
	}
}

func TestWrapRoundTrip(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	wrapped, err := WrapSessionKey(f.key, f.validator, f.b, f.sig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, f.key[:]) {
		t.Fatal("wrapped key holds the key")
	}
	got, err := UnwrapSessionKey(wrapped, f.jk, f.b)
	if err != nil {
		t.Fatal(err)
	}
	if got != f.key {
		t.Fatal("unwrapped another key")
	}
	again, err := WrapSessionKey(f.key, f.validator, f.b, f.sig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again, wrapped) {
		t.Error("two wraps are identical: the ephemeral key is not fresh")
	}
}

func TestWrapRefuses(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	stranger, _ := NewIdentity()
	otherJK, _ := NewJoinKey()
	otherSig, _ := SignJoinKey(f.joiner, f.b.SessionID, otherJK.Public())
	mod := func(m func(*JoinBinding)) JoinBinding { b := f.b; m(&b); return b }

	if _, err := WrapSessionKey(f.key, stranger, f.b, f.sig); err == nil {
		t.Error("wrapped by an identity that is not the binding's validator")
	}
	for name, sig := range map[string][]byte{"signature for another join key": otherSig, "no signature": nil} {
		if _, err := WrapSessionKey(f.key, f.validator, f.b, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	strangerSig, _ := SignJoinKey(stranger, f.b.SessionID, f.b.JoinKey)
	if _, err := WrapSessionKey(f.key, f.validator, f.b, strangerSig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("join key signed by another identity: %v", err)
	}
	for name, b := range map[string]JoinBinding{
		"empty session":  mod(func(b *JoinBinding) { b.SessionID = "" }),
		"short joiner":   mod(func(b *JoinBinding) { b.Joiner = b.Joiner[:16] }),
		"short join key": mod(func(b *JoinBinding) { b.JoinKey = b.JoinKey[:16] }),
	} {
		if _, err := WrapSessionKey(f.key, f.validator, b, f.sig); err == nil {
			t.Errorf("%s: wrapped", name)
		}
	}
	// A low-order X25519 point (here zero) yields no shared secret; signed so that only the
	// point is wrong.
	zero := make([]byte, JoinKeySize)
	zeroSig, _ := SignJoinKey(f.joiner, f.b.SessionID, zero)
	if _, err := WrapSessionKey(f.key, f.validator, mod(func(b *JoinBinding) { b.JoinKey = zero }), zeroSig); err == nil {
		t.Error("wrapped for a low-order join key")
	}
}

func TestUnwrapRefuses(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	wrapped, err := WrapSessionKey(f.key, f.validator, f.b, f.sig)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := NewIdentity()
	otherJK, _ := NewJoinKey()
	mod := func(m func(*JoinBinding)) JoinBinding { b := f.b; m(&b); return b }

	for name, b := range map[string]JoinBinding{
		"other session":   mod(func(b *JoinBinding) { b.SessionID = "999zzz999" }),
		"other validator": mod(func(b *JoinBinding) { b.Validator = stranger.Public() }),
		"other joiner":    mod(func(b *JoinBinding) { b.Joiner = stranger.Public() }),
	} {
		if _, err := UnwrapSessionKey(wrapped, f.jk, b); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: %v, want ErrUnwrap", name, err)
		}
	}
	// Another joiner's key cannot unwrap, whatever binding it claims.
	if _, err := UnwrapSessionKey(wrapped, otherJK, f.b); err == nil {
		t.Error("wrong recipient: unwrapped")
	}
	if _, err := UnwrapSessionKey(wrapped, otherJK, mod(func(b *JoinBinding) { b.JoinKey = otherJK.Public() })); !errors.Is(err, ErrUnwrap) {
		t.Errorf("wrong recipient with its own binding: %v", err)
	}
	// Every single-bit flip and every truncation is refused.
	for i := range wrapped {
		tampered := bytes.Clone(wrapped)
		tampered[i] ^= 0x40
		if _, err := UnwrapSessionKey(tampered, f.jk, f.b); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("byte %d flipped: %v, want ErrUnwrap", i, err)
		}
	}
	for n := range len(wrapped) {
		if _, err := UnwrapSessionKey(wrapped[:n], f.jk, f.b); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := UnwrapSessionKey(append(bytes.Clone(wrapped), 0), f.jk, f.b); !errors.Is(err, ErrUnwrap) {
		t.Errorf("extended: %v", err)
	}
	// The server can wrap a key of its own for the join key, but cannot sign it as the validator.
	forged, err := WrapSessionKey(f.key, stranger, mod(func(b *JoinBinding) { b.Validator = stranger.Public() }), f.sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapSessionKey(forged, f.jk, f.b); !errors.Is(err, ErrUnwrap) {
		t.Errorf("wrap by another identity: %v, want ErrUnwrap", err)
	}
}
