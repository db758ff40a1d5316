package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

var presenceTests = []test{
	{"TouchLastSeen", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if seen := lastSeen(t, s, "inst"); !seen.IsZero() {
			t.Fatalf("never touched: LastSeen %v, want zero", seen)
		}
		before := time.Now()
		if err := s.Touch(ctx, "inst", longTTL); err != nil {
			t.Fatalf("touch: %v", err)
		}
		after := time.Now()
		first := lastSeen(t, s, "inst")
		// Compare wall clocks: a stored time has no monotonic reading.
		if first.Before(before.Round(0)) || first.After(after.Round(0)) {
			t.Fatalf("LastSeen %v, want within [%v, %v]", first, before, after)
		}
		if other := lastSeen(t, s, "other"); !other.IsZero() {
			t.Fatalf("another instance: LastSeen %v, want zero", other)
		}
		eventually(t, "the clock moves past the first touch", func() bool { return time.Now().After(first) })
		if err := s.Touch(ctx, "inst", longTTL); err != nil {
			t.Fatalf("touch again: %v", err)
		}
		if again := lastSeen(t, s, "inst"); !again.After(first) {
			t.Fatalf("LastSeen after a second touch %v, want after %v", again, first)
		}
	}},
	{"TouchExpires", func(t *testing.T, s store.Store) {
		if err := s.Touch(context.Background(), "inst", shortTTL); err != nil {
			t.Fatalf("touch: %v", err)
		}
		eventually(t, "presence expires", func() bool { return lastSeen(t, s, "inst").IsZero() })
	}},
}

func lastSeen(t *testing.T, s store.Store, instance string) time.Time {
	t.Helper()
	seen, err := s.LastSeen(context.Background(), instance)
	if err != nil {
		t.Fatalf("LastSeen %s: %v", instance, err)
	}
	return seen
}
