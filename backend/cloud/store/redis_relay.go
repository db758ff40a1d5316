package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/backoff"

	"github.com/redis/go-redis/v9"
)

// The relay documents of a session are the fields of one hash, P:relay:{id}, in the session's
// hash slot: "session" and "t:TRANSFER". One key per session keeps every document of it under
// one TTL, and each update one compare-and-set on one key.

// casRelay sets or deletes fields of the hash KEYS[1] only while they hold what the update
// read. ARGV[1] is the TTL in milliseconds, ARGV[2] a count n, then n triples of field, value
// read and value to store (an empty string for none: absent when read, deleted when stored).
// It answers 0, changing nothing, when a field differs from what was read.
var casRelay = redis.NewScript(`
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
	local cur = redis.call('HGET', KEYS[1], ARGV[3 + 3 * i]) or ''
	if cur ~= ARGV[4 + 3 * i] then
		return 0
	end
end
for i = 0, n - 1 do
	local f, v = ARGV[3 + 3 * i], ARGV[5 + 3 * i]
	if v == '' then
		redis.call('HDEL', KEYS[1], f)
	else
		redis.call('HSET', KEYS[1], f, v)
	end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

func (r *Redis) relayKey(session string) string { return r.sessionKey("relay", session) }

func relayFields(transfer string) []string {
	if transfer == "" {
		return []string{relaySessionField}
	}
	return []string{relaySessionField, relayTransferField + transfer}
}

func (r *Redis) GetRelay(ctx context.Context, session, transfer string) (RelayDocs, error) {
	d, err := r.readRelay(ctx, session, transfer)
	if err != nil {
		return RelayDocs{}, fmt.Errorf("read the relay bookkeeping of session %s: %w", session, redisErr(err))
	}
	return d, nil
}

func (r *Redis) readRelay(ctx context.Context, session, transfer string) (RelayDocs, error) {
	if session == "" {
		return RelayDocs{}, errors.New("no session id")
	}
	vals, err := r.client.HMGet(ctx, r.relayKey(session), relayFields(transfer)...).Result()
	if err != nil {
		return RelayDocs{}, err
	}
	var d RelayDocs
	if s, ok := vals[0].(string); ok {
		d.Session = []byte(s)
	}
	if len(vals) > 1 {
		if s, ok := vals[1].(string); ok {
			d.Transfer = []byte(s)
		}
	}
	return d, nil
}

// UpdateRelay reads the documents, applies fn and writes the result with casRelay, again after
// a short jittered pause when another writer got in first.
func (r *Redis) UpdateRelay(ctx context.Context, session, transfer string, ttl time.Duration, fn func(*RelayDocs) error) error {
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("update the relay bookkeeping of session %s: %w", session, err)
	}
	wait := backoff.Policy{Base: updateBackoffMin, Max: updateBackoffMax}
	for attempt := 1; attempt <= updateAttempts; attempt++ {
		fnErr, err := r.updateRelayOnce(ctx, session, transfer, ttl, fn)
		switch {
		case fnErr != nil:
			return fnErr
		case err == nil:
			return nil
		case !errors.Is(err, errConflict):
			return fmt.Errorf("update the relay bookkeeping of session %s: %w", session, redisErr(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("update the relay bookkeeping of session %s: %w", session, ctx.Err())
		case <-time.After(wait.Equal(attempt)):
		}
	}
	return fmt.Errorf("update the relay bookkeeping of session %s: %w %d attempts", session, errConflict, updateAttempts)
}

func (r *Redis) updateRelayOnce(ctx context.Context, session, transfer string, ttl time.Duration, fn func(*RelayDocs) error) (fnErr, err error) {
	read, err := r.readRelay(ctx, session, transfer)
	if err != nil {
		return nil, err
	}
	d := RelayDocs{Session: slices.Clone(read.Session), Transfer: slices.Clone(read.Transfer)}
	if err := fn(&d); errors.Is(err, ErrNoChange) {
		return nil, nil
	} else if err != nil {
		return err, nil
	}
	args := []any{ttlMillis(ttl), 1, relaySessionField, string(read.Session), string(d.Session)}
	if transfer != "" {
		args[1] = 2
		args = append(args, relayTransferField+transfer, string(read.Transfer), string(d.Transfer))
	}
	ok, err := r.runScript(ctx, casRelay, []string{r.relayKey(session)}, args...)
	if err != nil {
		return nil, err
	}
	if ok == 0 {
		return nil, errConflict
	}
	return nil, nil
}

func (r *Redis) RelayTransfers(ctx context.Context, session string) ([]string, error) {
	keys, err := r.client.HKeys(ctx, r.relayKey(session)).Result()
	if err != nil {
		return nil, fmt.Errorf("list the relayed transfers of session %s: %w", session, redisErr(err))
	}
	var ids []string
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, relayTransferField); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (r *Redis) DeleteRelay(ctx context.Context, session string) error {
	if session == "" {
		return nil
	}
	if err := r.client.Del(ctx, r.relayKey(session)).Err(); err != nil {
		return fmt.Errorf("delete the relay bookkeeping of session %s: %w", session, redisErr(err))
	}
	return nil
}
