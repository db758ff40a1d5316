package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// Joining a session, cryptographically:
//
//  1. The joiner makes a JoinKey (X25519, fresh per join) and signs its public part with its
//     identity (SignJoinKey), bound to the session id.
//  2. The validator (the oldest member) checks that signature against the joiner's trusted
//     identity key and the joiner's password proof (password.go), then wraps the session key
//     for the join key (WrapSessionKey): an ephemeral-static X25519 exchange, HKDF-SHA256 and
//     ChaCha20-Poly1305, with the session id, both identity keys and the join key bound into
//     the HKDF info and the associated data. The validator signs the result with its identity,
//     so that the server, which can wrap any key for a public join key, cannot hand the joiner
//     a session key of its own choosing.
//  3. The joiner checks that signature against the validator's trusted identity key and
//     unwraps (UnwrapSessionKey).
//
// Client ids are derived from the identity keys, so binding the keys binds the ids.

// JoinKeySize is the size of a JoinKey's public part.
const JoinKeySize = 32

const (
	labelJoinKey  = "ferry join key v1"
	labelWrapKDF  = "ferry session key wrap v1"
	labelWrapSig  = "ferry session key wrap signature v1"
	wrapVersion   = 1
	wrapBodySize  = 1 + JoinKeySize + len(SessionKey{}) + chacha20poly1305.Overhead
	wrappedKeyLen = wrapBodySize + ed25519.SignatureSize
)

var (
	// ErrBadSignature: a join key's signature does not verify with the claimed identity key
	// and session.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUnwrap: a wrapped session key was tampered with, or was made for another joiner,
	// join key, session or validator.
	ErrUnwrap = errors.New("cannot unwrap session key: wrong recipient, session, identities or tampered")
)

// JoinKey is a joiner's X25519 key pair for one join attempt; the session key is wrapped for it.
type JoinKey struct {
	priv *ecdh.PrivateKey
}

// NewJoinKey draws a fresh join key.
func NewJoinKey() (*JoinKey, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("join key: %w", err)
	}
	return &JoinKey{priv: priv}, nil
}

// Public is the join key's public part, sent to the validator with its signature.
func (k *JoinKey) Public() []byte {
	return k.priv.PublicKey().Bytes()
}

// JoinBinding names one join: both sides build it from what they know and trust, and every
// join message is bound to all of it.
type JoinBinding struct {
	SessionID string
	Validator ed25519.PublicKey // identity of the member that checks the password and wraps the key
	Joiner    ed25519.PublicKey // identity of the joiner
	JoinKey   []byte            // the joiner's JoinKey.Public for this join
}

func (b JoinBinding) check() error {
	switch {
	case b.SessionID == "":
		return errors.New("join binding: empty session id")
	case len(b.Validator) != ed25519.PublicKeySize:
		return fmt.Errorf("join binding: validator key is %d bytes, want %d", len(b.Validator), ed25519.PublicKeySize)
	case len(b.Joiner) != ed25519.PublicKeySize:
		return fmt.Errorf("join binding: joiner key is %d bytes, want %d", len(b.Joiner), ed25519.PublicKeySize)
	case len(b.JoinKey) != JoinKeySize:
		return fmt.Errorf("join binding: join key is %d bytes, want %d", len(b.JoinKey), JoinKeySize)
	}
	return nil
}

func (b JoinBinding) transcript(label string, extra ...[]byte) []byte {
	fields := append([][]byte{[]byte(b.SessionID), b.Validator, b.Joiner, b.JoinKey}, extra...)
	return transcript(label, fields...)
}

func joinKeyMessage(joiner ed25519.PublicKey, sessionID string, joinKey []byte) []byte {
	return transcript(labelJoinKey, []byte(sessionID), joiner, joinKey)
}

// SignJoinKey signs the joiner's join key for a session with the joiner's identity.
func SignJoinKey(joiner *Identity, sessionID string, joinKey []byte) ([]byte, error) {
	if sessionID == "" {
		return nil, errors.New("sign join key: empty session id")
	}
	if len(joinKey) != JoinKeySize {
		return nil, fmt.Errorf("sign join key: key is %d bytes, want %d", len(joinKey), JoinKeySize)
	}
	return joiner.Sign(joinKeyMessage(joiner.Public(), sessionID, joinKey)), nil
}

// VerifyJoinKey checks SignJoinKey's signature with the joiner's identity key.
func VerifyJoinKey(joiner ed25519.PublicKey, sessionID string, joinKey, sig []byte) error {
	if len(joiner) != ed25519.PublicKeySize || len(joinKey) != JoinKeySize || sessionID == "" ||
		!ed25519.Verify(joiner, joinKeyMessage(joiner, sessionID, joinKey), sig) {
		return fmt.Errorf("join key: %w", ErrBadSignature)
	}
	return nil
}

