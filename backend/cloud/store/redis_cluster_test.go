package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/cloud/store/storetest"
	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/engine/tracker/trackertest"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The Redis Cluster tests share one private cluster per test binary, stopped by Main.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// newCluster opens a store on the test binary's Redis Cluster under prefix, closed when t ends.
func newCluster(t testing.TB, c *redistest.ClusterServer, prefix string) *store.Redis {
	t.Helper()
	r, err := store.NewRedisCluster(context.Background(), c.Addrs(),
		store.RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewRedisCluster: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRedisClusterConformance(t *testing.T) {
	c := redistest.Cluster(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newCluster(t, c, redistest.Prefix(t)) })
}

func TestRedisClusterSynchronizations(t *testing.T) {
	c := redistest.Cluster(t)
	trackertest.Run(t, func(t *testing.T) tracker.Store {
		return newCluster(t, c, redistest.Prefix(t)).Synchronizations()
	})
}

// Every key of a session, its synchronization's included, is in the hash slot of the session id.
func TestRedisClusterSessionKeysShareASlot(t *testing.T) {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	r := newCluster(t, c, prefix)
	ctx := t.Context()
	s := benchSession("042kqd917")
	if err := r.CreateOwnedSession(ctx, s, testTTL, "alice", 3); err != nil {
		t.Fatal(err)
	}
	groups := []*tracker.Group{{ID: "g1", Op: "copy"}}
	if err := r.Synchronizations().Create(ctx, &protocol.Synchronization{Session: s.ID}, groups, testTTL); err != nil {
		t.Fatal(err)
	}
	cc := c.Client(t)
	want, err := cc.ClusterKeySlot(ctx, s.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		found, err := m.Keys(ctx, prefix+":*").Result()
		if err != nil {
			return err
		}
		for _, k := range found {
			if k == prefix+":owned:alice" {
				continue // the owner's, not the session's
			}
			keys++
			if slot, err := m.ClusterKeySlot(ctx, k).Result(); err != nil || slot != want {
				return fmt.Errorf("key %s in slot %d (%v), want %d", k, slot, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if keys != 4 { // session, status, sync, sync-groups
		t.Fatalf("%d keys of the session, want 4", keys)
	}
}

// A master stops while members report their statuses: its replica takes over, the members try
// again what failed, and every status acknowledged is there afterwards, applied once.
func TestRedisClusterFailoverKeepsAcknowledgedStatuses(t *testing.T) {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	r := newCluster(t, c, prefix)
	ctx := t.Context()

	const sessions, members = 12, 3
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("%03dfov%03d", i, i)
		if err := r.CreateSession(ctx, benchSession(ids[i]), testTTL); err != nil {
			t.Fatal(err)
		}
	}
	old := c.MasterOf(t, prefix+":session:{"+ids[0]+"}")
	// The pushes of every session keep coming once the failover is over, also those whose shard
	// channel the stopped master carried.
	sub, err := r.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pushMu sync.Mutex
	lastPush := map[string]time.Time{}
	go func() {
		for m := range sub {
			pushMu.Lock()
			lastPush[m.Session] = time.Now()
			pushMu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Restart(t, old) }) // the next tests want the whole cluster

	// One writer per member of every session, each sending newer statuses one after the other
	// and trying each again until it is acknowledged.
	base := time.Now().UTC().Truncate(time.Second)
	type writer struct {
		acked   int // last update acknowledged
		applied map[int]int
		err     error
	}
	writers := make([]writer, sessions*members)
	stop := make(chan struct{})
	var retried atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			wr := &writers[w]
			wr.applied = map[int]int{}
			id, inst := ids[w/members], fmt.Sprintf("inst-%d", w%members)
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				u := protocol.StatusUpdate{Status: protocol.InventoryRunningAnalysis, At: base.Add(time.Duration(seq) * time.Millisecond)}
				deadline := time.Now().Add(20 * time.Second)
				for {
					applied, err := r.SetMemberStatus(ctx, id, testTTL, "client", inst, u,
						store.Message{Session: id, Event: protocol.Event{Type: protocol.EventStatusUpdated, Session: id}})
					if err == nil {
						if applied {
							wr.applied[seq]++
						}
						wr.acked = seq
						break
					}
					if !errors.Is(err, store.ErrUnavailable) {
						wr.err = fmt.Errorf("update %d of %s in %s: %w", seq, inst, id, err)
						return
					}
					retried.Add(1)
					if time.Now().After(deadline) {
						wr.err = fmt.Errorf("update %d of %s in %s still failing: %w", seq, inst, id, err)
						return
					}
					time.Sleep(10 * time.Millisecond) // the client's pause between tries
				}
			}
		})
	}
	// Let some updates through, stop the master under them, wait for its replica to take over,
	// and let some more through.
	waitAcked := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			// The store tells how far the writers of the first session got.
			done := true
			s, err := r.GetSession(ctx, ids[0])
			if err == nil {
				for _, m := range s.Members {
					if m.StatusAt.Before(base.Add(time.Duration(n) * time.Millisecond)) {
						done = false
					}
				}
			} else {
				done = false
			}
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("updates do not reach %d (%v)", n, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(20)
	c.Shutdown(t, old)
	promoted := c.WaitPromoted(t, prefix+":session:{"+ids[0]+"}", old)
	promotedAt := time.Now()
	now := getSoon(t, r, ids[0])
	t.Logf("failed over from %s to %s", old, promoted)
	for deadline := time.Now().Add(20 * time.Second); ; {
		pushMu.Lock()
		missing := ""
		for _, id := range ids {
			if !lastPush[id].After(promotedAt) {
				missing = id
			}
		}
		pushMu.Unlock()
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no push of session %s since the failover", missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := 0
	for _, m := range now.Members {
		after = max(after, int(m.StatusAt.Sub(base)/time.Millisecond))
	}
	waitAcked(after + 20)
	close(stop)
	wg.Wait()

	if retried.Load() == 0 {
		t.Fatal("no update failed during the failover: the test did not test it")
	}
	t.Logf("%d tries failed during the failover and were made again", retried.Load())
	for w := range writers {
		wr := &writers[w]
		if wr.err != nil {
			t.Fatal(wr.err)
		}
		id, inst := ids[w/members], fmt.Sprintf("inst-%d", w%members)
		s := getSoon(t, r, id)
		var got time.Time
		for _, m := range s.Members {
			if m.InstanceID == inst {
				got = m.StatusAt
			}
		}
		if want := base.Add(time.Duration(wr.acked) * time.Millisecond); !got.Equal(want) {
			t.Errorf("%s in %s: status of %v, want the last acknowledged, %v (update %d)", inst, id, got, want, wr.acked)
		}
		for seq, n := range wr.applied {
			if n > 1 {
				t.Errorf("%s in %s: update %d applied %d times", inst, id, seq, n)
			}
		}
		if wr.acked < 2 {
			t.Errorf("%s in %s: only %d updates acknowledged", inst, id, wr.acked)
		}
	}
}

// getSoon reads a session as a client would through the server, again while the store is
// unavailable (503), until a deadline.
func getSoon(t *testing.T, r store.Store, id string) *store.Session {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := r.GetSession(t.Context(), id)
		if err == nil {
			return s
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("read session %s: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Resharding moves the slots of the push channels to other masters: the subscriptions follow
// them, and the pushes of every session arrive again.
func TestRedisClusterPushesFollowMovedChannels(t *testing.T) {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	r := newCluster(t, c, prefix)
	sub, err := r.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for n := range 16 {
		c.MoveSlot(t, fmt.Sprintf("%s:push:{%d}", prefix, n))
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := range 8 {
		id := fmt.Sprintf("%03dmov%03d", i, i)
		m := store.Message{Session: id, Event: protocol.Event{Type: protocol.EventMemberJoined, Session: id}}
	wait:
		for {
			// A push published before the subscription moved is lost: publish until one arrives.
			if err := r.Publish(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			select {
			case got, ok := <-sub:
				if !ok {
					t.Fatal("subscription closed")
				}
				if got.Session == id {
					break wait
				}
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no push of session %s since its channel moved", id)
			}
		}
	}
}
