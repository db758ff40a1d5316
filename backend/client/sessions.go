package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ferrysync/ferry/backend/protocol"
)

// The typed calls of the session API. A refusal is a *protocol.Error in the error's chain; a
// server that could not be reached gives ErrUnreachable.

// CreateSession creates a session with this instance as its first member.
func (c *Client) CreateSession(ctx context.Context, req protocol.CreateSessionRequest) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "create session", method: http.MethodPost, path: "/sessions", in: req, out: &s})
	return ret(&s, err)
}

// Session reads a session.
func (c *Client) Session(ctx context.Context, id string) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "get session " + id, method: http.MethodGet, path: sessionPath(id),
		out: &s, idempotent: true})
	return ret(&s, err)
}

// Quit leaves a session.
func (c *Client) Quit(ctx context.Context, id string) error {
	return c.do(ctx, call{op: "quit session " + id, method: http.MethodPost, path: sessionPath(id) + "/quit"})
}

// Reset brings a session back to before its inventory; nodes and sources stay.
func (c *Client) Reset(ctx context.Context, id string) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "reset session " + id, method: http.MethodPost, path: sessionPath(id) + "/reset", out: &s})
	return ret(&s, err)
}

// UpdateSettings replaces the session's encrypted settings; refused (conflict) once the
// inventory started.
func (c *Client) UpdateSettings(ctx context.Context, id string, settings protocol.Blob) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "update settings of " + id, method: http.MethodPut, path: sessionPath(id) + "/settings",
		in: protocol.SettingsUpdate{Settings: settings}, out: &s, idempotent: true})
	return ret(&s, err)
}

// SetStatus reports this member's status once, with its own retries. Applied is false when the
// server already holds a newer one. Use an Outbox to report statuses without waiting.
func (c *Client) SetStatus(ctx context.Context, id string, u protocol.StatusUpdate) (applied bool, err error) {
	return c.setStatus(ctx, id, u, true)
}

func (c *Client) setStatus(ctx context.Context, id string, u protocol.StatusUpdate, retry bool) (bool, error) {
	var r protocol.StatusResult
	err := c.do(ctx, call{op: "set status in " + id, method: http.MethodPut, path: c.memberPath(id) + "/status",
		in: u, out: &r, idempotent: retry})
	return r.Applied, err
}

// AddNode adds or replaces one of this member's data nodes.
func (c *Client) AddNode(ctx context.Context, id string, node protocol.NodeRequest) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "add node " + node.ID, method: http.MethodPost, path: c.memberPath(id) + "/nodes",
		in: node, out: &s})
	return ret(&s, err)
}

// RemoveNode removes one of this member's data nodes with its sources.
func (c *Client) RemoveNode(ctx context.Context, id, node string) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "remove node " + node, method: http.MethodDelete, path: c.nodePath(id, node),
		out: &s, idempotent: true})
	return ret(&s, err)
}

// AddSource adds or replaces a data source of one of this member's nodes.
func (c *Client) AddSource(ctx context.Context, id, node string, src protocol.SourceRequest) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "add source " + src.ID + " to node " + node, method: http.MethodPost,
		path: c.nodePath(id, node) + "/sources", in: src, out: &s})
	return ret(&s, err)
}

// RemoveSource removes a data source of one of this member's nodes.
func (c *Client) RemoveSource(ctx context.Context, id, node, src string) (*protocol.Session, error) {
	var s protocol.Session
	err := c.do(ctx, call{op: "remove source " + src + " of node " + node, method: http.MethodDelete,
		path: c.nodePath(id, node) + "/sources/" + url.PathEscape(src), out: &s, idempotent: true})
	return ret(&s, err)
}

// StartInventory starts the session's inventory; a refusal is a conflict whose code is one of
// the protocol.Refuse… reasons.
func (c *Client) StartInventory(ctx context.Context, id string) (*protocol.StartInventoryResult, error) {
	var r protocol.StartInventoryResult
	err := c.do(ctx, call{op: "start inventory of " + id, method: http.MethodPost,
		path: sessionPath(id) + "/inventory/start", out: &r})
	return ret(&r, err)
}

// Join asks to join a session; the oldest member admits or refuses the ticket, and this client
// learns which by a push (protocol.EventJoinAdmitted or EventJoinRefused).
func (c *Client) Join(ctx context.Context, id string, req protocol.JoinRequest) (*protocol.JoinTicket, error) {
	var t protocol.JoinTicket
	err := c.do(ctx, call{op: "join session " + id, method: http.MethodPost, path: sessionPath(id) + "/join",
		in: req, out: &t})
	return ret(&t, err)
}

// Admit lets a joiner in (the oldest member only); the payload reaches the joiner alone.
func (c *Client) Admit(ctx context.Context, id, ticket string, req protocol.AdmitRequest) error {
	return c.do(ctx, call{op: "admit join " + ticket, method: http.MethodPost,
		path: joinPath(id, ticket) + "/admit", in: req})
}

// Refuse turns a joiner away with a reason shown to it (the oldest member only).
func (c *Client) Refuse(ctx context.Context, id, ticket, reason string) error {
	return c.do(ctx, call{op: "refuse join " + ticket, method: http.MethodPost,
		path: joinPath(id, ticket) + "/refuse", in: protocol.RefuseRequest{Reason: reason}})
}

func sessionPath(id string) string { return "/sessions/" + url.PathEscape(id) }

func joinPath(id, ticket string) string { return sessionPath(id) + "/join/" + url.PathEscape(ticket) }

func (c *Client) memberPath(id string) string {
	return sessionPath(id) + "/members/" + url.PathEscape(c.instanceID)
}

func (c *Client) nodePath(id, node string) string {
	return c.memberPath(id) + "/nodes/" + url.PathEscape(node)
}

// ret drops the value on error.
func ret[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