// WrapSessionKey wraps key for the joiner named by b. The validator must hold b.Validator's
// private key; joinKeySig is the joiner's SignJoinKey signature, checked here against b.Joiner,
// which the caller must already trust.
func WrapSessionKey(key SessionKey, validator *Identity, b JoinBinding, joinKeySig []byte) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	if !validator.Public().Equal(b.Validator) {
		return nil, errors.New("wrap session key: validator identity does not match the binding")
	}
	if err := VerifyJoinKey(b.Joiner, b.SessionID, b.JoinKey, joinKeySig); err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	recipient, err := ecdh.X25519().NewPublicKey(b.JoinKey)
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	shared, err := eph.ECDH(recipient) // fails on low-order points
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	ephPub := eph.PublicKey().Bytes()
	aead, err := wrapAEAD(shared, ephPub, b)
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	body := make([]byte, 0, wrappedKeyLen)
	body = append(body, wrapVersion)
	body = append(body, ephPub...)
	body = aead.Seal(body, make([]byte, aead.NonceSize()), key[:], b.transcript(labelWrapKDF, ephPub))
	return append(body, validator.Sign(b.transcript(labelWrapSig, body))...), nil
}

// UnwrapSessionKey checks the validator's signature on wrapped against b.Validator, which the
// caller must already trust, and recovers the session key with the joiner's join key.
func UnwrapSessionKey(wrapped []byte, jk *JoinKey, b JoinBinding) (SessionKey, error) {
	var key SessionKey
	if err := b.check(); err != nil {
		return key, fmt.Errorf("unwrap session key: %w", err)
	}
	if !bytes.Equal(jk.Public(), b.JoinKey) {
		return key, errors.New("unwrap session key: join key does not match the binding")
	}
	if len(wrapped) != wrappedKeyLen || wrapped[0] != wrapVersion {
		return key, ErrUnwrap
	}
	body, sig := wrapped[:wrapBodySize], wrapped[wrapBodySize:]
	if !ed25519.Verify(b.Validator, b.transcript(labelWrapSig, body), sig) {
		return key, ErrUnwrap
	}
	ephPub := body[1 : 1+JoinKeySize]
	eph, err := ecdh.X25519().NewPublicKey(ephPub)
	if err != nil {
		return key, ErrUnwrap
	}
	shared, err := jk.priv.ECDH(eph)
	if err != nil {
		return key, ErrUnwrap
	}
	aead, err := wrapAEAD(shared, ephPub, b)
	if err != nil {
		return key, fmt.Errorf("unwrap session key: %w", err)
	}
	plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), body[1+JoinKeySize:], b.transcript(labelWrapKDF, ephPub))
	if err != nil || len(plain) != len(key) {
		return key, ErrUnwrap
	}
	copy(key[:], plain)
	return key, nil
}

// wrapAEAD derives the one-time key-encryption key. Each wrap uses a fresh ephemeral key, so the
// derived key encrypts exactly one message and a zero nonce is safe.
func wrapAEAD(shared, ephPub []byte, b JoinBinding) (cipher.AEAD, error) {
	salt := append(bytes.Clone(ephPub), b.JoinKey...)
	kek := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, salt, b.transcript(labelWrapKDF, ephPub)), kek); err != nil {
		return nil, err
	}
	return chacha20poly1305.New(kek)
}

// VerifyWrappedSessionKey checks, without unwrapping, that wrapped was made by b.Validator for
// the join b. The server runs it before admitting a joiner, so that nobody but the validator can
// hand the joiner a session key.
func VerifyWrappedSessionKey(wrapped []byte, b JoinBinding) error {
	if err := b.check(); err != nil {
		return fmt.Errorf("wrapped session key: %w", err)
	}
	if len(wrapped) != wrappedKeyLen || wrapped[0] != wrapVersion {
		return fmt.Errorf("wrapped session key: %d bytes of version %d, want %d of version %d: %w",
			len(wrapped), firstByte(wrapped), wrappedKeyLen, wrapVersion, ErrBadSignature)
	}
	body, sig := wrapped[:wrapBodySize], wrapped[wrapBodySize:]
	if !ed25519.Verify(b.Validator, b.transcript(labelWrapSig, body), sig) {
		return fmt.Errorf("wrapped session key: %w", ErrBadSignature)
	}
	return nil
}

// WrappedKeySize is the size of WrapSessionKey's output.
const WrappedKeySize = wrappedKeyLen

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
