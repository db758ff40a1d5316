// Package session is this client instance's side of a cloud session: creating it, joining it
// end to end encrypted (the oldest member checks the joiner's key and password and hands it the
// session key; the server sees neither), declaring its data nodes and sources (sealed with the
// session key, so the server sees no path), member statuses through the outbox, the pushes, the
// orchestration choice, and quitting.
package session

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Member is this instance's membership of one session.
type Member struct {
	c      *client.Client
	opts   options
	key    crypto.SessionKey // set before the Member is handed out, never changed after
	outbox *client.Outbox
	push   *client.Receiver
	life   context.Context // ends at Close
	stop   context.CancelFunc
	done   chan struct{}  // closed when pump ends
	wg     sync.WaitGroup // the validator's goroutines
	failed atomic.Int64   // wrong password proofs seen as validator

	// lost ends with the reason the session cannot go on (health.go).
	lost      context.Context
	loseCause context.CancelCauseFunc
	hmu       sync.Mutex
	down      *time.Timer // running while the push connection is down
	followed  atomic.Bool // the server counted this member in the session once
	checking  sync.Once

	pwMu sync.Mutex // guards pw.key
	pw   passwordState

	mu      sync.Mutex
	session protocol.Session // latest snapshot
	subs    map[subscription]struct{}
	pending map[string]*challenged // joins waiting for their proof, by ticket
	checks  []KeyCheck
	keys    map[string]ed25519.PublicKey // peers' keys this member checked and took, by client id
	shown   string                       // the password as given or generated
	// terms go with the plans this member proposes (WithTerms, ShareTerms); planned are those
	// that came with the last plan it received.
	terms, planned *Terms
}

// nodeData is what a node's sealed description holds. The machine name travels here, sealed
// with the session key: a joiner has no key when it asks to join, so its member entry cannot
// hold it, and every member declares its nodes right after joining.
type nodeData struct {
	Code    string `json:"code"`
	Machine string `json:"machine,omitempty"`
	// Sources and Nodes count the sources of this node and the nodes of its member: the
	// oldest member knows from them that a member declared everything it brings.
	Sources int `json:"sources,omitempty"`
	Nodes   int `json:"nodes,omitempty"`
	// Key is the declaring member's identity key: the members it did not check itself learn
	// it from here (its client id, which the server authenticated, is derived from it).
	Key []byte `json:"key,omitempty"`
	// Terms are the run's terms, which the member sharing them (WithTerms) gives with its
	// first node.
	Terms *Terms `json:"terms,omitempty"`
}

// sourceData is what a source's sealed description holds.
type sourceData struct {
	Path string `json:"path"`
}

// Create creates a session with this instance as its first member, declares nodes with their
// sources, and starts the status outbox, the push receiver and the validator of join requests.
// The session password is generated unless WithPassword gives one; it never reaches the server.
// ctx bounds the calls; the rest lives until Close. On an error after the session exists, the
// Member is returned too, to be closed.
func Create(ctx context.Context, c *client.Client, nodes []plan.NodeSpec, opts ...Option) (*Member, error) {
	o := buildOptions(opts)
	shown := o.password
	if shown == "" {
		var err error
		if shown, err = crypto.NewSessionPassword(); err != nil {
			return nil, fmt.Errorf("create the session: %w", err)
		}
	}
	password, err := crypto.NormalizePassword(shown)
	if err != nil {
		return nil, fmt.Errorf("create the session: %w", err)
	}
	salt, err := crypto.NewPasswordSalt()
	if err != nil {
		return nil, err
	}
	key, err := crypto.NewSessionKey()
	if err != nil {
		return nil, err
	}
	settings, _ := json.Marshal(map[string]int{"version": 1})
	s, err := c.CreateSession(ctx, protocol.CreateSessionRequest{Settings: key.Seal(settings, "settings")})
	if err != nil {
		return nil, fmt.Errorf("create the session: %w", err)
	}
	m := newMember(c, o, s)
	m.key, m.shown = key, shown
	m.pw = passwordState{password: password, salt: salt, params: o.params}
	// Join requests are pushed to the oldest member only while it is connected: be connected
	// before anyone can know the session id.
	events, unsubscribe := m.Subscribe()
	defer unsubscribe()
	if err := m.connect(ctx, true); err != nil {
		return nil, err
	}
	if err := waitSubscribed(ctx, events); err != nil {
		return m, fmt.Errorf("follow the session: %w", err)
	}
	m.startValidator()
	return m, m.declare(ctx, nodes)
}

