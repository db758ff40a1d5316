package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

func testInvitation(host string, sealed string) protocol.Invitation {
	return protocol.Invitation{Host: host, Guests: []string{"GUES-T1", "GUES-T2"}, Sealed: protocol.Blob(sealed)}
}

var invitationTests = []test{
	{"PutGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		before := time.Now()
		if err := s.PutInvitation(ctx, "k1", testInvitation("HOST", "sealed"), longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		got, err := s.GetInvitation(ctx, "k1")
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got.Host != "HOST" || !slices.Equal(got.Guests, []string{"GUES-T1", "GUES-T2"}) || string(got.Sealed) != "sealed" {
			t.Fatalf("got %+v", got)
		}
		if got.Expires.Before(before.Add(longTTL-time.Minute)) || got.Expires.After(time.Now().Add(longTTL+time.Minute)) {
			t.Fatalf("expires %v, want about %v from now", got.Expires, longTTL)
		}
		if _, err := s.GetInvitation(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another key: want ErrNotFound, got %v", err)
		}
	}},
	{"OnlyTheHostReplaces", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if err := s.PutInvitation(ctx, "k", testInvitation("HOST", "first"), longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		if err := s.PutInvitation(ctx, "k", testInvitation("OTHER", "theirs"), longTTL); !errors.Is(err, store.ErrExists) {
			t.Fatalf("another host's put: want ErrExists, got %v", err)
		}
		if err := s.PutInvitation(ctx, "k", testInvitation("HOST", "second"), longTTL); err != nil {
			t.Fatalf("the host's put again: %v", err)
		}
		if got, err := s.GetInvitation(ctx, "k"); err != nil || string(got.Sealed) != "second" {
			t.Fatalf("get: %q, %v; want the host's second", got.Sealed, err)
		}
	}},
	{"OnlyTheHostDeletes", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if err := s.PutInvitation(ctx, "k", testInvitation("HOST", "x"), longTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		if err := s.DeleteInvitation(ctx, "k", "OTHER"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another host's delete: want ErrNotFound, got %v", err)
		}
		if _, err := s.GetInvitation(ctx, "k"); err != nil {
			t.Fatalf("get after a refused delete: %v", err)
		}
		if err := s.DeleteInvitation(ctx, "k", "HOST"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.GetInvitation(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get after delete: want ErrNotFound, got %v", err)
		}
		if err := s.DeleteInvitation(ctx, "k", "HOST"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete again: want ErrNotFound, got %v", err)
		}
		if err := s.PutInvitation(ctx, "k", testInvitation("OTHER", "y"), longTTL); err != nil {
			t.Fatalf("another host's put once deleted: %v", err)
		}
	}},
	{"Expires", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if err := s.PutInvitation(ctx, "k", testInvitation("HOST", "x"), shortTTL); err != nil {
			t.Fatalf("put: %v", err)
		}
		afterExpiry(t, s)
		if _, err := s.GetInvitation(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get after expiry: want ErrNotFound, got %v", err)
		}
		if err := s.PutInvitation(ctx, "k", testInvitation("OTHER", "y"), longTTL); err != nil {
			t.Fatalf("another host's put after expiry: %v", err)
		}
	}},
	{"ConcurrentHosts", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, takers)
		for i := range takers {
			wg.Go(func() {
				<-start
				errs[i] = s.PutInvitation(ctx, "k", testInvitation(fmt.Sprintf("HOST%d", i), fmt.Sprint(i)), longTTL)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("hosts %d and %d both put", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("host %d: want nil or ErrExists, got %v", i, err)
			}
		}
		got, err := s.GetInvitation(ctx, "k")
		if winner < 0 || err != nil || got.Host != fmt.Sprintf("HOST%d", winner) || string(got.Sealed) != fmt.Sprint(winner) {
			t.Fatalf("winner %d, stored %+v, %v", winner, got, err)
		}
	}},
}
