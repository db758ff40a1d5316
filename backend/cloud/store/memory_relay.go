package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// memRelay is the relay documents of one session, by field (relaySessionField,
// relayTransferField+id).
type memRelay struct {
	mu      sync.Mutex // serializes updates of this session's documents
	gone    bool       // deleted or expired; guarded by mu
	docs    map[string][]byte
	expires time.Time // guarded by mu
}

// relayEntry locks the relay entry of session, made when missing with create; nil (and nothing
// locked) when there is none. The caller unlocks entry.mu.
func (m *Memory) relayEntry(ctx context.Context, session string, create bool) (*memRelay, error) {
	for {
		if err := m.enter(ctx); err != nil {
			return nil, err
		}
		e := m.relays[session]
		if e == nil {
			if !create {
				m.mu.Unlock()
				return nil, nil
			}
			e = &memRelay{docs: map[string][]byte{}}
			m.relays[session] = e
		}
		m.mu.Unlock()
		e.mu.Lock()
		if e.gone {
			e.mu.Unlock()
			continue // deleted meanwhile: look again
		}
		if !m.now().Before(e.expires) && !e.expires.IsZero() {
			clear(e.docs)
		}
		return e, nil
	}
}

func (m *Memory) GetRelay(ctx context.Context, session, transfer string) (RelayDocs, error) {
	e, err := m.relayEntry(ctx, session, false)
	if err != nil || e == nil {
		return RelayDocs{}, err
	}
	defer e.mu.Unlock()
	return e.read(transfer), nil
}

func (e *memRelay) read(transfer string) RelayDocs {
	d := RelayDocs{Session: memClone(e.docs[relaySessionField])}
	if transfer != "" {
		d.Transfer = memClone(e.docs[relayTransferField+transfer])
	}
	return d
}

func (m *Memory) UpdateRelay(ctx context.Context, session, transfer string, ttl time.Duration, fn func(*RelayDocs) error) error {
	if err := memCheckTTL(ttl); err != nil {
		return err
	}
	e, err := m.relayEntry(ctx, session, true)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	d := e.read(transfer)
	if err := fn(&d); errors.Is(err, ErrNoChange) {
		return nil
	} else if err != nil {
		return err
	}
	set := func(field string, v []byte) {
		if v == nil {
			delete(e.docs, field)
		} else {
			e.docs[field] = memClone(v)
		}
	}
	set(relaySessionField, d.Session)
	if transfer != "" {
		set(relayTransferField+transfer, d.Transfer)
	}
	e.expires = m.now().Add(ttl)
	return nil
}

func (m *Memory) RelayTransfers(ctx context.Context, session string) ([]string, error) {
	e, err := m.relayEntry(ctx, session, false)
	if err != nil || e == nil {
		return nil, err
	}
	defer e.mu.Unlock()
	var ids []string
	for k := range maps.Keys(e.docs) {
		if id, ok := strings.CutPrefix(k, relayTransferField); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (m *Memory) DeleteRelay(ctx context.Context, session string) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	e := m.relays[session]
	delete(m.relays, session)
	m.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		e.gone = true
		e.mu.Unlock()
	}
	return nil
}

// sweepRelaysLocked drops expired relay documents; entries being updated wait for the next
// sweep.
func (m *Memory) sweepRelaysLocked(now time.Time) {
	for id, e := range m.relays {
		if e.mu.TryLock() {
			if !e.expires.IsZero() && !now.Before(e.expires) {
				e.gone = true
				delete(m.relays, id)
			}
			e.mu.Unlock()
		}
	}
}