func newMember(c *client.Client, o options, s *protocol.Session) *Member {
	m := &Member{c: c, opts: o, session: *s, subs: map[subscription]struct{}{},
		pending: map[string]*challenged{}, done: make(chan struct{}), terms: o.terms}
	m.lost, m.loseCause = context.WithCancelCause(context.Background())
	return m
}

// connect starts the push receiver (following the session, or nothing yet for a joiner) and
// the status outbox.
func (m *Member) connect(ctx context.Context, follow bool) error {
	id := m.ID()
	m.life, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	var sessions []string
	if follow {
		sessions = []string{id}
	}
	push, err := m.c.Push(m.life, sessions...)
	if err != nil {
		m.stop()
		return fmt.Errorf("follow the session: %w", err)
	}
	m.push = push
	m.outbox = m.c.NewOutbox(m.life, id)
	go m.pump()
	return nil
}

// startValidator runs the join requests this member receives when it is the oldest.
func (m *Member) startValidator() {
	events, _ := m.Subscribe() // ends with the pushes, at Close
	m.wg.Add(1)
	go m.validate(m.life, events)
	// Derived now, the password key is ready when a joiner's proof comes: the admission waits
	// for one Argon2id derivation (the joiner's), not two in a row.
	if !m.opts.lazyKey {
		m.wg.Go(func() { _, _ = m.passwordKey() })
	}
}

// abandon stops the receiver and the outbox of a member that never was one.
func (m *Member) abandon() {
	m.outbox.Close()
	m.push.Close()
	m.stop()
	<-m.done
	m.wg.Wait()
}

// Declare adds this member's nodes and their sources, or replaces the descriptions of those
// declared under the same codes; the server accepts it until the inventory starts.
func (m *Member) Declare(ctx context.Context, nodes []plan.NodeSpec) error {
	return m.declare(ctx, nodes)
}

// declare adds this member's nodes and their sources.
func (m *Member) declare(ctx context.Context, nodes []plan.NodeSpec) error {
	id := m.ID()
	machine, _ := os.Hostname()
	for i, n := range nodes {
		nd := nodeData{Code: n.Code, Machine: machine, Sources: len(n.Roots), Nodes: len(nodes), Key: m.c.Identity().Public()}
		if i == 0 {
			nd.Terms = m.sharedTerms()
		}
		data, _ := json.Marshal(nd)
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

// Password is the session password, to give to those who may join: as given to Create or Join,
// or generated by Create.
func (m *Member) Password() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shown
}

// Key is the session key: what members share through the server is sealed with it.
func (m *Member) Key() crypto.SessionKey { return m.key }

// Client is the client this member talks to the server with.
func (m *Member) Client() *client.Client { return m.c }

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
func (m *Member) Starter(forceCloud bool, o engine.CloudOptions) engine.SynchronizationStarter {
	return engine.SynchronizationStarter{
		Session:    m.ID(),
		Self:       m.Self(),
		ForceCloud: forceCloud,
		Cloud: func() engine.Orchestrator {
			pushes, cancel := m.Subscribe()
			return &subscribed{CloudOrchestrator: engine.NewCloudOrchestrator(m.c, m.ID(), pushes, o), cancel: cancel}
		},
	}
}

// subscribed releases the push subscription of a cloud orchestrator with it.
type subscribed struct {
	*engine.CloudOrchestrator
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
	var once sync.Once
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
		m.observe(e)
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
// stops the outbox and the receiver. It returns how many statuses could not be delivered. A
// lost session (Err) is left at once, unless this member is alone in it and gave it up for a
// silent server: its run went on, and the server may answer again within wait.
func (m *Member) Close(ctx context.Context, wait time.Duration) (undelivered int, err error) {
	lost := m.Err() != nil && !m.aloneAfterGone()
	if lost {
		wait = 0
	}
	flushCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ferr := m.outbox.Flush(flushCtx)
	undelivered = m.outbox.Undelivered()
	var qerr error
	if !lost {
		quitCtx, cancelQuit := context.WithTimeout(ctx, 5*time.Second)
		defer cancelQuit()
		qerr = m.c.Quit(quitCtx, m.ID())
	}
	m.loseCause(errors.New("left the session"))
	m.hmu.Lock()
	if m.down != nil {
		m.down.Stop()
	}
	m.hmu.Unlock()
	m.outbox.Close()
	m.push.Close()
	m.stop()
	<-m.done
	m.wg.Wait()
	if ferr != nil {
		ferr = fmt.Errorf("deliver the member statuses: %w", ferr)
	}
	if qerr != nil {
		qerr = fmt.Errorf("quit the session: %w", qerr)
	}
	return undelivered, errors.Join(ferr, qerr)
}
