package cloud

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Joining (the whole exchange is described at protocol.JoinRequest): the joiner asks with its
// identity key and a join key it signed; the oldest member challenges it; the joiner answers;
// the oldest member admits with the session key wrapped for the join key and signed, or refuses.
// The members check each other end to end. The server checks who may do what, that every
// identity key is its caller's and every signature, one challenge per request and one answer per
// challenge, and the limits again at admission: nobody is admitted with a key the oldest member
// did not sign for that very join.

// joinMaxAge is how long a join request waits for the oldest member.
const joinMaxAge = 10 * time.Minute

// ticketRoute reads the session id and {ticket} of a join route.
func ticketRoute(r *http.Request) (id, ticket string, err error) {
	if id, err = sessionID(r); err != nil {
		return "", "", err
	}
	ticket = r.PathValue("ticket")
	return id, ticket, checkPattern("ticket", ticket, protocol.TicketPattern, "22 base64url characters")
}

// canJoin checks that p may become a member of sess now.
func canJoin(sess *store.Session, p principal) error {
	if len(sess.Members) == 0 {
		return noSession(sess.ID)
	}
	if memberIndex(sess, p) >= 0 {
		return conflict(protocol.ErrCodeConflict, "already a member of session %s", sess.ID)
	}
	if slices.ContainsFunc(sess.Members, func(m protocol.Member) bool { return m.InstanceID == p.InstanceID }) {
		return conflict(protocol.ErrCodeConflict, "instance id %s is already a member of session %s", p.InstanceID, sess.ID)
	}
	if sess.InventoryStarted {
		return conflict(protocol.ErrCodeInventoryStarted, "the inventory of session %s has started: no joins until it is reset", sess.ID)
	}
	if len(sess.Members) >= protocol.MaxMembers {
		return conflict(protocol.ErrCodeSessionFull, "session %s has %d members already", sess.ID, protocol.MaxMembers)
	}
	return nil
}

// callerKey checks that key is p's identity key: p's client id derives from it, and the login
// proved that p holds it.
func callerKey(key []byte, p principal) error {
	id, err := crypto.ClientID(key)
	if err != nil {
		return badRequest("identity_key: %v", err)
	}
	if id != p.ClientID {
		return forbidden("identity_key is not the caller's: it names client %s, the caller is %s", id, p.ClientID)
	}
	return nil
}

// binding is the join j as both ends sign it, with validator as the oldest member's key.
func binding(session string, validator []byte, j store.Join) crypto.JoinBinding {
	return crypto.JoinBinding{SessionID: session, Validator: validator, Joiner: j.IdentityKey, JoinKey: j.JoinKey}
}

// findJoin returns the pending join of a ticket.
func findJoin(sess *store.Session, ticket string, now time.Time) (store.Join, error) {
	j, ok := sess.Joins[ticket]
	if !ok || now.Sub(j.Requested) > joinMaxAge {
		return store.Join{}, notFound("no pending join %s in session %s", ticket, sess.ID)
	}
	return j, nil
}

// handleJoin: POST /sessions/{id}/join. A new request from the same instance replaces its
// previous one (and so is the only way to a new challenge).
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeJoinRequest)
	if err != nil {
		return err
	}
	if err := callerKey(req.IdentityKey, p); err != nil {
		return err
	}
	if err := crypto.VerifyJoinKey(req.IdentityKey, id, req.JoinKey, req.JoinKeySignature); err != nil {
		return badRequest("join_key_signature: %v", err)
	}
	ticket, err := newTicket()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var oldest principal
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		if err := canJoin(sess, p); err != nil {
			return err
		}
		maps.DeleteFunc(sess.Joins, func(_ string, j store.Join) bool {
			return j.InstanceID == p.InstanceID && j.ClientID == p.ClientID || now.Sub(j.Requested) > joinMaxAge
		})
		for _, j := range sess.Joins {
			if j.InstanceID == p.InstanceID {
				return conflict(protocol.ErrCodeConflict, "instance id %s is already asking to join", p.InstanceID)
			}
		}
		if len(sess.Joins) >= protocol.MaxPendingJoins {
			return conflict(protocol.ErrCodeLimit, "session %s has %d pending joins already", id, protocol.MaxPendingJoins)
		}
		if sess.Joins == nil {
			sess.Joins = make(map[string]store.Join)
		}
		sess.Joins[ticket] = store.Join{
			Ticket: ticket, InstanceID: p.InstanceID, ClientID: p.ClientID, Requested: now,
			IdentityKey: req.IdentityKey, JoinKey: req.JoinKey, JoinKeySignature: req.JoinKeySignature,
		}
		oldest = principal{ClientID: sess.Members[0].ClientID, InstanceID: sess.Members[0].InstanceID}
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toClient(oldest, protocol.EventJoinRequested, id, p.InstanceID, protocol.JoinRequested{
		Ticket: ticket, InstanceID: p.InstanceID, ClientID: p.ClientID,
		IdentityKey: req.IdentityKey, JoinKey: req.JoinKey, JoinKeySignature: req.JoinKeySignature,
	}))
	s.writeJSON(w, http.StatusOK, protocol.JoinTicket{Ticket: ticket})
	return nil
}

