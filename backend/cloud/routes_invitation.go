package cloud

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Invitations: the key is known only to a profile's members (derived from their shared secret),
// and the server also lets only the host and the guests it lists read one, and only the host
// replace or delete it. Anyone else is told there is none.

func invitationKey(r *http.Request) (string, error) {
	key := r.PathValue("key")
	return key, checkPattern("invitation key", key, protocol.InvitationKeyPattern, "43 characters of unpadded base64url")
}

func noInvitation() error { return notFound("no invitation under this key") }

func decodeInvitationPut(body []byte) (protocol.InvitationPut, error) {
	var req protocol.InvitationPut
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if n := len(req.Guests); n == 0 || n > protocol.MaxMembers-1 {
		return req, badRequest("guests: %d client ids, want 1 to %d", n, protocol.MaxMembers-1)
	}
	for _, g := range req.Guests {
		if err := checkPattern("guest", g, protocol.ClientIDPattern, "a client id (XXXX-XXXX-XXXX-XXXX)"); err != nil {
			return req, err
		}
	}
	if len(req.Sealed) > protocol.MaxInvitationBytes {
		return req, tooLarge("sealed is %d bytes, at most %d", len(req.Sealed), protocol.MaxInvitationBytes)
	}
	if len(req.Sealed) == 0 {
		return req, badRequest("sealed is required")
	}
	if req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > protocol.MaxInvitationTTL {
		return req, badRequest("ttl_s %d: want 0 (the default, %s) to %d", req.TTLSeconds, protocol.DefaultInvitationTTL, int(protocol.MaxInvitationTTL.Seconds()))
	}
	return req, nil
}

// handlePutInvitation: PUT /invitations/{key}. The caller becomes its host.
func (s *Server) handlePutInvitation(w http.ResponseWriter, r *http.Request, p principal) error {
	key, err := invitationKey(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeInvitationPut)
	if err != nil {
		return err
	}
	if slices.Contains(req.Guests, p.ClientID) {
		return badRequest("guests: the host %s is not its own guest", p.ClientID)
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl == 0 {
		ttl = protocol.DefaultInvitationTTL
	}
	inv := protocol.Invitation{Host: p.ClientID, Guests: slices.Compact(slices.Sorted(slices.Values(req.Guests))), Sealed: req.Sealed}
	switch err := s.store.PutInvitation(r.Context(), key, inv, ttl); {
	case errors.Is(err, store.ErrExists):
		return conflict(protocol.ErrCodeConflict, "another member's invitation is under this key until it expires")
	case err != nil:
		return fmt.Errorf("put invitation: %w", err)
	}
	inv.Expires = s.now().Add(ttl).UTC()
	s.writeJSON(w, http.StatusOK, inv)
	return nil
}

// handleGetInvitation: GET /invitations/{key}, by its host or one of its guests.
func (s *Server) handleGetInvitation(w http.ResponseWriter, r *http.Request, p principal) error {
	key, err := invitationKey(r)
	if err != nil {
		return err
	}
	inv, err := s.store.GetInvitation(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return noInvitation()
	case err != nil:
		return fmt.Errorf("read invitation: %w", err)
	case inv.Host != p.ClientID && !slices.Contains(inv.Guests, p.ClientID):
		return noInvitation()
	}
	s.writeJSON(w, http.StatusOK, inv)
	return nil
}

// handleDeleteInvitation: DELETE /invitations/{key}, by its host.
func (s *Server) handleDeleteInvitation(w http.ResponseWriter, r *http.Request, p principal) error {
	key, err := invitationKey(r)
	if err != nil {
		return err
	}
	switch err := s.store.DeleteInvitation(r.Context(), key, p.ClientID); {
	case errors.Is(err, store.ErrNotFound):
		return noInvitation()
	case err != nil:
		return fmt.Errorf("delete invitation: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
