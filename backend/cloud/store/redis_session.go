package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/backoff"
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

// createSession stores KEYS[1], the document ARGV[1] expiring in ARGV[2] milliseconds, unless it
// exists (answer 0), and replaces the status hash KEYS[2] with the fields ARGV[3…] (field, value
// pairs). Both keys are the session's, in one hash slot.
var createSession = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if #ARGV > 2 then
	redis.call('HSET', KEYS[2], unpack(ARGV, 3))
	redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`)

// ownSession works on KEYS[1], the set of the ids of the sessions an owner created, which lives
// in its own hash slot: it removes the ids ARGV[4…] (sessions found gone), then answers -1 when
// ARGV[1] ids remain (a limit above 0). Otherwise it adds the id ARGV[3], when not empty, keeps
// the set ARGV[2] milliseconds and answers 1.
var ownSession = redis.NewScript(`
if #ARGV > 3 then
	redis.call('SREM', KEYS[1], unpack(ARGV, 4))
end
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('SCARD', KEYS[1]) >= limit then
	return -1
end
if ARGV[3] ~= '' then
	redis.call('SADD', KEYS[1], ARGV[3])
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// casSession replaces the document KEYS[1] with ARGV[2], expiring in ARGV[3] milliseconds, only
// while it still holds ARGV[1], the document the update read, and the status hash KEYS[2] holds
// exactly the ARGV[4] fields read (field, value pairs that follow). Every write bumps the
// document's version, so an unchanged document means no write came between; a deleted or expired
// session never matches. Then come a count and as many field, value pairs to set in the hash,
// and last the fields to delete from it; the hash takes the document's TTL.
var casSession = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
local n = tonumber(ARGV[4])
if redis.call('HLEN', KEYS[2]) ~= n then
	return 0
end
local i = 5
for _ = 1, n do
	if redis.call('HGET', KEYS[2], ARGV[i]) ~= ARGV[i + 1] then
		return 0
	end
	i = i + 2
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local set = tonumber(ARGV[i])
i = i + 1
if set > 0 then
	redis.call('HSET', KEYS[2], unpack(ARGV, i, i + 2 * set - 1))
end
i = i + 2 * set
if i <= #ARGV then
	redis.call('HDEL', KEYS[2], unpack(ARGV, i))
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

func (r *Redis) CreateSession(ctx context.Context, s *Session, ttl time.Duration) error {
	return r.CreateOwnedSession(ctx, s, ttl, "", 0)
}

// CreateOwnedSession keeps the ids of the sessions owner created in the set P:owned:owner. The
// set and the session are in different hash slots, so no script spans both: the ids whose
// session is gone are found first and dropped as the limit is checked, then the session is
// stored, then its id is added to the set with the limit checked again, which undoes the session
// when a concurrent creation of the same owner took the last place. An id enters the set only
// once its session exists, so an id without a session is one deleted or expired.
func (r *Redis) CreateOwnedSession(ctx context.Context, s *Session, ttl time.Duration, owner string, limit int) error {
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
	fields, err := statusFields(s)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	if owner != "" && limit > 0 {
		// Refuse before storing anything when the owner is at its limit already.
		if err := r.own(ctx, owner, "", limit, ttl); err != nil {
			return fmt.Errorf("create session %s: %w", s.ID, err)
		}
	}
	args := make([]any, 0, 2+2*len(fields))
	args = append(args, b, ttlMillis(ttl))
	for k, v := range fields {
		args = append(args, k, v)
	}
	ok, err := r.runScript(ctx, createSession, r.sessionKeys(s.ID), args...)
	switch {
	case err != nil:
		return fmt.Errorf("create session %s: %w", s.ID, redisErr(err))
	case ok == 0:
		return fmt.Errorf("create session %s: %w", s.ID, ErrExists)
	}
	if owner == "" {
		return nil
	}
	if err := r.own(ctx, owner, s.ID, limit, ttl); err != nil {
		// Nobody knows the new id yet: take the session back.
		if derr := r.client.Del(context.WithoutCancel(ctx), r.sessionKeys(s.ID)...).Err(); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove the session again: %w", redisErr(derr)))
		}
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	return nil
}

