package client

import (
	"context"
	"net/http"

	"github.com/ferrysync/ferry/backend/protocol"
)

// The synchronization calls of a server-orchestrated session. Results, completion and abort
// change the run once however often they are sent, so they are retried; a start is not.

// StartSynchronization starts the session's run with every group of the plan (the oldest
// member only, once the inventory started). A run that has not ended is a conflict.
func (c *Client) StartSynchronization(ctx context.Context, session string, groups []protocol.GroupDefinition) (*protocol.Synchronization, error) {
	if groups == nil {
		groups = []protocol.GroupDefinition{}
	}
	var s protocol.Synchronization
	err := c.do(ctx, call{op: "start the synchronization of " + session, method: http.MethodPost,
		path: syncPath(session) + "/start", in: protocol.StartSynchronization{Groups: groups}, out: &s})
	return ret(&s, err)
}

// Synchronization reads the session's run.
func (c *Client) Synchronization(ctx context.Context, session string) (*protocol.Synchronization, error) {
	var s protocol.Synchronization
	err := c.do(ctx, call{op: "get the synchronization of " + session, method: http.MethodGet,
		path: syncPath(session), out: &s, idempotent: true})
	return ret(&s, err)
}

// ReportResults reports results of this member's actions and returns the run's progress with
// the groups they changed.
func (c *Client) ReportResults(ctx context.Context, session string, results []protocol.ActionResult) (*protocol.SyncProgress, error) {
	if results == nil {
		results = []protocol.ActionResult{}
	}
	var p protocol.SyncProgress
	err := c.do(ctx, call{op: "report results to " + session, method: http.MethodPost,
		path: syncPath(session) + "/results", in: protocol.ActionResults{Results: results}, out: &p, idempotent: true})
	return ret(&p, err)
}

// SynchronizationFinished tells that this member ran all its groups.
func (c *Client) SynchronizationFinished(ctx context.Context, session string) (*protocol.Synchronization, error) {
	var s protocol.Synchronization
	err := c.do(ctx, call{op: "finish the synchronization of " + session, method: http.MethodPost,
		path: syncPath(session) + "/finished", out: &s, idempotent: true})
	return ret(&s, err)
}

// AbortSynchronization asks to abort the session's run; it ends once every member completed.
func (c *Client) AbortSynchronization(ctx context.Context, session string) (*protocol.Synchronization, error) {
	var s protocol.Synchronization
	err := c.do(ctx, call{op: "abort the synchronization of " + session, method: http.MethodPost,
		path: syncPath(session) + "/abort", out: &s, idempotent: true})
	return ret(&s, err)
}

func syncPath(session string) string { return sessionPath(session) + "/synchronization" }
