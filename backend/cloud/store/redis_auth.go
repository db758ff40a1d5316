package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Challenges and refresh tokens are single-use: GETDEL reads and removes them in one step, so
// two concurrent takers never both succeed.

func (r *Redis) PutChallenge(ctx context.Context, nonce []byte, publicKey []byte, ttl time.Duration) error {
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("put challenge: %w", err)
	}
	if err := r.client.Set(ctx, r.challengeKey(nonce), publicKey, ttl).Err(); err != nil {
		return fmt.Errorf("put challenge: %w", redisErr(err))
	}
	return nil
}

func (r *Redis) TakeChallenge(ctx context.Context, nonce []byte) ([]byte, error) {
	b, err := r.client.GetDel(ctx, r.challengeKey(nonce)).Bytes()
	if err != nil {
		return nil, fmt.Errorf("take challenge: %w", redisErr(err))
	}
	return b, nil
}

func (r *Redis) PutRefresh(ctx context.Context, tokenHash string, ref Refresh, ttl time.Duration) error {
	if err := redisCheckTTL(ttl); err != nil {
		return fmt.Errorf("put refresh token: %w", err)
	}
	b, err := json.Marshal(ref)
	if err != nil {
		return fmt.Errorf("put refresh token: encode: %w", err)
	}
	if err := r.client.Set(ctx, r.key("refresh", tokenHash), b, ttl).Err(); err != nil {
		return fmt.Errorf("put refresh token: %w", redisErr(err))
	}
	return nil
}

func (r *Redis) TakeRefresh(ctx context.Context, tokenHash string) (Refresh, error) {
	b, err := r.client.GetDel(ctx, r.key("refresh", tokenHash)).Bytes()
	if err != nil {
		return Refresh{}, fmt.Errorf("take refresh token: %w", redisErr(err))
	}
	var ref Refresh
	if err := json.Unmarshal(b, &ref); err != nil {
		return Refresh{}, fmt.Errorf("take refresh token: decode: %w", err)
	}
	return ref, nil
}

func (r *Redis) challengeKey(nonce []byte) string {
	return r.key("challenge", hex.EncodeToString(nonce))
}
