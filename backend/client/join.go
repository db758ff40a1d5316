package client

import (
	"context"
	"net/http"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Identity is the installation identity this client logs in with; joins are signed with it.
func (c *Client) Identity() *crypto.Identity { return c.id }

// JoinChallenge sends the oldest member's challenge to the joiner of ticket.
func (c *Client) JoinChallenge(ctx context.Context, id, ticket string, req protocol.JoinChallengeRequest) error {
	return c.do(ctx, call{op: "challenge join " + ticket, method: http.MethodPost,
		path: joinPath(id, ticket) + "/challenge", in: req})
}

// JoinProof sends the joiner's answer to the oldest member's challenge.
func (c *Client) JoinProof(ctx context.Context, id, ticket string, req protocol.JoinProofRequest) error {
	return c.do(ctx, call{op: "answer join challenge " + ticket, method: http.MethodPost,
		path: joinPath(id, ticket) + "/proof", in: req})
}

// RefuseJoin turns a joiner away with a code (protocol.Join…) and a reason (the oldest member
// only).
func (c *Client) RefuseJoin(ctx context.Context, id, ticket string, req protocol.RefuseRequest) error {
	return c.do(ctx, call{op: "refuse join " + ticket, method: http.MethodPost,
		path: joinPath(id, ticket) + "/refuse", in: req})
}
