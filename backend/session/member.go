// Package session is this client instance's side of a cloud session: creating it, declaring
// its data nodes and sources (sealed with the session key, so the server sees no path), member
// statuses through the outbox, the pushes, the orchestration choice, and quitting.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	stdsync "sync"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	fsync "github.com/ferrysync/ferry/backend/sync"
)

// Member is this instance's membership of one session.
type Member struct {
	c      *client.Client
	key    crypto.SessionKey
	outbox *client.Outbox
	push   *client.Receiver

	mu      stdsync.Mutex
	session protocol.Session // latest snapshot
	subs    map[subscription]struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// nodeData is what a node's sealed description holds.
type nodeData struct {
	Code string `json:"code"`
}

// sourceData is what a source's sealed description holds.
type sourceData struct {
	Path string `json:"path"`
}

// Create creates a session with this instance as its first member, declares nodes with their
// sources, and starts the status outbox and the push receiver. ctx bounds the calls; the
// outbox and the receiver live until Close. On an error after the session exists, the Member
// is returned too, to be closed.
func Create(ctx context.Context, c *client.Client, nodes []plan.NodeSpec) (*Member, error) {
	key, err := crypto.NewSessionKey()
	if err != nil {
		return nil, err
	}
	settings, _ := json.Marshal(map[string]int{"version": 1})
	s, err := c.CreateSession(ctx, protocol.CreateSessionRequest{Settings: key.Seal(settings, "settings")})
	if err != nil {
		return nil, fmt.Errorf("create the session: %w", err)
	}
	m, err := open(ctx, c, key, s)
	if err != nil {
		return nil, err
	}
	return m, m.declare(ctx, nodes)
}

// Join asks to join session id, waits until the oldest member admits this instance, and
// declares nodes. The session key travels in the admission with the relay's key exchange; until
// then this member seals its descriptions with a key of its own.
func Join(ctx context.Context, c *client.Client, id string, nodes []plan.NodeSpec) (*Member, error) {
	key, err := crypto.NewSessionKey()
	if err != nil {
		return nil, err
	}
	ticket, err := c.Join(ctx, id, protocol.JoinRequest{})
	if err != nil {
		return nil, fmt.Errorf("join session %s: %w", id, err)
	}
	m, err := open(ctx, c, key, &protocol.Session{ID: id})
	if err != nil {
		return nil, err
	}
	pushes, cancel := m.Subscribe()
	defer cancel()
	poll := time.NewTicker(500 * time.Millisecond) // the admission push may precede the subscription
	defer poll.Stop()
	for admitted := false; !admitted; {
		select {
		case e := <-pushes:
			switch e.Type {
			case protocol.EventJoinAdmitted:
				admitted = true
			case protocol.EventJoinRefused:
				var r protocol.JoinRefused
				_ = json.Unmarshal(e.Data, &r)
				if r.Ticket == ticket.Ticket {
					m.abandon()
					return nil, fmt.Errorf("join session %s: refused: %s", id, r.Reason)
				}
			}
		case <-poll.C:
			if s, err := c.Session(ctx, id); err == nil {
				m.setSession(s)
				admitted = true
			}
		case <-ctx.Done():
			m.abandon()
			return nil, fmt.Errorf("join session %s: %w", id, ctx.Err())
		}
	}
	if s, err := c.Session(ctx, id); err == nil {
		m.setSession(s)
	}
	return m, m.declare(ctx, nodes)
}

func open(ctx context.Context, c *client.Client, key crypto.SessionKey, s *protocol.Session) (*Member, error) {
	m := &Member{c: c, key: key, session: *s, subs: map[subscription]struct{}{}, done: make(chan struct{})}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop = stop
	push, err := c.Push(life, s.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("follow the session: %w", err)
	}
	m.push = push
	m.outbox = c.NewOutbox(life, s.ID)
	go m.pump()
	return m, nil
}

// abandon stops the receiver and the outbox of a member that never was one.
func (m *Member) abandon() {
	m.outbox.Close()
	m.push.Close()
	m.stop()
	<-m.done
}

// declare adds this member's nodes and their sources.
func (m *Member) declare(ctx context.Context, nodes []plan.NodeSpec) error {
	id := m.ID()
	for _, n := range nodes {
		data, _ := json.Marshal(nodeData{Code: n.Code})
		snap, err := m.c.AddNode(ctx, id, protocol.NodeRequest{ID: n.Code, Data: m.key.Seal(data, "node:"+n.Code)})
		if err != nil {
			return fmt.Errorf("declare node %s: %w", n.Code, err)
		}
		m.setSession(snap)
		for i, root := range n.Roots {
			src := n.Code + strconv.Itoa(i+1)
			data, _ := json.Marshal(sourceData{Path: root})
			snap, err := m.c.AddSource(ctx, id, n.Code, protocol.SourceRequest{ID: src, Data: m.key.Seal(data, "source:"+src)})
			if err != nil {
				return fmt.Errorf("declare data source %s: %w", src, err)
			}
			m.setSession(snap)
		}
	}
	return nil
}

// Admit lets a joiner in (the oldest member only).
func (m *Member) Admit(ctx context.Context, ticket string) error {
	if err := m.c.Admit(ctx, m.ID(), ticket, protocol.AdmitRequest{}); err != nil {
		return fmt.Errorf("admit %s: %w", ticket, err)
	}
	return nil
}

// ID is the session id.
func (m *Member) ID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.session.ID
}

