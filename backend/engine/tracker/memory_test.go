package tracker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/engine/tracker/trackertest"
)

func TestMemory(t *testing.T) {
	trackertest.Run(t, func(*testing.T) tracker.Store { return tracker.NewMemory(nil) })
}

func TestMemoryExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := tracker.NewMemory(func() time.Time { return now })
	tr := tracker.New(m, tracker.Options{TTL: time.Hour, Now: func() time.Time { return now }})
	if _, err := tr.Start(t.Context(), "s1", "a", []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := tr.Start(t.Context(), "s2", "a", []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("%d runs kept, want 1: the expired one was not swept", n)
	}
	if _, err := tr.Get(t.Context(), "s1"); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("expired run: %v", err)
	}
}
