package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Fingerprint identifies an Ed25519 identity key: SHA-256 of its 32 bytes. A ClientID is the
// base32 form of the fingerprint's first 10 bytes.
type Fingerprint [sha256.Size]byte

// KeyFingerprint is the fingerprint of an Ed25519 public key.
func KeyFingerprint(pub ed25519.PublicKey) (Fingerprint, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Fingerprint{}, fmt.Errorf("fingerprint: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return sha256.Sum256(pub), nil
}

// String is the fingerprint in lowercase hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// ParseFingerprint reads what String wrote.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	if hex.DecodedLen(len(s)) != len(f) {
		return f, fmt.Errorf("fingerprint %q: want %d hex digits", s, 2*len(f))
	}
	if _, err := hex.Decode(f[:], []byte(s)); err != nil {
		return f, fmt.Errorf("fingerprint %q: %w", s, err)
	}
	return f, nil
}

// transcript encodes a domain label and fields unambiguously (each with a 4-byte big-endian
// length) for signing, MACing, key derivation and associated data.
func transcript(label string, fields ...[]byte) []byte {
	n := 4 + len(label)
	for _, f := range fields {
		n += 4 + len(f)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(label)))
	out = append(out, label...)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out
}
