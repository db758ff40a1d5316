package session

import (
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// checkKey checks a peer's identity key against the trust policy. It returns the check and,
// when the key is not trusted, the refusal. A new key that is accepted is remembered by
// rememberKey once the join succeeded, not before: a joiner that fails the password stays new.
func (m *Member) checkKey(peer ed25519.PublicKey, instance string, role Role) (KeyCheck, *RefusedError, error) {
	cid, err := crypto.ClientID(peer)
	if err != nil {
		return KeyCheck{}, nil, fmt.Errorf("%s key: %w", role, err)
	}
	fp, _ := crypto.KeyFingerprint(peer)
	own, _ := crypto.KeyFingerprint(m.c.Identity().Public())
	kc := KeyCheck{Peer: cid, Instance: instance, Fingerprint: fp, SafetyWords: crypto.SafetyWords(own, fp),
		Status: crypto.TrustNew, Role: role}
	if m.opts.trust != nil {
		if kc.Status, err = m.opts.trust.Check(cid, peer); err != nil {
			return kc, nil, err
		}
	}
	var refusal *RefusedError
	switch {
	case m.opts.peers != nil && kc.Status != crypto.TrustChanged:
		// A profile's run: its members' keys were trusted when it was saved, no other is taken.
		if kc.Trusted = isPeer(m.opts.peers, peer); !kc.Trusted {
			refusal = &RefusedError{Code: protocol.JoinUntrustedKey,
				Reason: fmt.Sprintf("the %s's identity key (client id %s) is not one of this profile's members", role, cid)}
		}
	case kc.Status == crypto.TrustKnown:
		kc.Trusted = true
	case kc.Status == crypto.TrustChanged:
		refusal = &RefusedError{Code: protocol.JoinKeyChanged,
			Reason: fmt.Sprintf("the %s's client id %s comes with another identity key than the one trusted before", role, cid)}
	default:
		kc.Trusted = m.opts.trustNew
		if m.opts.confirm != nil {
			kc.Trusted = m.opts.confirm(kc)
		}
		if !kc.Trusted {
			refusal = &RefusedError{Code: protocol.JoinUntrustedKey,
				Reason: fmt.Sprintf("the %s's identity key (client id %s) is new and was not accepted", role, cid)}
		}
	}
	m.mu.Lock()
	m.checks = append(m.checks, kc)
	if kc.Trusted {
		if m.keys == nil {
			m.keys = map[string]ed25519.PublicKey{}
		}
		m.keys[cid] = slices.Clone(peer)
	}
	m.mu.Unlock()
	return kc, refusal, nil
}

// rememberKey trusts a peer's key from now on, after a join with it succeeded.
func (m *Member) rememberKey(kc KeyCheck, peer ed25519.PublicKey) error {
	if m.opts.trust == nil || kc.Status != crypto.TrustNew {
		return nil
	}
	return m.opts.trust.Remember(kc.Peer, peer)
}

// KeyChecks are the checks of peers' identity keys this member made, in order: the validator's
// when it joined, the joiners' when it admitted them. A command prints their safety words, a
// window shows them.
func (m *Member) KeyChecks() []KeyCheck {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]KeyCheck(nil), m.checks...)
}
