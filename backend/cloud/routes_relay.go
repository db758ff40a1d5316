package cloud

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/relay"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Relay routes: members move sealed parts to each other through the relay storage (see
// protocol/relay.go). The session routes check who asks and hand out short-lived URLs signed
// for one method, part and member; the URLs move the bytes, streamed to and from disk. With a
// bucket for storage, the URLs are the bucket's presigned URLs: the bytes go between the members
// and the bucket, and the owner confirms each upload (…/uploaded). The server logs ids and
// sizes, never a part's bytes or a URL's token.

const relayURLPrefix = "relay/" // PartURL.URL, relative to the API root

// relayStore is the relay storage, or the 503 of a server started without one.
func (s *Server) relayStore() (*relay.Store, error) {
	if s.relay == nil {
		return nil, newError(http.StatusServiceUnavailable, protocol.ErrCodeRelayUnavailable,
			"this server has no relay storage, so members cannot exchange files through it: start the server with --storage DIR or s3://BUCKET")
	}
	return s.relay, nil
}

// relayRequest is the common start of the session's relay routes: storage, ids, membership.
type relayRequest struct {
	rs       *relay.Store
	sess     *store.Session
	transfer string
	part     int
}

// relayScope tells which ids a relay route has besides the session's.
type relayScope int

const (
	sessionScope  relayScope = iota // …/transfers
	transferScope                   // …/transfers/{transfer}
	partScope                       // …/transfers/{transfer}/parts/{n}
)

// relayMember checks the relay storage, the route's ids, the body with decode, and that the
// caller is a member of the session.
func relayMember[T any](s *Server, w http.ResponseWriter, r *http.Request, p principal, scope relayScope, decode func([]byte) (T, error)) (relayRequest, T, error) {
	var (
		rr  relayRequest
		req T
		err error
	)
	if rr.rs, err = s.relayStore(); err != nil {
		return rr, req, err
	}
	id, err := sessionID(r)
	if err != nil {
		return rr, req, err
	}
	if scope >= transferScope {
		if rr.transfer, err = transferID(r.PathValue("transfer")); err != nil {
			return rr, req, err
		}
	}
	if scope >= partScope {
		if rr.part, err = partNumber(r.PathValue("n")); err != nil {
			return rr, req, err
		}
	}
	if req, err = decodeBody(w, r, decode); err != nil {
		return rr, req, err
	}
	rr.sess, err = s.getSession(r.Context(), id, p)
	return rr, req, err
}

func transferID(id string) (string, error) {
	return id, checkPattern("transfer id", id, protocol.TransferIDPattern, "22 base64url characters")
}

var partPattern = regexp.MustCompile(`^[1-9][0-9]{0,7}$`)

func partNumber(v string) (int, error) {
	if !partPattern.MatchString(v) {
		return 0, badRequest("part %q: want a number from 1 to %d", clip(v), protocol.MaxPartNumber)
	}
	n, _ := strconv.Atoi(v)
	if n > protocol.MaxPartNumber {
		return 0, badRequest("part %d: want a number from 1 to %d", n, protocol.MaxPartNumber)
	}
	return n, nil
}

// handleCreateTransfer: POST /sessions/{id}/transfers, by a member, to 1 to 4 other members.
func (s *Server) handleCreateTransfer(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, req, err := relayMember(s, w, r, p, sessionScope, decodeTransferRequest)
	if err != nil {
		return err
	}
	for _, rcp := range req.Recipients {
		if rcp == p.InstanceID {
			return badRequest("recipients: the owner cannot be one of its transfer's recipients")
		}
		if !slices.ContainsFunc(rr.sess.Members, func(m protocol.Member) bool { return m.InstanceID == rcp }) {
			return badRequest("recipient %s is not a member of session %s", clip(rcp), rr.sess.ID)
		}
	}
	st, created, err := rr.rs.Create(r.Context(), rr.sess.ID, req, p.InstanceID)
	if err != nil {
		return relayError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.log.Debug("transfer created", "session", rr.sess.ID, "transfer", req.ID)
	}
	s.writeJSON(w, status, st)
	return nil
}

