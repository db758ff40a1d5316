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

// writers is how many goroutines race in the concurrent update test.
const writers = 20

var updateTests = []test{
	{"AppliesAndBumpsVersion", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		before := mustGet(t, s, sid)
		got := mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.InventoryStarted = true
			return nil
		})
		if !got.InventoryStarted || got.Version != before.Version+1 {
			t.Fatalf("update returned inventory_started=%v version=%d, want true and %d",
				got.InventoryStarted, got.Version, before.Version+1)
		}
		sameJSON(t, "stored after update", mustGet(t, s, sid), got)
		again := mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.SettingsVersion++
			return nil
		})
		if again.Version != before.Version+2 {
			t.Fatalf("second update: version %d, want %d", again.Version, before.Version+2)
		}
	}},
	{"NoChangeWritesNothing", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		before := mustGet(t, s, sid)
		for _, noChange := range []error{store.ErrNoChange, fmt.Errorf("status older: %w", store.ErrNoChange)} {
			got, err := s.UpdateSession(context.Background(), sid, longTTL, func(sess *store.Session) error {
				sess.SettingsVersion = 1000 // changed, then given up
				sess.Members = nil
				return noChange
			})
			if err != nil {
				t.Fatalf("update returning %v: want nil error, got %v", noChange, err)
			}
			sameJSON(t, "returned on no change", got, before)
			sameJSON(t, "stored on no change", mustGet(t, s, sid), before)
		}
	}},
	{"ErrorWritesNothing", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		before := mustGet(t, s, sid)
		boom := errors.New("refused")
		got, err := s.UpdateSession(context.Background(), sid, longTTL, func(sess *store.Session) error {
			sess.InventoryStarted = true
			return boom
		})
		if !errors.Is(err, boom) || got != nil {
			t.Fatalf("want (nil, %v), got (%v, %v)", boom, got, err)
		}
		sameJSON(t, "stored after failed update", mustGet(t, s, sid), before)
	}},
	{"UnknownSession", func(t *testing.T, s store.Store) {
		called := false
		_, err := s.UpdateSession(context.Background(), "nope", longTTL, func(*store.Session) error {
			called = true
			return nil
		})
		if !errors.Is(err, store.ErrNotFound) || called {
			t.Fatalf("want ErrNotFound without calling fn, got %v (fn called: %v)", err, called)
		}
	}},
	{"KeepsID", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		got := mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.ID = "999zzz999"
			return nil
		})
		if got.ID != sid || mustGet(t, s, sid).ID != sid {
			t.Fatalf("update moved the session to %q", got.ID)
		}
		if _, err := s.GetSession(context.Background(), "999zzz999"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session appeared under the id fn set: %v", err)
		}
	}},
	{"ConcurrentNoLostUpdate", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		v0 := mustGet(t, s, sid).Version
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				name := fmt.Sprintf("writer-%02d", i)
				got, err := s.UpdateSession(context.Background(), sid, longTTL, func(sess *store.Session) error {
					sess.Members = append(sess.Members, member(name, at))
					return nil
				})
				if err == nil && !slices.ContainsFunc(got.Members, func(m protocol.Member) bool { return m.InstanceID == name }) {
					err = fmt.Errorf("%s: returned session lacks its own member", name)
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		final := mustGet(t, s, sid)
		var names []string
		for _, m := range final.Members[1:] {
			names = append(names, m.InstanceID)
		}
		slices.Sort(names)
		if len(final.Members) != writers+1 || len(slices.Compact(names)) != writers {
			t.Fatalf("lost updates: %d members after %d appends: %v", len(final.Members)-1, writers, names)
		}
		if final.Version != v0+writers {
			t.Fatalf("version %d after %d updates from %d", final.Version, writers, v0)
		}
	}},
	{"CanceledContext", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.GetSession(ctx, sid); !errors.Is(err, context.Canceled) {
			t.Fatalf("get: want context.Canceled, got %v", err)
		}
		_, err := s.UpdateSession(ctx, sid, longTTL, func(sess *store.Session) error {
			sess.InventoryStarted = true
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("update: want context.Canceled, got %v", err)
		}
		if mustGet(t, s, sid).InventoryStarted {
			t.Fatal("update with a canceled context was written")
		}
	}},
}
