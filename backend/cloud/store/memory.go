package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// MemorySubscriberBuffer is how many messages a Memory subscription holds before it starts
// dropping: Publish never waits for a subscriber. A message that finds a subscriber's buffer full
// is dropped for that subscriber only (and counted by Dropped), like a Redis pub/sub client that
// falls behind. Clients re-read the state they follow when they reconnect, so a lost push costs a
// refresh, never a wrong state.
const MemorySubscriberBuffer = 4096

// memSweepEvery is how often the Memory store looks for expired entries besides checking on read.
const memSweepEvery = time.Minute

// Memory is the embedded Store: state in this process only. Each session has its own lock; the
// store-wide lock only guards the maps and is never held while an update function runs. Sessions
// are kept encoded as JSON, so callers never share memory with the store and the stored shape is
// the one Redis keeps; their members' statuses are kept beside it, so a status update encodes
// nothing.
type Memory struct {
	now func() time.Time

	mu         sync.Mutex
	closed     bool
	sessions   map[string]*memSession
	owned      map[string]map[string]struct{} // owner → ids of the sessions it created
	challenges map[string]memEntry[[]byte]
	refresh    map[string]memEntry[Refresh]
	invites    map[string]memEntry[protocol.Invitation]
	seen       map[string]memEntry[time.Time]
	relays     map[string]*memRelay // see memory_relay.go
	subs       map[*memSub]struct{}
	lastSweep  time.Time

	dropped atomic.Uint64
	syncs   memSyncs // see memory_sync.go
}

type memSession struct {
	mu      sync.Mutex  // serializes updates of this session
	gone    bool        // deleted or expired; guarded by mu
	data    []byte      // JSON of Session; guarded by mu
	members []memMember // the members' statuses, which override data's; guarded by mu
	expires atomic.Int64
}

type memEntry[T any] struct {
	value   T
	expires time.Time
}

type memSub struct {
	mu     sync.Mutex // orders sends against close
	closed bool
	ch     chan Message
	done   chan struct{} // closed with ch
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store.
func NewMemory() *Memory { return NewMemoryWithClock(time.Now) }

// NewMemoryWithClock returns an empty in-process store that reads the time from now (tests).
func NewMemoryWithClock(now func() time.Time) *Memory {
	return &Memory{
		now:        now,
		sessions:   make(map[string]*memSession),
		owned:      make(map[string]map[string]struct{}),
		challenges: make(map[string]memEntry[[]byte]),
		refresh:    make(map[string]memEntry[Refresh]),
		invites:    make(map[string]memEntry[protocol.Invitation]),
		seen:       make(map[string]memEntry[time.Time]),
		relays:     make(map[string]*memRelay),
		subs:       make(map[*memSub]struct{}),
		lastSweep:  now(),
	}
}

// Dropped tells how many messages were dropped because a subscriber's buffer was full.
func (m *Memory) Dropped() uint64 { return m.dropped.Load() }

// lock takes the map lock, failing once closed, and sweeps expired entries now and then.
// enter checks ctx, then locks the store as lock does.
func (m *Memory) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.lock()
}

// enterTTL is enter for a write that sets a TTL.
func (m *Memory) enterTTL(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := memCheckTTL(ttl); err != nil {
		return err
	}
	return m.lock()
}

func (m *Memory) lock() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if now := m.now(); now.Sub(m.lastSweep) >= memSweepEvery {
		m.lastSweep = now
		m.sweepLocked(now)
	}
	return nil
}

// sweepLocked drops expired entries. Sessions being updated are left for the next sweep.
func (m *Memory) sweepLocked(now time.Time) {
	for id, s := range m.sessions {
		if s.expired(now) && s.mu.TryLock() {
			if s.expired(now) {
				s.gone = true
				delete(m.sessions, id)
			}
			s.mu.Unlock()
		}
	}
	for owner := range m.owned {
		m.pruneOwnedLocked(owner, now)
	}
	memDropExpired(m.challenges, now)
	memDropExpired(m.refresh, now)
	memDropExpired(m.invites, now)
	memDropExpired(m.seen, now)
	m.sweepRelaysLocked(now)
}

func memDropExpired[T any](entries map[string]memEntry[T], now time.Time) {
	for k, e := range entries {
		if !now.Before(e.expires) {
			delete(entries, k)
		}
	}
}

func (s *memSession) expired(now time.Time) bool { return now.UnixNano() >= s.expires.Load() }

func memCheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("ttl %v: must be positive", ttl)
	}
	return nil
}

