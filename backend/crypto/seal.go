package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// SessionKey encrypts what members share through the server (settings, node and source
// descriptions); the server never has it.
type SessionKey [chacha20poly1305.KeySize]byte

// ErrOpen: sealed data was truncated, tampered with, or sealed under another key or context.
var ErrOpen = errors.New("cannot open sealed data: wrong key, context or tampered")

// NewSessionKey draws a random key.
func NewSessionKey() (SessionKey, error) {
	var k SessionKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("session key: %w", err)
	}
	return k, nil
}

// Seal encrypts plain with XChaCha20-Poly1305 under a random nonce, bound to context (e.g.
// "node:A"), so that sealed data cannot be moved to another field.
func (k SessionKey) Seal(plain []byte, context string) []byte {
	aead, _ := chacha20poly1305.NewX(k[:]) // the key size is right by type
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported systems
	}
	return aead.Seal(out, out, plain, []byte(context))
}

// Open decrypts what Seal produced with the same key and context.
func (k SessionKey) Open(sealed []byte, context string) ([]byte, error) {
	aead, _ := chacha20poly1305.NewX(k[:])
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
