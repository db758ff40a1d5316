package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Touch stores the time of this process's clock; processes sharing a Redis are expected to keep
// their clocks in sync (NTP), well within any presence timeout.
func (r *Redis) Touch(ctx context.Context, instanceID string, ttl time.Duration) error {
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("touch %s: %w", instanceID, err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if err := r.client.Set(ctx, r.key("seen", instanceID), now, ttl).Err(); err != nil {
		return fmt.Errorf("touch %s: %w", instanceID, redisErr(err))
	}
	return nil
}

func (r *Redis) LastSeen(ctx context.Context, instanceID string) (time.Time, error) {
	v, err := r.client.Get(ctx, r.key("seen", instanceID)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last seen %s: %w", instanceID, redisErr(err))
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("last seen %s: %w", instanceID, err)
	}
	return t, nil
}