// Self is this instance's id.
func (m *Member) Self() string { return m.c.InstanceID() }

func (m *Member) setSession(s *protocol.Session) {
	if s == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.session = *s
}

// Status queues this member's status for the server; it never waits.
func (m *Member) Status(s protocol.MemberStatus) { m.outbox.Post(s) }

// StartInventory asks the server to start the inventory (it checks the session's nodes).
func (m *Member) StartInventory(ctx context.Context) error {
	if _, err := m.c.StartInventory(ctx, m.ID()); err != nil {
		return fmt.Errorf("start the inventory: %w", err)
	}
	return nil
}

// Members reads the session's members from the server, or from the last snapshot when the
// server cannot be reached within ctx.
func (m *Member) Members(ctx context.Context) []string {
	if s, err := m.c.Session(ctx, m.ID()); err == nil {
		m.setSession(s)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.session.Members))
	for i, mb := range m.session.Members {
		ids[i] = mb.InstanceID
	}
	return ids
}

// Owner is the member owning a node (this member when unknown).
func (m *Member) Owner(node string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mb := range m.session.Members {
		if slices.ContainsFunc(mb.Nodes, func(n protocol.DataNode) bool { return n.ID == node }) {
			return mb.InstanceID
		}
	}
	return m.c.InstanceID()
}

// Starter is the synchronization starter of this member.
func (m *Member) Starter(forceCloud bool, o fsync.CloudOptions) fsync.SynchronizationStarter {
	return fsync.SynchronizationStarter{
		Session:    m.ID(),
		Self:       m.Self(),
		ForceCloud: forceCloud,
		Cloud: func() fsync.Orchestrator {
			pushes, cancel := m.Subscribe()
			return &subscribed{CloudOrchestrator: fsync.NewCloudOrchestrator(m.c, m.ID(), pushes, o), cancel: cancel}
		},
	}
}

// subscribed releases the push subscription of a cloud orchestrator with it.
type subscribed struct {
	*fsync.CloudOrchestrator
	cancel func()
}

func (s *subscribed) Close() error {
	err := s.CloudOrchestrator.Close()
	s.cancel()
	return err
}

// Subscribe delivers the session's pushes from now on; cancel stops the delivery.
func (m *Member) Subscribe() (<-chan protocol.Event, func()) {
	sub := subscription{ch: make(chan protocol.Event, 256), done: make(chan struct{})}
	m.mu.Lock()
	m.subs[sub] = struct{}{}
	m.mu.Unlock()
	var once stdsync.Once
	return sub.ch, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, sub)
			m.mu.Unlock()
			close(sub.done)
		})
	}
}

type subscription struct {
	ch   chan protocol.Event
	done chan struct{}
}

// pump hands every push to the subscribers; a subscriber that does not keep up holds the
// others back, as the receiver itself does.
func (m *Member) pump() {
	defer close(m.done)
	defer func() { // no more pushes: tell the subscribers
		m.mu.Lock()
		defer m.mu.Unlock()
		for sub := range m.subs {
			close(sub.ch)
			delete(m.subs, sub)
		}
	}()
	for e := range m.push.Events() {
		m.mu.Lock()
		subs := make([]subscription, 0, len(m.subs))
		for sub := range m.subs {
			subs = append(subs, sub)
		}
		m.mu.Unlock()
		for _, sub := range subs {
			select {
			case sub.ch <- e:
			case <-sub.done:
			}
		}
	}
}

// Close waits up to wait for the queued statuses to reach the server, quits the session, and
// stops the outbox and the receiver. It returns how many statuses could not be delivered.
func (m *Member) Close(ctx context.Context, wait time.Duration) (undelivered int, err error) {
	flushCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ferr := m.outbox.Flush(flushCtx)
	undelivered = m.outbox.Pending()
	quitCtx, cancelQuit := context.WithTimeout(ctx, 5*time.Second)
	defer cancelQuit()
	qerr := m.c.Quit(quitCtx, m.ID())
	m.outbox.Close()
	m.push.Close()
	m.stop()
	<-m.done
	if ferr != nil {
		ferr = fmt.Errorf("deliver the member statuses: %w", ferr)
	}
	if qerr != nil {
		qerr = fmt.Errorf("quit the session: %w", qerr)
	}
	return undelivered, errors.Join(ferr, qerr)
}
