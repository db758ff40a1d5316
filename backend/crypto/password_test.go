package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"
)

// testPasswordParams keep Argon2id cheap in tests.
var testPasswordParams = PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestPasswordProof(t *testing.T) {
	t.Parallel()
	f := newJoinFixture(t)
	salt, err := NewPasswordSalt()
	if err != nil {
		t.Fatal(err)
	}
	joinerKey, err := DerivePasswordKey("kayak-sunset-42", salt, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	validatorKey, err := DerivePasswordKey("kayak-sunset-42", salt, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	challenge, err := NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := joinerKey.Proof(f.b, challenge)
	if err != nil {
		t.Fatal(err)
	}
	if err := validatorKey.VerifyProof(f.b, challenge, proof); err != nil {
		t.Fatal(err)
	}

	wrongKey, _ := DerivePasswordKey("kayak-sunset-43", salt, testPasswordParams)
	otherSalt, _ := NewPasswordSalt()
	otherSaltKey, _ := DerivePasswordKey("kayak-sunset-42", otherSalt, testPasswordParams)
	otherChallenge, _ := NewChallenge()
	stranger, _ := NewIdentity()
	otherJK, _ := NewJoinKey()
	mod := func(m func(*JoinBinding)) JoinBinding { b := f.b; m(&b); return b }
	tampered := bytes.Clone(proof)
	tampered[5] ^= 1

	cases := map[string]struct {
		key              PasswordKey
		b                JoinBinding
		challenge, proof []byte
	}{
		"wrong password":  {wrongKey, f.b, challenge, proof},
		"other salt":      {otherSaltKey, f.b, challenge, proof},
		"old challenge":   {validatorKey, f.b, otherChallenge, proof},
		"other session":   {validatorKey, mod(func(b *JoinBinding) { b.SessionID = "999zzz999" }), challenge, proof},
		"other validator": {validatorKey, mod(func(b *JoinBinding) { b.Validator = stranger.Public() }), challenge, proof},
		"other joiner":    {validatorKey, mod(func(b *JoinBinding) { b.Joiner = stranger.Public() }), challenge, proof},
		"other join key":  {validatorKey, mod(func(b *JoinBinding) { b.JoinKey = otherJK.Public() }), challenge, proof},
		"tampered":        {validatorKey, f.b, challenge, tampered},
		"truncated":       {validatorKey, f.b, challenge, proof[:16]},
		"empty":           {validatorKey, f.b, challenge, nil},
	}
	for name, c := range cases {
		if err := c.key.VerifyProof(c.b, c.challenge, c.proof); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s: %v, want ErrWrongPassword", name, err)
		}
	}
	if _, err := joinerKey.Proof(f.b, challenge[:8]); err == nil {
		t.Error("short challenge accepted")
	}
	if err := validatorKey.VerifyProof(mod(func(b *JoinBinding) { b.JoinKey = nil }), challenge, proof); err == nil || errors.Is(err, ErrWrongPassword) {
		t.Errorf("bad binding: %v, want a binding error", err)
	}
}

func TestDerivePasswordKeyVector(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef")
	k, err := DerivePasswordKey("password", salt, testPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	// Argon2id v1.3, t=1, m=64 KiB, p=1, 32-byte tag (regression vector).
	const want = "73cba7a192f57cc8935bd573b08cc8e1788b2237989a1b24d9d088520db54696"
	if got := hex.EncodeToString(k[:]); got != want {
		t.Errorf("key = %s, want %s", got, want)
	}
	// Each parameter reaches argon2 in its place.
	p := PasswordParams{Time: 3, MemoryKiB: 96, Threads: 2}
	k, err = DerivePasswordKey("password", salt, p)
	if err != nil {
		t.Fatal(err)
	}
	if direct := argon2.IDKey([]byte("password"), salt, 3, 96, 2, 32); !bytes.Equal(k[:], direct) {
		t.Error("parameters passed in the wrong order")
	}
}

func TestDerivePasswordKeyRefuses(t *testing.T) {
	t.Parallel()
	salt := make([]byte, PasswordSaltSize)
	for name, c := range map[string]struct {
		password string
		salt     []byte
		p        PasswordParams
	}{
		"empty password": {"", salt, testPasswordParams},
		"short salt":     {"pw", salt[:8], testPasswordParams},
		"zero time":      {"pw", salt, PasswordParams{Time: 0, MemoryKiB: 64, Threads: 1}},
		"huge time":      {"pw", salt, PasswordParams{Time: 1000, MemoryKiB: 64, Threads: 1}},
		"zero threads":   {"pw", salt, PasswordParams{Time: 1, MemoryKiB: 64, Threads: 0}},
		"tiny memory":    {"pw", salt, PasswordParams{Time: 1, MemoryKiB: 8, Threads: 4}},
		"huge memory":    {"pw", salt, PasswordParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}},
	} {
		if _, err := DerivePasswordKey(c.password, c.salt, c.p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := DefaultPasswordParams().check(); err != nil {
		t.Errorf("default parameters: %v", err)
	}
}
