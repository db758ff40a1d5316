package session

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The members of a shared profile meet again without a password typed: the one that runs it
// creates a session and leaves an invitation (crypto.Invitation) sealed with the profile's
// secret and signed with its identity; the others find it, open it, check its signer against
// the profile's members, and join with the password it holds. The server sees the invitation's
// key, the guests' client ids and sealed bytes: nothing it could open or join with.

// ErrNoInvitation: there is no invitation for this client under the profile's key, or none it
// can take (stale, or not sealed or signed by the profile's members).
var ErrNoInvitation = errors.New("no invitation")

// ErrInvitationTaken: another member left the profile's invitation first (it runs the profile
// too, or ran it and its invitation has not expired yet); join its session instead.
var ErrInvitationTaken = errors.New("another member's invitation for this profile is on the server")

// refusedInvitation is an invitation found but not taken: there is none this client can take.
type refusedInvitation struct{ err error }

func (e *refusedInvitation) Error() string        { return e.err.Error() }
func (e *refusedInvitation) Unwrap() error        { return e.err }
func (e *refusedInvitation) Is(target error) bool { return target == ErrNoInvitation }

// InvitationMaxAge is the oldest invitation a member takes: as long as the server keeps one.
const InvitationMaxAge = protocol.MaxInvitationTTL

// Peer is another member of a session, as a shared profile keeps it.
type Peer struct {
	Name     string // its computer name, as it declared it (its client id when it declared none)
	ClientID string
	Key      ed25519.PublicKey
}

// OnlyPeers makes Create and Join take the keys of peers alone, without asking and whatever
// the trust store says of them (but a key that changed for a client id is still refused): a
// shared profile's run, whose members were trusted when it was saved. Any other validator or
// joiner is refused.
func OnlyPeers(peers []Peer) Option {
	return func(o *options) { o.peers = append([]Peer{}, peers...) }
}

func isPeer(peers []Peer, key ed25519.PublicKey) bool {
	return slices.ContainsFunc(peers, func(p Peer) bool { return p.Key.Equal(key) })
}

func peerKeys(peers []Peer) []ed25519.PublicKey {
	keys := make([]ed25519.PublicKey, len(peers))
	for i, p := range peers {
		keys[i] = p.Key
	}
	return keys
}

// Peers are the other members of the session, as of this member's last view of it (Members
// refreshes it), one per client id, in the order they joined,
// with the keys this member checked when it joined or admitted them. A member it did not check
// itself (admitted by another) is known by the key it declared with its nodes, sealed with the
// session key, when that key is the one of its client id; a member known by neither is left out.
func (m *Member) Peers() []Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	self := m.c.ClientID()
	var out []Peer
	for _, mb := range m.session.Members {
		if mb.ClientID == self || slices.ContainsFunc(out, func(p Peer) bool { return p.ClientID == mb.ClientID }) {
			continue
		}
		p := Peer{Name: mb.ClientID, ClientID: mb.ClientID, Key: m.keys[mb.ClientID]}
		for _, n := range mb.Nodes {
			var nd nodeData
			plain, err := m.key.Open(n.Data, "node:"+n.ID)
			if err != nil || json.Unmarshal(plain, &nd) != nil {
				continue
			}
			if nd.Machine != "" {
				p.Name = nd.Machine
			}
			if cid, err := crypto.ClientID(nd.Key); p.Key == nil && err == nil && cid == mb.ClientID {
				p.Key = slices.Clone(ed25519.PublicKey(nd.Key))
			}
		}
		if p.Key != nil {
			out = append(out, p)
		}
	}
	return out
}

// Terms are what the planning member runs with beyond the nodes: a member saving the session
// as a shared profile keeps them, so that it can run it next time as well.
type Terms struct {
	Mode         string `json:"mode,omitempty"`  // a preset
	From         string `json:"from,omitempty"`  // the node code the preset goes from
	Rules        string `json:"rules,omitempty"` // the text of a rules file
	MaxDelete    string `json:"max_delete,omitempty"`
	Versions     string `json:"versions,omitempty"`
	VersionsKeep int    `json:"versions_keep,omitempty"`
}

// WithTerms shares t with the other members, sealed with this member's first node, and with
// the plans it proposes.
func WithTerms(t Terms) Option { return func(o *options) { o.terms = &t } }

// ShareTerms makes t the terms that go with the plans this member proposes from now on (the
// terms chosen after the inventory started, when the nodes can no longer change): every other
// member keeps them with the plan (PlannerTerms).
func (m *Member) ShareTerms(t Terms) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.terms = &t
}

// sharedTerms are the terms that go with this member's plans; nil for none.
func (m *Member) sharedTerms() *Terms {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.terms
}

// receivedTerms keeps the terms that came with the plan received.
func (m *Member) receivedTerms(t *Terms) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.planned = t
}