// handleGetTransfer: GET /sessions/{id}/transfers/{transfer}, by its owner or a recipient.
func (s *Server) handleGetTransfer(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, _, err := relayMember(s, w, r, p, transferScope, decodeEmpty)
	if err != nil {
		return err
	}
	st, err := rr.rs.State(r.Context(), rr.sess.ID, rr.transfer, p.InstanceID)
	if err != nil {
		return relayError(err)
	}
	s.writeJSON(w, http.StatusOK, st)
	return nil
}

// handleDeleteTransfer: DELETE /sessions/{id}/transfers/{transfer}, by its owner.
func (s *Server) handleDeleteTransfer(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, _, err := relayMember(s, w, r, p, transferScope, decodeEmpty)
	if err != nil {
		return err
	}
	if err := rr.rs.Delete(r.Context(), rr.sess.ID, rr.transfer, p.InstanceID); err != nil {
		return relayError(err)
	}
	s.log.Debug("transfer deleted", "session", rr.sess.ID, "transfer", rr.transfer)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleUploadURL: POST …/transfers/{transfer}/parts/{n}/upload, by the owner. The part's
// size is reserved against the session's quota until the URL expires.
func (s *Server) handleUploadURL(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, req, err := relayMember(s, w, r, p, partScope, decodeUploadRequest)
	if err != nil {
		return err
	}
	claims := s.urls.claims(http.MethodPut, rr, p, s.cfg.RelayURLTTL)
	claims.Size = req.Size
	if rr.rs.Direct() {
		u, err := rr.rs.UploadURL(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID, req.Size, claims.expires())
		if err != nil {
			return relayError(err)
		}
		s.writeJSON(w, http.StatusOK, protocol.PartURL{URL: u, Expires: claims.expires().UTC(), Confirm: true})
		return nil
	}
	if err := rr.rs.Reserve(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID, req.Size, claims.expires()); err != nil {
		return relayError(err)
	}
	s.writeJSON(w, http.StatusOK, s.urls.issue(claims))
	return nil
}

// handleDownloadURL: POST …/transfers/{transfer}/parts/{n}/download, by a recipient, for a
// stored part.
func (s *Server) handleDownloadURL(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, _, err := relayMember(s, w, r, p, partScope, decodeEmpty)
	if err != nil {
		return err
	}
	claims := s.urls.claims(http.MethodGet, rr, p, s.cfg.RelayURLTTL)
	if rr.rs.Direct() {
		u, err := rr.rs.DownloadURL(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID, claims.expires())
		if err != nil {
			return relayError(err)
		}
		s.writeJSON(w, http.StatusOK, protocol.PartURL{URL: u, Expires: claims.expires().UTC()})
		return nil
	}
	if err := rr.rs.CheckDownload(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID); err != nil {
		return relayError(err)
	}
	s.writeJSON(w, http.StatusOK, s.urls.issue(claims))
	return nil
}

// handlePartUploaded: POST …/transfers/{transfer}/parts/{n}/uploaded, by the owner once its
// upload to the bucket succeeded (PartURL.Confirm): the server checks the object's size and
// counts the part stored.
func (s *Server) handlePartUploaded(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, _, err := relayMember(s, w, r, p, partScope, decodeEmpty)
	if err != nil {
		return err
	}
	t, size, err := rr.rs.Commit(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID, memberIDs(rr.sess))
	if err != nil {
		return relayError(err)
	}
	s.log.Debug("part stored", "session", rr.sess.ID, "transfer", rr.transfer, "part", rr.part, "size", size)
	s.pushToRecipients(r.Context(), rr.sess, t, protocol.EventPartUploaded,
		protocol.PartUploaded{Transfer: t.ID, Kind: t.Kind, Owner: t.Owner, Part: rr.part, Size: size})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handlePartReceived: POST …/transfers/{transfer}/parts/{n}/received, by a recipient. The
// part's bytes go once every recipient still in the session has it.
func (s *Server) handlePartReceived(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, _, err := relayMember(s, w, r, p, partScope, decodeEmpty)
	if err != nil {
		return err
	}
	if err := rr.rs.Received(r.Context(), rr.sess.ID, rr.transfer, rr.part, p.InstanceID, memberIDs(rr.sess)); err != nil {
		return relayError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleCompleteTransfer: POST …/transfers/{transfer}/complete, by the owner once every part
// is uploaded; the recipients are told (again, when it is sent again).
func (s *Server) handleCompleteTransfer(w http.ResponseWriter, r *http.Request, p principal) error {
	rr, req, err := relayMember(s, w, r, p, transferScope, decodeCompleteRequest)
	if err != nil {
		return err
	}
	t, err := rr.rs.Complete(r.Context(), rr.sess.ID, rr.transfer, p.InstanceID, req.Parts)
	if err != nil {
		return relayError(err)
	}
	s.pushToRecipients(r.Context(), rr.sess, t, protocol.EventTransferCompleted,
		protocol.TransferCompleted{Transfer: t.ID, Kind: t.Kind, Owner: t.Owner, Parts: t.TotalParts})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRelayPut: PUT /relay/{token}, the sealed part, exactly as many bytes as the URL was
// issued for. Nothing is kept of a refused, short or long upload.
func (s *Server) handleRelayPut(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.relayStore()
	if err != nil {
		return err
	}
	c, err := s.urls.parse(r.PathValue("token"), http.MethodPut)
	if err != nil {
		return err
	}
	switch {
	case r.ContentLength < 0:
		return newError(http.StatusLengthRequired, protocol.ErrCodeLengthRequired, "an upload needs a Content-Length header")
	case r.ContentLength > protocol.MaxPartSize:
		return tooLarge("the part is %d bytes, at most %d", r.ContentLength, protocol.MaxPartSize)
	case r.ContentLength != c.Size:
		return badRequest("the part is %d bytes but its URL was issued for %d", r.ContentLength, c.Size)
	}
	sess, err := s.getSession(r.Context(), c.Session, c.principal())
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, protocol.MaxPartSize)
	t, err := rs.Put(r.Context(), c.Session, c.Transfer, c.Part, c.Member, c.Size, body, memberIDs(sess))
	if err != nil {
		return relayError(err)
	}
	s.log.Debug("part stored", "session", c.Session, "transfer", c.Transfer, "part", c.Part, "size", c.Size)
	s.pushToRecipients(r.Context(), sess, t, protocol.EventPartUploaded,
		protocol.PartUploaded{Transfer: t.ID, Kind: t.Kind, Owner: t.Owner, Part: c.Part, Size: c.Size})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRelayGet: GET /relay/{token}, the sealed part, streamed from its file.
func (s *Server) handleRelayGet(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.relayStore()
	if err != nil {
		return err
	}
	c, err := s.urls.parse(r.PathValue("token"), http.MethodGet)
	if err != nil {
		return err
	}
	if _, err := s.getSession(r.Context(), c.Session, c.principal()); err != nil {
		return err
	}
	f, size, err := rs.OpenPart(c.Session, c.Transfer, c.Part, c.Member)
	if err != nil {
		return relayError(err)
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// The innermost writer sends the file with sendfile; the status is already recorded.
	if n, err := io.Copy(innermost(w), f); err != nil {
		s.log.Debug("part download cut short", "session", c.Session, "transfer", c.Transfer, "part", c.Part, "sent", n, "size", size)
	}
	return nil
}

func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// pushToRecipients sends an event to the transfer's recipients that are members, and to no one
// else.
func (s *Server) pushToRecipients(ctx context.Context, sess *store.Session, t *relay.Transfer, typ protocol.EventType, data any) {
	var msgs []store.Message
	for _, m := range sess.Members {
		if slices.Contains(t.Recipients, m.InstanceID) {
			msgs = append(msgs, s.toClient(principal{ClientID: m.ClientID, InstanceID: m.InstanceID}, typ, sess.ID, t.Owner, data))
		}
	}
	s.publish(ctx, msgs...)
}

func memberIDs(sess *store.Session) []string {
	ids := make([]string, len(sess.Members))
	for i, m := range sess.Members {
		ids[i] = m.InstanceID
	}
	return ids
}

// relayError turns a refusal of the relay storage into its answer; other errors are the
// server's.
func relayError(err error) error {
	var (
		qe     *relay.QuotaError
		re     *relay.Error
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &qe):
		return newError(http.StatusInsufficientStorage, protocol.ErrCodeQuotaExceeded, "%s", qe.Error())
	case errors.As(err, &tooBig):
		return tooLarge("the part exceeds %d bytes", tooBig.Limit)
	case errors.As(err, &re):
		switch re.Kind {
		case relay.ErrNotFound:
			return notFound("%s", re.Msg)
		case relay.ErrForbidden:
			return forbidden("%s", re.Msg)
		case relay.ErrConflict:
			return conflict(protocol.ErrCodeConflict, "%s", re.Msg)
		case relay.ErrReceived:
			return conflict(protocol.ErrCodePartReceived, "%s", re.Msg)
		case relay.ErrLimit:
			return conflict(protocol.ErrCodeLimit, "%s", re.Msg)
		case relay.ErrInvalid:
			return badRequest("%s", re.Msg)
		case relay.ErrExpired:
			return newError(http.StatusForbidden, protocol.ErrCodeURLExpired, "%s", re.Msg)
		}
	}
	return fmt.Errorf("relay storage: %w", err)
}

// --- session hooks ---

// relayMemberLeft applies a quit to the relay storage: the member's transfers go, and so do
// parts that waited only for it; the last member's quit takes everything.
func (s *Server) relayMemberLeft(ctx context.Context, id, member string, remaining []protocol.Member) {
	if s.relay == nil {
		return
	}
	if len(remaining) == 0 {
		s.relayDeleteSession(ctx, id)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	ids := make([]string, len(remaining))
	for i, m := range remaining {
		ids[i] = m.InstanceID
	}
	if err := s.relay.MemberLeft(ctx, id, member, ids); err != nil {
		s.log.Warn("relay storage: apply a member's quit", "session", id, "err", err)
	}
}

// relayDeleteSession deletes every transfer of a session (reset, closed, expired).
func (s *Server) relayDeleteSession(ctx context.Context, id string) {
	if s.relay == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.relay.DeleteSession(ctx, id); err != nil {
		s.log.Warn("relay storage: delete a session's transfers", "session", id, "err", err)
	}
}

// relaySweepLoop repairs the relay storage once, then deletes the transfers of sessions the
// store no longer has, at start and every StorageSweep, until ctx ends.
func (s *Server) relaySweepLoop(ctx context.Context) {
	if err := s.relay.Repair(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("relay storage: repair", "err", err)
	}
	t := time.NewTicker(s.cfg.StorageSweep)
	defer t.Stop()
	for {
		s.sweepRelay(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) sweepRelay(ctx context.Context) {
	n, err := s.relay.Sweep(ctx, func(ctx context.Context, id string) (bool, error) {
		_, err := s.store.GetSession(ctx, id)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		}
		return false, err
	})
	if n > 0 {
		s.log.Info("relay storage: deleted the transfers of ended sessions", "sessions", n)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("relay storage: sweep", "err", err)
	}
}

// --- decoding ---

func decodeTransferRequest(body []byte) (protocol.TransferRequest, error) {
	var req protocol.TransferRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if _, err := transferID(req.ID); err != nil {
		return req, err
	}
	if !req.Kind.Valid() {
		return req, badRequest("kind %q: want %s, %s, %s or %s", clip(string(req.Kind)),
			protocol.TransferInventory, protocol.TransferPlan, protocol.TransferSignatures, protocol.TransferContent)
	}
	if len(req.Recipients) < 1 || len(req.Recipients) > protocol.MaxRecipients {
		return req, badRequest("%d recipients: want 1 to %d other members", len(req.Recipients), protocol.MaxRecipients)
	}
	for i, rcp := range req.Recipients {
		if err := checkPattern("recipient", rcp, protocol.InstanceIDPattern, "a member's instance id"); err != nil {
			return req, err
		}
		if slices.Contains(req.Recipients[:i], rcp) {
			return req, badRequest("recipient %s is listed twice", rcp)
		}
	}
	return req, nil
}

func decodeUploadRequest(body []byte) (protocol.UploadRequest, error) {
	var req protocol.UploadRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	switch {
	case req.Size > protocol.MaxPartSize:
		return req, tooLarge("a part of %d bytes: at most %d", req.Size, protocol.MaxPartSize)
	case req.Size < 1:
		return req, badRequest("size %d: want the part's size in bytes, 1 to %d", req.Size, protocol.MaxPartSize)
	}
	return req, nil
}

func decodeCompleteRequest(body []byte) (protocol.CompleteRequest, error) {
	var req protocol.CompleteRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if req.Parts < 1 || req.Parts > protocol.MaxPartNumber {
		return req, badRequest("parts %d: want the number of parts, 1 to %d", req.Parts, protocol.MaxPartNumber)
	}
	return req, nil
}

// --- relay URLs ---

// A relay URL's token is base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)),
// with a key derived from the server secret, so every server process sharing the secret
// accepts the URLs of the others.

const maxRelayToken = 1024

type relayURLs struct {
	key []byte
	now func() time.Time
}

func newRelayURLs(secret []byte, now func() time.Time) *relayURLs {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("ferry relay URL v1"))
	return &relayURLs{key: h.Sum(nil), now: now}
}

// relayClaims say what a URL allows: one method on one part, for one member, until Expires.
type relayClaims struct {
	Method   string `json:"m"`
	Session  string `json:"s"`
	Transfer string `json:"t"`
	Part     int    `json:"n"`
	Client   string `json:"c"`
	Member   string `json:"i"`
	Size     int64  `json:"z,omitempty"` // uploads: the exact length
	Expires  int64  `json:"e"`           // Unix seconds
}

func (c relayClaims) principal() principal {
	return principal{ClientID: c.Client, InstanceID: c.Member}
}
func (c relayClaims) expires() time.Time { return time.Unix(c.Expires, 0) }

func (u *relayURLs) claims(method string, rr relayRequest, p principal, ttl time.Duration) relayClaims {
	return relayClaims{
		Method: method, Session: rr.sess.ID, Transfer: rr.transfer, Part: rr.part,
		Client: p.ClientID, Member: p.InstanceID, Expires: u.now().Add(ttl).Unix(),
	}
}

func (u *relayURLs) mac(payload string) []byte {
	h := hmac.New(sha256.New, u.key)
	h.Write([]byte(payload))
	return h.Sum(nil)
}

func (u *relayURLs) issue(c relayClaims) protocol.PartURL {
	body, err := json.Marshal(c)
	if err != nil {
		panic("encode relay claims: " + err.Error()) // plain strings and numbers
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	token := payload + "." + base64.RawURLEncoding.EncodeToString(u.mac(payload))
	return protocol.PartURL{URL: relayURLPrefix + token, Expires: c.expires().UTC()}
}

// parse checks a token and that it allows method; a refusal is a 403.
func (u *relayURLs) parse(token, method string) (relayClaims, error) {
	var c relayClaims
	invalid := newError(http.StatusForbidden, protocol.ErrCodeURLInvalid, "invalid relay URL: ask for a new one")
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxRelayToken {
		return c, invalid
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(mac, u.mac(payload)) {
		return c, invalid
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil || decodeStrict(bytes.NewReader(body), &c) != nil {
		return c, invalid
	}
	if !protocol.SessionIDPattern.MatchString(c.Session) || !protocol.TransferIDPattern.MatchString(c.Transfer) ||
		!protocol.InstanceIDPattern.MatchString(c.Member) || c.Part < 1 || c.Part > protocol.MaxPartNumber {
		return c, invalid
	}
	if c.Method != method {
		return c, newError(http.StatusForbidden, protocol.ErrCodeURLInvalid, "this relay URL is for %s, not %s", c.Method, method)
	}
	if !u.now().Before(c.expires()) {
		return c, newError(http.StatusForbidden, protocol.ErrCodeURLExpired,
			"this relay URL expired at %s: ask for a new one", c.expires().UTC().Format(time.RFC3339))
	}
	return c, nil
}

// logPath is a request's path as logged: a relay URL's token is a capability, and is cut.
func logPath(path string) string {
	if rest, ok := strings.CutPrefix(path, protocol.APIPrefix+"/"+relayURLPrefix); ok && rest != "" {
		return protocol.APIPrefix + "/" + relayURLPrefix + "…"
	}
	return path
}
