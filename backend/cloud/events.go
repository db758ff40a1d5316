package cloud

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// publishTimeout bounds a publish that outlives the request that caused it.
const publishTimeout = 5 * time.Second

// toSession is an event for every member of a session.
func (s *Server) toSession(typ protocol.EventType, session, member string, data any) store.Message {
	return store.Message{Session: session, Event: s.event(typ, session, member, data)}
}

// toClient is an event for one client instance only.
func (s *Server) toClient(p principal, typ protocol.EventType, session, member string, data any) store.Message {
	return store.Message{To: p.key(), Event: s.event(typ, session, member, data)}
}

func (s *Server) event(typ protocol.EventType, session, member string, data any) protocol.Event {
	e := protocol.Event{Type: typ, Session: session, Member: member, At: s.now().UTC()}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			// Event data are server-built values: failing to encode one is a bug.
			panic("encode event data: " + err.Error())
		}
		e.Data = raw
	}
	return e
}

// publish sends messages to every server process, in order. The state they announce is already
// stored, so a failure is logged, not returned: clients catch up by reading the session when
// they reconnect.
func (s *Server) publish(ctx context.Context, msgs ...store.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	for _, m := range msgs {
		if err := s.store.Publish(ctx, m); err != nil {
			s.log.Warn("publish failed", "event", m.Event.Type, "session", m.Event.Session, "err", err)
		}
	}
}
