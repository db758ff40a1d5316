package cloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// apiError is an answer for the client: an HTTP status and a protocol.Error body. Update functions
// return it to refuse a change; the store then writes nothing.
type apiError struct {
	status     int
	body       protocol.Error
	retryAfter time.Duration // sent as Retry-After when set
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.body.Code, e.body.Message)
}

func newError(status int, code, format string, a ...any) *apiError {
	return &apiError{status: status, body: protocol.Error{Code: code, Message: fmt.Sprintf(format, a...)}}
}

// bodyTooLarge refuses a body over its route's limit.
func bodyTooLarge(limit int64) *apiError {
	return tooLarge("the request body exceeds %d bytes, the most this server accepts for this request", limit)
}

func badRequest(format string, a ...any) *apiError {
	return newError(http.StatusBadRequest, protocol.ErrCodeBadRequest, format, a...)
}

func tooLarge(format string, a ...any) *apiError {
	return newError(http.StatusRequestEntityTooLarge, protocol.ErrCodeTooLarge, format, a...)
}

func unauthorized(format string, a ...any) *apiError {
	return newError(http.StatusUnauthorized, protocol.ErrCodeUnauthorized, format, a...)
}

func forbidden(format string, a ...any) *apiError {
	return newError(http.StatusForbidden, protocol.ErrCodeForbidden, format, a...)
}

func notFound(format string, a ...any) *apiError {
	return newError(http.StatusNotFound, protocol.ErrCodeNotFound, format, a...)
}

// noSession is the answer for a session that does not exist, and for one the caller is not a
// member of: a non-member learns nothing of the sessions of others.
func noSession(id string) *apiError {
	return notFound("no session %s", id)
}

func conflict(code, format string, a ...any) *apiError {
	return newError(http.StatusConflict, code, format, a...)
}

// writeJSON answers with status and v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, fmt.Errorf("encode answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError answers with the client error err stands for, or with 500 when it is a failure of
// the server (logged, never detailed to the client).
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &tooBig):
		ae = bodyTooLarge(tooBig.Limit)
	case errors.Is(err, store.ErrNotFound):
		ae = notFound("no such session")
	case isStoreDown(err):
		s.log.Error("store unreachable", "err", err)
		ae = storeUnavailable()
	default:
		s.log.Error("request failed", "err", err)
		ae = newError(http.StatusInternalServerError, protocol.ErrCodeInternal, "internal error")
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(ae.retryAfter.Seconds())), 10))
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
	}
	s.writeJSON(w, ae.status, ae.body)
}