// handleJoinChallenge: POST /sessions/{id}/join/{ticket}/challenge, by the oldest member, once per
// join request. The challenge reaches the joiner alone.
func (s *Server) handleJoinChallenge(w http.ResponseWriter, r *http.Request, p principal) error {
	id, ticket, err := ticketRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeJoinChallenge)
	if err != nil {
		return err
	}
	if err := callerKey(req.IdentityKey, p); err != nil {
		return err
	}
	challenge := crypto.JoinChallenge{
		Salt: req.Salt, Nonce: req.Nonce, ProofKey: req.ProofKey, Signature: req.Signature,
		Params: crypto.PasswordParams{Time: req.Params.Time, MemoryKiB: req.Params.MemoryKiB, Threads: req.Params.Threads},
	}
	now := s.now().UTC()
	var j store.Join
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		if err := requireOldest(sess, p, "challenge joiners"); err != nil {
			return err
		}
		var err error
		if j, err = findJoin(sess, ticket, now); err != nil {
			return err
		}
		if len(j.ValidatorKey) > 0 {
			return conflict(protocol.ErrCodeConflict, "join %s was challenged already: one challenge per join request", ticket)
		}
		if err := crypto.VerifyJoinChallenge(challenge, binding(id, req.IdentityKey, j)); err != nil {
			return badRequest("%v", err)
		}
		j.ValidatorKey = req.IdentityKey
		sess.Joins[ticket] = j
		return nil
	})
	if err != nil {
		return err
	}
	joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
	s.publish(r.Context(), s.toClient(joiner, protocol.EventJoinChallenge, id, j.InstanceID,
		protocol.JoinChallenge{Ticket: ticket, JoinChallengeRequest: req}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleJoinProof: POST /sessions/{id}/join/{ticket}/proof, by the ticket's joiner, once per
// challenge. The answer reaches the oldest member alone.
func (s *Server) handleJoinProof(w http.ResponseWriter, r *http.Request, p principal) error {
	id, ticket, err := ticketRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeJoinProof)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	var oldest principal
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		j, err := findJoin(sess, ticket, now)
		if err == nil && (j.InstanceID != p.InstanceID || j.ClientID != p.ClientID) {
			err = forbidden("only the joiner of %s may answer its challenge", ticket)
		}
		if err != nil && memberIndex(sess, p) < 0 {
			return noSession(id) // no ticket of the caller's: it learns nothing
		}
		if err != nil {
			return err
		}
		switch {
		case len(j.ValidatorKey) == 0:
			return conflict(protocol.ErrCodeConflict, "join %s has no challenge to answer yet", ticket)
		case j.Proved:
			return conflict(protocol.ErrCodeConflict, "the challenge of join %s was answered already: ask to join again", ticket)
		}
		if cid, _ := crypto.ClientID(j.ValidatorKey); len(sess.Members) == 0 || sess.Members[0].ClientID != cid {
			return conflict(protocol.ErrCodeConflict, "the member that challenged join %s is no longer the oldest: ask to join again", ticket)
		}
		j.Proved = true
		sess.Joins[ticket] = j
		oldest = principal{ClientID: sess.Members[0].ClientID, InstanceID: sess.Members[0].InstanceID}
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toClient(oldest, protocol.EventJoinProof, id, p.InstanceID,
		protocol.JoinProof{Ticket: ticket, Proof: req.Proof}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// takeJoin removes a pending join for the oldest member.
func takeJoin(sess *store.Session, p principal, ticket, action string, now time.Time) (store.Join, error) {
	if err := requireOldest(sess, p, action); err != nil {
		return store.Join{}, err
	}
	j, err := findJoin(sess, ticket, now)
	if err != nil {
		return store.Join{}, err
	}
	delete(sess.Joins, ticket)
	return j, nil
}

// handleAdmit: POST /sessions/{id}/join/{ticket}/admit, by the oldest member, with the session
// key wrapped for the join and signed by the caller. The limits are checked again: the session
// may have changed since the request. A refused admission changes nothing; the oldest member then
// refuses the join with the code of the answer (session_full, inventory_started).
func (s *Server) handleAdmit(w http.ResponseWriter, r *http.Request, p principal) error {
	id, ticket, err := ticketRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeAdmitRequest)
	if err != nil {
		return err
	}
	if err := callerKey(req.IdentityKey, p); err != nil {
		return err
	}
	present := s.joinerPresent(r.Context(), id, ticket)
	now := s.now().UTC()
	var (
		joined protocol.Member
		j      store.Join
	)
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		var err error
		if j, err = takeJoin(sess, p, ticket, "admit joiners", now); err != nil {
			return err
		}
		if len(j.ValidatorKey) > 0 && !bytes.Equal(j.ValidatorKey, req.IdentityKey) {
			return badRequest("identity_key is not the key that challenged join %s", ticket)
		}
		if err := crypto.VerifyWrappedSessionKey(req.WrappedKey, binding(id, req.IdentityKey, j)); err != nil {
			return badRequest("%v", err)
		}
		joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
		if err := canJoin(sess, joiner); err != nil {
			return err
		}
		joined = protocol.Member{
			InstanceID: j.InstanceID, ClientID: j.ClientID, Joined: now,
			Status: protocol.InventoryWaitingForStart, Present: present, Nodes: []protocol.DataNode{},
		}
		sess.Members = append(sess.Members, joined)
		relabel(sess)
		joined.Letter = sess.Members[len(sess.Members)-1].Letter
		return nil
	})
	if err != nil {
		return err
	}
	joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
	// join_admitted first: it turns the joiner's pending subscription into a full one.
	s.publish(r.Context(),
		s.toClient(joiner, protocol.EventJoinAdmitted, id, joined.InstanceID,
			protocol.JoinAdmitted{Ticket: ticket, IdentityKey: req.IdentityKey, WrappedKey: req.WrappedKey}),
		s.toSession(protocol.EventMemberJoined, id, joined.InstanceID, joined))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// joinerPresent tells whether the joiner of a ticket holds a push connection, so that it joins
// present (the presence sweep corrects the flag later if needed).
func (s *Server) joinerPresent(ctx context.Context, id, ticket string) bool {
	sess, err := s.store.GetSession(ctx, id)
	if err != nil {
		return false
	}
	j, ok := sess.Joins[ticket]
	return ok && s.isPresent(ctx, principal{ClientID: j.ClientID, InstanceID: j.InstanceID})
}

// handleRefuse: POST /sessions/{id}/join/{ticket}/refuse, by the oldest member.
func (s *Server) handleRefuse(w http.ResponseWriter, r *http.Request, p principal) error {
	id, ticket, err := ticketRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeRefuseRequest)
	if err != nil {
		return err
	}
	var j store.Join
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		var err error
		j, err = takeJoin(sess, p, ticket, "refuse joiners", s.now())
		return err
	})
	if err != nil {
		return err
	}
	joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
	s.publish(r.Context(), s.toClient(joiner, protocol.EventJoinRefused, id, j.InstanceID,
		protocol.JoinRefused{Ticket: ticket, Code: req.Code, Reason: req.Reason}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