// PlannerTerms are the terms the oldest member shared: those that came with the last plan
// received, else those of its first node (WithTerms) as of this member's last view of the
// session (Members refreshes it); false when it shared none.
func (m *Member) PlannerTerms() (Terms, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.planned != nil {
		return *m.planned, true
	}
	if len(m.session.Members) == 0 {
		return Terms{}, false
	}
	for _, n := range m.session.Members[0].Nodes {
		var nd nodeData
		plain, err := m.key.Open(n.Data, "node:"+n.ID)
		if err == nil && json.Unmarshal(plain, &nd) == nil && nd.Terms != nil {
			return *nd.Terms, true
		}
	}
	return Terms{}, false
}

// ProfileSecret is the secret of a profile saved from this session: every member derives the
// same one, and the server cannot.
func (m *Member) ProfileSecret() crypto.ProfileSecret {
	return crypto.ProfileSecretOf(m.key, m.ID())
}

// Invite leaves (or replaces) the profile's invitation for peers: this session's id, password
// and server URLs, sealed with secret and signed with this member's identity, kept ttl by the
// server.
func (m *Member) Invite(ctx context.Context, secret crypto.ProfileSecret, peers []Peer, ttl time.Duration) error {
	if len(peers) == 0 {
		return errors.New("invite: the profile has no other member")
	}
	inv := crypto.Invitation{Session: m.ID(), Password: m.Password(), Servers: m.c.BaseURLs(), Issued: time.Now().UTC()}
	sealed, err := secret.SealInvitation(inv, m.c.Identity())
	if err != nil {
		return err
	}
	guests := make([]string, len(peers))
	for i, p := range peers {
		guests[i] = p.ClientID
	}
	_, err = m.c.PutInvitation(ctx, secret.InvitationKey(), protocol.InvitationPut{Guests: guests, Sealed: sealed, TTLSeconds: int(ttl / time.Second)})
	if client.Code(err) == protocol.ErrCodeConflict {
		return fmt.Errorf("invite the profile's members: %w (it may be running the profile now; an invitation expires within %s)", ErrInvitationTaken, protocol.MaxInvitationTTL)
	}
	if err != nil {
		return fmt.Errorf("invite the profile's members: %w", err)
	}
	return nil
}

// Uninvite removes the profile's invitation this member left; one gone already is fine.
func (m *Member) Uninvite(ctx context.Context, secret crypto.ProfileSecret) error {
	err := m.c.DeleteInvitation(ctx, secret.InvitationKey())
	if err != nil && client.Code(err) != protocol.ErrCodeNotFound {
		return fmt.Errorf("remove the profile's invitation: %w", err)
	}
	return nil
}

// FindInvitation reads the profile's invitation once. ErrNoInvitation when there is none for
// this client, or when it is stale or not sealed and signed by one of peers: then the error is
// also crypto.ErrInvitation and says why.
func FindInvitation(ctx context.Context, c *client.Client, secret crypto.ProfileSecret, peers []Peer) (crypto.Invitation, error) {
	pi, err := c.Invitation(ctx, secret.InvitationKey())
	if client.Code(err) == protocol.ErrCodeNotFound {
		return crypto.Invitation{}, ErrNoInvitation
	}
	if err != nil {
		return crypto.Invitation{}, fmt.Errorf("look for the profile's invitation: %w", err)
	}
	return openInvitation(secret, pi, peers)
}

func openInvitation(secret crypto.ProfileSecret, pi *protocol.Invitation, peers []Peer) (crypto.Invitation, error) {
	inv, err := secret.OpenInvitation(pi.Sealed, peerKeys(peers), time.Now(), InvitationMaxAge)
	if err != nil {
		return crypto.Invitation{}, &refusedInvitation{err}
	}
	if cid, _ := crypto.ClientID(inv.HostKey); cid != pi.Host {
		return crypto.Invitation{}, &refusedInvitation{fmt.Errorf("%w: left by %s but signed by %s", crypto.ErrInvitation, pi.Host, cid)}
	}
	return inv, nil
}

// AwaitInvitation reads the profile's invitation every poll until it finds one it can take
// (FindInvitation) or ctx ends: then ErrNoInvitation, or the refusal of the last one found.
func AwaitInvitation(ctx context.Context, c *client.Client, secret crypto.ProfileSecret, peers []Peer, poll time.Duration) (crypto.Invitation, error) {
	var inv crypto.Invitation
	var refused error
	_, err := c.AwaitInvitation(ctx, secret.InvitationKey(), poll, func(pi *protocol.Invitation) bool {
		var err error
		inv, err = openInvitation(secret, pi, peers)
		refused = err
		return err == nil
	})
	switch {
	case err == nil:
		return inv, nil
	case refused != nil && ctx.Err() != nil:
		return crypto.Invitation{}, refused
	case ctx.Err() != nil:
		return crypto.Invitation{}, fmt.Errorf("%w: %w", ErrNoInvitation, err)
	}
	return crypto.Invitation{}, fmt.Errorf("wait for the profile's invitation: %w", err)
}
