package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// Optimistic updates retry when another writer changed the session between WATCH and EXEC.
// Writers of one session are few (members and their pushes), so a handful of rounds suffices;
// the bound keeps a pathological hot key from holding a request forever.
const (
	updateAttempts   = 64
	updateBackoffMin = 500 * time.Microsecond
	updateBackoffMax = 20 * time.Millisecond
)

func (r *Redis) CreateSession(ctx context.Context, s *Session, ttl time.Duration) error {
	if s == nil || s.ID == "" {
		return errors.New("create session: no id")
	}
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("create session %s: encode: %w", s.ID, err)
	}
	ok, err := r.client.SetNX(ctx, r.key("session", s.ID), b, ttl).Result()
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, redisErr(err))
	}
	if !ok {
		return fmt.Errorf("create session %s: %w", s.ID, ErrExists)
	}
	return nil
}

func (r *Redis) GetSession(ctx context.Context, id string) (*Session, error) {
	b, err := r.client.Get(ctx, r.key("session", id)).Bytes()
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, redisErr(err))
	}
	s, err := decodeSession(b)
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return s, nil
}

// UpdateSession runs WATCH → GET → fn → MULTI SET EXEC, and again, after a short jittered
// pause, when another writer got in first. Only this session's key is watched.
func (r *Redis) UpdateSession(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (*Session, error) {
	if err := redisCheckTTL(ttl); err != nil {
		return nil, fmt.Errorf("update session %s: %w", id, err)
	}
	backoff := updateBackoffMin
	for range updateAttempts {
		s, fnErr, err := r.updateOnce(ctx, id, ttl, fn)
		switch {
		case fnErr != nil:
			return nil, fnErr
		case err == nil:
			return s, nil
		case !errors.Is(err, redis.TxFailedErr):
			return nil, fmt.Errorf("update session %s: %w", id, redisErr(err))
		}
		pause := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, updateBackoffMax)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("update session %s: %w", id, ctx.Err())
		case <-time.After(pause):
		}
	}
	return nil, fmt.Errorf("update session %s: concurrent writers won %d attempts: %w", id, updateAttempts, redis.TxFailedErr)
}

// updateOnce is one optimistic round. fnErr is fn's error, other than ErrNoChange; err is
// redis.TxFailedErr when the key changed under the transaction.
func (r *Redis) updateOnce(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (out *Session, fnErr, err error) {
	key := r.key("session", id)
	err = r.client.Watch(ctx, func(tx *redis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		s, err := decodeSession(b)
		if err != nil {
			return err
		}
		if err := fn(s); errors.Is(err, ErrNoChange) {
			// fn may have changed s before giving up: answer what is stored.
			out, err = decodeSession(b)
			return err
		} else if err != nil {
			fnErr = err
			return nil
		}
		s.ID = id // the id is the key: fn cannot move the session
		s.Version++
		nb, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if _, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, nb, ttl)
			return nil
		}); err != nil {
			return err
		}
		out = s
		return nil
	}, key)
	return out, fnErr, err
}

func (r *Redis) DeleteSession(ctx context.Context, id string) error {
	if err := r.client.Del(ctx, r.key("session", id)).Err(); err != nil {
		return fmt.Errorf("delete session %s: %w", id, redisErr(err))
	}
	return nil
}

func decodeSession(b []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &s, nil
}
