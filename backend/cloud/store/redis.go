package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
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
	// Replicas is how many replicas must have each write a client is told of before it is
	// answered (WAIT; see redis_wait.go). Zero means one on a Redis Cluster and none on a
	// single server; a negative count means none.
	Replicas int
	// WaitTimeout bounds each wait for replicas; DefaultWaitTimeout when zero.
	WaitTimeout time.Duration
}

// Redis is a Store kept in Redis, shared by every server process connected to the same server
// (or Redis Cluster) with the same prefix. Each session is one JSON document updated by
// optimistic compare-and-set scripts, its members' statuses a hash beside it (see
// redis_status.go); every key has a TTL; pushes travel over one pub/sub channel.
//
// Key space, under the prefix P. The braces are part of the names: they are Redis Cluster hash
// tags, which keep every key of one session in one hash slot, so that each script and
// transaction touches one slot. Every other key is read and written alone.
//
//	P:session:{id}        JSON Session, TTL refreshed on every write
//	P:status:{id}         hash of the members' statuses, by instance id; same TTL as the session
//	P:sync…:{id}…         the session's synchronization run (see redis_sync.go)
//	P:owned:client        set of the ids of the sessions a client created (CreateOwnedSession)
//	P:challenge:nonce     public key of a pending login (nonce in hex)
//	P:refresh:hash        JSON Refresh
//	P:seen:instance       last Touch, RFC 3339 with nanoseconds
//	P:push                pub/sub channel of JSON Messages (single server)
//	P:push:{n}            shard channels of JSON Messages, n < 16 (cluster; see redis_push.go)
//
// Earlier servers named the session keys without braces (P:session:id): a server of this layout
// does not see the sessions they stored, which expire on their own within their TTL (48 hours).
type Redis struct {
	client redis.UniversalClient
	// sharded: the client is a cluster's, pushes take shard channels (see redis_push.go).
	sharded bool
	prefix  string
	log     *slog.Logger
	// replicas is how many replicas each acknowledged write waits for, within waitTimeout.
	replicas    int
	waitTimeout time.Duration

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
	return NewRedisClient(ctx, redis.NewClient(o), opts)
}

// NewRedisCluster connects to the Redis Cluster that the nodes at addrs (host:port, one or
// more) belong to and checks that it answers. A single redis:// or rediss:// URL in the form
// go-redis's ParseClusterURL reads (redis://user:password@host:port?addr=host2:port2) gives
// credentials or TLS.
func NewRedisCluster(ctx context.Context, addrs []string, opts RedisOptions) (*Redis, error) {
	var o *redis.ClusterOptions
	if len(addrs) == 1 && strings.Contains(addrs[0], "://") {
		var err error
		if o, err = redis.ParseClusterURL(addrs[0]); err != nil {
			return nil, fmt.Errorf("redis cluster store: parse url: %w", err)
		}
	} else {
		if len(addrs) == 0 {
			return nil, errors.New("redis cluster store: no node address: give at least one host:port")
		}
		for _, a := range addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("redis cluster store: node address %q: want host:port: %w", a, err)
			}
		}
		o = &redis.ClusterOptions{Addrs: addrs}
	}
	return NewRedisClient(ctx, redis.NewClusterClient(o), opts)
}

// NewRedisClient makes a store of a connected client, a single server's (redis.Client) or a
// cluster's (redis.ClusterClient), after checking that it answers. The store owns c: Close
// closes it, and so does a failed NewRedisClient.
func NewRedisClient(ctx context.Context, c redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		_ = c.Close()
		return nil, fmt.Errorf("redis store: key prefix %q: braces are reserved for the hash tags of the keys; choose a prefix without { or }", prefix)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis store: connect to %s: %w", clientAddrs(c), err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cc, sharded := c.(*redis.ClusterClient)
	if sharded {
		cc.AddHook(reloadOnFailure{cc})
	}
	replicas := opts.Replicas
	switch {
	case replicas < 0:
		replicas = 0
	case replicas == 0 && sharded:
		replicas = 1
	}
	wait := opts.WaitTimeout
	if wait <= 0 {
		wait = DefaultWaitTimeout
	}
	return &Redis{client: c, sharded: sharded, prefix: prefix, log: log.With("store", "redis"),
		replicas: replicas, waitTimeout: wait, done: make(chan struct{})}, nil
}

// reloadOnFailure has a cluster client read the cluster's layout again when a command finds its
// node unreachable or not serving: after a failover, the slots of a stopped master are served
// by its replica, which the client would otherwise only learn at its next periodic reload.
type reloadOnFailure struct{ c *redis.ClusterClient }

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && Unreachable(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && Unreachable(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// clientAddrs names the servers of c, for errors.
func clientAddrs(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return "the cluster of " + strings.Join(c.Options().Addrs, ", ")
	}
	return "the Redis server"
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

// sessionKey is the key of kind of session id, with the id as its hash tag: every key of a
// session (sessionKey with the same id) is in the same hash slot of a Redis Cluster. The id must
// not be empty (an empty tag does not count).
func (r *Redis) sessionKey(kind, id string) string { return r.prefix + ":" + kind + ":{" + id + "}" }

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
	case errors.Is(err, ErrUnavailable):
		return err
	case Unreachable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Unreachable tells whether err says that a server could not be reached: ErrUnavailable, a
// network error (refused, reset, timed out), a connection closed under the request, a
// connection pool that stayed exhausted, or a server that cannot serve yet (a cluster down or
// moving slots during a failover, a server loading its data, a replica not promoted yet).
func Unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, ErrUnavailable) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrPoolTimeout) || notServing(err)
}

// notServing tells whether err is a Redis error reply saying that the server cannot serve the
// request now but will soon.
func notServing(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	for _, p := range []string{"CLUSTERDOWN ", "TRYAGAIN ", "LOADING ", "MASTERDOWN ", "READONLY "} {
		if strings.HasPrefix(re.Error(), p) {
			return true
		}
	}
	return false
}
