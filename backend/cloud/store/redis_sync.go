package store

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/backoff"
	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Synchronizations live in two keys per session, expiring together:
//
//	P:sync:{id}                 JSON protocol.Synchronization, the run
//	P:sync-groups:{id}          hash of its action groups, group id → JSON tracker.Group
//	P:sync-staging:{id}:rand    groups of a run being created, renamed to P:sync-groups:{id}
//
// The braces make the session id the hash tag of all three, as of the session's own keys: on a
// Redis Cluster the transactions below touch one hash slot.
//
// A batch of results reads and writes the run and the groups it names only: WATCH, one
// pipelined GET and HMGET, one MULTI/EXEC, whatever the size of the run.

const (
	// syncAttempts bounds the optimistic rounds of one update; writers of one run are its
	// members, so a few rounds suffice.
	syncAttempts   = 64
	syncBackoffMin = 500 * time.Microsecond
	syncBackoffMax = 20 * time.Millisecond
	// syncChunk is how many groups one HSET of a new run carries.
	syncChunk = 1000
)

// redisSyncs is the tracker.Store of a Redis store.
type redisSyncs struct{ r *Redis }

var _ tracker.Store = redisSyncs{}

// Synchronizations keeps the runs beside the sessions, under the same prefix.
func (r *Redis) Synchronizations() tracker.Store { return redisSyncs{r} }

func (s redisSyncs) keys(session string) (run, groups string) {
	return s.r.sessionKey("sync", session), s.r.sessionKey("sync-groups", session)
}

func (s redisSyncs) Create(ctx context.Context, run *protocol.Synchronization, groups iter.Seq[*tracker.Group], ttl time.Duration) error {
	if run == nil || run.Session == "" {
		return errors.New("create synchronization: no session")
	}
	id := run.Session
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("create synchronization %s: %w", id, err)
	}
	doc, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("create synchronization %s: encode: %w", id, err)
	}
	runKey, groupsKey := s.keys(id)
	// Refuse before writing any group, then again in the transaction.
	if err := refuseRunning(ctx, s.r.client, runKey); err != nil {
		return fmt.Errorf("create synchronization %s: %w", id, redisErr(err))
	}
	// The groups go to a staging hash first, renamed in place by the transaction: it stays small
	// however many groups the run has, and readers never see a run without its groups.
	staging, err := s.stage(ctx, id, groups, ttl)
	if err != nil {
		return fmt.Errorf("create synchronization %s: %w", id, err)
	}
	err = s.retry(ctx, func() error {
		return s.r.client.Watch(ctx, func(tx *redis.Tx) error {
			if err := refuseRunning(ctx, tx, runKey); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if staging == "" {
					p.Del(ctx, groupsKey)
				} else {
					p.Rename(ctx, staging, groupsKey)
					p.PExpire(ctx, groupsKey, ttl)
				}
				p.Set(ctx, runKey, doc, ttl)
				return nil
			})
			if err != nil {
				return err
			}
			return s.r.waitTx(ctx, tx)
		}, runKey)
	})
	if err != nil {
		if staging != "" {
			// Best effort: the staging hash expires anyway.
			_ = s.r.client.Del(context.WithoutCancel(ctx), staging).Err()
		}
		return fmt.Errorf("create synchronization %s: %w", id, redisSyncErr(err))
	}
	return nil
}

// stage writes groups to a new staging hash of session, syncChunk at a time, and returns its
// key; "" when there is no group.
func (s redisSyncs) stage(ctx context.Context, session string, groups iter.Seq[*tracker.Group], ttl time.Duration) (string, error) {
	var b [12]byte
	if _, err := crand.Read(b[:]); err != nil {
		return "", fmt.Errorf("draw a staging key: %w", err)
	}
	key := s.r.sessionKey("sync-staging", session) + ":" + hex.EncodeToString(b[:])
	n := 0
	_, err := s.r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		fields := make([]any, 0, 2*syncChunk)
		for g := range groups {
			v, err := json.Marshal(g)
			if err != nil {
				return fmt.Errorf("encode group %s: %w", g.ID, err)
			}
			fields = append(fields, g.ID, v)
			if n++; len(fields) == cap(fields) {
				p.HSet(ctx, key, fields...)
				fields = make([]any, 0, 2*syncChunk)
			}
		}
		if len(fields) > 0 {
			p.HSet(ctx, key, fields...)
		}
		if n > 0 {
			p.PExpire(ctx, key, ttl)
		}
		return nil
	})
	if err != nil {
		_ = s.r.client.Del(context.WithoutCancel(ctx), key).Err()
		return "", fmt.Errorf("write groups: %w", redisErr(err))
	}
	if n == 0 {
		return "", nil
	}
	return key, nil
}

// refuseRunning fails with tracker.ErrRunning when key holds a run that has not ended.
func refuseRunning(ctx context.Context, c redis.Cmdable, key string) error {
	doc, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	run, err := decodeRun(doc)
	if err != nil {
		return err
	}
	if !run.IsEnded() {
		return tracker.ErrRunning
	}
	return nil
}

