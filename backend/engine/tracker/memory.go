package tracker

import (
	"context"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Memory is a Store in this process: the local orchestrator's, and the embedded server's.
type Memory struct {
	mu   sync.Mutex
	runs map[string]*memoryRun
	now  func() time.Time
}

type memoryRun struct {
	mu      sync.Mutex
	sync    *protocol.Synchronization
	groups  *groupTable
	expires time.Time
}

// NewMemory returns an empty store; now is time.Now when nil.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{runs: map[string]*memoryRun{}, now: now}
}

// run returns the live run of a session, locked. A run's fields, expires included, are guarded
// by its own mutex.
func (m *Memory) run(session string) (*memoryRun, error) {
	m.mu.Lock()
	r, ok := m.runs[session]
	m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	r.mu.Lock()
	if !m.now().Before(r.expires) {
		r.mu.Unlock()
		m.mu.Lock()
		if m.runs[session] == r {
			delete(m.runs, session)
		}
		m.mu.Unlock()
		return nil, ErrNotFound
	}
	return r, nil
}

func (m *Memory) Create(ctx context.Context, s *protocol.Synchronization, groups iter.Seq[*Group], ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &memoryRun{sync: cloneSync(s), groups: newGroupTable(), expires: m.now().Add(ttl)}
	for g := range groups {
		r.groups.add(g)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	if old, ok := m.runs[s.Session]; ok {
		old.mu.Lock()
		running := m.now().Before(old.expires) && !old.sync.IsEnded()
		old.mu.Unlock()
		if running {
			return ErrRunning
		}
	}
	m.runs[s.Session] = r
	return nil
}

func (m *Memory) Get(ctx context.Context, session string) (*protocol.Synchronization, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := m.run(session)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	return cloneSync(r.sync), nil
}

func (m *Memory) Update(ctx context.Context, session string, ids []string, ttl time.Duration,
	fn func(*protocol.Synchronization, []*Group) error) (*protocol.Synchronization, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := m.run(session)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	at := make([]int32, len(ids))
	gs := make([]*Group, len(ids))
	for i, id := range ids {
		j, ok := r.groups.find(id)
		if !ok {
			return nil, ErrUnknownGroup
		}
		at[i], gs[i] = j, r.groups.get(j)
	}
	s := cloneSync(r.sync)
	switch err := fn(s, gs); err {
	case nil:
	case ErrNoChange:
		return cloneSync(r.sync), nil
	default:
		return nil, err
	}
	r.sync = s
	for i, g := range gs {
		r.groups.put(at[i], g)
	}
	r.expires = m.now().Add(ttl)
	return cloneSync(s), nil
}

func (m *Memory) Delete(ctx context.Context, session string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.runs, session)
	return nil
}

// cloneSync copies a run deeply enough for its slices and times to be changed.
func cloneSync(s *protocol.Synchronization) *protocol.Synchronization {
	c := *s
	c.AbortRequestedBy = slices.Clone(s.AbortRequestedBy)
	c.Progress.Members = slices.Clone(s.Progress.Members)
	c.Progress.CompletedMembers = slices.Clone(s.Progress.CompletedMembers)
	if s.AbortRequested != nil {
		t := *s.AbortRequested
		c.AbortRequested = &t
	}
	if s.Ended != nil {
		t := *s.Ended
		c.Ended = &t
	}
	return &c
}

// sweep drops expired runs, so that a long-running process does not keep every session's run;
// m.mu is held.
func (m *Memory) sweep() {
	now := m.now()
	for id, r := range m.runs {
		if !r.mu.TryLock() {
			continue // in use: not expired
		}
		expired := !now.Before(r.expires)
		r.mu.Unlock()
		if expired {
			delete(m.runs, id)
		}
	}
}

// Len is the number of runs held, expired ones not swept yet included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.runs)
}
