package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/protocol"
)

// DefaultServerWait is how long a member waits for a server that stopped answering before it
// gives the session up (WithServerWait).
const DefaultServerWait = 30 * time.Second

// ErrSessionLost: the server no longer knows the session, or no longer counts this member in it.
var ErrSessionLost = errors.New("the server no longer knows this session (it restarted without its state, or the session expired): start a new session")

// ServerGoneError: the server has not answered for Wait, at any of its URLs when the client has
// several (URLs).
type ServerGoneError struct {
	Wait time.Duration
	URLs int
}

func (e *ServerGoneError) Error() string {
	if e.URLs > 1 {
		return fmt.Sprintf("none of the %d session server URLs has answered for %s: check that the servers run and that this machine reaches them, then start again", e.URLs, e.Wait)
	}
	return fmt.Sprintf("the session server has not answered for %s: check that it runs and that this machine reaches it, then start again", e.Wait)
}

// Lost is closed when the session cannot go on: the server lost it (ErrSessionLost) or stopped
// answering for longer than the server wait (*ServerGoneError). Err tells which.
func (m *Member) Lost() <-chan struct{} { return m.lost.Done() }

// Err is why the session was lost, or nil.
func (m *Member) Err() error {
	if m.lost.Err() == nil {
		return nil
	}
	return context.Cause(m.lost)
}

// Bind returns ctx, also ended with the reason when the session is lost, and watches the
// session on the server meanwhile: for what cannot go on without the server (the flow, a
// cloud-orchestrated run).
func (m *Member) Bind(ctx context.Context) (context.Context, func()) {
	m.watchSession()
	return m.bind(ctx)
}

// bind returns ctx, also ended with the reason when the session is lost.
func (m *Member) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(m.lost, func() { cancel(context.Cause(m.lost)) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}

// observe reads the receiver's own events for signs of a lost session: a connection that stays
// down longer than the server wait, or a resubscription that the server refuses. With several
// server URLs the receiver tries each in turn, so the connection stays down only while none
// answers.
func (m *Member) observe(e protocol.Event) {
	switch e.Type {
	case client.EventDisconnected:
		m.hmu.Lock()
		if m.down == nil && m.lost.Err() == nil {
			wait := m.opts.serverWait
			m.down = time.AfterFunc(wait, func() { m.lose(&ServerGoneError{Wait: wait, URLs: m.c.Servers()}) })
		}
		m.hmu.Unlock()
	case protocol.EventSubscribed:
		m.hmu.Lock()
		if m.down != nil {
			m.down.Stop()
			m.down = nil
		}
		m.hmu.Unlock()
		var s protocol.Subscribed
		if json.Unmarshal(e.Data, &s) != nil {
			return
		}
		id := m.ID()
		switch {
		case slices.Contains(s.Sessions, id):
			m.followed.Store(true)
		case m.followed.Load() && slices.Contains(s.Refused, id):
			m.lose(ErrSessionLost)
		}
	}
}

// aloneAfterGone tells a member alone in its session that gave it up for a server that stopped
// answering: its run went on without the server, and its last statuses are still worth the
// wait, in case the server answers again.
func (m *Member) aloneAfterGone() bool {
	var gone *ServerGoneError
	if !errors.As(m.Err(), &gone) {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.session.Members) <= 1
}

// lose ends the session with err, once.
func (m *Member) lose(err error) {
	if m.lost.Err() == nil {
		m.opts.log.Warn("session lost", "err", err)
	}
	m.loseCause(err)
}

// checkSession reads the session every interval while the push connection may stay up when the
// server lost the session (its Redis came back empty): a refusal means it is gone.
func (m *Member) checkSession(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-m.life.Done():
			return
		case <-m.lost.Done():
			return
		}
		ctx, cancel := context.WithTimeout(m.life, interval)
		s, err := m.c.Session(ctx, m.ID())
		cancel()
		var se *client.StatusError
		switch {
		case err == nil:
			m.setSession(s)
		case errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusForbidden):
			m.lose(ErrSessionLost)
			return
		}
	}
}

// watchSession starts checkSession once.
func (m *Member) watchSession() {
	m.checking.Do(func() {
		interval := max(m.opts.serverWait/3, time.Second)
		m.wg.Go(func() { m.checkSession(interval) })
	})
}