// pruneOwnedLocked forgets the sessions of owner that are gone and tells how many are left.
func (m *Memory) pruneOwnedLocked(owner string, now time.Time) int {
	ids := m.owned[owner]
	for id := range ids {
		if ms, ok := m.sessions[id]; !ok || ms.expired(now) {
			delete(ids, id)
		}
	}
	if len(ids) == 0 {
		delete(m.owned, owner)
	}
	return len(ids)
}

// CreateSession stores a new session; ErrExists when the id is taken.
func (m *Memory) CreateSession(ctx context.Context, s *Session, ttl time.Duration) error {
	return m.CreateOwnedSession(ctx, s, ttl, "", 0)
}

// CreateOwnedSession stores a new session counted against owner.
func (m *Memory) CreateOwnedSession(ctx context.Context, s *Session, ttl time.Duration, owner string, limit int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := memCheckTTL(ttl); err != nil {
		return err
	}
	if s == nil || s.ID == "" {
		return errors.New("create session: no id")
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	now := m.now()
	if owner != "" && limit > 0 && m.pruneOwnedLocked(owner, now) >= limit {
		return ErrLimit
	}
	if old, ok := m.sessions[s.ID]; ok {
		// An entry being updated is live: never wait for a session lock under the map lock.
		if !old.mu.TryLock() {
			return ErrExists
		}
		live := !old.gone && !old.expired(now)
		if !live {
			old.gone = true
		}
		old.mu.Unlock()
		if live {
			return ErrExists
		}
	}
	ms := &memSession{data: data, members: memMembers(s)}
	ms.expires.Store(now.Add(ttl).UnixNano())
	m.sessions[s.ID] = ms
	if owner != "" {
		if m.owned[owner] == nil {
			m.owned[owner] = make(map[string]struct{})
		}
		m.owned[owner][s.ID] = struct{}{}
	}
	return nil
}

// session returns the live entry of a session, locked; the caller unlocks it.
func (m *Memory) session(id string) (*memSession, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	ms, ok := m.sessions[id]
	m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	ms.mu.Lock()
	if ms.gone {
		ms.mu.Unlock()
		return nil, ErrNotFound
	}
	if ms.expired(m.now()) {
		ms.gone = true
		ms.mu.Unlock()
		m.mu.Lock()
		if m.sessions[id] == ms {
			delete(m.sessions, id)
		}
		m.mu.Unlock()
		return nil, ErrNotFound
	}
	return ms, nil
}

func memDecodeSession(id string, data []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode session %s: %w", id, err)
	}
	return &s, nil
}

// GetSession returns a copy of a session; ErrNotFound when unknown or expired.
func (m *Memory) GetSession(ctx context.Context, id string) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ms, err := m.session(id)
	if err != nil {
		return nil, err
	}
	data, members := ms.data, ms.members
	ms.mu.Unlock()
	s, err := memDecodeSession(id, data)
	if err != nil {
		return nil, err
	}
	memOverlay(s, members)
	return s, nil
}

// UpdateSession runs fn on a copy of the session under the session's own lock, so fn runs exactly
// once here; the result is stored with Version increased and the TTL refreshed.
func (m *Memory) UpdateSession(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := memCheckTTL(ttl); err != nil {
		return nil, err
	}
	ms, err := m.session(id)
	if err != nil {
		return nil, err
	}
	defer ms.mu.Unlock()
	s, err := memDecodeSession(id, ms.data)
	if err != nil {
		return nil, err
	}
	memOverlay(s, ms.members)
	if err := fn(s); err != nil {
		if errors.Is(err, ErrNoChange) {
			if s, err = memDecodeSession(id, ms.data); err == nil {
				memOverlay(s, ms.members)
			}
			return s, err
		}
		return nil, err
	}
	s.ID = id // the id is the key: fn cannot move the session
	s.Version++
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode session %s: %w", id, err)
	}
	ms.data = data
	ms.members = memMembers(s)
	ms.expires.Store(m.now().Add(ttl).UnixNano())
	return memDecodeSession(id, data)
}

// DeleteSession removes a session; deleting an unknown session is not an error.
func (m *Memory) DeleteSession(ctx context.Context, id string) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	ms, ok := m.sessions[id]
	delete(m.sessions, id)
	m.mu.Unlock()
	if ok {
		ms.mu.Lock()
		ms.gone = true
		ms.mu.Unlock()
	}
	return nil
}

// PutChallenge stores a login nonce with the public key it was issued for.
func (m *Memory) PutChallenge(ctx context.Context, nonce []byte, publicKey []byte, ttl time.Duration) error {
	if err := m.enterTTL(ctx, ttl); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.challenges[hex.EncodeToString(nonce)] = memEntry[[]byte]{value: memClone(publicKey), expires: m.now().Add(ttl)}
	return nil
}

