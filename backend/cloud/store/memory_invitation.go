package store

import (
	"context"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

func (m *Memory) PutInvitation(ctx context.Context, key string, inv protocol.Invitation, ttl time.Duration) error {
	if err := m.enterTTL(ctx, ttl); err != nil {
		return err
	}
	defer m.mu.Unlock()
	now := m.now()
	if e, ok := m.invites[key]; ok && now.Before(e.expires) && e.value.Host != inv.Host {
		return ErrExists
	}
	inv.Guests, inv.Sealed = slices.Clone(inv.Guests), memClone(inv.Sealed)
	inv.Expires = now.Add(ttl).UTC()
	m.invites[key] = memEntry[protocol.Invitation]{value: inv, expires: now.Add(ttl)}
	return nil
}

func (m *Memory) GetInvitation(ctx context.Context, key string) (protocol.Invitation, error) {
	if err := m.enter(ctx); err != nil {
		return protocol.Invitation{}, err
	}
	defer m.mu.Unlock()
	e, ok := m.invites[key]
	if !ok || !m.now().Before(e.expires) {
		return protocol.Invitation{}, ErrNotFound
	}
	inv := e.value
	inv.Guests, inv.Sealed = slices.Clone(inv.Guests), memClone(inv.Sealed)
	return inv, nil
}

func (m *Memory) DeleteInvitation(ctx context.Context, key, host string) error {
	if err := m.enter(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	e, ok := m.invites[key]
	if !ok || !m.now().Before(e.expires) || e.value.Host != host {
		return ErrNotFound
	}
	delete(m.invites, key)
	return nil
}
