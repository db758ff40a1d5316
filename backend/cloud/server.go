// Package cloud is Ferry's session server: the HTTP API under /api/v1/, the websocket push hub
// and member presence. Its state lives in a store.Store, so several server processes sharing one
// Redis serve the same sessions and deliver each other's pushes.
package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/relay"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

// Defaults for Config.
const (
	DefaultAccessTTL       = 10 * time.Minute
	DefaultRefreshTTL      = 7 * 24 * time.Hour // instance ids change at every start: a week is plenty
	DefaultSessionTTL      = 48 * time.Hour
	DefaultPresenceTimeout = 30 * time.Second
	DefaultChallengeTTL    = 60 * time.Second
	DefaultStorageQuota    = relay.DefaultQuota // 8 GiB per session
	DefaultRelayURLTTL     = 5 * time.Minute
	DefaultStorageSweep    = 10 * time.Minute
	minSecretBytes         = 32
)

// Config configures a Server. Only Store is required.
type Config struct {
	Store store.Store
	// Secret is the HMAC-SHA256 key of access tokens (at least 32 bytes). Server processes
	// sharing a store must share it; a random one is drawn when nil.
	Secret []byte
	// AccessTTL is the lifetime of access tokens.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token (each works once).
	RefreshTTL time.Duration
	// SessionTTL is how long a session outlives its last change.
	SessionTTL time.Duration
	// PresenceTimeout is how long a member may be without a push connection before it is
	// reported absent.
	PresenceTimeout time.Duration
	// ChallengeTTL is how long a login nonce stays valid.
	ChallengeTTL time.Duration
	// StorageDir is the folder of the relay storage, where sealed parts wait for their
	// recipients beside the state of their transfers. Empty (and no StorageBucket): the relay
	// routes answer 503 (relay_unavailable). Server processes sharing a store may share the
	// folder too.
	StorageDir string
	// StorageBucket, instead of StorageDir, keeps the parts' bytes in a bucket of
	// S3-compatible object storage (see relay.OpenBucket): members move them with presigned
	// URLs, and the bookkeeping lives in Store, so that processes sharing Store and the bucket
	// share everything the relay needs.
	StorageBucket *relay.Bucket
	// StorageQuota bounds the bytes one session keeps in the relay storage: parts stored plus
	// those announced by upload URLs not used yet.
	StorageQuota int64
	// RelayURLTTL is how long an upload or download URL works.
	RelayURLTTL time.Duration
	// StorageSweep is how often the relay storage drops the transfers of sessions that ended
	// or expired (also done once when Run starts).
	StorageSweep time.Duration
	// Limits bound what one client may cost the server (see Limits).
	Limits Limits
	// Logger receives one debug line per request and warnings; nothing when nil.
	Logger *slog.Logger
	// Now reads the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Server is the session server. Handler serves the API; Run delivers pushes and tracks presence.
type Server struct {
	cfg    Config
	store  store.Store
	log    *slog.Logger
	now    func() time.Time
	tokens *tokenIssuer
	hub    *hub
	relay  *relay.Store // nil without Config.StorageDir or StorageBucket
	urls   *relayURLs
	guards guards

	ready     chan struct{} // closed once Run subscribed to the store
	readyOnce sync.Once
}

// NewServer checks cfg and fills in its defaults.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("cloud: Config.Store is required")
	}
	if cfg.Secret == nil {
		cfg.Secret = make([]byte, minSecretBytes)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, fmt.Errorf("cloud: draw a token secret: %w", err)
		}
	}
	if len(cfg.Secret) < minSecretBytes {
		return nil, fmt.Errorf("cloud: token secret is %d bytes, want at least %d", len(cfg.Secret), minSecretBytes)
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.AccessTTL, DefaultAccessTTL},
		{&cfg.RefreshTTL, DefaultRefreshTTL},
		{&cfg.SessionTTL, DefaultSessionTTL},
		{&cfg.PresenceTimeout, DefaultPresenceTimeout},
		{&cfg.ChallengeTTL, DefaultChallengeTTL},
		{&cfg.RelayURLTTL, DefaultRelayURLTTL},
		{&cfg.StorageSweep, DefaultStorageSweep},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("cloud: negative duration %v in Config", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.StorageQuota < 0 {
		return nil, fmt.Errorf("cloud: negative storage quota %d", cfg.StorageQuota)
	}
	if cfg.StorageQuota == 0 {
		cfg.StorageQuota = DefaultStorageQuota
	}
	lim, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Limits = lim
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:    cfg,
		store:  cfg.Store,
		log:    cfg.Logger,
		now:    cfg.Now,
		tokens: &tokenIssuer{secret: cfg.Secret, ttl: cfg.AccessTTL, now: cfg.Now},
		ready:  make(chan struct{}),
		guards: newGuards(cfg.Limits, cfg.Now),
	}
	s.hub = newHub(s)
	var rs *relay.Store
	switch {
	case cfg.StorageBucket != nil && cfg.StorageDir != "":
		return nil, errors.New("cloud: a relay storage folder or a bucket, not both (Config.StorageDir, Config.StorageBucket): the bookkeeping of a bucket lives in the store")
	case cfg.StorageBucket != nil:
		rs, err = relay.NewBucket(cfg.StorageBucket, cfg.Store, relay.Options{Quota: cfg.StorageQuota, Now: cfg.Now, BookTTL: cfg.SessionTTL})
	case cfg.StorageDir != "":
		rs, err = relay.New(cfg.StorageDir, relay.Options{Quota: cfg.StorageQuota, Now: cfg.Now})
	}
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	if rs != nil {
		s.relay = rs
		s.urls = newRelayURLs(cfg.Secret, cfg.Now)
	}
	return s, nil
}

// Handler serves the HTTP API and the push websocket.
func (s *Server) Handler() http.Handler {
	return s.logRequests(s.recoverPanics(s.routes()))
}

// Run delivers published events to this process's websockets, keeps the presence of their
// clients up to date and sweeps absent members, until ctx ends. Pushes reach websockets only
// while Run runs.
func (s *Server) Run(ctx context.Context) error {
	msgs, err := s.store.Subscribe(ctx)
	if err != nil {
		return fmt.Errorf("cloud: subscribe to pushes: %w", err)
	}
	s.readyOnce.Do(func() { close(s.ready) })

	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.presenceLoop(loopCtx) })
	if s.relay != nil {
		wg.Go(func() { s.relaySweepLoop(loopCtx) })
	}
	defer wg.Wait()

	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return nil // the subscription ended with ctx
				}
				return errors.New("cloud: push subscription ended")
			}
			s.hub.dispatch(m)
		}
	}
}

// Close disconnects every websocket of this process. The store is the caller's to close.
func (s *Server) Close() error {
	s.hub.closeAll()
	return nil
}
