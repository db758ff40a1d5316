package cloud

import (
	"errors"
	"net/http"

	"github.com/ferrysync/ferry/backend/protocol"
)

// handlerFunc is a route that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authedFunc is a route for an authenticated caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// route is one route of the API: its pattern, how its caller is known and how its body is
// bounded.
type route struct {
	pattern string
	body    bodyClass
	public  handlerFunc // no token: limited by address
	authed  authedFunc  // a bearer token: limited by client
	relay   handlerFunc // a relay URL: limited by the requests that issued it
}

// routeList is every route but the push websocket.
func (s *Server) routeList() []route {
	const (
		api     = protocol.APIPrefix
		session = api + "/sessions/{id}"
		member  = session + "/members/{instance}"
		part    = session + "/transfers/{transfer}/parts/{n}"
	)
	pub := func(pattern string, h handlerFunc) route { return route{pattern: pattern, public: h} }
	auth := func(pattern string, body bodyClass, h authedFunc) route {
		return route{pattern: pattern, body: body, authed: h}
	}
	return []route{
		pub("POST "+api+"/auth/challenge", s.handleChallenge),
		pub("POST "+api+"/auth/login", s.handleLogin),
		pub("POST "+api+"/auth/refresh", s.handleRefresh),

		auth("POST "+api+"/sessions", bodyJSON, s.handleCreateSession),
		auth("GET "+session, bodySmall, s.handleGetSession),
		auth("POST "+session+"/quit", bodySmall, s.handleQuit),
		auth("POST "+session+"/reset", bodySmall, s.handleReset),
		auth("PUT "+session+"/settings", bodyJSON, s.handleSettings),
		auth("PUT "+member+"/status", bodySmall, s.handleStatus),
		auth("POST "+member+"/nodes", bodyJSON, s.handleAddNode),
		auth("DELETE "+member+"/nodes/{node}", bodySmall, s.handleRemoveNode),
		auth("POST "+member+"/nodes/{node}/sources", bodyJSON, s.handleAddSource),
		auth("DELETE "+member+"/nodes/{node}/sources/{source}", bodySmall, s.handleRemoveSource),
		auth("POST "+session+"/inventory/start", bodySmall, s.handleStartInventory),
		auth("POST "+session+"/join", bodySmall, s.handleJoin),
		auth("POST "+session+"/join/{ticket}/challenge", bodySmall, s.handleJoinChallenge),
		auth("POST "+session+"/join/{ticket}/proof", bodySmall, s.handleJoinProof),
		auth("POST "+session+"/join/{ticket}/admit", bodySmall, s.handleAdmit),
		auth("POST "+session+"/join/{ticket}/refuse", bodySmall, s.handleRefuse),
		auth("POST "+session+"/synchronization/start", bodyStart, s.handleStartSync),
		auth("GET "+session+"/synchronization", bodySmall, s.handleGetSync),
		auth("POST "+session+"/synchronization/results", bodyJSON, s.handleSyncResults),
		auth("POST "+session+"/synchronization/finished", bodySmall, s.handleSyncFinished),
		auth("POST "+session+"/synchronization/abort", bodySmall, s.handleSyncAbort),
		auth("POST "+session+"/transfers", bodySmall, s.handleCreateTransfer),
		auth("GET "+session+"/transfers/{transfer}", bodySmall, s.handleGetTransfer),
		auth("DELETE "+session+"/transfers/{transfer}", bodySmall, s.handleDeleteTransfer),
		auth("POST "+session+"/transfers/{transfer}/complete", bodySmall, s.handleCompleteTransfer),
		auth("POST "+part+"/upload", bodySmall, s.handleUploadURL),
		auth("POST "+part+"/download", bodySmall, s.handleDownloadURL),
		auth("POST "+part+"/received", bodySmall, s.handlePartReceived),
		auth("POST "+part+"/uploaded", bodySmall, s.handlePartUploaded),
		auth("PUT "+api+"/invitations/{key}", bodyJSON, s.handlePutInvitation),
		auth("GET "+api+"/invitations/{key}", bodySmall, s.handleGetInvitation),
		auth("DELETE "+api+"/invitations/{key}", bodySmall, s.handleDeleteInvitation),
		{pattern: "PUT " + api + "/relay/{token}", body: bodyPart, relay: s.handleRelayPut},
		{pattern: "GET " + api + "/relay/{token}", body: bodySmall, relay: s.handleRelayGet},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeList() {
		mux.Handle(rt.pattern, s.serveRoute(rt))
	}
	mux.HandleFunc("GET "+protocol.APIPrefix+"/push", func(w http.ResponseWriter, r *http.Request) {
		if err := s.limitAddr(r); err != nil {
			s.writeError(w, err)
			return
		}
		s.handlePush(w, r)
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := mux.Handler(r); pattern == "" {
			if err := s.limitAddr(r); err != nil {
				s.writeError(w, err)
				return
			}
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

// serveRoute runs a route under the limits: the caller's rate first, then the handler with its
// body bounded.
func (s *Server) serveRoute(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.callRoute(w, r, rt); err != nil {
			s.writeError(w, err)
		}
	})
}

func (s *Server) callRoute(w http.ResponseWriter, r *http.Request, rt route) (err error) {
	var p principal
	defer func() {
		if ae := (*apiError)(nil); errors.As(err, &ae) && ae.status == http.StatusTooManyRequests && r.ContentLength != 0 {
			w.Header().Set("Connection", "close") // its body is not read: do not wait for it
		}
	}()
	switch {
	case rt.authed != nil:
		if p, err = s.authenticate(r); err != nil {
			// A refused token counts against the address, as a login does.
			return firstError(s.limitAddr(r), err)
		}
		if err := s.limitClient(p); err != nil {
			return err
		}
	case rt.public != nil:
		if err := s.limitAddr(r); err != nil {
			return err
		}
	}
	release := s.guardBody(w, r, rt.body)
	defer release()
	switch {
	case rt.authed != nil:
		return rt.authed(w, r, p)
	case rt.public != nil:
		return rt.public(w, r)
	}
	return rt.relay(w, r)
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
