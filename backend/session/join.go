package session

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The joiner's side: ask with a fresh signed join key, check the validator's key and its
// challenge, answer with the sealed password proof, and on admission unwrap the session key
// from the validator, whose key is bound into the unwrapping.

// maxJoinRestarts bounds the fresh requests a joiner makes after losing its push connection
// (pushes sent meanwhile are lost, so the exchange starts over).
const maxJoinRestarts = 3

// joinAttempt is one join request and what came back for it.
type joinAttempt struct {
	ticket    string
	jk        *crypto.JoinKey
	validator ed25519.PublicKey // from the challenge, once verified and trusted
	check     KeyCheck
	pw        passwordState
}

// Join asks to join session req.ID with req.Password, and once the oldest member checked the
// password and this instance's key (and this instance the oldest member's key), declares
// req.Nodes sealed with the session key it received. A refusal is a *RefusedError. ctx bounds
// the whole exchange, waiting for the oldest member included.
func Join(ctx context.Context, c *client.Client, req JoinRequest, opts ...Option) (*Member, error) {
	o := buildOptions(opts)
	if !protocol.SessionIDPattern.MatchString(req.ID) {
		return nil, fmt.Errorf("join: session id %q: want 3 digits, 3 lowercase letters, 3 digits", req.ID)
	}
	password, err := crypto.NormalizePassword(req.Password)
	if err != nil {
		return nil, fmt.Errorf("join session %s: %w", req.ID, err)
	}
	m := newMember(c, o, &protocol.Session{ID: req.ID})
	m.shown = req.Password
	events, cancel := m.Subscribe() // before the receiver starts: no event is missed
	defer cancel()
	if err := m.connect(ctx, false); err != nil {
		return nil, err
	}
	a, err := m.join(ctx, events, password)
	if err != nil {
		m.abandon()
		return nil, fmt.Errorf("join session %s: %w", req.ID, err)
	}
	if err := m.rememberKey(a.check, a.validator); err != nil {
		m.opts.log.Warn("remember the validator's key", "client", a.check.Peer, "err", err)
	}
	m.pw = a.pw
	if s, err := c.Session(ctx, req.ID); err == nil {
		m.setSession(s)
	}
	m.startValidator()
	return m, m.declare(ctx, req.Nodes)
}

// join runs the exchange until admitted (m.key is set) or refused.
func (m *Member) join(ctx context.Context, events <-chan protocol.Event, password string) (*joinAttempt, error) {
	id := m.ID()
	if err := waitSubscribed(ctx, events); err != nil {
		return nil, err
	}
	for restarts := 0; ; restarts++ {
		a, err := m.ask(ctx)
		if err != nil {
			return nil, err
		}
		if restarts == 0 {
			if err := m.push.Follow(id); err != nil {
				return nil, err
			}
		}
		done, err := m.await(ctx, events, a, password)
		if done || err != nil {
			return a, err
		}
		if restarts >= maxJoinRestarts {
			return nil, errors.New("the push connection kept breaking")
		}
	}
}

// waitSubscribed waits for the receiver's first answer: from then on, the events addressed to
// this instance reach it.
func waitSubscribed(ctx context.Context, events <-chan protocol.Event) error {
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return errors.New("the push receiver stopped")
			}
			if e.Type == protocol.EventSubscribed {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("connect the push: %w", context.Cause(ctx))
		}
	}
}

// ask sends a join request with a fresh join key.
func (m *Member) ask(ctx context.Context) (*joinAttempt, error) {
	id, me := m.ID(), m.c.Identity()
	jk, err := crypto.NewJoinKey()
	if err != nil {
		return nil, err
	}
	sig, err := crypto.SignJoinKey(me, id, jk.Public())
	if err != nil {
		return nil, err
	}
	t, err := m.c.Join(ctx, id, protocol.JoinRequest{IdentityKey: me.Public(), JoinKey: jk.Public(), JoinKeySignature: sig})
	var pe *protocol.Error
	if errors.As(err, &pe) && (pe.Code == protocol.ErrCodeSessionFull || pe.Code == protocol.ErrCodeInventoryStarted) {
		return nil, &RefusedError{Code: pe.Code, Reason: pe.Message}
	}
	if err != nil {
		return nil, err
	}
	return &joinAttempt{ticket: t.Ticket, jk: jk}, nil
}

