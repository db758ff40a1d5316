package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Synchronization routes: the server tracks the run of a multi-member session with a
// tracker.Tracker over the store's synchronizations, and pushes its steps to the members. It
// sees group ids, ops, sizes, member and node ids: never a path or content.

const (
	maxResults = 1000 // results in one batch
	// errCodeSyncRunning refuses a start or a reset while a synchronization runs (409).
	errCodeSyncRunning = "synchronization_running"
)

// syncs is the tracker of the store's synchronizations; runs live as long as sessions.
func (s *Server) syncs() *tracker.Tracker {
	return tracker.New(s.store.Synchronizations(), tracker.Options{TTL: s.cfg.SessionTTL, Now: s.now})
}

// handleStartSync: POST /sessions/{id}/synchronization/start, by the oldest member once the
// inventory started. The members of the run are the session's, in join order.
func (s *Server) handleStartSync(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	// Who may start is checked before the body, which may be large, is read.
	sess, err := s.getSession(r.Context(), id, p)
	if err != nil {
		return err
	}
	if err := requireOldest(sess, p, "start the synchronization"); err != nil {
		return err
	}
	if !sess.InventoryStarted {
		return conflict(protocol.ErrCodeConflict, "the inventory has not started")
	}
	// Once it is this start's turn to be read, a running synchronization refuses it without
	// reading the plan (Start checks again, atomically).
	if err := reserveBody(r); err != nil {
		return err
	}
	if run, err := s.syncs().Get(r.Context(), id); err == nil && !run.IsEnded() {
		return syncError(id, tracker.ErrRunning)
	}
	req, err := decodeStartStream(r.Body)
	if err != nil {
		return err
	}
	members := make([]string, len(sess.Members))
	owns := map[protocol.Target]bool{}
	for i, m := range sess.Members {
		members[i] = m.InstanceID
		for _, n := range m.Nodes {
			owns[protocol.Target{Member: m.InstanceID, Node: n.ID}] = true
		}
	}
	for _, g := range req.Groups {
		for _, t := range g.Targets {
			if !owns[t] {
				return badRequest("group %s: member %s has no data node %s", g.ID, t.Member, t.Node)
			}
		}
	}
	run, err := s.syncs().Start(r.Context(), id, p.InstanceID, members, req.Groups)
	if err != nil {
		return syncError(id, err)
	}
	s.publish(r.Context(), s.toSession(protocol.EventSyncStarted, id, p.InstanceID, run))
	s.endForMembersGone(r.Context(), id, run)
	s.writeJSON(w, http.StatusCreated, run)
	return nil
}

// endForMembersGone ends a new run when one of its members quit while it was being created
// (the quit found no run to end then), and deletes it when the session closed meanwhile.
func (s *Server) endForMembersGone(ctx context.Context, id string, run *protocol.Synchronization) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	sess, err := s.store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.deleteSync(ctx, id) // every member quit: the session took the run with it
		return
	case err != nil:
		s.log.Warn("read a session after starting its synchronization", "session", id, "err", err)
		return
	}
	for i, m := range run.Progress.Members {
		if !slices.ContainsFunc(sess.Members, func(sm protocol.Member) bool { return sm.InstanceID == m }) {
			// Letters follow the join order, and so do the members of the run.
			s.syncMemberLeft(ctx, id, protocol.Member{InstanceID: m, Letter: string(rune('A' + i))}, "quit")
			return
		}
	}
}

// handleGetSync: GET /sessions/{id}/synchronization, for members.
func (s *Server) handleGetSync(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if _, err := s.getSession(r.Context(), id, p); err != nil {
		return err
	}
	run, err := s.syncs().Get(r.Context(), id)
	if err != nil {
		return syncError(id, err)
	}
	s.writeJSON(w, http.StatusOK, run)
	return nil
}

// handleSyncResults: POST /sessions/{id}/synchronization/results, the caller's results. A batch
// sent again counts once.
func (s *Server) handleSyncResults(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	req, err := decodeBody(w, r, decodeActionResults)
	if err != nil {
		return err
	}
	if _, err := s.getSession(r.Context(), id, p); err != nil {
		return err
	}
	c, err := s.syncs().Report(r.Context(), id, p.InstanceID, req.Results)
	if err != nil {
		return syncError(id, err)
	}
	s.publishChange(r.Context(), id, p.InstanceID, c)
	s.writeJSON(w, http.StatusOK, protocol.SyncProgress{Progress: c.Sync.Progress, Groups: c.Groups})
	return nil
}