// own drops the gone sessions from the set of owner and checks its limit; with an id, it adds
// it too. ErrLimit when the owner has limit sessions.
func (r *Redis) own(ctx context.Context, owner, id string, limit int, ttl time.Duration) error {
	key := r.key("owned", owner)
	ids, err := r.client.SMembers(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("read the sessions of %s: %w", owner, redisErr(err))
	}
	args := []any{max(limit, 0), ttlMillis(ttl), id}
	if len(ids) > 0 {
		// One EXISTS per session: in a cluster their keys are in different slots.
		exists := make([]*redis.IntCmd, len(ids))
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, other := range ids {
				exists[i] = p.Exists(ctx, r.sessionKey("session", other))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("check the sessions of %s: %w", owner, redisErr(err))
		}
		for i, c := range exists {
			if c.Val() == 0 {
				args = append(args, ids[i])
			}
		}
	}
	res, err := ownSession.Run(ctx, r.client, []string{key}, args...).Int()
	if err != nil {
		return fmt.Errorf("count the sessions of %s: %w", owner, redisErr(err))
	}
	if res < 0 {
		return ErrLimit
	}
	return nil
}

func (r *Redis) GetSession(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, fmt.Errorf("get session: no id: %w", ErrNotFound)
	}
	doc, fields, err := r.readSession(ctx, r.sessionKeys(id))
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, redisErr(err))
	}
	s, err := decodeMerged(doc, fields)
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
	if id == "" {
		return nil, fmt.Errorf("update session: no id: %w", ErrNotFound)
	}
	wait := backoff.Policy{Base: updateBackoffMin, Max: updateBackoffMax}
	for attempt := 1; attempt <= updateAttempts; attempt++ {
		s, fnErr, err := r.updateOnce(ctx, id, ttl, fn)
		switch {
		case fnErr != nil:
			return nil, fnErr
		case err == nil:
			return s, nil
		case !errors.Is(err, errConflict):
			return nil, fmt.Errorf("update session %s: %w", id, redisErr(err))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("update session %s: %w", id, ctx.Err())
		case <-time.After(wait.Equal(attempt)):
		}
	}
	return nil, fmt.Errorf("update session %s: %w %d attempts", id, errConflict, updateAttempts)
}

// updateOnce is one optimistic round. fnErr is fn's error, other than ErrNoChange; err is
// errConflict when the session or its statuses changed since they were read.
func (r *Redis) updateOnce(ctx context.Context, id string, ttl time.Duration, fn func(*Session) error) (out *Session, fnErr, err error) {
	keys := r.sessionKeys(id)
	doc, read, err := r.readSession(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	s, err := decodeMerged(doc, read)
	if err != nil {
		return nil, nil, err
	}
	if err := fn(s); errors.Is(err, ErrNoChange) {
		// fn may have changed s before giving up: answer what is stored.
		out, err = decodeMerged(doc, read)
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
	want, err := statusFields(s)
	if err != nil {
		return nil, nil, err
	}
	ok, err := r.runScript(ctx, casSession, keys, casArgs(doc, nb, ttl, read, want)...)
	if err != nil {
		return nil, nil, err
	}
	if ok == 0 {
		return nil, nil, errConflict
	}
	return s, nil, nil
}

// casArgs are casSession's arguments: the documents, the TTL, the status fields read, then the
// fields to set and those to delete to turn them into want.
func casArgs(doc string, nb []byte, ttl time.Duration, read, want map[string]string) []any {
	args := make([]any, 0, 6+2*len(read)+2*len(want))
	args = append(args, doc, nb, ttlMillis(ttl), len(read))
	for k, v := range read {
		args = append(args, k, v)
	}
	n := len(args)
	args = append(args, 0)
	set := 0
	for k, v := range want {
		if read[k] != v {
			args = append(args, k, v)
			set++
		}
	}
	args[n] = set
	for k := range read {
		if _, ok := want[k]; !ok {
			args = append(args, k)
		}
	}
	return args
}

func (r *Redis) DeleteSession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := r.client.Del(ctx, r.sessionKeys(id)...).Err(); err != nil {
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
