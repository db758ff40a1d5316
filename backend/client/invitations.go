package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/backoff"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The invitations of multi-member profiles (protocol.InvitationPut): the host leaves one, the
// guests read it. The key and the sealed bytes are the members' business; see crypto.Invitation.

func invitationPath(key string) string { return "/invitations/" + key }

// PutInvitation leaves or replaces this client's invitation under key.
func (c *Client) PutInvitation(ctx context.Context, key string, req protocol.InvitationPut) (*protocol.Invitation, error) {
	var inv protocol.Invitation
	err := c.do(ctx, call{op: "leave an invitation", method: http.MethodPut, path: invitationPath(key), in: req, out: &inv, idempotent: true})
	return ret(&inv, err)
}

// Invitation reads the invitation under key; its error's Code is protocol.ErrCodeNotFound when
// there is none for this client.
func (c *Client) Invitation(ctx context.Context, key string) (*protocol.Invitation, error) {
	var inv protocol.Invitation
	err := c.do(ctx, call{op: "read an invitation", method: http.MethodGet, path: invitationPath(key), out: &inv, idempotent: true})
	return ret(&inv, err)
}

// DeleteInvitation removes this client's invitation under key.
func (c *Client) DeleteInvitation(ctx context.Context, key string) error {
	return c.do(ctx, call{op: "remove an invitation", method: http.MethodDelete, path: invitationPath(key), idempotent: true})
}

// AwaitInvitation reads the invitation under key until there is one for this client, every
// poll at most, until ctx ends. accept tells whether an invitation is the one awaited (one
// already used, or stale, is not): the wait goes on past those it refuses.
func (c *Client) AwaitInvitation(ctx context.Context, key string, poll time.Duration, accept func(*protocol.Invitation) bool) (*protocol.Invitation, error) {
	p := backoff.Policy{Base: poll / 4, Max: poll}
	for attempt := 1; ; attempt++ {
		inv, err := c.Invitation(ctx, key)
		switch {
		case err == nil && (accept == nil || accept(inv)):
			return inv, nil
		case err != nil && Code(err) != protocol.ErrCodeNotFound && !errors.Is(err, ErrUnreachable):
			return nil, err
		}
		t := time.NewTimer(p.Equal(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// BaseURLs are the client's server URLs as New took them, without the API prefix: what an
// invitation tells the guests.
func (c *Client) BaseURLs() []string {
	out := make([]string, len(c.servers))
	for i, u := range c.servers {
		v := *u
		v.Path = strings.TrimSuffix(v.Path, protocol.APIPrefix)
		out[i] = v.String()
	}
	return out
}
