package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the key prefix when RedisOptions.Prefix is empty.
const DefaultRedisPrefix = "ferry"

// RedisOptions tune NewRedis.
type RedisOptions struct {
	// Prefix starts every key and the push channel, so several deployments (or tests) can share
	// one server. Server processes sharing a state use the same prefix.
	Prefix string
	// Logger reports what cannot be returned: pushes lost while the subscription reconnects,
	// undecodable messages. Nil means slog.Default().
	Logger *slog.Logger
}

// Redis is a Store kept in Redis, shared by every server process connected to the same server
// with the same prefix. Each session is one JSON document updated by optimistic compare-and-set
// scripts, its members' statuses a hash beside it (see redis_status.go); every key has a TTL;
// pushes travel over one pub/sub channel.
//
// Key space, under the prefix P:
//
//	P:session:{id}        JSON Session, TTL refreshed on every write
//	P:owned:{client}      set of the ids of the sessions a client created (CreateOwnedSession)
//	P:status:{id}         hash of the members' statuses, by instance id; same TTL as the session
//	P:challenge:{nonce}   public key of a pending login (nonce in hex)
//	P:refresh:{hash}      JSON Refresh
//	P:seen:{instance}     last Touch, RFC 3339 with nanoseconds
//	P:push                pub/sub channel of JSON Messages
type Redis struct {
	client *redis.Client
	prefix string
	log    *slog.Logger

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close: ends the subscriptions
	subs   sync.WaitGroup
}

var _ Store = (*Redis)(nil)

// NewRedis connects to the server at url (redis://[user:password@]host:port/db, rediss:// for
// TLS, unix://path) and checks that it answers.
func NewRedis(ctx context.Context, url string, opts RedisOptions) (*Redis, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis store: parse url: %w", err)
	}
	c := redis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis store: connect to %s: %w", o.Addr, err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Redis{client: c, prefix: prefix, log: log.With("store", "redis"), done: make(chan struct{})}, nil
}

// Close ends the subscriptions, waits for their channels to close and disconnects. Later calls
// fail with ErrClosed; closing again does nothing.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	r.mu.Unlock()
	r.subs.Wait()
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("redis store: close: %w", err)
	}
	return nil
}

func (r *Redis) key(kind, id string) string { return r.prefix + ":" + kind + ":" + id }

func (r *Redis) pushChannel() string { return r.prefix + ":push" }

// redisCheckTTL refuses a ttl that would keep a key forever: every key expires.
func redisCheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("ttl %v: must be positive", ttl)
	}
	return nil
}

// redisErr maps go-redis errors to the store's: a missing key is ErrNotFound, a closed client
// ErrClosed, a server that cannot be reached ErrUnavailable (wrapping the cause); others stay
// as they are.
func redisErr(err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	case errors.Is(err, redis.ErrClosed):
		return ErrClosed
	case Unreachable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Unreachable tells whether err says that a server could not be reached: ErrUnavailable, a
// network error (refused, reset, timed out), a connection closed under the request, or a
// connection pool that stayed exhausted.
func Unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, ErrUnavailable) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrPoolTimeout)
}
