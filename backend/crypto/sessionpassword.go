package crypto

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"unicode"
)

// Session passwords. A generated one is 20 characters of Crockford's base32 alphabet (no I, L,
// O or U) in four groups of five, e.g. "7K2QD-M9XWA-0F3HT-RZ4NB": 100 bits, beyond any offline
// or online guessing, and easy to read out. Typed passwords are normalized the same way on both
// sides (NormalizePassword), so case, spaces, hyphens and the look-alikes O/0 and I/L/1 do not
// matter.

const (
	passwordAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	passwordGroups   = 4
	passwordGroupLen = 5
	// SessionPasswordBits is the strength of a generated session password.
	SessionPasswordBits = passwordGroups * passwordGroupLen * 5
	// MaxPasswordBytes bounds a typed session password.
	MaxPasswordBytes = 256
)

// NewSessionPassword draws a session password.
func NewSessionPassword() (string, error) {
	var sb strings.Builder
	limit := big.NewInt(int64(len(passwordAlphabet)))
	for g := range passwordGroups {
		if g > 0 {
			sb.WriteByte('-')
		}
		for range passwordGroupLen {
			n, err := rand.Int(rand.Reader, limit)
			if err != nil {
				return "", err
			}
			sb.WriteByte(passwordAlphabet[n.Int64()])
		}
	}
	return sb.String(), nil
}

// NormalizePassword is the form of a password that keys the proof: upper case, without spaces or
// hyphens, with O read as 0 and I or L as 1.
func NormalizePassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", errors.New("session password: too long")
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(password) {
		switch {
		case unicode.IsSpace(r), r == '-':
		case r == 'O':
			sb.WriteByte('0')
		case r == 'I', r == 'L':
			sb.WriteByte('1')
		default:
			sb.WriteRune(r)
		}
	}
	if sb.Len() == 0 {
		return "", errors.New("session password: empty")
	}
	return sb.String(), nil
}
