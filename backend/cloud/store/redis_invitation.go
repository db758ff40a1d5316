package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/protocol"
)

// An invitation is a hash of its host and its JSON, so that the host check and the write are
// one script.

var putInvitation = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'host')
if cur and cur ~= ARGV[1] then
	return 0
end
redis.call('HSET', KEYS[1], 'host', ARGV[1], 'inv', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

var deleteInvitation = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'host') ~= ARGV[1] then
	return 0
end
redis.call('DEL', KEYS[1])
return 1
`)

func (r *Redis) PutInvitation(ctx context.Context, key string, inv protocol.Invitation, ttl time.Duration) error {
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("put invitation: %w", err)
	}
	inv.Expires = time.Now().Add(ttl).UTC()
	b, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("put invitation: encode: %w", err)
	}
	ok, err := putInvitation.Run(ctx, r.client, []string{r.key("invitation", key)}, inv.Host, b, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("put invitation: %w", redisErr(err))
	}
	if ok == 0 {
		return ErrExists
	}
	return nil
}

func (r *Redis) GetInvitation(ctx context.Context, key string) (protocol.Invitation, error) {
	b, err := r.client.HGet(ctx, r.key("invitation", key), "inv").Bytes()
	if err != nil {
		return protocol.Invitation{}, fmt.Errorf("get invitation: %w", redisErr(err))
	}
	var inv protocol.Invitation
	if err := json.Unmarshal(b, &inv); err != nil {
		return protocol.Invitation{}, fmt.Errorf("get invitation: decode: %w", err)
	}
	return inv, nil
}

func (r *Redis) DeleteInvitation(ctx context.Context, key, host string) error {
	ok, err := deleteInvitation.Run(ctx, r.client, []string{r.key("invitation", key)}, host).Int()
	if err != nil {
		return fmt.Errorf("delete invitation: %w", redisErr(err))
	}
	if ok == 0 {
		return ErrNotFound
	}
	return nil
}
