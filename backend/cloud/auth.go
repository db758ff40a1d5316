package cloud

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Login binds a client id to a key: the client signs a fresh server nonce with its Ed25519 key,
// and the server derives the client id from that key. Nobody can claim another client's id.

// authenticate reads the bearer token of r.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, unauthorized("missing access token: send \"Authorization: Bearer <token>\"")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, unauthorized("the Authorization header must be \"Bearer <token>\"")
	}
	p, err := s.tokens.parse(strings.TrimSpace(token))
	if err != nil {
		return principal{}, unauthorized("%v", err)
	}
	return p, nil
}

// handleChallenge: POST /auth/challenge.
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeChallengeRequest)
	if err != nil {
		return err
	}
	nonce := make([]byte, nonceBytes)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("draw a nonce: %w", err)
	}
	if err := s.store.PutChallenge(r.Context(), nonce, req.PublicKey, s.cfg.ChallengeTTL); err != nil {
		return fmt.Errorf("store a challenge: %w", err)
	}
	s.writeJSON(w, http.StatusOK, protocol.Challenge{Nonce: nonce, Expires: s.now().Add(s.cfg.ChallengeTTL)})
	return nil
}

// handleLogin: POST /auth/login.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeLoginRequest)
	if err != nil {
		return err
	}
	if req.ProtocolVersion != protocol.Version {
		return newError(http.StatusUpgradeRequired, protocol.ErrCodeVersion,
			"protocol version %d is not supported: this server speaks version %d", req.ProtocolVersion, protocol.Version)
	}
	// The nonce is consumed before the signature is checked: a nonce gets one attempt.
	pub, err := s.store.TakeChallenge(r.Context(), req.Nonce)
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("unknown, used or expired nonce: ask for a new challenge")
	}
	if err != nil {
		return fmt.Errorf("take a challenge: %w", err)
	}
	if !bytes.Equal(pub, req.PublicKey) {
		return unauthorized("the nonce was issued for another key")
	}
	if !ed25519.Verify(pub, protocol.LoginMessage(req.Nonce, req.InstanceID, req.ProtocolVersion), req.Signature) {
		return unauthorized("bad signature")
	}
	clientID, err := crypto.ClientID(pub)
	if err != nil {
		return badRequest("%v", err)
	}
	tokens, err := s.issueTokens(r, principal{ClientID: clientID, InstanceID: req.InstanceID}, pub)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, tokens)
	return nil
}

// handleRefresh: POST /auth/refresh. The refresh token is taken (it works once) and a new pair
// is issued.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeRefreshRequest)
	if err != nil {
		return err
	}
	ref, err := s.store.TakeRefresh(r.Context(), refreshHash(req.RefreshToken))
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("unknown, used or expired refresh token: log in again")
	}
	if err != nil {
		return fmt.Errorf("take a refresh token: %w", err)
	}
	if !s.now().Before(ref.Expires) {
		return unauthorized("expired refresh token: log in again")
	}
	tokens, err := s.issueTokens(r, principal{ClientID: ref.ClientID, InstanceID: ref.InstanceID}, ref.PublicKey)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, tokens)
	return nil
}

func (s *Server) issueTokens(r *http.Request, p principal, pub []byte) (protocol.Tokens, error) {
	access, expires, err := s.tokens.issue(p)
	if err != nil {
		return protocol.Tokens{}, err
	}
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return protocol.Tokens{}, err
	}
	rec := store.Refresh{ClientID: p.ClientID, InstanceID: p.InstanceID, PublicKey: pub, Expires: s.now().Add(s.cfg.RefreshTTL)}
	if err := s.store.PutRefresh(r.Context(), hash, rec, s.cfg.RefreshTTL); err != nil {
		return protocol.Tokens{}, fmt.Errorf("store a refresh token: %w", err)
	}
	return protocol.Tokens{
		ClientID:      p.ClientID,
		InstanceID:    p.InstanceID,
		AccessToken:   access,
		AccessExpires: expires,
		RefreshToken:  refresh,
	}, nil
}
