package crypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Password proof: the joiner proves to the validator (the oldest member) that it knows the
// session password. Both derive a PasswordKey from the password with Argon2id and the
// session's random salt; the validator sends a fresh random challenge; the joiner answers with
// HMAC-SHA256 under that key over the challenge and the JoinBinding (session id, both identity
// keys, the joiner's join key), so a proof cannot be replayed to another join, session or
// validator.
//
// Threat model. The password never leaves the members. A bare proof relayed by the server
// would let the server (or an eavesdropper) test password guesses offline, each guess costing
// one Argon2id derivation, so the proof only travels sealed to the validator's fresh proof key
// (challenge.go), and the challenge carrying the salt, the parameters and that key is signed by
// the validator: a server can neither read the proof nor lower the cost. What remains is online
// guessing, one guess per challenge, which the validator counts and caps. The server cannot
// precompute across sessions (per-session salt) or replay a proof (fresh challenge, bound join
// key). Generated passwords (NewSessionPassword) have 100 bits.
// PasswordParams are Argon2id's cost parameters.
type PasswordParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
}

// DefaultPasswordParams: 2 passes over 64 MiB with 4 lanes (0.1 to 0.3 s on a desktop).
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Time: 2, MemoryKiB: 64 << 10, Threads: 4}
}

const (
	// PasswordSaltSize is the size of a session's password salt.
	PasswordSaltSize = 16
	// ChallengeSize is the size of a validator's challenge.
	ChallengeSize = 32

	maxPasswordMemoryKiB = 4 << 20 // 4 GiB: refuse absurd costs
	maxPasswordTime      = 64
	labelPasswordProof   = "ferry password proof v1"
)

// ErrWrongPassword: a password proof does not match (wrong password, challenge or binding).
var ErrWrongPassword = errors.New("wrong session password")

// PasswordKey is derived from the session password; it only ever keys the proof MAC.
type PasswordKey [32]byte

// NewPasswordSalt draws a session's salt, made when the session is created and given to
// joiners with the session.
func NewPasswordSalt() ([]byte, error) { return randomBytes(PasswordSaltSize, "password salt") }

// NewChallenge draws a validator's challenge, fresh for every proof.
func NewChallenge() ([]byte, error) { return randomBytes(ChallengeSize, "challenge") }

func randomBytes(n int, what string) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

func (p PasswordParams) check() error {
	switch {
	case p.Time < 1 || p.Time > maxPasswordTime:
		return fmt.Errorf("argon2 time %d out of range 1..%d", p.Time, maxPasswordTime)
	case p.Threads < 1:
		return errors.New("argon2 threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxPasswordMemoryKiB:
		return fmt.Errorf("argon2 memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxPasswordMemoryKiB)
	}
	return nil
}

// DerivePasswordKey derives the proof key with Argon2id. The password is used byte for byte:
// callers normalize it (case, spaces) before, the same way on both sides.
func DerivePasswordKey(password string, salt []byte, p PasswordParams) (PasswordKey, error) {
	var k PasswordKey
	if password == "" {
		return k, errors.New("password key: empty password")
	}
	if len(salt) < PasswordSaltSize {
		return k, fmt.Errorf("password key: salt is %d bytes, want at least %d", len(salt), PasswordSaltSize)
	}
	if err := p.check(); err != nil {
		return k, fmt.Errorf("password key: %w", err)
	}
	copy(k[:], argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(k))))
	return k, nil
}

// Proof answers the validator's challenge for the join b.
func (k PasswordKey) Proof(b JoinBinding, challenge []byte) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("password proof: %w", err)
	}
	if len(challenge) < ChallengeSize {
		return nil, fmt.Errorf("password proof: challenge is %d bytes, want at least %d", len(challenge), ChallengeSize)
	}
	mac := hmac.New(sha256.New, k[:])
	mac.Write(b.transcript(labelPasswordProof, challenge))
	return mac.Sum(nil), nil
}

// VerifyProof checks, in constant time, a proof made for challenge and the join b.
func (k PasswordKey) VerifyProof(b JoinBinding, challenge, proof []byte) error {
	want, err := k.Proof(b, challenge)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, proof) {
		return ErrWrongPassword
	}
	return nil
}
