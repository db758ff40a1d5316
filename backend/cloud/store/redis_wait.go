package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master that crashes may take with it writes it had
// acknowledged. When the store waits for replicas (RedisOptions.Replicas; one by default on a
// Redis Cluster), every write whose success a client is told of (sessions, statuses,
// synchronization runs, relay bookkeeping) is followed by WAIT on the same connection of the
// master owning the key, and answered only once that many replicas have it: a replica promoted
// after the crash then holds every acknowledged write. A WAIT that times out is ErrUnavailable
// (the client is answered 503 and sends again), though the write itself may stay.

// DefaultWaitTimeout bounds a WAIT when RedisOptions.WaitTimeout is zero.
const DefaultWaitTimeout = 2 * time.Second

// errNotReplicated: a write did not reach its replicas in time.
var errNotReplicated = errors.New("the write did not reach its replicas in time")

// runScript runs a script on keys (one slot) and answers its integer, waiting for replicas
// when the store does.
func (r *Redis) runScript(ctx context.Context, s *redis.Script, keys []string, args ...any) (int, error) {
	if r.replicas == 0 {
		return s.Run(ctx, r.client, keys, args...).Int()
	}
	var (
		cmd  *redis.Cmd
		wait *redis.Cmd
	)
	err := r.onMaster(ctx, keys[0], func(c *redis.Client) error {
		run := func(eval func(redis.Pipeliner) *redis.Cmd) error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				cmd = eval(p)
				wait = p.Do(ctx, "wait", r.replicas, r.waitTimeout.Milliseconds())
				return nil
			})
			return err
		}
		err := run(func(p redis.Pipeliner) *redis.Cmd { return s.EvalSha(ctx, p, keys, args...) })
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			err = run(func(p redis.Pipeliner) *redis.Cmd { return s.Eval(ctx, p, keys, args...) })
		}
		if err != nil {
			return err
		}
		return r.replicated(wait.Int64())
	})
	if err != nil {
		return 0, err
	}
	return cmd.Int()
}

// onMaster runs fn with the client of the master owning key (the store's own client for a
// single server), again after reading the cluster's layout when the node is not the master any
// more (MOVED, ASK) or cannot be reached.
func (r *Redis) onMaster(ctx context.Context, key string, fn func(*redis.Client) error) error {
	cc, ok := r.client.(*redis.ClusterClient)
	if !ok {
		return fn(r.client.(*redis.Client))
	}
	var err error
	for range 3 {
		var c *redis.Client
		if c, err = cc.MasterForKey(ctx, key); err == nil {
			if err = fn(c); err == nil {
				return nil
			}
		}
		if !moved(err) && !Unreachable(err) {
			return err
		}
		cc.ReloadState(ctx)
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

// moved tells whether err redirects a command to another node.
func moved(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && (strings.HasPrefix(re.Error(), "MOVED ") || strings.HasPrefix(re.Error(), "ASK "))
}

// replicated checks a WAIT's answer: ErrUnavailable when fewer replicas than the store waits
// for acknowledged the writes before it.
func (r *Redis) replicated(n int64, err error) error {
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n < int64(r.replicas) {
		return fmt.Errorf("%w: %w (%d of %d replicas within %v)", ErrUnavailable, errNotReplicated, n, r.replicas, r.waitTimeout)
	}
	return nil
}

// waitTx waits, on a transaction's connection, for the replicas to have its writes.
func (r *Redis) waitTx(ctx context.Context, tx *redis.Tx) error {
	if r.replicas == 0 {
		return nil
	}
	return r.replicated(tx.Wait(ctx, r.replicas, r.waitTimeout).Result())
}
