package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Memory-specific behaviour; the Store contract itself is checked by storetest (memory_test.go).

type memFakeClock struct{ ns atomic.Int64 }

func newMemFakeClock() *memFakeClock {
	c := &memFakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *memFakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *memFakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func memTestSession(id string) *Session {
	return &Session{Session: protocol.Session{
		ID:       id,
		Settings: protocol.Blob("settings"),
		Members: []protocol.Member{{
			InstanceID: "inst-0001", ClientID: "AAAA-BBBB-CCCC-DDDD", Letter: "A",
			Status: protocol.InventoryWaitingForStart,
		}},
	}}
}

func TestMemorySessionCopies(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	s := memTestSession("123abc456")
	if err := m.CreateSession(ctx, s, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Settings[0] = 'X' // the store kept its own copy
	got, err := m.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Settings) != "settings" {
		t.Fatalf("settings %q: the store shares memory with the caller", got.Settings)
	}
	got.Members[0].Letter = "Z"
	again, _ := m.GetSession(ctx, s.ID)
	if again.Members[0].Letter != "A" {
		t.Fatal("a read copy shares memory with the store")
	}
	var kept *Session
	if _, err := m.UpdateSession(ctx, s.ID, time.Hour, func(s *Session) error {
		kept = s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	kept.Members[0].Letter = "Y" // the update function's copy is not the stored state either
	again, _ = m.GetSession(ctx, s.ID)
	if again.Members[0].Letter != "A" {
		t.Fatal("the update function's session shares memory with the store")
	}
}

// An update function may block without blocking other sessions or the store.
func TestMemoryNoGlobalLockDuringUpdate(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for _, id := range []string{"111aaa111", "222bbb222"} {
		if err := m.CreateSession(ctx, memTestSession(id), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := m.UpdateSession(ctx, "111aaa111", time.Hour, func(*Session) error {
			close(entered)
			<-release
			return nil
		})
		done <- err
	}()
	<-entered
	if _, err := m.UpdateSession(ctx, "222bbb222", time.Hour, func(*Session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := m.Touch(ctx, "i", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateSession(ctx, memTestSession("111aaa111"), time.Hour); !errors.Is(err, ErrExists) {
		t.Fatalf("create over a session being updated: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMemoryConcurrentUpdatesSerialized(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if err := m.CreateSession(ctx, memTestSession("111aaa111"), time.Hour); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := m.UpdateSession(ctx, "111aaa111", time.Hour, func(s *Session) error {
				s.SettingsVersion++
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, _ := m.GetSession(ctx, "111aaa111")
	if s.SettingsVersion != n || s.Version != n {
		t.Fatalf("%d updates, version %d; want %d", s.SettingsVersion, s.Version, n)
	}
}

// Expiry with a fake clock, and the lazy sweep that drops expired entries nobody reads.
func TestMemoryExpiryAndSweep(t *testing.T) {
	ctx := context.Background()
	clock := newMemFakeClock()
	m := NewMemoryWithClock(clock.Now)
	if err := m.CreateSession(ctx, memTestSession("123abc456"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(50 * time.Second)
	if _, err := m.UpdateSession(ctx, "123abc456", time.Minute, func(*Session) error { return nil }); err != nil {
		t.Fatal(err) // refreshes the TTL
	}
	clock.Advance(50 * time.Second)
	if _, err := m.GetSession(ctx, "123abc456"); err != nil {
		t.Fatalf("TTL not refreshed by the write: %v", err)
	}
	clock.Advance(11 * time.Second)
	if _, err := m.GetSession(ctx, "123abc456"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if err := m.CreateSession(ctx, memTestSession("123abc456"), time.Minute); err != nil {
		t.Fatalf("create over an expired session: %v", err)
	}
	_ = m.PutChallenge(ctx, []byte{1}, []byte("pub"), time.Minute)
	_ = m.PutRefresh(ctx, "h", Refresh{}, time.Minute)
	_ = m.Touch(ctx, "i", time.Minute)
	clock.Advance(2 * memSweepEvery)
	_ = m.Touch(ctx, "j", time.Minute) // any call sweeps once the period has passed
	m.mu.Lock()
	left := len(m.sessions) + len(m.challenges) + len(m.refresh) + len(m.seen)
	m.mu.Unlock()
	if left != 1 {
		t.Fatalf("%d entries left after a sweep, want 1 (the fresh touch)", left)
	}
}

// A subscriber that does not read never blocks publishers: its overflow is dropped and counted.
func TestMemorySlowSubscriberDrops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := NewMemory()
	slow, err := m.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := m.Subscribe(ctx)
	got := make(chan int)
	go func() {
		n := 0
		for range fast {
			n++
		}
		got <- n
	}()
	const extra = 10
	for i := range MemorySubscriberBuffer + extra {
		if err := m.Publish(ctx, Message{To: "x", Event: protocol.Event{Member: string(rune('a' + i%26))}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := m.Dropped(); d < extra {
		t.Fatalf("dropped %d, want at least %d", d, extra)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range slow {
		n++
	}
	if n != MemorySubscriberBuffer {
		t.Fatalf("slow subscriber kept %d messages, want %d", n, MemorySubscriberBuffer)
	}
	if f := <-got; uint64(f)+m.Dropped() != 2*(MemorySubscriberBuffer+extra)-uint64(n) {
		t.Fatalf("fast subscriber got %d, dropped %d in all", f, m.Dropped())
	}
}
