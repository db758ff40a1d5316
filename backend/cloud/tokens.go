package cloud

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// An access token is base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
// Claims name the client (derived from its key at login), the instance and the expiry.

const (
	maxTokenLen    = 512
	refreshBytes   = 32
	tokenMACBytes  = sha256.Size
	tokenClaimsMax = 256
)

// clientIDPattern is the shape of crypto.ClientID.
var clientIDPattern = regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)

// claims is the payload of an access token.
type claims struct {
	ClientID   string `json:"cid"`
	InstanceID string `json:"iid"`
	Expires    int64  `json:"exp"` // Unix seconds
}

// principal is an authenticated caller: a client (key) and one of its running instances.
type principal struct {
	ClientID   string
	InstanceID string
}

// key names the principal in push routing and presence. Instance ids are chosen by clients, so
// they are always qualified by the client id the server derived from the key.
func (p principal) key() string { return p.ClientID + "/" + p.InstanceID }

var (
	errTokenMalformed = errors.New("malformed access token")
	errTokenSignature = errors.New("access token signature mismatch")
	errTokenExpired   = errors.New("access token expired")
)

type tokenIssuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

func (ti *tokenIssuer) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, ti.secret)
	h.Write(payload)
	return h.Sum(nil)
}

// issue mints an access token for p.
func (ti *tokenIssuer) issue(p principal) (token string, expires time.Time, err error) {
	expires = ti.now().Add(ti.ttl).Truncate(time.Second)
	body, err := json.Marshal(claims{ClientID: p.ClientID, InstanceID: p.InstanceID, Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encode token claims: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	sig := base64.RawURLEncoding.EncodeToString(ti.mac([]byte(payload)))
	return payload + "." + sig, expires, nil
}

// parse checks a token's signature, shape and expiry, and returns its principal.
func (ti *tokenIssuer) parse(token string) (principal, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return principal{}, errTokenMalformed
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || strings.Contains(sig, ".") {
		return principal{}, errTokenMalformed
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(mac) != tokenMACBytes {
		return principal{}, errTokenMalformed
	}
	if !hmac.Equal(mac, ti.mac([]byte(payload))) {
		return principal{}, errTokenSignature
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil || len(body) > tokenClaimsMax {
		return principal{}, errTokenMalformed
	}
	var c claims
	if err := decodeStrict(bytes.NewReader(body), &c); err != nil {
		return principal{}, errTokenMalformed
	}
	if !clientIDPattern.MatchString(c.ClientID) || !protocol.InstanceIDPattern.MatchString(c.InstanceID) || c.Expires <= 0 {
		return principal{}, errTokenMalformed
	}
	if !ti.now().Before(time.Unix(c.Expires, 0)) {
		return principal{}, errTokenExpired
	}
	return principal{ClientID: c.ClientID, InstanceID: c.InstanceID}, nil
}

// newRefreshToken draws a refresh token and the hash it is stored under.
func newRefreshToken() (token, hash string, err error) {
	b := make([]byte, refreshBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("draw a refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, refreshHash(token), nil
}

// refreshHash is the store key of a refresh token: the store never holds a usable token.
func refreshHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
