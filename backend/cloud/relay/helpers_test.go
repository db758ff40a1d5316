package relay

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// transferID draws a transfer id as clients make them: 22 base64url characters.
func transferID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
