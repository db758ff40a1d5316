package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

var closeTests = []test{
	{"EndsSubscriptions", func(t *testing.T, s store.Store) {
		sub := mustSubscribe(t, s, t.Context())
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		Closed(t, sub)
	}},
	{"LaterCallsFail", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		ctx := context.Background()
		if _, err := s.GetSession(ctx, sid); !errors.Is(err, store.ErrClosed) {
			t.Errorf("get after close: want ErrClosed, got %v", err)
		}
		if err := s.Publish(ctx, message("pub", 0)); !errors.Is(err, store.ErrClosed) {
			t.Errorf("publish after close: want ErrClosed, got %v", err)
		}
		if _, err := s.Subscribe(ctx); !errors.Is(err, store.ErrClosed) {
			t.Errorf("subscribe after close: want ErrClosed, got %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close again: want nil, got %v", err)
		}
	}},
}