func (s redisSyncs) Get(ctx context.Context, session string) (*protocol.Synchronization, error) {
	if session == "" {
		return nil, fmt.Errorf("get synchronization: no session: %w", tracker.ErrNotFound)
	}
	runKey, _ := s.keys(session)
	doc, err := s.r.client.Get(ctx, runKey).Bytes()
	if err != nil {
		return nil, fmt.Errorf("get synchronization %s: %w", session, redisSyncErr(err))
	}
	run, err := decodeRun(doc)
	if err != nil {
		return nil, fmt.Errorf("get synchronization %s: %w", session, err)
	}
	return run, nil
}

// Update is one optimistic round, again when another writer changed the run in between.
func (s redisSyncs) Update(ctx context.Context, session string, ids []string, ttl time.Duration,
	fn func(*protocol.Synchronization, []*tracker.Group) error) (*protocol.Synchronization, error) {
	if err := redisCheckTTL(ttl); err != nil {
		return nil, fmt.Errorf("update synchronization %s: %w", session, err)
	}
	if session == "" {
		return nil, fmt.Errorf("update synchronization: no session: %w", tracker.ErrNotFound)
	}
	var out *protocol.Synchronization
	var fnErr error
	err := s.retry(ctx, func() error {
		var err error
		out, fnErr, err = s.updateOnce(ctx, session, ids, ttl, fn)
		return err
	})
	switch {
	case fnErr != nil:
		return nil, fnErr
	case err != nil:
		return nil, fmt.Errorf("update synchronization %s: %w", session, redisSyncErr(err))
	}
	return out, nil
}

// updateOnce reads the run and the groups ids under WATCH, applies fn and writes them back in
// one transaction. fnErr is fn's error other than ErrNoChange; err is redis.TxFailedErr when
// the run changed since it was read.
func (s redisSyncs) updateOnce(ctx context.Context, session string, ids []string, ttl time.Duration,
	fn func(*protocol.Synchronization, []*tracker.Group) error) (out *protocol.Synchronization, fnErr, err error) {
	runKey, groupsKey := s.keys(session)
	err = s.r.client.Watch(ctx, func(tx *redis.Tx) error {
		var get *redis.StringCmd
		var hmget *redis.SliceCmd
		_, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, runKey)
			if len(ids) > 0 {
				hmget = p.HMGet(ctx, groupsKey, ids...)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		doc, err := get.Bytes()
		if err != nil {
			return err // redis.Nil: no run
		}
		run, err := decodeRun(doc)
		if err != nil {
			return err
		}
		gs := make([]*tracker.Group, len(ids))
		if hmget != nil {
			vals, err := hmget.Result()
			if err != nil {
				return err
			}
			for i, v := range vals {
				raw, ok := v.(string)
				if !ok {
					return fmt.Errorf("%w %s", tracker.ErrUnknownGroup, ids[i])
				}
				gs[i] = new(tracker.Group)
				if err := json.Unmarshal([]byte(raw), gs[i]); err != nil {
					return fmt.Errorf("decode group %s: %w", ids[i], err)
				}
			}
		}
		switch err := fn(run, gs); {
		case errors.Is(err, tracker.ErrNoChange):
			// fn may have changed run before giving up: answer what is stored.
			out, err = decodeRun(doc)
			return err
		case err != nil:
			fnErr = err
			return nil
		}
		nb, err := json.Marshal(run)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		fields := make([]any, 0, 2*len(gs))
		for _, g := range gs {
			v, err := json.Marshal(g)
			if err != nil {
				return fmt.Errorf("encode group %s: %w", g.ID, err)
			}
			fields = append(fields, g.ID, v)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, runKey, nb, ttl)
			if len(fields) > 0 {
				p.HSet(ctx, groupsKey, fields...)
			}
			p.PExpire(ctx, groupsKey, ttl)
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.r.waitTx(ctx, tx); err != nil {
			return err
		}
		out = run
		return nil
	}, runKey)
	if fnErr != nil {
		return nil, fnErr, nil
	}
	return out, nil, err
}

func (s redisSyncs) Delete(ctx context.Context, session string) error {
	if session == "" {
		return nil
	}
	runKey, groupsKey := s.keys(session)
	if err := s.r.client.Del(ctx, runKey, groupsKey).Err(); err != nil {
		return fmt.Errorf("delete synchronization %s: %w", session, redisErr(err))
	}
	return nil
}

// retry runs round until it does not fail with redis.TxFailedErr, pausing a short jittered
// while between rounds, at most syncAttempts times.
func (s redisSyncs) retry(ctx context.Context, round func() error) error {
	wait := backoff.Policy{Base: syncBackoffMin, Max: syncBackoffMax}
	for attempt := 1; attempt <= syncAttempts; attempt++ {
		err := round()
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait.Equal(attempt)):
		}
	}
	return fmt.Errorf("%w %d times", redis.TxFailedErr, syncAttempts)
}

// redisSyncErr maps a missing run to tracker.ErrNotFound and the rest as redisErr does.
func redisSyncErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return tracker.ErrNotFound
	}
	return redisErr(err)
}

func decodeRun(b []byte) (*protocol.Synchronization, error) {
	var run protocol.Synchronization
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("decode synchronization: %w", err)
	}
	return &run, nil
}
