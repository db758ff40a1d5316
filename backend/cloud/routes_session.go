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

const createAttempts = 16

// handleCreateSession: POST /sessions. The caller becomes member A.
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, p principal) error {
	req, err := decodeBody(w, r, decodeCreateSession)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	sess := &store.Session{Session: protocol.Session{
		Created:         now,
		Settings:        req.Settings,
		SettingsVersion: 1,
		Members:         []protocol.Member{s.newMember(r, p, req.PrivateData, now)},
	}}
	relabel(sess)
	for range createAttempts {
		if sess.ID, err = newSessionID(); err != nil {
			return err
		}
		err = s.store.CreateOwnedSession(r.Context(), sess, s.cfg.SessionTTL, p.ClientID, s.guards.sessionLimit())
		if !errors.Is(err, store.ErrExists) {
			break
		}
	}
	if errors.Is(err, store.ErrLimit) {
		return newError(http.StatusTooManyRequests, protocol.ErrCodeSessionLimit,
			"this client has %d sessions on the server, the most it allows: quit one before creating another",
			s.guards.sessionLimit())
	}
	if err != nil {
		return fmt.Errorf("create a session: %w", err)
	}
	s.writeJSON(w, http.StatusCreated, sess.Session)
	return nil
}

// newMember is a new member in its initial state; it is present when it holds a push connection.
func (s *Server) newMember(r *http.Request, p principal, private protocol.Blob, now time.Time) protocol.Member {
	return protocol.Member{
		InstanceID:  p.InstanceID,
		ClientID:    p.ClientID,
		Joined:      now,
		PrivateData: private,
		Status:      protocol.InventoryWaitingForStart,
		Present:     s.isPresent(r.Context(), p),
		Nodes:       []protocol.DataNode{},
	}
}

// handleGetSession: GET /sessions/{id}, for members.
func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	sess, err := s.getSession(r.Context(), id, p)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, sess.Session)
	return nil
}

// handleQuit: POST /sessions/{id}/quit. The member leaves with its nodes and sources; the last
// member to leave closes the session. Pending joins are refused when the oldest member leaves.
func (s *Server) handleQuit(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	var (
		gone    protocol.Member
		refused []store.Join
	)
	out, err := s.update(r.Context(), id, func(sess *store.Session) error {
		i, err := requireMember(sess, p)
		if err != nil {
			return err
		}
		gone = sess.Members[i]
		sess.Members = slices.Delete(sess.Members, i, i+1)
		relabel(sess)
		refused = nil
		if i == 0 {
			for _, j := range sess.Joins {
				refused = append(refused, j)
			}
			sess.Joins = nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	code, reason := protocol.JoinValidatorLeft, "the member admitting joins left the session"
	msgs := []store.Message{s.toSession(protocol.EventMemberQuit, id, gone.InstanceID, gone)}
	if len(out.Members) == 0 {
		code, reason = protocol.JoinSessionClosed, "the session closed"
		if err := s.store.DeleteSession(r.Context(), id); err != nil {
			s.log.Warn("delete an empty session", "session", id, "err", err)
		}
	}
	for _, j := range refused {
		joiner := principal{ClientID: j.ClientID, InstanceID: j.InstanceID}
		msgs = append(msgs, s.toClient(joiner, protocol.EventJoinRefused, id, j.InstanceID,
			protocol.JoinRefused{Ticket: j.Ticket, Code: code, Reason: reason}))
	}
	s.publish(r.Context(), msgs...)
	// A run the member had not done its part of ends with an error; a closed session's goes.
	if len(out.Members) == 0 {
		s.deleteSync(r.Context(), id)
	} else {
		s.syncMemberLeft(r.Context(), id, gone, "quit")
	}
	s.relayMemberLeft(r.Context(), id, gone.InstanceID, out.Members)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleReset: POST /sessions/{id}/reset, by the oldest member, not while a synchronization
// runs. Nodes and sources are kept; an ended synchronization goes.
func (s *Server) handleReset(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	out, err := s.update(r.Context(), id, func(sess *store.Session) error {
		if err := requireOldest(sess, p, "reset the session"); err != nil {
			return err
		}
		if err := s.requireNoSync(r.Context(), id, "reset the session"); err != nil {
			return err
		}
		sess.InventoryStarted = false
		sess.SynchronizationID = ""
		return nil
	})
	if err != nil {
		return err
	}
	s.deleteSync(r.Context(), id)
	s.relayDeleteSession(r.Context(), id)
	s.publish(r.Context(), s.toSession(protocol.EventSessionReset, id, p.InstanceID, out.Session))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleSettings: PUT /sessions/{id}/settings, by the oldest member, before the inventory.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeSettingsUpdate)
	if err != nil {
		return err
	}
	out, err := s.update(r.Context(), id, func(sess *store.Session) error {
		if err := requireOldest(sess, p, "change the settings"); err != nil {
			return err
		}
		if err := requireNotStarted(sess, "the settings"); err != nil {
			return err
		}
		sess.Settings = req.Settings
		sess.SettingsVersion++
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(r.Context(), s.toSession(protocol.EventSettingsUpdated, id, p.InstanceID,
		protocol.SettingsUpdated{Settings: out.Settings, SettingsVersion: out.SettingsVersion}))
	s.writeJSON(w, http.StatusOK, out.Session)
	return nil
}

// handleStatus: PUT /sessions/{id}/members/{instance}/status, by that member. The newest At
// wins; an older update is accepted and ignored. The store applies it and pushes status_updated
// in one step, without rewriting the session.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeStatusUpdate)
	if err != nil {
		return err
	}
	if instance := r.PathValue("instance"); instance != p.InstanceID {
		// Never allowed: read the session to refuse as the other member routes do.
		sess, err := s.getSession(r.Context(), id, p)
		if err == nil {
			_, err = requireSelf(sess, p, instance)
		}
		return err
	}
	push := s.toSession(protocol.EventStatusUpdated, id, p.InstanceID, req)
	applied, err := s.store.SetMemberStatus(r.Context(), id, s.cfg.SessionTTL, p.ClientID, p.InstanceID, req, push)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotMember):
		return noSession(id)
	case err != nil:
		return fmt.Errorf("set a status in session %s: %w", id, err)
	}
	s.writeJSON(w, http.StatusOK, protocol.StatusResult{Applied: applied})
	return nil
}
