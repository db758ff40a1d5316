// Package crypto holds Ferry's identities and session cryptography.
package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// ClientID names an installation by its Ed25519 public key: the first 80 bits of SHA-256 of the
// key in base32, grouped as XXXX-XXXX-XXXX-XXXX. The server derives it from the key a client
// proves it holds; a client cannot choose it.
func ClientID(pub ed25519.PublicKey) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("client id: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	sum := sha256.Sum256(pub)
	s := base32.StdEncoding.EncodeToString(sum[:10]) // 16 characters
	return strings.Join([]string{s[0:4], s[4:8], s[8:12], s[12:16]}, "-"), nil
}
