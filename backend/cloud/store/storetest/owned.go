package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

// ownedTests check CreateOwnedSession: an owner's live sessions count against its limit.
var ownedTests = []test{
	{"Limit", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for _, id := range []string{"100aaa001", "100aaa002"} {
			mustCreateOwned(t, s, id, "alice", 2, longTTL)
		}
		err := s.CreateOwnedSession(ctx, testSession("100aaa003"), longTTL, "alice", 2)
		if !errors.Is(err, store.ErrLimit) {
			t.Fatalf("third session of a limit of 2: want ErrLimit, got %v", err)
		}
		if _, err := s.GetSession(ctx, "100aaa003"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused session was stored: %v", err)
		}
		mustCreateOwned(t, s, "100aaa004", "bob", 2, longTTL) // another owner has its own count
		mustCreate(t, s, testSession("100aaa005"), longTTL)   // sessions without owner count for nobody
		mustCreateOwned(t, s, "100aaa006", "alice", 3, longTTL)
	}},
	{"DeletedFrees", func(t *testing.T, s store.Store) {
		mustCreateOwned(t, s, "100aaa001", "alice", 1, longTTL)
		if err := s.DeleteSession(context.Background(), "100aaa001"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		mustCreateOwned(t, s, "100aaa002", "alice", 1, longTTL)
	}},
	{"ExpiredFrees", func(t *testing.T, s store.Store) {
		mustCreateOwned(t, s, "100aaa001", "alice", 1, shortTTL)
		sessionGone(t, s, "100aaa001")
		mustCreateOwned(t, s, "100aaa002", "alice", 1, longTTL)
	}},
	{"ExistsCountsNothing", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustCreate(t, s, testSession("100aaa001"), longTTL)
		err := s.CreateOwnedSession(ctx, testSession("100aaa001"), longTTL, "alice", 1)
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("taken id: want ErrExists, got %v", err)
		}
		mustCreateOwned(t, s, "100aaa002", "alice", 1, longTTL)
	}},
}

func mustCreateOwned(t *testing.T, s store.Store, id, owner string, limit int, ttl time.Duration) {
	t.Helper()
	if err := s.CreateOwnedSession(context.Background(), testSession(id), ttl, owner, limit); err != nil {
		t.Fatalf("create %s for %s (limit %d): %v", id, owner, limit, err)
	}
}
