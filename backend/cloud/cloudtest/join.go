package cloudtest

import (
	"crypto/ed25519"
	"testing"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Joins need real signatures: the server checks them. These helpers make the messages of the
// join exchange (see protocol.JoinRequest) for raw clients.

// CheapPasswordParams keep Argon2id cheap in tests.
var CheapPasswordParams = crypto.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}

// JoinRequest is a join request for session, signed by key with a fresh join key.
func JoinRequest(t testing.TB, key ed25519.PrivateKey, session string) protocol.JoinRequest {
	t.Helper()
	id := &crypto.Identity{Private: key}
	jk, err := crypto.NewJoinKey()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.SignJoinKey(id, session, jk.Public())
	if err != nil {
		t.Fatal(err)
	}
	return protocol.JoinRequest{IdentityKey: id.Public(), JoinKey: jk.Public(), JoinKeySignature: sig}
}

// Binding is the join of req to session as validator sees it.
func Binding(validator ed25519.PrivateKey, session string, req protocol.JoinRequest) crypto.JoinBinding {
	return crypto.JoinBinding{
		SessionID: session, Validator: validator.Public().(ed25519.PublicKey),
		Joiner: req.IdentityKey, JoinKey: req.JoinKey,
	}
}

// Admission admits the joiner of req: a fresh session key wrapped for its join key and signed by
// validator.
func Admission(t testing.TB, validator ed25519.PrivateKey, session string, req protocol.JoinRequest) protocol.AdmitRequest {
	t.Helper()
	key, err := crypto.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	id := &crypto.Identity{Private: validator}
	wrapped, err := crypto.WrapSessionKey(key, id, Binding(validator, session, req), req.JoinKeySignature)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.AdmitRequest{IdentityKey: id.Public(), WrappedKey: wrapped}
}

// Challenge is validator's challenge to the joiner of req, with cheap parameters.
func Challenge(t testing.TB, validator ed25519.PrivateKey, session string, req protocol.JoinRequest) protocol.JoinChallengeRequest {
	t.Helper()
	salt, err := crypto.NewPasswordSalt()
	if err != nil {
		t.Fatal(err)
	}
	id := &crypto.Identity{Private: validator}
	c, _, err := crypto.NewJoinChallenge(id, Binding(validator, session, req), salt, CheapPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.JoinChallengeRequest{
		IdentityKey: id.Public(), Salt: c.Salt, Nonce: c.Nonce, ProofKey: c.ProofKey, Signature: c.Signature,
		Params: protocol.PasswordParams{Time: c.Params.Time, MemoryKiB: c.Params.MemoryKiB, Threads: c.Params.Threads},
	}
}

// JoinRequest is a join request of c for session (see JoinRequest).
func (c *Client) JoinRequest(session string) protocol.JoinRequest {
	c.t.Helper()
	return JoinRequest(c.t, c.Key, session)
}

// Admission is c's admission of the joiner of req (see Admission).
func (c *Client) Admission(session string, req protocol.JoinRequest) protocol.AdmitRequest {
	c.t.Helper()
	return Admission(c.t, c.Key, session, req)
}

// AskToJoin posts a join request of c for session and returns it with its ticket.
func (c *Client) AskToJoin(session string) (protocol.JoinRequest, string) {
	c.t.Helper()
	req := c.JoinRequest(session)
	var ticket protocol.JoinTicket
	c.Must("POST", "/sessions/"+session+"/join", req, &ticket)
	return req, ticket.Ticket
}
