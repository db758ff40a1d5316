package cloud

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Request decoding: each decoder reads one JSON value (unknown fields refused, nothing after it)
// and validates every field, so handlers only see well-formed requests. Decoders return
// *apiError (400 or 413) for bad input, never anything that would become a 500.

const nonceBytes = 32

// decodeStrict reads exactly one JSON value into v, refusing unknown fields.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// readBody reads a request body, bounded by its route's limits (Server.guardBody), or by
// protocol.MaxBodyBytes for a body not guarded.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var (
		body []byte
		err  error
	)
	if g, ok := r.Body.(*guardedBody); ok {
		body, err = g.readAll(r.ContentLength)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes))
	}
	if err != nil {
		var (
			tooBig *http.MaxBytesError
			ae     *apiError
		)
		switch {
		case errors.As(err, &ae):
			return nil, ae
		case errors.As(err, &tooBig):
			return nil, bodyTooLarge(tooBig.Limit)
		}
		return nil, badRequest("read the request body: %v", err)
	}
	return body, nil
}

// decodeBody reads the body of r into a request of type T with decode.
func decodeBody[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, error) {
	body, err := readBody(w, r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(body)
}

// unmarshal decodes body into v, turning every failure into a 400 with a useful message.
func unmarshal(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("empty request body: want a JSON object")
	}
	if err := decodeStrict(bytes.NewReader(body), v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badRequest("invalid JSON body: field %q: want %v", typeErr.Field, typeErr.Type)
		}
		return badRequest("invalid JSON body: %v", err)
	}
	return nil
}

// decodeEmpty accepts the body of a route that takes none: nothing, null or {}.
func decodeEmpty(body []byte) (struct{}, error) {
	switch string(bytes.TrimSpace(body)) {
	case "", "null", "{}":
		return struct{}{}, nil
	}
	return struct{}{}, badRequest("this route takes no body")
}

func checkBlob(field string, b protocol.Blob, required bool) error {
	if len(b) > protocol.MaxBlobBytes {
		return tooLarge("%s is %d bytes, at most %d", field, len(b), protocol.MaxBlobBytes)
	}
	if required && len(b) == 0 {
		return badRequest("%s is required", field)
	}
	return nil
}

func checkPattern(field, value string, p interface{ MatchString(string) bool }, shape string) error {
	if !p.MatchString(value) {
		return badRequest("%s %q: want %s", field, clip(value), shape)
	}
	return nil
}

// clip shortens a client value quoted back in an error message.
func clip(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	for i := n; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

func decodeChallengeRequest(body []byte) (protocol.ChallengeRequest, error) {
	var req protocol.ChallengeRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		return req, badRequest("public_key is %d bytes, want an Ed25519 key of %d", len(req.PublicKey), ed25519.PublicKeySize)
	}
	return req, nil
}

