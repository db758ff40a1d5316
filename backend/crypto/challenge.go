package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// The join challenge: the validator sends the joiner the session's password salt and Argon2id
// parameters, a fresh nonce and a fresh X25519 proof key, all signed with its identity over the
// JoinBinding. The joiner answers with its password proof (password.go) sealed to the proof key
// with its join key. So:
//   - a server relaying the challenge can neither lower the Argon2id cost (the parameters are
//     signed) nor put its own proof key in (the key is signed);
//   - a server relaying the answer sees only ciphertext: it cannot test password guesses
//     offline against it, which a bare proof would allow;
//   - only online guesses remain, one per challenge, which the validator counts.

const (
	// ProofKeySize is the size of a challenge's proof key (X25519).
	ProofKeySize = 32

	labelChallengeSig = "ferry join challenge v1"
	labelProofSeal    = "ferry password proof seal v1"
	maxSaltSize       = 64
)

// ErrBadProof: a sealed proof cannot be opened: it was tampered with, or sealed for another
// challenge or join key.
var ErrBadProof = errors.New("sealed password proof does not open: tampered or for another challenge")

// JoinChallenge is what the validator sends a joiner; Signature covers the JoinBinding and every
// other field.
type JoinChallenge struct {
	Salt      []byte
	Params    PasswordParams
	Nonce     []byte // ChallengeSize random bytes
	ProofKey  []byte // X25519 public key the proof is sealed to
	Signature []byte // the validator's Ed25519 signature
}

// ChallengeSecret is what the validator keeps to check the one answer to a challenge.
type ChallengeSecret struct {
	c    JoinChallenge
	b    JoinBinding
	priv *ecdh.PrivateKey
	used bool
}

// NewJoinChallenge draws a challenge for the join b, signed by the validator (b.Validator).
func NewJoinChallenge(validator *Identity, b JoinBinding, salt []byte, p PasswordParams) (JoinChallenge, *ChallengeSecret, error) {
	if err := b.check(); err != nil {
		return JoinChallenge{}, nil, fmt.Errorf("join challenge: %w", err)
	}
	if !validator.Public().Equal(b.Validator) {
		return JoinChallenge{}, nil, errors.New("join challenge: validator identity does not match the binding")
	}
	if len(salt) < PasswordSaltSize || len(salt) > maxSaltSize {
		return JoinChallenge{}, nil, fmt.Errorf("join challenge: salt is %d bytes, want %d to %d", len(salt), PasswordSaltSize, maxSaltSize)
	}
	if err := p.check(); err != nil {
		return JoinChallenge{}, nil, fmt.Errorf("join challenge: %w", err)
	}
	nonce, err := NewChallenge()
	if err != nil {
		return JoinChallenge{}, nil, err
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return JoinChallenge{}, nil, fmt.Errorf("join challenge: %w", err)
	}
	c := JoinChallenge{Salt: append([]byte(nil), salt...), Params: p, Nonce: nonce, ProofKey: priv.PublicKey().Bytes()}
	c.Signature = validator.Sign(c.message(b))
	return c, &ChallengeSecret{c: c, b: b, priv: priv}, nil
}

func (c JoinChallenge) message(b JoinBinding) []byte {
	params := binary.BigEndian.AppendUint32(nil, c.Params.Time)
	params = binary.BigEndian.AppendUint32(params, c.Params.MemoryKiB)
	params = append(params, c.Params.Threads)
	return b.transcript(labelChallengeSig, c.Salt, params, c.Nonce, c.ProofKey)
}

// VerifyJoinChallenge checks a challenge's shape and its signature by b.Validator, which the
// caller must already trust (or, on the server, know to be the oldest member's key).
func VerifyJoinChallenge(c JoinChallenge, b JoinBinding) error {
	if err := b.check(); err != nil {
		return fmt.Errorf("join challenge: %w", err)
	}
	switch {
	case len(c.Salt) < PasswordSaltSize || len(c.Salt) > maxSaltSize:
		return fmt.Errorf("join challenge: salt is %d bytes, want %d to %d", len(c.Salt), PasswordSaltSize, maxSaltSize)
	case len(c.Nonce) != ChallengeSize:
		return fmt.Errorf("join challenge: nonce is %d bytes, want %d", len(c.Nonce), ChallengeSize)
	case len(c.ProofKey) != ProofKeySize:
		return fmt.Errorf("join challenge: proof key is %d bytes, want %d", len(c.ProofKey), ProofKeySize)
	}
	if err := c.Params.check(); err != nil {
		return fmt.Errorf("join challenge: %w", err)
	}
	if !ed25519.Verify(b.Validator, c.message(b), c.Signature) {
		return fmt.Errorf("join challenge: %w", ErrBadSignature)
	}
	return nil
}

// AtLeast tells whether p costs at least as much as floor (passes and memory): a joiner refuses a
// challenge asking for less than it expects.
func (p PasswordParams) AtLeast(floor PasswordParams) bool {
	return p.Time >= floor.Time && p.MemoryKiB >= floor.MemoryKiB
}

// SealProof answers a verified challenge: the proof of k for b, sealed to the challenge's proof
// key with the joiner's join key.
func SealProof(k PasswordKey, c JoinChallenge, b JoinBinding, jk *JoinKey) ([]byte, error) {
	proof, err := k.Proof(b, c.Nonce)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(jk.Public(), b.JoinKey) {
		return nil, errors.New("seal proof: join key does not match the binding")
	}
	pub, err := ecdh.X25519().NewPublicKey(c.ProofKey)
	if err != nil {
		return nil, fmt.Errorf("seal proof: %w", err)
	}
	shared, err := jk.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("seal proof: %w", err)
	}
	aead, err := proofAEAD(shared, c, b)
	if err != nil {
		return nil, fmt.Errorf("seal proof: %w", err)
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(proof)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal proof: %w", err)
	}
	return aead.Seal(out, out, proof, b.transcript(labelProofSeal, c.Nonce, c.ProofKey)), nil
}

// CheckProof opens the joiner's sealed answer and verifies its proof with the validator's
// password key. It works once: a challenge gets one answer. ErrWrongPassword means the joiner
// does not know the password; ErrBadProof that the answer was not sealed for this challenge.
func (s *ChallengeSecret) CheckProof(k PasswordKey, sealed []byte) error {
	if s.used {
		return errors.New("check proof: this challenge was already answered")
	}
	s.used = true
	pub, err := ecdh.X25519().NewPublicKey(s.b.JoinKey)
	if err != nil {
		return ErrBadProof
	}
	shared, err := s.priv.ECDH(pub)
	if err != nil {
		return ErrBadProof
	}
	aead, err := proofAEAD(shared, s.c, s.b)
	if err != nil {
		return fmt.Errorf("check proof: %w", err)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return ErrBadProof
	}
	n := aead.NonceSize()
	proof, err := aead.Open(nil, sealed[:n], sealed[n:], s.b.transcript(labelProofSeal, s.c.Nonce, s.c.ProofKey))
	if err != nil {
		return ErrBadProof
	}
	return k.VerifyProof(s.b, s.c.Nonce, proof)
}

// proofAEAD derives the key sealing one proof from the joiner's join key and the validator's
// proof key, both fresh for this join.
func proofAEAD(shared []byte, c JoinChallenge, b JoinBinding) (cipher.AEAD, error) {
	salt := append(append([]byte(nil), c.ProofKey...), b.JoinKey...)
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, salt, b.transcript(labelProofSeal, c.Nonce)), key); err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}
