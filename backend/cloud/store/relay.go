package store

import (
	"context"
	"time"
)

// RelayDocs are the relay bookkeeping of a session as the relay storage keeps it with its parts
// in a bucket: one document for the session (sizes, reservations, counts) and one for one of
// its transfers (who sends what to whom, its parts and receipts). The store keeps them opaque
// (the relay package writes them); nil when there is none. They hold random ids, member ids and
// sizes only: no path, name, content or key.
type RelayDocs struct {
	Session  []byte
	Transfer []byte
}

// Relay keeps RelayDocs, shared by the server processes sharing the store, so that processes on
// several machines relay parts of one bucket with no shared folder. Every document of a session
// lives under one key (Redis: P:relay:{id}, in the session's hash slot) and expires ttl after
// the last write to any of them.
type Relay interface {
	// GetRelay reads the session's document and the document of transfer (none when "").
	GetRelay(ctx context.Context, session, transfer string) (RelayDocs, error)
	// UpdateRelay applies fn to what GetRelay reads and stores both documents fn leaves, as one
	// atomic step: fn may run more than once when writers race. A nil document is deleted. fn
	// returning ErrNoChange writes nothing, and UpdateRelay returns nil; any other error is
	// returned as is.
	UpdateRelay(ctx context.Context, session, transfer string, ttl time.Duration, fn func(*RelayDocs) error) error
	// RelayTransfers lists the transfers of the session that have a document.
	RelayTransfers(ctx context.Context, session string) ([]string, error)
	// DeleteRelay deletes every relay document of the session.
	DeleteRelay(ctx context.Context, session string) error
}

// relayTransferField is the field (Redis) or map key (Memory) of a transfer's document; the
// session's is relaySessionField.
const (
	relaySessionField  = "session"
	relayTransferField = "t:"
)