// handleSyncFinished: POST /sessions/{id}/synchronization/finished, when the caller ran all its
// groups. Idempotent.
func (s *Server) handleSyncFinished(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.syncMemberCall(w, r, p, s.syncs().MemberFinished)
}

// handleSyncAbort: POST /sessions/{id}/synchronization/abort, by any member of the run. The run
// ends once every member completed, which may be now. Idempotent.
func (s *Server) handleSyncAbort(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.syncMemberCall(w, r, p, s.syncs().Abort)
}

// syncMemberCall runs a body-less tracker call for the calling member, pushes its change and
// answers with the run.
func (s *Server) syncMemberCall(w http.ResponseWriter, r *http.Request, p principal,
	call func(ctx context.Context, session, member string) (tracker.Change, error)) error {
	id, err := sessionID(r)
	if err != nil {
		return err
	}
	if _, err := decodeBody(w, r, decodeEmpty); err != nil {
		return err
	}
	if _, err := s.getSession(r.Context(), id, p); err != nil {
		return err
	}
	c, err := call(r.Context(), id, p.InstanceID)
	if err != nil {
		return syncError(id, err)
	}
	s.publishChange(r.Context(), id, p.InstanceID, c)
	s.writeJSON(w, http.StatusOK, c.Sync)
	return nil
}

// syncMemberLeft ends the session's run with an error when member m (who quit or went away)
// had not done its part, and pushes the end. It outlives the request that caused it: a run
// left running would never end.
func (s *Server) syncMemberLeft(ctx context.Context, id string, m protocol.Member, how string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	c, err := s.syncs().MemberLeft(ctx, id, m.InstanceID, fmt.Sprintf("member %s %s", m.Letter, how))
	switch {
	case errors.Is(err, tracker.ErrNotFound), errors.Is(err, tracker.ErrNotMember):
		return // no run, or one without this member
	case err != nil:
		s.log.Warn("end a synchronization after a member left", "session", id, "err", err)
		return
	}
	s.publishChange(ctx, id, m.InstanceID, c)
}

// publishChange pushes what a tracker change did, in the order the local orchestrator emits
// it: progress (with the groups that changed), the abort request, the end.
func (s *Server) publishChange(ctx context.Context, id, member string, c tracker.Change) {
	if c.Changed {
		s.publish(ctx, s.toSession(protocol.EventSyncProgress, id, member, protocol.SyncProgress{Progress: c.Sync.Progress, Groups: c.Groups}))
	}
	if c.AbortRequested {
		s.publish(ctx, s.toSession(protocol.EventSyncAbortRequest, id, member, c.Sync))
	}
	if c.Ended {
		s.publish(ctx, s.toSession(protocol.EventSyncEnded, id, member, c.Sync))
	}
}

