package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/crypto/hkdf"
)

// A multi-member profile lets its members meet again without a password typed: the member that
// runs it creates a session and leaves an invitation on the server, sealed with the profile's
// secret and signed with its identity key; the others find it under a key derived from the same
// secret, open it and join with the password it holds. The server keeps only the derived key,
// the guests' client ids and the sealed bytes: nothing it could open or use to join.

const (
	labelInvitationKey  = "ferry invitation key v1"
	labelInvitationSeal = "ferry invitation seal v1"
	labelInvitationSign = "ferry invitation signature v1"
	labelProfileSecret  = "ferry profile secret v1"
)

// ProfileSecret is shared by the members of a multi-member profile; the server never has it.
type ProfileSecret [32]byte

// ErrInvitation: an invitation that opens but cannot be trusted (signer, age, contents).
var ErrInvitation = errors.New("invitation refused")

// NewProfileSecret draws a random secret.
func NewProfileSecret() (ProfileSecret, error) {
	var s ProfileSecret
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("profile secret: %w", err)
	}
	return s, nil
}

func (s ProfileSecret) derive(label string) [32]byte {
	var out [32]byte
	// HKDF-SHA256 reads 32 bytes from a 32-byte secret: it cannot fail.
	_, _ = io.ReadFull(hkdf.New(sha256.New, s[:], nil, []byte(label)), out[:])
	return out
}

// ProfileSecretOf is the secret of a profile saved from a session: every member derives the
// same from the session key, which the server never has, so saving needs no message.
func ProfileSecretOf(k SessionKey, sessionID string) ProfileSecret {
	var s ProfileSecret
	_, _ = io.ReadFull(hkdf.New(sha256.New, k[:], []byte(sessionID), []byte(labelProfileSecret)), s[:])
	return s
}

// InvitationKey names the profile's invitation on the server. It is derived one way from the
// secret, so it tells nothing of it.
func (s ProfileSecret) InvitationKey() string {
	k := s.derive(labelInvitationKey)
	return base64.RawURLEncoding.EncodeToString(k[:])
}

// Invitation is what the member running a profile tells the profile's other members.
type Invitation struct {
	Session  string    `json:"session"`
	Password string    `json:"password"`
	Servers  []string  `json:"servers,omitempty"` // where the session is, when not where the guest looks
	Issued   time.Time `json:"issued"`
	HostKey  []byte    `json:"host_key"` // the inviting member's identity key
}

type signedInvitation struct {
	Invitation []byte `json:"invitation"`
	Signature  []byte `json:"signature"`
}

func (s ProfileSecret) sealKey() SessionKey { return SessionKey(s.derive(labelInvitationSeal)) }

// SealInvitation seals inv for the profile's members, signed by host.
func (s ProfileSecret) SealInvitation(inv Invitation, host *Identity) ([]byte, error) {
	inv.HostKey = host.Public()
	body, err := json.Marshal(inv)
	if err != nil {
		return nil, fmt.Errorf("seal invitation: %w", err)
	}
	key := s.InvitationKey()
	signed, err := json.Marshal(signedInvitation{Invitation: body,
		Signature: host.Sign(transcript(labelInvitationSign, []byte(key), body))})
	if err != nil {
		return nil, fmt.Errorf("seal invitation: %w", err)
	}
	return s.sealKey().Seal(signed, "invitation:"+key), nil
}

// OpenInvitation opens what SealInvitation sealed and checks it: signed by one of trusted,
// issued no more than maxAge before now (and not in its future by more than a minute).
func (s ProfileSecret) OpenInvitation(sealed []byte, trusted []ed25519.PublicKey, now time.Time, maxAge time.Duration) (Invitation, error) {
	key := s.InvitationKey()
	plain, err := s.sealKey().Open(sealed, "invitation:"+key)
	if err != nil {
		return Invitation{}, fmt.Errorf("%w: it was not sealed with this profile's secret", ErrInvitation)
	}
	var si signedInvitation
	var inv Invitation
	if err := json.Unmarshal(plain, &si); err != nil {
		return Invitation{}, fmt.Errorf("%w: %v", ErrInvitation, err)
	}
	if err := json.Unmarshal(si.Invitation, &inv); err != nil {
		return Invitation{}, fmt.Errorf("%w: %v", ErrInvitation, err)
	}
	if !slices.ContainsFunc(trusted, func(k ed25519.PublicKey) bool { return k.Equal(ed25519.PublicKey(inv.HostKey)) }) {
		return Invitation{}, fmt.Errorf("%w: signed by a key this profile does not trust", ErrInvitation)
	}
	if !ed25519.Verify(inv.HostKey, transcript(labelInvitationSign, []byte(key), si.Invitation), si.Signature) {
		return Invitation{}, fmt.Errorf("%w: its signature does not match", ErrInvitation)
	}
	switch age := now.Sub(inv.Issued); {
	case age > maxAge:
		return Invitation{}, fmt.Errorf("%w: issued %s ago, longer than %s", ErrInvitation, age.Round(time.Second), maxAge)
	case age < -time.Minute:
		return Invitation{}, fmt.Errorf("%w: issued %s in the future", ErrInvitation, (-age).Round(time.Second))
	}
	if inv.Session == "" || inv.Password == "" {
		return Invitation{}, fmt.Errorf("%w: it names no session or password", ErrInvitation)
	}
	return inv, nil
}
