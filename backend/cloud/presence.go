package cloud

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Presence: while a client holds a push connection, the process holding it touches the client in
// the store every PresenceTimeout/3. A member is present when it was touched less than
// PresenceTimeout ago, by any process. Each process sweeps only the sessions its own connections
// follow (or followed recently), so the sweep never scans the store.

// presenceInterval is how often connections are touched and sessions swept.
func (s *Server) presenceInterval() time.Duration {
	return max(s.cfg.PresenceTimeout/3, 10*time.Millisecond)
}

// touchTTL keeps a touch readable well past the presence timeout, so that absence is decided by
// the timestamp, not by the expiry.
func (s *Server) touchTTL() time.Duration { return max(3*s.cfg.PresenceTimeout, 2*time.Second) }

func (s *Server) presenceLoop(ctx context.Context) {
	t := time.NewTicker(s.presenceInterval())
	defer t.Stop()
	kept := make(map[string]time.Time) // session → when this loop last refreshed its TTL
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range s.hub.principals() {
			s.touch(ctx, p)
		}
		watched := s.hub.watched(3 * s.cfg.PresenceTimeout)
		now := time.Now()
		for _, id := range watched {
			s.sweepSession(ctx, id)
			switch last, ok := kept[id]; {
			case !ok:
				kept[id] = now
			case now.Sub(last) > s.cfg.SessionTTL/4:
				s.keepSession(ctx, id)
				kept[id] = now
			}
		}
		for id := range kept {
			if !slices.Contains(watched, id) {
				delete(kept, id)
			}
		}
	}
}

// keepSession refreshes the TTL of a session its members follow: a connected member is activity
// even when nothing changes.
func (s *Server) keepSession(ctx context.Context, id string) {
	_, err := s.store.UpdateSession(ctx, id, s.cfg.SessionTTL, func(*store.Session) error { return nil })
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		s.log.Warn("refresh a session's TTL", "session", id, "err", err)
	}
}

func (s *Server) touch(ctx context.Context, p principal) {
	if err := s.store.Touch(ctx, p.key(), s.touchTTL()); err != nil && ctx.Err() == nil {
		s.log.Warn("touch presence", "err", err)
	}
}

// isPresent tells whether p holds a push connection (on any process).
func (s *Server) isPresent(ctx context.Context, p principal) bool {
	seen, err := s.store.LastSeen(ctx, p.key())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("read presence", "err", err)
		}
		return false
	}
	return !seen.IsZero() && s.now().Sub(seen) < s.cfg.PresenceTimeout
}

// sweepSession brings the Present flags of a session's members in line with their last touch,
// and pushes member_absent and member_present for the changes. Concurrent sweeps by several
// processes agree: the update re-checks each flag, so each change is pushed once.
func (s *Server) sweepSession(ctx context.Context, id string) {
	sess, err := s.store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.relayDeleteSession(ctx, id) // expired: its relayed parts go with it
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("read a session for presence", "session", id, "err", err)
		}
		return
	}
	want := make(map[string]bool) // instance → present, for members whose flag is wrong
	for _, m := range sess.Members {
		if present := s.isPresent(ctx, principal{ClientID: m.ClientID, InstanceID: m.InstanceID}); present != m.Present {
			want[m.InstanceID] = present
		}
	}
	if len(want) == 0 {
		return
	}
	var changed []protocol.Member
	_, err = s.store.UpdateSession(ctx, id, s.cfg.SessionTTL, func(sess *store.Session) error {
		changed = changed[:0]
		for i := range sess.Members {
			m := &sess.Members[i]
			if present, ok := want[m.InstanceID]; ok && m.Present != present {
				m.Present = present
				changed = append(changed, *m)
			}
		}
		if len(changed) == 0 {
			return store.ErrNoChange
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.log.Warn("update presence", "session", id, "err", err)
		}
		return
	}
	msgs := make([]store.Message, 0, len(changed))
	for _, m := range changed {
		typ := protocol.EventMemberAbsent
		if m.Present {
			typ = protocol.EventMemberPresent
		}
		msgs = append(msgs, s.toSession(typ, id, m.InstanceID, nil))
	}
	s.publish(ctx, msgs...)
	for _, m := range changed {
		if !m.Present {
			s.syncMemberLeft(ctx, id, m, "went away") // see routes_sync.go
		}
	}
}