// requireNoSync refuses while the session's synchronization runs.
func (s *Server) requireNoSync(ctx context.Context, id, action string) error {
	run, err := s.syncs().Get(ctx, id)
	switch {
	case errors.Is(err, tracker.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read the synchronization of session %s: %w", id, err)
	case !run.IsEnded():
		return conflict(errCodeSyncRunning, "a synchronization is running: cannot %s until it ends", action)
	}
	return nil
}

// deleteSync removes the session's run (reset, session closed). A run left behind is harmless:
// it expires, and a new start replaces an ended run.
func (s *Server) deleteSync(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.store.Synchronizations().Delete(ctx, id); err != nil {
		s.log.Warn("delete a synchronization", "session", id, "err", err)
	}
}

// syncError turns a tracker refusal into its answer; other errors are the server's.
func syncError(id string, err error) error {
	switch {
	case errors.Is(err, tracker.ErrNotFound):
		return notFound("no synchronization in session %s", id)
	case errors.Is(err, tracker.ErrRunning):
		return conflict(errCodeSyncRunning, "a synchronization of session %s is running", id)
	case errors.Is(err, tracker.ErrNotMember):
		return forbidden("not a member of the synchronization of session %s", id)
	case errors.Is(err, tracker.ErrNotTarget):
		return forbidden("%v", err)
	case errors.Is(err, tracker.ErrUnknownGroup):
		return badRequest("unknown action group: a result names a group the synchronization does not have")
	case errors.Is(err, tracker.ErrInvalid):
		return badRequest("%v", err)
	}
	return fmt.Errorf("synchronization of session %s: %w", id, err)
}

func decodeStartSynchronization(body []byte) (protocol.StartSynchronization, error) {
	return decodeStartStream(bytes.NewReader(body))
}

// decodeStartStream decodes a start as it arrives, one group at a time, so that the body is
// never held whole beside the plan it becomes: {"groups": [...]} and nothing else.
func decodeStartStream(r io.Reader) (protocol.StartSynchronization, error) {
	var req protocol.StartSynchronization
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	fail := func(err error) (protocol.StartSynchronization, error) {
		var (
			ae     *apiError
			tooBig *http.MaxBytesError
		)
		switch {
		case errors.As(err, &ae):
			return req, ae
		case errors.As(err, &tooBig):
			return req, bodyTooLarge(tooBig.Limit)
		case errors.Is(err, io.EOF):
			return req, badRequest("invalid JSON body: unexpected end")
		}
		return req, badRequest("invalid JSON body: %v", err)
	}
	want := func(d json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != d {
			return fmt.Errorf("want %q, found %v", d, tok)
		}
		return nil
	}
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return req, badRequest("empty request body: want a JSON object")
	}
	if err != nil {
		return fail(err)
	}
	if tok != json.Delim('{') {
		return fail(fmt.Errorf("want a JSON object, found %v", tok))
	}
	seen := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if key != "groups" || seen {
			return fail(fmt.Errorf("unknown or repeated field %q", key))
		}
		seen = true
		if tok, err := dec.Token(); err != nil || tok == nil {
			if err != nil {
				return fail(err)
			}
			continue // "groups": null
		} else if tok != json.Delim('[') {
			return req, badRequest("invalid JSON body: field \"groups\": want an array")
		}
		for dec.More() {
			var g protocol.GroupDefinition
			if err := dec.Decode(&g); err != nil {
				var typeErr *json.UnmarshalTypeError
				if errors.As(err, &typeErr) && typeErr.Field != "" {
					return req, badRequest("invalid JSON body: field %q: want %v", typeErr.Field, typeErr.Type)
				}
				return fail(err)
			}
			if err := checkGroupDefinition(g); err != nil {
				return req, err
			}
			req.Groups = append(req.Groups, g)
		}
		if err := want(']'); err != nil {
			return fail(err)
		}
	}
	if err := want('}'); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return fail(err)
		}
		return req, badRequest("invalid JSON body: unexpected data after the JSON value")
	}
	return req, nil
}

// checkGroupDefinition checks the shape of a group; the tracker checks it against the run.
func checkGroupDefinition(g protocol.GroupDefinition) error {
	if err := checkPattern("group id", g.ID, protocol.NodeIDPattern, "1 to 64 letters, digits, '-' or '_'"); err != nil {
		return err
	}
	switch g.Op {
	case "copy", "copy-content", "copy-dates", "create", "delete":
	default:
		return badRequest("group %s: op %q: want copy, copy-content, copy-dates, create or delete", g.ID, clip(g.Op))
	}
	if g.Source != "" {
		if err := checkPattern("source of group "+g.ID, g.Source, protocol.InstanceIDPattern, "a member's instance id"); err != nil {
			return err
		}
	}
	if len(g.Targets) > protocol.MaxNodes {
		return badRequest("group %s: %d targets, at most %d", g.ID, len(g.Targets), protocol.MaxNodes)
	}
	for _, t := range g.Targets {
		if err := checkPattern("target member of group "+g.ID, t.Member, protocol.InstanceIDPattern, "a member's instance id"); err != nil {
			return err
		}
		if err := checkPattern("target node of group "+g.ID, t.Node, protocol.NodeIDPattern, "a node id"); err != nil {
			return err
		}
	}
	return nil
}

func decodeActionResults(body []byte) (protocol.ActionResults, error) {
	var req protocol.ActionResults
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if len(req.Results) > maxResults {
		return req, tooLarge("%d results: at most %d in a batch", len(req.Results), maxResults)
	}
	for _, res := range req.Results {
		if err := checkPattern("group id", res.Group, protocol.NodeIDPattern, "1 to 64 letters, digits, '-' or '_'"); err != nil {
			return req, err
		}
		switch res.Kind {
		case protocol.ResultCopied, protocol.ResultDatesCopied, protocol.ResultCreated, protocol.ResultDeleted, protocol.ResultFailed:
		default:
			return req, badRequest("result of group %s: kind %q: want copied, dates_copied, created, deleted or failed", res.Group, clip(string(res.Kind)))
		}
		if res.Node != "" {
			if err := checkPattern("node of group "+res.Group, res.Node, protocol.NodeIDPattern, "a node id"); err != nil {
				return req, err
			}
		}
		if res.Bytes < 0 {
			return req, badRequest("result of group %s: negative bytes", res.Group)
		}
	}
	return req, nil
}
