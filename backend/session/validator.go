package session

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The validator: whichever member is the oldest receives the join requests and runs them, each
// in its own goroutine (a user may take time to confirm a key): check the joiner's signature and
// key, challenge it, check its sealed proof, and admit it with the session key wrapped for its
// join key, or refuse it with a code.

const (
	// MaxFailedJoins is how many wrong password proofs a validator takes in one session; then it
	// refuses every join (too_many_attempts). One proof per challenge and one challenge per join
	// request make each a separate online guess.
	MaxFailedJoins = 10

	joinMaxAge  = 10 * time.Minute // as the server keeps a join request
	callTimeout = 30 * time.Second
)

// passwordState is what a member holds to check joiners: the session password's key, salt and
// cost. The key is derived on first use (Argon2id takes memory and time).
type passwordState struct {
	password string // normalized
	salt     []byte
	params   crypto.PasswordParams
	key      *crypto.PasswordKey
}

// challenged is a join waiting for its proof.
type challenged struct {
	req    protocol.JoinRequested
	b      crypto.JoinBinding
	secret *crypto.ChallengeSecret
	check  KeyCheck
	at     time.Time
}

// validate runs the join requests pushed to this member until the pushes end.
func (m *Member) validate(ctx context.Context, events <-chan protocol.Event) {
	defer m.wg.Done()
	for e := range events {
		if e.Session != m.ID() {
			continue
		}
		switch e.Type {
		case protocol.EventJoinRequested:
			var r protocol.JoinRequested
			if err := json.Unmarshal(e.Data, &r); err != nil {
				m.opts.log.Warn("undecodable join request", "err", err)
				continue
			}
			m.wg.Add(1)
			go func() { defer m.wg.Done(); m.challenge(ctx, r) }()
		case protocol.EventJoinProof:
			var p protocol.JoinProof
			if err := json.Unmarshal(e.Data, &p); err != nil {
				m.opts.log.Warn("undecodable join proof", "err", err)
				continue
			}
			m.mu.Lock()
			c, ok := m.pending[p.Ticket]
			delete(m.pending, p.Ticket) // one proof per challenge
			m.mu.Unlock()
			if !ok {
				m.opts.log.Warn("proof for no pending challenge", "ticket", p.Ticket)
				continue
			}
			m.wg.Add(1)
			go func() { defer m.wg.Done(); m.checkProof(ctx, c, p.Proof) }()
		}
	}
}

// challenge checks a join request and sends the joiner its challenge.
func (m *Member) challenge(ctx context.Context, r protocol.JoinRequested) {
	id := m.ID()
	if m.FailedJoins() >= MaxFailedJoins {
		m.refuse(ctx, r, &RefusedError{Code: protocol.JoinTooManyAttempts, Reason: "too many wrong passwords in this session"})
		return
	}
	// The server checked these; a member checks them again rather than trust it.
	if cid, err := crypto.ClientID(r.IdentityKey); err != nil || cid != r.ClientID {
		m.refuse(ctx, r, &RefusedError{Code: protocol.JoinBadSignature, Reason: "the identity key does not match the client id"})
		return
	}
	if err := crypto.VerifyJoinKey(r.IdentityKey, id, r.JoinKey, r.JoinKeySignature); err != nil {
		m.refuse(ctx, r, &RefusedError{Code: protocol.JoinBadSignature, Reason: "the join key is not signed by the joiner's identity"})
		return
	}
	check, refusal, err := m.checkKey(r.IdentityKey, r.InstanceID, RoleJoiner)
	if err != nil {
		m.opts.log.Error("check a joiner's key", "ticket", r.Ticket, "err", err)
		m.refuse(ctx, r, &RefusedError{Code: protocol.JoinAdmitFailed, Reason: "the validator could not check the key"})
		return
	}
	if refusal != nil {
		m.refuse(ctx, r, refusal)
		return
	}
	me := m.c.Identity()
	b := crypto.JoinBinding{SessionID: id, Validator: me.Public(), Joiner: r.IdentityKey, JoinKey: r.JoinKey}
	c, secret, err := crypto.NewJoinChallenge(me, b, m.pw.salt, m.pw.params)
	if err != nil {
		m.opts.log.Error("make a join challenge", "ticket", r.Ticket, "err", err)
		return
	}
	now := time.Now()
	m.mu.Lock()
	for t, p := range m.pending {
		if now.Sub(p.at) > joinMaxAge {
			delete(m.pending, t)
		}
	}
	m.pending[r.Ticket] = &challenged{req: r, b: b, secret: secret, check: check, at: now}
	m.mu.Unlock()
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err = m.c.JoinChallenge(callCtx, id, r.Ticket, protocol.JoinChallengeRequest{
		IdentityKey: me.Public(), Salt: c.Salt, Nonce: c.Nonce, ProofKey: c.ProofKey, Signature: c.Signature,
		Params: protocol.PasswordParams{Time: c.Params.Time, MemoryKiB: c.Params.MemoryKiB, Threads: c.Params.Threads},
	})
	if err != nil {
		m.mu.Lock()
		delete(m.pending, r.Ticket)
		m.mu.Unlock()
		m.opts.log.Warn("send a join challenge", "ticket", r.Ticket, "err", err)
	}
}

