package cloud

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Rules about who may act on a session, shared by the routes. They run inside store updates, so
// they see the state they change.

// sessionID reads and checks the {id} of a route.
func sessionID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	return id, checkSessionID(id)
}

// memberIndex is the position of p in the session, or -1.
func memberIndex(s *store.Session, p principal) int {
	return slices.IndexFunc(s.Members, func(m protocol.Member) bool {
		return m.InstanceID == p.InstanceID && m.ClientID == p.ClientID
	})
}

// requireMember refuses a caller who is not a member as if the session did not exist.
func requireMember(s *store.Session, p principal) (int, error) {
	i := memberIndex(s, p)
	if i < 0 {
		return -1, noSession(s.ID)
	}
	return i, nil
}

// requireOldest refuses a caller other than the oldest member, who manages the session: admits
// joiners, changes settings, starts the inventory and resets.
func requireOldest(s *store.Session, p principal, action string) error {
	i, err := requireMember(s, p)
	if err != nil {
		return err
	}
	if i != 0 {
		return forbidden("only the oldest member (%s) may %s", s.Members[0].Letter, action)
	}
	return nil
}

// requireSelf checks that the caller is a member acting on itself ({instance} of the route).
func requireSelf(s *store.Session, p principal, instance string) (int, error) {
	i, err := requireMember(s, p)
	if err != nil {
		return -1, err
	}
	if instance == p.InstanceID {
		return i, nil
	}
	if slices.ContainsFunc(s.Members, func(m protocol.Member) bool { return m.InstanceID == instance }) {
		return -1, forbidden("a member may change only its own status, nodes and sources")
	}
	return -1, notFound("no member %s in session %s", clip(instance), s.ID)
}

// requireNotStarted refuses changes frozen by the inventory.
func requireNotStarted(s *store.Session, what string) error {
	if s.InventoryStarted {
		return conflict(protocol.ErrCodeConflict, "the inventory has started: %s cannot change until the session is reset", what)
	}
	return nil
}

// relabel gives members their letters by join order.
func relabel(s *store.Session) {
	for i := range s.Members {
		s.Members[i].Letter = string(rune('A' + i))
	}
}

// newSessionID draws an id shaped like 042kqd917.
func newSessionID() (string, error) {
	const space = 1000 * 26 * 26 * 26 * 1000
	n, err := rand.Int(rand.Reader, big.NewInt(space))
	if err != nil {
		return "", fmt.Errorf("draw a session id: %w", err)
	}
	v := n.Int64()
	tail := v % 1000
	v /= 1000
	letters := []byte{byte('a' + v%26), byte('a' + v/26%26), byte('a' + v/676%26)}
	head := v / (26 * 26 * 26)
	return fmt.Sprintf("%03d%s%03d", head, letters, tail), nil
}

// newTicket draws a join ticket.
func newTicket() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw a join ticket: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// update applies fn to a session; fn returns *apiError to refuse, and the store then writes
// nothing.
func (s *Server) update(ctx context.Context, id string, fn func(*store.Session) error) (*store.Session, error) {
	out, err := s.store.UpdateSession(ctx, id, s.cfg.SessionTTL, fn)
	var ae *apiError
	switch {
	case err == nil, errors.As(err, &ae):
		return out, err
	case errors.Is(err, store.ErrNotFound):
		return nil, noSession(id)
	default:
		return nil, fmt.Errorf("update session %s: %w", id, err)
	}
}

// getSession reads a session for a member.
func (s *Server) getSession(ctx context.Context, id string, p principal) (*store.Session, error) {
	sess, err := s.store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSession(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	if _, err := requireMember(sess, p); err != nil {
		return nil, err
	}
	return sess, nil
}
