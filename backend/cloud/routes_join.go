package cloud

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Joining: the joiner asks, the oldest member admits or refuses. The members check the joiner
// end to end through the payloads; the server only enforces who may do what and the limits, and
// checks them again at admission.

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
		return notFound("no session %s", sess.ID)
	}
	if memberIndex(sess, p) >= 0 {
		return conflict(protocol.ErrCodeConflict, "already a member of session %s", sess.ID)
	}
	if slices.ContainsFunc(sess.Members, func(m protocol.Member) bool { return m.InstanceID == p.InstanceID }) {
		return conflict(protocol.ErrCodeConflict, "instance id %s is already a member of session %s", p.InstanceID, sess.ID)
	}
	if sess.InventoryStarted {
		return conflict(protocol.ErrCodeConflict, "the inventory of session %s has started: no joins until it is reset", sess.ID)
	}
	if len(sess.Members) >= protocol.MaxMembers {
		return conflict(protocol.ErrCodeLimit, "session %s has %d members already", sess.ID, protocol.MaxMembers)
	}
	return nil
}

// handleJoin: POST /sessions/{id}/join. A new request from the same instance replaces its
// previous one.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeJoinRequest)
	if err != nil {
		return err
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
			Ticket: ticket, InstanceID: p.InstanceID, ClientID: p.ClientID,
			PrivateData: req.PrivateData, Requested: now,
		}
		oldest = principal{ClientID: sess.Members[0].ClientID, InstanceID: sess.Members[0].InstanceID}
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toClient(oldest, protocol.EventJoinRequested, id, p.InstanceID, protocol.JoinRequested{
		Ticket: ticket, InstanceID: p.InstanceID, ClientID: p.ClientID, Payload: req.Payload,
	}))
	s.writeJSON(w, http.StatusOK, protocol.JoinTicket{Ticket: ticket})
	return nil
}

// takeJoin removes a pending join for the oldest member.
func takeJoin(sess *store.Session, p principal, ticket, action string, now time.Time) (store.Join, error) {
	if err := requireOldest(sess, p, action); err != nil {
		return store.Join{}, err
	}
	j, ok := sess.Joins[ticket]
	if !ok || now.Sub(j.Requested) > joinMaxAge {
		return store.Join{}, notFound("no pending join %s in session %s", ticket, sess.ID)
	}
	delete(sess.Joins, ticket)
	return j, nil
}

// handleAdmit: POST /sessions/{id}/join/{ticket}/admit, by the oldest member. The limits are
// checked again: the session may have changed since the request.
func (s *Server) handleAdmit(w http.ResponseWriter, r *http.Request, p principal) error {
	id, ticket, err := ticketRoute(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeAdmitRequest)
	if err != nil {
		return err
	}
	present := s.joinerPresent(r.Context(), id, ticket)
	now := s.now().UTC()
	var joined protocol.Member
	_, err = s.update(r.Context(), id, func(sess *store.Session) error {
		j, err := takeJoin(sess, p, ticket, "admit joiners", now)
		if err != nil {
			return err
		}
		joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
		if err := canJoin(sess, joiner); err != nil {
			return err
		}
		joined = protocol.Member{
			InstanceID: j.InstanceID, ClientID: j.ClientID, Joined: now, PrivateData: j.PrivateData,
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
	joiner := principal{ClientID: joined.ClientID, InstanceID: joined.InstanceID}
	// join_admitted first: it turns the joiner's pending subscription into a full one.
	s.publish(r.Context(),
		s.toClient(joiner, protocol.EventJoinAdmitted, id, joined.InstanceID, protocol.JoinAdmitted{Ticket: ticket, Payload: req.Payload}),
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
		protocol.JoinRefused{Ticket: ticket, Reason: req.Reason}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
