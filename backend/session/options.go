package session

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
)

// JoinRequest is what a joiner knows: the session id and password (given out of band by a
// member), and the nodes it brings.
type JoinRequest struct {
	ID       string
	Password string
	Nodes    []plan.NodeSpec
}

// Role is the part a peer plays in a join.
type Role string

const (
	RoleJoiner    Role = "joiner"    // the instance asking to join
	RoleValidator Role = "validator" // the oldest member, who checks the joiner and admits it
)

// KeyCheck is one check of a peer's identity key against the trust store, made by each side of
// a join: the validator checks the joiner, the joiner checks the validator.
type KeyCheck struct {
	Peer        string // the peer's client id (derived from its key)
	Instance    string // the peer's instance id, when known
	Fingerprint crypto.Fingerprint
	// SafetyWords are the same on both sides when each holds the other's real key: the users
	// compare them out of band.
	SafetyWords []string
	Status      crypto.TrustStatus
	Role        Role // the peer's role
	Trusted     bool // the check let the join go on
}

// JoinCandidate is a joiner that proved it knows the password, before it is admitted.
type JoinCandidate struct {
	Ticket   string
	Instance string
	Key      KeyCheck
}

// RefusedError is a join turned away, by the validator, the server, or this instance's own
// checks. Code is one of the protocol.Join… codes.
type RefusedError struct {
	Code   string
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "join refused: " + e.Code
	}
	return fmt.Sprintf("join refused (%s): %s", e.Code, e.Reason)
}

// RefusalCode is the code of a refused join, or "" when err is not a refusal.
func RefusalCode(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// Option tunes Create and Join.
type Option func(*options)

type options struct {
	trust     *crypto.TrustStore
	trustNew  bool
	confirm   func(KeyCheck) bool
	params    crypto.PasswordParams
	password  string
	admission func(JoinCandidate) error
	log       *slog.Logger
	// serverWait is how long the server may stay unreachable before the session is given up.
	serverWait time.Duration
	lazyKey    bool
	peers      []Peer // OnlyPeers: the only keys taken, trusted without asking
	terms      *Terms // WithTerms
}

func buildOptions(opts []Option) options {
	o := options{params: crypto.DefaultPasswordParams(), log: slog.New(slog.DiscardHandler), serverWait: DefaultServerWait}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithTrust keeps the identity keys of peers in store (trust on first use): a known key is
// trusted, a new one is asked about (ConfirmKey) or taken (TrustNewKeys), a changed one is
// refused. Without a store every key is new. A key is remembered once its join succeeded.
func WithTrust(store *crypto.TrustStore) Option { return func(o *options) { o.trust = store } }

// TrustNewKeys takes new keys without asking (the command's --trust); ConfirmKey, when given,
// decides instead.
func TrustNewKeys(yes bool) Option { return func(o *options) { o.trustNew = yes } }

// ConfirmKey asks f about each new key: f shows the peer and the safety words, and tells
// whether the user accepts it. f may be called from several goroutines at once (one per
// pending joiner) and may take its time, but Close waits for the calls under way: a window
// asking should answer no when the session closes.
func ConfirmKey(f func(KeyCheck) bool) Option { return func(o *options) { o.confirm = f } }

// WithPasswordParams sets the Argon2id cost of the session password: the cost of a created
// session, and the least a joiner accepts from a validator (crypto.DefaultPasswordParams
// otherwise). Tests use cheap ones.
func WithPasswordParams(p crypto.PasswordParams) Option { return func(o *options) { o.params = p } }

// WithPassword makes Create use password instead of generating one.
func WithPassword(password string) Option { return func(o *options) { o.password = password } }

// WithAdmission asks f about every joiner that proved it knows the password, before it is
// admitted; an error refuses it (with the code of a *RefusedError, else protocol.JoinDeclined).
func WithAdmission(f func(JoinCandidate) error) Option { return func(o *options) { o.admission = f } }

// LazyPasswordKey derives the password key when a joiner's proof first needs it, not as soon as
// the member validates joins: for a session nobody is expected to join, which then spends no
// Argon2id derivation (its time and memory) at all.
func LazyPasswordKey() Option { return func(o *options) { o.lazyKey = true } }

// WithLogger receives what the validator does with join requests (nothing when not set).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithServerWait sets how long the push connection may stay down before the session is given
// up (DefaultServerWait when d is not positive): the flow and a cloud-orchestrated run then end
// with a *ServerGoneError. A client with several server URLs stays connected while any of them
// answers.
func WithServerWait(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.serverWait = d
		}
	}
}
