package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func newChallengeFixture(t *testing.T, password string) (joinFixture, JoinChallenge, *ChallengeSecret, PasswordKey) {
	t.Helper()
	f := newJoinFixture(t)
	salt, err := NewPasswordSalt()
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := NewJoinChallenge(f.validator, f.b, salt, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	k, err := DerivePasswordKey(password, salt, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	return f, c, secret, k
}

func TestJoinChallengeRoundTrip(t *testing.T) {
	t.Parallel()
	f, c, secret, validatorKey := newChallengeFixture(t, "right")
	if err := VerifyJoinChallenge(c, f.b); err != nil {
		t.Fatal(err)
	}
	joinerKey, _ := DerivePasswordKey("right", c.Salt, c.Params)
	sealed, err := SealProof(joinerKey, c, f.b, f.jk)
	if err != nil {
		t.Fatal(err)
	}
	if err := secret.CheckProof(validatorKey, sealed); err != nil {
		t.Fatal(err)
	}
	if err := secret.CheckProof(validatorKey, sealed); err == nil {
		t.Fatal("a challenge accepted a second answer")
	}
}

func TestJoinChallengeWrongPassword(t *testing.T) {
	t.Parallel()
	f, c, secret, validatorKey := newChallengeFixture(t, "right")
	wrong, _ := DerivePasswordKey("wrong", c.Salt, c.Params)
	sealed, err := SealProof(wrong, c, f.b, f.jk)
	if err != nil {
		t.Fatal(err)
	}
	if err := secret.CheckProof(validatorKey, sealed); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
}

// The sealed proof does not contain the proof a server could test guesses against, and any
// change to it, or sealing it with another join key, is detected.
func TestJoinChallengeSealedProof(t *testing.T) {
	t.Parallel()
	f, c, _, validatorKey := newChallengeFixture(t, "right")
	sealed, err := SealProof(validatorKey, c, f.b, f.jk)
	if err != nil {
		t.Fatal(err)
	}
	bare, _ := validatorKey.Proof(f.b, c.Nonce)
	if bytes.Contains(sealed, bare) {
		t.Fatal("the sealed proof carries the bare proof")
	}
	for _, i := range []int{0, 23, 24, len(sealed) / 2, len(sealed) - 1} { // nonce, body, tag
		fresh, secret, err := NewJoinChallenge(f.validator, f.b, c.Salt, c.Params)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := SealProof(validatorKey, fresh, f.b, f.jk)
		if err != nil {
			t.Fatal(err)
		}
		answer[i] ^= 0x80
		if err := secret.CheckProof(validatorKey, answer); !errors.Is(err, ErrBadProof) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	other, _ := NewJoinKey()
	fresh, secret, _ := NewJoinChallenge(f.validator, f.b, c.Salt, c.Params)
	ob := f.b
	ob.JoinKey = other.Public()
	if _, err := SealProof(validatorKey, fresh, ob, f.jk); err == nil {
		t.Fatal("sealed with a join key that is not the binding's")
	}
	wrongSeal, _ := SealProof(validatorKey, fresh, ob, other)
	if err := secret.CheckProof(validatorKey, wrongSeal); !errors.Is(err, ErrBadProof) {
		t.Fatalf("proof sealed with another join key: %v", err)
	}
}

func TestJoinChallengeVerify(t *testing.T) {
	t.Parallel()
	f, c, _, _ := newChallengeFixture(t, "right")
	stranger, _ := NewIdentity()
	other, _ := NewJoinKey()
	mutate := map[string]func(*JoinChallenge, *JoinBinding){
		"lower params": func(c *JoinChallenge, _ *JoinBinding) { c.Params.Time = 0 },
		"other params": func(c *JoinChallenge, _ *JoinBinding) { c.Params.MemoryKiB++ },
		"other salt":   func(c *JoinChallenge, _ *JoinBinding) { c.Salt = bytes.Repeat([]byte{1}, PasswordSaltSize) },
		"other nonce":  func(c *JoinChallenge, _ *JoinBinding) { c.Nonce = bytes.Repeat([]byte{1}, ChallengeSize) },
		"other proof key": func(c *JoinChallenge, _ *JoinBinding) {
			k, _ := NewJoinKey()
			c.ProofKey = k.Public()
		},
		"short nonce":     func(c *JoinChallenge, _ *JoinBinding) { c.Nonce = c.Nonce[:8] },
		"other validator": func(_ *JoinChallenge, b *JoinBinding) { b.Validator = stranger.Public() },
		"other joiner":    func(_ *JoinChallenge, b *JoinBinding) { b.Joiner = stranger.Public() },
		"other join key":  func(_ *JoinChallenge, b *JoinBinding) { b.JoinKey = other.Public() },
		"other session":   func(_ *JoinChallenge, b *JoinBinding) { b.SessionID = "999zzz999" },
		"no signature":    func(c *JoinChallenge, _ *JoinBinding) { c.Signature = nil },
	}
	for name, m := range mutate {
		cc, bb := c, f.b
		cc.Salt, cc.Nonce, cc.ProofKey, cc.Signature = bytes.Clone(c.Salt), bytes.Clone(c.Nonce), bytes.Clone(c.ProofKey), bytes.Clone(c.Signature)
		m(&cc, &bb)
		if err := VerifyJoinChallenge(cc, bb); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, _, err := NewJoinChallenge(stranger, f.b, c.Salt, c.Params); err == nil {
		t.Fatal("a challenge was signed by an identity other than the binding's validator")
	}
}

func TestPasswordParamsAtLeast(t *testing.T) {
	t.Parallel()
	d := DefaultPasswordParams()
	if !d.AtLeast(d) || testPasswordParams.AtLeast(d) || !d.AtLeast(testPasswordParams) {
		t.Fatal("AtLeast")
	}
}

func TestVerifyWrappedSessionKey(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	wrapped, err := WrapSessionKey(f.key, f.validator, f.b, f.sig)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != WrappedKeySize {
		t.Fatalf("wrapped key is %d bytes, WrappedKeySize %d", len(wrapped), WrappedKeySize)
	}
	if err := VerifyWrappedSessionKey(wrapped, f.b); err != nil {
		t.Fatal(err)
	}
	for i := range wrapped {
		w := bytes.Clone(wrapped)
		w[i] ^= 1
		if err := VerifyWrappedSessionKey(w, f.b); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	other, _ := NewJoinKey()
	b := f.b
	b.JoinKey = other.Public()
	if err := VerifyWrappedSessionKey(wrapped, b); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other join key: %v", err)
	}
	stranger, _ := NewIdentity()
	b = f.b
	b.Validator = stranger.Public()
	if err := VerifyWrappedSessionKey(wrapped, b); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other validator: %v", err)
	}
	if err := VerifyWrappedSessionKey(wrapped[:10], f.b); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("short: %v", err)
	}
}