// await follows one join request: it answers the challenge, and returns true once admitted,
// false when the push connection broke (ask again).
func (m *Member) await(ctx context.Context, events <-chan protocol.Event, a *joinAttempt, password string) (bool, error) {
	for {
		var e protocol.Event
		select {
		case ev, ok := <-events:
			if !ok {
				return false, errors.New("the push receiver stopped")
			}
			e = ev
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
		switch e.Type {
		case client.EventReconnected:
			return false, nil
		case protocol.EventJoinChallenge:
			var c protocol.JoinChallenge
			if json.Unmarshal(e.Data, &c) != nil || c.Ticket != a.ticket || a.validator != nil {
				continue // another request's, or a second one: one challenge per request
			}
			if err := m.answer(ctx, a, c, password); err != nil {
				return false, err
			}
		case protocol.EventJoinRefused:
			var r protocol.JoinRefused
			if json.Unmarshal(e.Data, &r) == nil && r.Ticket == a.ticket {
				return false, &RefusedError{Code: r.Code, Reason: r.Reason}
			}
		case protocol.EventJoinAdmitted:
			var adm protocol.JoinAdmitted
			if json.Unmarshal(e.Data, &adm) != nil || adm.Ticket != a.ticket {
				continue
			}
			return true, m.admitted(ctx, a, adm)
		}
	}
}

// answer checks the validator's challenge and sends the sealed proof.
func (m *Member) answer(ctx context.Context, a *joinAttempt, c protocol.JoinChallenge, password string) error {
	me := m.c.Identity()
	b := crypto.JoinBinding{SessionID: m.ID(), Validator: c.IdentityKey, Joiner: me.Public(), JoinKey: a.jk.Public()}
	challenge := crypto.JoinChallenge{
		Salt: c.Salt, Nonce: c.Nonce, ProofKey: c.ProofKey, Signature: c.Signature,
		Params: crypto.PasswordParams{Time: c.Params.Time, MemoryKiB: c.Params.MemoryKiB, Threads: c.Params.Threads},
	}
	if err := crypto.VerifyJoinChallenge(challenge, b); err != nil {
		return fmt.Errorf("the challenge is not the validator's for this join: %w", err)
	}
	if !challenge.Params.AtLeast(m.opts.params) {
		return fmt.Errorf("the validator asks for weaker password hashing (%+v) than this instance accepts (%+v)", challenge.Params, m.opts.params)
	}
	check, refusal, err := m.checkKey(c.IdentityKey, "", RoleValidator)
	if err != nil {
		return err
	}
	if refusal != nil {
		return refusal
	}
	key, err := crypto.DerivePasswordKey(password, challenge.Salt, challenge.Params)
	if err != nil {
		return err
	}
	sealed, err := crypto.SealProof(key, challenge, b, a.jk)
	if err != nil {
		return err
	}
	a.validator, a.check = slices.Clone(c.IdentityKey), check
	a.pw = passwordState{password: password, salt: challenge.Salt, params: challenge.Params, key: &key}
	return m.c.JoinProof(ctx, m.ID(), a.ticket, protocol.JoinProofRequest{Proof: sealed})
}

// admitted unwraps the session key. The validator's key comes from the challenge this instance
// verified and trusted; a wrapped key from anyone else does not unwrap. This instance is a
// member by now: on failure it quits.
func (m *Member) admitted(ctx context.Context, a *joinAttempt, adm protocol.JoinAdmitted) error {
	fail := func(err error) error {
		if qerr := m.c.Quit(context.WithoutCancel(ctx), m.ID()); qerr != nil {
			err = errors.Join(err, fmt.Errorf("quit: %w", qerr))
		}
		return err
	}
	if a.validator == nil {
		return fail(errors.New("admitted without a password check"))
	}
	if !bytes.Equal(adm.IdentityKey, a.validator) {
		return fail(fmt.Errorf("admitted by another key than the one that challenged: %w", crypto.ErrUnwrap))
	}
	b := crypto.JoinBinding{SessionID: m.ID(), Validator: a.validator, Joiner: m.c.Identity().Public(), JoinKey: a.jk.Public()}
	key, err := crypto.UnwrapSessionKey(adm.WrappedKey, a.jk, b)
	if err != nil {
		return fail(err)
	}
	m.key = key
	return nil
}
