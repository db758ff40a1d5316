package cloud

import (
	"net/http"

	"github.com/ferrysync/ferry/backend/protocol"
)

// handlerFunc is a route that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authedFunc is a route for an authenticated caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	const (
		api     = protocol.APIPrefix
		session = api + "/sessions/{id}"
		member  = session + "/members/{instance}"
	)
	public := func(pattern string, h handlerFunc) { mux.Handle(pattern, s.public(h)) }
	authed := func(pattern string, h authedFunc) { mux.Handle(pattern, s.authed(h)) }

	public("POST "+api+"/auth/challenge", s.handleChallenge)
	public("POST "+api+"/auth/login", s.handleLogin)
	public("POST "+api+"/auth/refresh", s.handleRefresh)

	authed("POST "+api+"/sessions", s.handleCreateSession)
	authed("GET "+session, s.handleGetSession)
	authed("POST "+session+"/quit", s.handleQuit)
	authed("POST "+session+"/reset", s.handleReset)
	authed("PUT "+session+"/settings", s.handleSettings)
	authed("PUT "+member+"/status", s.handleStatus)
	authed("POST "+member+"/nodes", s.handleAddNode)
	authed("DELETE "+member+"/nodes/{node}", s.handleRemoveNode)
	authed("POST "+member+"/nodes/{node}/sources", s.handleAddSource)
	authed("DELETE "+member+"/nodes/{node}/sources/{source}", s.handleRemoveSource)
	authed("POST "+session+"/inventory/start", s.handleStartInventory)
	authed("POST "+session+"/join", s.handleJoin)
	authed("POST "+session+"/join/{ticket}/challenge", s.handleJoinChallenge)
	authed("POST "+session+"/join/{ticket}/proof", s.handleJoinProof)
	authed("POST "+session+"/join/{ticket}/admit", s.handleAdmit)
	authed("POST "+session+"/join/{ticket}/refuse", s.handleRefuse)
	authed("POST "+session+"/synchronization/start", s.handleStartSync)
	authed("GET "+session+"/synchronization", s.handleGetSync)
	authed("POST "+session+"/synchronization/results", s.handleSyncResults)
	authed("POST "+session+"/synchronization/finished", s.handleSyncFinished)
	authed("POST "+session+"/synchronization/abort", s.handleSyncAbort)
	authed("POST "+session+"/transfers", s.handleCreateTransfer)
	authed("GET "+session+"/transfers/{transfer}", s.handleGetTransfer)
	authed("DELETE "+session+"/transfers/{transfer}", s.handleDeleteTransfer)
	authed("POST "+session+"/transfers/{transfer}/complete", s.handleCompleteTransfer)
	authed("POST "+session+"/transfers/{transfer}/parts/{n}/upload", s.handleUploadURL)
	authed("POST "+session+"/transfers/{transfer}/parts/{n}/download", s.handleDownloadURL)
	authed("POST "+session+"/transfers/{transfer}/parts/{n}/received", s.handlePartReceived)
	public("PUT "+api+"/relay/{token}", s.handleRelayPut)
	public("GET "+api+"/relay/{token}", s.handleRelayGet)

	mux.HandleFunc("GET "+api+"/push", s.handlePush)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := mux.Handler(r); pattern == "" {
			// No route: answer the mux's 404 or 405 as a protocol.Error.
			rec := &discardRecorder{header: http.Header{}}
			h.ServeHTTP(rec, r)
			switch rec.code {
			case http.StatusNotFound:
				s.writeError(w, notFound("no route %s %s", r.Method, clip(r.URL.Path)))
				return
			case http.StatusMethodNotAllowed:
				w.Header().Set("Allow", rec.Header().Get("Allow"))
				s.writeError(w, newError(http.StatusMethodNotAllowed, protocol.ErrCodeBadRequest, "method %s not allowed here", r.Method))
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, err)
		}
	})
}

func (s *Server) authed(h authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.writeError(w, err)
		}
	})
}

// discardRecorder keeps the status and headers of an answer and drops its body.
type discardRecorder struct {
	header http.Header
	code   int
}

func (d *discardRecorder) Header() http.Header { return d.header }
func (d *discardRecorder) Write(b []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	return len(b), nil
}
func (d *discardRecorder) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