// checkProof checks a joiner's answer and admits or refuses it.
func (m *Member) checkProof(ctx context.Context, c *challenged, proof []byte) {
	key, err := m.passwordKey()
	if err != nil {
		m.opts.log.Error("derive the password key", "err", err)
		m.refuse(ctx, c.req, &RefusedError{Code: protocol.JoinAdmitFailed, Reason: "the validator could not check the password"})
		return
	}
	switch err := c.secret.CheckProof(key, proof); {
	case errors.Is(err, crypto.ErrWrongPassword):
		m.failed.Add(1)
		m.refuse(ctx, c.req, &RefusedError{Code: protocol.JoinWrongPassword, Reason: "wrong session password"})
		return
	case err != nil:
		m.failed.Add(1)
		m.refuse(ctx, c.req, &RefusedError{Code: protocol.JoinBadProof, Reason: "the password proof was tampered with on the way"})
		return
	}
	if m.opts.admission != nil {
		if err := m.opts.admission(JoinCandidate{Ticket: c.req.Ticket, Instance: c.req.InstanceID, Key: c.check}); err != nil {
			refusal := &RefusedError{Code: protocol.JoinDeclined, Reason: err.Error()}
			errors.As(err, &refusal)
			m.refuse(ctx, c.req, refusal)
			return
		}
	}
	me := m.c.Identity()
	wrapped, err := crypto.WrapSessionKey(m.key, me, c.b, c.req.JoinKeySignature)
	if err != nil {
		m.opts.log.Error("wrap the session key", "ticket", c.req.Ticket, "err", err)
		m.refuse(ctx, c.req, &RefusedError{Code: protocol.JoinAdmitFailed, Reason: "the validator could not wrap the session key"})
		return
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err = m.c.Admit(callCtx, m.ID(), c.req.Ticket, protocol.AdmitRequest{IdentityKey: me.Public(), WrappedKey: wrapped})
	var pe *protocol.Error
	switch {
	case err == nil:
		if err := m.rememberKey(c.check, c.req.IdentityKey); err != nil {
			m.opts.log.Warn("remember a joiner's key", "client", c.check.Peer, "err", err)
		}
		m.opts.log.Info("admitted", "ticket", c.req.Ticket, "instance", c.req.InstanceID)
	case errors.As(err, &pe) && (pe.Code == protocol.ErrCodeSessionFull || pe.Code == protocol.ErrCodeInventoryStarted):
		// The server checked the limits again and left the join pending: refuse it with why.
		m.refuse(ctx, c.req, &RefusedError{Code: pe.Code, Reason: pe.Message})
	default:
		m.opts.log.Warn("admit", "ticket", c.req.Ticket, "err", err)
		m.refuse(ctx, c.req, &RefusedError{Code: protocol.JoinAdmitFailed, Reason: "the admission failed"})
	}
}

// refuse turns a joiner away; a join that is already gone is no error.
func (m *Member) refuse(ctx context.Context, r protocol.JoinRequested, why *RefusedError) {
	m.opts.log.Info("refused", "ticket", r.Ticket, "instance", r.InstanceID, "code", why.Code)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := m.c.RefuseJoin(ctx, m.ID(), r.Ticket, protocol.RefuseRequest{Code: why.Code, Reason: why.Reason})
	var pe *protocol.Error
	if err != nil && !(errors.As(err, &pe) && pe.Code == protocol.ErrCodeNotFound) {
		m.opts.log.Warn("refuse", "ticket", r.Ticket, "err", err)
	}
}

// passwordKey derives the password key once.
func (m *Member) passwordKey() (crypto.PasswordKey, error) {
	m.pwMu.Lock()
	defer m.pwMu.Unlock()
	if m.pw.key != nil {
		return *m.pw.key, nil
	}
	k, err := crypto.DerivePasswordKey(m.pw.password, m.pw.salt, m.pw.params)
	if err != nil {
		return k, err
	}
	m.pw.key = &k
	return k, nil
}

// FailedJoins counts the wrong password proofs this member saw as validator.
func (m *Member) FailedJoins() int { return int(m.failed.Load()) }
