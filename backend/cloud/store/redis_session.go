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

// Optimistic updates retry when another writer changed the session between the read and the
// compare-and-set. Writers of one session are few (members and their pushes), so a handful of
// rounds suffices; the bound keeps a pathological hot key from holding a request forever.
const (
	updateAttempts   = 64
	updateBackoffMin = 500 * time.Microsecond
	updateBackoffMax = 20 * time.Millisecond
)

// errConflict reports that the session changed between the read and the compare-and-set.
var errConflict = errors.New("concurrent writers won")

// casSession replaces KEYS[1] with ARGV[2], expiring in ARGV[3] milliseconds, only while it still
// holds ARGV[1], the document the update read. Every write bumps the document's version, so an
// unchanged document means no write came between; a deleted or expired session never matches.
var casSession = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

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

// UpdateSession reads the session, applies fn and writes the result with casSession: two round
// trips when no other writer got in first, and again, after a short jittered pause, when one did.
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
		case !errors.Is(err, errConflict):
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
	return nil, fmt.Errorf("update session %s: %w %d attempts", id, errConflict, updateAttempts)
}

// updateOnce is one optimistic round. fnErr is fn's error, other than ErrNoChange; err is
// errConflict when the session changed since it was read.
func (r *Redis) updateOnce(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (out *Session, fnErr, err error) {
	key := r.key("session", id)
	b, err := r.client.Get(ctx, key).Bytes()
	if err != nil {
		return nil, nil, err
	}
	s, err := decodeSession(b)
	if err != nil {
		return nil, nil, err
	}
	if err := fn(s); errors.Is(err, ErrNoChange) {
		// fn may have changed s before giving up: answer what is stored.
		out, err = decodeSession(b)
		return out, nil, err
	} else if err != nil {
		return nil, err, nil
	}
	s.ID = id // the id is the key: fn cannot move the session
	s.Version++
	nb, err := json.Marshal(s)
	if err != nil {
		return nil, nil, fmt.Errorf("encode: %w", err)
	}
	ttlMs := max(ttl.Milliseconds(), 1) // PX wants whole milliseconds
	ok, err := casSession.Run(ctx, r.client, []string{key}, b, nb, ttlMs).Int()
	if err != nil {
		return nil, nil, err
	}
	if ok == 0 {
		return nil, nil, errConflict
	}
	return s, nil, nil
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