func decodeLoginRequest(body []byte) (protocol.LoginRequest, error) {
	var req protocol.LoginRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	switch {
	case len(req.PublicKey) != ed25519.PublicKeySize:
		return req, badRequest("public_key is %d bytes, want an Ed25519 key of %d", len(req.PublicKey), ed25519.PublicKeySize)
	case len(req.Nonce) != nonceBytes:
		return req, badRequest("nonce is %d bytes, want %d", len(req.Nonce), nonceBytes)
	case len(req.Signature) != ed25519.SignatureSize:
		return req, badRequest("signature is %d bytes, want %d", len(req.Signature), ed25519.SignatureSize)
	case len(req.MachineOS) > protocol.MaxMachineOS || strings.IndexFunc(req.MachineOS, notPrintable) >= 0:
		return req, badRequest("os: at most %d printable characters", protocol.MaxMachineOS)
	}
	return req, checkPattern("instance_id", req.InstanceID, protocol.InstanceIDPattern, "8 to 64 letters, digits, '-' or '_'")
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

func decodeRefreshRequest(body []byte) (protocol.RefreshRequest, error) {
	var req protocol.RefreshRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > maxTokenLen {
		return req, badRequest("refresh_token is required (at most %d characters)", maxTokenLen)
	}
	return req, nil
}

func decodeCreateSession(body []byte) (protocol.CreateSessionRequest, error) {
	var req protocol.CreateSessionRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if err := checkBlob("settings", req.Settings, true); err != nil {
		return req, err
	}
	return req, checkBlob("private_data", req.PrivateData, false)
}

func decodeStatusUpdate(body []byte) (protocol.StatusUpdate, error) {
	// The status is read as a string first so that an unknown name gets its own error code.
	var wire struct {
		Status string    `json:"status"`
		At     time.Time `json:"at"`
	}
	if err := unmarshal(body, &wire); err != nil {
		return protocol.StatusUpdate{}, err
	}
	status, err := protocol.ParseMemberStatus(wire.Status)
	if err != nil {
		return protocol.StatusUpdate{}, newError(http.StatusBadRequest, protocol.ErrCodeInvalidStatus,
			"status %q: want a member status name such as %q", clip(wire.Status), protocol.InventoryFinished.String())
	}
	if wire.At.IsZero() {
		return protocol.StatusUpdate{}, badRequest("at is required: when the status changed")
	}
	return protocol.StatusUpdate{Status: status, At: wire.At}, nil
}

func decodeSettingsUpdate(body []byte) (protocol.SettingsUpdate, error) {
	var req protocol.SettingsUpdate
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	return req, checkBlob("settings", req.Settings, true)
}

func decodeNodeRequest(body []byte) (protocol.NodeRequest, error) {
	var req protocol.NodeRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if err := checkPattern("id", req.ID, protocol.NodeIDPattern, "1 to 64 letters, digits, '-' or '_'"); err != nil {
		return req, err
	}
	return req, checkBlob("data", req.Data, true)
}

func decodeSourceRequest(body []byte) (protocol.SourceRequest, error) {
	var req protocol.SourceRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if err := checkPattern("id", req.ID, protocol.SourceIDPattern, "1 to 64 letters, digits, '-' or '_'"); err != nil {
		return req, err
	}
	return req, checkBlob("data", req.Data, true)
}

// firstError is the first of errs that is not nil.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSize checks that a key or signature field has exactly n bytes.
func checkSize(field string, b []byte, n int) error {
	if len(b) != n {
		return badRequest("%s is %d bytes, want %d", field, len(b), n)
	}
	return nil
}

func decodeJoinRequest(body []byte) (protocol.JoinRequest, error) {
	var req protocol.JoinRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	return req, firstError(
		checkSize("identity_key", req.IdentityKey, ed25519.PublicKeySize),
		checkSize("join_key", req.JoinKey, crypto.JoinKeySize),
		checkSize("join_key_signature", req.JoinKeySignature, ed25519.SignatureSize))
}

func decodeJoinChallenge(body []byte) (protocol.JoinChallengeRequest, error) {
	var req protocol.JoinChallengeRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if len(req.Salt) < crypto.PasswordSaltSize || len(req.Salt) > 4*crypto.PasswordSaltSize {
		return req, badRequest("salt is %d bytes, want %d to %d", len(req.Salt), crypto.PasswordSaltSize, 4*crypto.PasswordSaltSize)
	}
	return req, firstError(
		checkSize("identity_key", req.IdentityKey, ed25519.PublicKeySize),
		checkSize("nonce", req.Nonce, crypto.ChallengeSize),
		checkSize("proof_key", req.ProofKey, crypto.ProofKeySize),
		checkSize("signature", req.Signature, ed25519.SignatureSize))
}

func decodeJoinProof(body []byte) (protocol.JoinProofRequest, error) {
	var req protocol.JoinProofRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if len(req.Proof) == 0 || len(req.Proof) > protocol.MaxProofBytes {
		return req, badRequest("proof is %d bytes, want 1 to %d", len(req.Proof), protocol.MaxProofBytes)
	}
	return req, nil
}

func decodeAdmitRequest(body []byte) (protocol.AdmitRequest, error) {
	var req protocol.AdmitRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	return req, firstError(
		checkSize("identity_key", req.IdentityKey, ed25519.PublicKeySize),
		checkSize("wrapped_key", req.WrappedKey, crypto.WrappedKeySize))
}

func decodeRefuseRequest(body []byte) (protocol.RefuseRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return protocol.RefuseRequest{}, nil
	}
	var req protocol.RefuseRequest
	if err := unmarshal(body, &req); err != nil {
		return req, err
	}
	if len(req.Reason) > protocol.MaxReasonBytes || !utf8.ValidString(req.Reason) {
		return req, badRequest("reason: at most %d bytes of UTF-8", protocol.MaxReasonBytes)
	}
	if req.Code != "" && !protocol.RefusalCodePattern.MatchString(req.Code) {
		return req, badRequest("code %q: want a snake_case word such as %q", clip(req.Code), protocol.JoinWrongPassword)
	}
	return req, nil
}

// decodeHello reads the first (or a later) websocket message of a push connection.
func decodeHello(body []byte) (protocol.Hello, error) {
	var h protocol.Hello
	if err := unmarshal(body, &h); err != nil {
		return h, err
	}
	if h.AccessToken == "" {
		return h, badRequest("access_token is required")
	}
	if len(h.Sessions) > protocol.MaxHelloSessions {
		return h, badRequest("%d sessions: at most %d", len(h.Sessions), protocol.MaxHelloSessions)
	}
	seen := make(map[string]bool, len(h.Sessions))
	for _, id := range h.Sessions {
		if err := checkSessionID(id); err != nil {
			return h, err
		}
		if seen[id] {
			return h, badRequest("session %s listed twice", id)
		}
		seen[id] = true
	}
	return h, nil
}

func checkSessionID(id string) error {
	return checkPattern("session id", id, protocol.SessionIDPattern, "3 digits, 3 lowercase letters, 3 digits")
}
