package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

// takers is how many goroutines race to take one challenge or token.
const takers = 10

var authTests = []test{
	{"ChallengeTakeOnce", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		nonce, key := []byte{0, 1, 2, 0xff}, []byte("public key")
		if err := s.PutChallenge(ctx, nonce, key, longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		if _, err := s.TakeChallenge(ctx, []byte{0, 1, 2}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take another nonce: want ErrNotFound, got %v", err)
		}
		got, err := s.TakeChallenge(ctx, nonce)
		if err != nil || string(got) != string(key) {
			t.Fatalf("take: got (%q, %v), want %q", got, err, key)
		}
		if _, err := s.TakeChallenge(ctx, nonce); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take again: want ErrNotFound, got %v", err)
		}
	}},
	{"ChallengeConcurrentTake", func(t *testing.T, s store.Store) {
		nonce := []byte("race")
		if err := s.PutChallenge(context.Background(), nonce, []byte("k"), longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		onlyOneWins(t, func() error {
			_, err := s.TakeChallenge(context.Background(), nonce)
			return err
		})
	}},
	{"ChallengeExpires", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if err := s.PutChallenge(ctx, []byte("n"), []byte("k"), shortTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		afterExpiry(t, s)
		if _, err := s.TakeChallenge(ctx, []byte("n")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take after expiry: want ErrNotFound, got %v", err)
		}
	}},
	{"RefreshTakeOnce", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		want := store.Refresh{ClientID: "client", InstanceID: "inst", PublicKey: []byte("pk"),
			Expires: time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)}
		if err := s.PutRefresh(ctx, "hash", want, longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		got, err := s.TakeRefresh(ctx, "hash")
		if err != nil {
			t.Fatalf("take: %v", err)
		}
		sameJSON(t, "refresh", got, want)
		if !got.Expires.Equal(want.Expires) {
			t.Fatalf("expires %v, want %v", got.Expires, want.Expires)
		}
		if _, err := s.TakeRefresh(ctx, "hash"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take again: want ErrNotFound, got %v", err)
		}
		if _, err := s.TakeRefresh(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take unknown: want ErrNotFound, got %v", err)
		}
	}},
	{"RefreshConcurrentTake", func(t *testing.T, s store.Store) {
		if err := s.PutRefresh(context.Background(), "race", store.Refresh{ClientID: "c"}, longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		onlyOneWins(t, func() error {
			_, err := s.TakeRefresh(context.Background(), "race")
			return err
		})
	}},
	{"RefreshExpires", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if err := s.PutRefresh(ctx, "hash", store.Refresh{ClientID: "c"}, shortTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		afterExpiry(t, s)
		if _, err := s.TakeRefresh(ctx, "hash"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("take after expiry: want ErrNotFound, got %v", err)
		}
	}},
}

// onlyOneWins runs take from several goroutines at once: exactly one must succeed, the others
// must get ErrNotFound.
func onlyOneWins(t *testing.T, take func() error) {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, takers)
	for range takers {
		wg.Go(func() {
			<-start
			switch err := take(); {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("take: want nil or ErrNotFound, got %v", err)
	}
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d takers succeeded, want exactly 1", n, takers)
	}
}