// TakeChallenge returns the public key of a nonce and forgets the nonce.
func (m *Memory) TakeChallenge(ctx context.Context, nonce []byte) ([]byte, error) {
	if err := m.enter(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	pub, err := memTake(m.challenges, hex.EncodeToString(nonce), m.now())
	return memClone(pub), err
}

// PutRefresh stores what a refresh token (by its hash) stands for.
func (m *Memory) PutRefresh(ctx context.Context, tokenHash string, r Refresh, ttl time.Duration) error {
	if err := m.enterTTL(ctx, ttl); err != nil {
		return err
	}
	defer m.mu.Unlock()
	r.PublicKey = memClone(r.PublicKey)
	m.refresh[tokenHash] = memEntry[Refresh]{value: r, expires: m.now().Add(ttl)}
	return nil
}

// TakeRefresh returns what a refresh token stands for and forgets it.
func (m *Memory) TakeRefresh(ctx context.Context, tokenHash string) (Refresh, error) {
	if err := m.enter(ctx); err != nil {
		return Refresh{}, err
	}
	defer m.mu.Unlock()
	r, err := memTake(m.refresh, tokenHash, m.now())
	r.PublicKey = memClone(r.PublicKey)
	return r, err
}

func memTake[T any](entries map[string]memEntry[T], key string, now time.Time) (T, error) {
	e, ok := entries[key]
	delete(entries, key)
	if !ok || !now.Before(e.expires) {
		var zero T
		return zero, ErrNotFound
	}
	return e.value, nil
}

// Touch records that a client instance holds a push connection now.
func (m *Memory) Touch(ctx context.Context, instanceID string, ttl time.Duration) error {
	if err := m.enterTTL(ctx, ttl); err != nil {
		return err
	}
	defer m.mu.Unlock()
	now := m.now()
	m.seen[instanceID] = memEntry[time.Time]{value: now, expires: now.Add(ttl)}
	return nil
}

// LastSeen tells when an instance was last touched; the zero time when never or expired.
func (m *Memory) LastSeen(ctx context.Context, instanceID string) (time.Time, error) {
	if err := m.enter(ctx); err != nil {
		return time.Time{}, err
	}
	defer m.mu.Unlock()
	e, ok := m.seen[instanceID]
	if !ok || !m.now().Before(e.expires) {
		return time.Time{}, nil
	}
	return e.value, nil
}

// Publish hands the message to every subscription without waiting (see MemorySubscriberBuffer).
func (m *Memory) Publish(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg.Event.Data = memClone(msg.Event.Data)
	if err := m.lock(); err != nil {
		return err
	}
	subs := m.subscriptionsLocked()
	m.mu.Unlock()
	m.sendAll(subs, msg)
	return nil
}

// subscriptions lists the live subscriptions (none once closed).
func (m *Memory) subscriptions() []*memSub {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subscriptionsLocked()
}

func (m *Memory) subscriptionsLocked() []*memSub {
	subs := make([]*memSub, 0, len(m.subs))
	for s := range m.subs {
		subs = append(subs, s)
	}
	return subs
}

// sendAll hands msg, whose Data the store owns, to subs without waiting.
func (m *Memory) sendAll(subs []*memSub, msg Message) {
	for _, s := range subs {
		if !s.send(msg) {
			m.dropped.Add(1)
		}
	}
}

// send delivers msg unless the buffer is full or the subscription ended; false when dropped.
func (s *memSub) send(msg Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	select {
	case s.ch <- msg:
		return true
	default:
		return false
	}
}

func (s *memSub) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
		close(s.done)
	}
}

// Subscribe delivers every message published after it returns, until ctx ends or the store
// closes; the channel is then closed. Subscribers share the message's Data bytes: they must not
// modify them.
func (m *Memory) Subscribe(ctx context.Context) (<-chan Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &memSub{ch: make(chan Message, MemorySubscriberBuffer), done: make(chan struct{})}
	if err := m.lock(); err != nil {
		return nil, err
	}
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done: // the store closed
			return
		}
		m.mu.Lock()
		delete(m.subs, s)
		m.mu.Unlock()
		s.close()
	}()
	return s.ch, nil
}

// Close ends every subscription; later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for s := range m.subs {
		s.close()
		delete(m.subs, s)
	}
	return nil
}

func memClone[T ~[]byte](b T) T {
	if b == nil {
		return nil
	}
	return append(T{}, b...)
}
