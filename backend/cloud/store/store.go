// Package store keeps the session server's state: sessions, refresh tokens, login challenges, and
// the fan-out of push events between server processes. Memory is the embedded default; Redis lets
// several server processes share one state. Both pass the same conformance suite.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/protocol"
)

var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrNoChange, returned by an update function, ends the update without writing.
	ErrNoChange = errors.New("no change")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("store closed")
	// ErrNotMember is returned by SetMemberStatus when the session has no such member.
	ErrNotMember = errors.New("not a member")
	// ErrLimit is returned by CreateOwnedSession when the owner has its limit of sessions.
	ErrLimit = errors.New("session limit reached")
	// ErrUnavailable is in the chain of an error when the store's server could not be reached
	// (Redis down, its connection broken or timing out): trying again later may work.
	ErrUnavailable = errors.New("store unavailable")
)

// Session is the stored state of one session: what members see (protocol.Session) plus what
// only the server uses.
type Session struct {
	protocol.Session
	// Pending joins by ticket.
	Joins map[string]Join `json:"joins,omitempty"`
	// Version increases with every write; updates use it to detect concurrent writers.
	Version int64 `json:"version"`
}

// Join is a join request waiting for the oldest member.
type Join struct {
	Ticket      string        `json:"ticket"`
	InstanceID  string        `json:"instance_id"`
	ClientID    string        `json:"client_id"`
	PrivateData protocol.Blob `json:"private_data,omitempty"`
	Requested   time.Time     `json:"requested"`
	// The joiner's identity key and signed join key (protocol.JoinRequest), checked at request.
	IdentityKey      []byte `json:"identity_key,omitempty"`
	JoinKey          []byte `json:"join_key,omitempty"`
	JoinKeySignature []byte `json:"join_key_signature,omitempty"`
	// ValidatorKey is the identity key of the oldest member once it challenged the joiner (one
	// challenge per request); Proved tells that the joiner answered (one answer per challenge).
	ValidatorKey []byte `json:"validator_key,omitempty"`
	Proved       bool   `json:"proved,omitempty"`
}

// Refresh is what a refresh token stands for.
type Refresh struct {
	ClientID   string    `json:"client_id"`
	InstanceID string    `json:"instance_id"`
	PublicKey  []byte    `json:"public_key"`
	Expires    time.Time `json:"expires"`
}

// Message is a push event on its way to the server processes holding the recipients' websockets.
type Message struct {
	Session string // the session's members receive it, when set
	To      string // one client instance receives it, when set
	Event   protocol.Event
}

// Store is the server's state. Every method is safe for concurrent use, from several server
// processes when the implementation is shared (Redis).
type Store interface {
	// CreateSession stores a new session; ErrExists when the id is taken.
	CreateSession(ctx context.Context, s *Session, ttl time.Duration) error
	// CreateOwnedSession is CreateSession for a session counted against owner: ErrLimit, and
	// nothing stored, when owner already created limit sessions that still exist (deleted and
	// expired ones no longer count). limit ≤ 0 means no limit.
	CreateOwnedSession(ctx context.Context, s *Session, ttl time.Duration, owner string, limit int) error
	// GetSession reads a session; ErrNotFound when unknown or expired.
	GetSession(ctx context.Context, id string) (*Session, error)
	// UpdateSession applies fn to the current state and stores the result, serialized per
	// session (never one global lock): fn may run more than once when writers race, so it must
	// only change the session it is given. fn returning ErrNoChange leaves the session as it is
	// and UpdateSession returns it with a nil error; any other error is returned as is. The TTL
	// is refreshed on every write.
	UpdateSession(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (*Session, error)
	// DeleteSession removes a session.
	DeleteSession(ctx context.Context, id string) error
	// SetMemberStatus sets the status of the member instanceID (of client clientID) to u when
	// u.At is after the one it holds, newest wins, and then also refreshes the session's TTL and
	// publishes push, as one step; it tells whether it applied. An older or equal At changes
	// nothing. ErrNotFound when the session is unknown, ErrNotMember when no member is both
	// instanceID and clientID. GetSession and UpdateSession see the status; Version is unchanged.
	SetMemberStatus(ctx context.Context, id string, ttl time.Duration, clientID, instanceID string,
		u protocol.StatusUpdate, push Message) (applied bool, err error)

	// PutChallenge stores a login nonce; TakeChallenge returns and deletes it (once).
	PutChallenge(ctx context.Context, nonce []byte, publicKey []byte, ttl time.Duration) error
	TakeChallenge(ctx context.Context, nonce []byte) (publicKey []byte, err error)
	// PutRefresh stores a refresh token (by its hash); TakeRefresh returns and deletes it, so
	// each refresh token works once.
	PutRefresh(ctx context.Context, tokenHash string, r Refresh, ttl time.Duration) error
	TakeRefresh(ctx context.Context, tokenHash string) (Refresh, error)

	// PutInvitation stores inv under key for ttl (Expires is set from it). ErrExists, and
	// nothing changed, when an unexpired invitation of another host is there.
	PutInvitation(ctx context.Context, key string, inv protocol.Invitation, ttl time.Duration) error
	// GetInvitation reads an invitation; ErrNotFound when there is none or it expired.
	GetInvitation(ctx context.Context, key string) (protocol.Invitation, error)
	// DeleteInvitation removes the invitation under key when host left it; ErrNotFound when
	// there is none of host's.
	DeleteInvitation(ctx context.Context, key, host string) error

	// Publish sends a message to every server process subscribed.
	Publish(ctx context.Context, m Message) error
	// Subscribe delivers every published message, from any process, until ctx ends.
	Subscribe(ctx context.Context) (<-chan Message, error)

	// Touch records that a client instance holds a push connection, for presence across
	// processes; LastSeen tells when it was last touched (zero time when never or expired).
	Touch(ctx context.Context, instanceID string, ttl time.Duration) error
	LastSeen(ctx context.Context, instanceID string) (time.Time, error)

	// Synchronizations keeps the sessions' synchronization runs beside the sessions, shared by
	// the processes sharing this Store; every call returns the same runs.
	Synchronizations() tracker.Store

	// Relay keeps the bookkeeping of relayed parts kept in a bucket.
	Relay

	Close() error
}
