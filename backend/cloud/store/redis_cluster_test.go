package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
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
	groups := slices.Values([]*tracker.Group{{ID: "g1", Op: "copy"}})
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
	t.Logf("failed over from %s to %s", old, promoted)
	// The promoted master has no replica until the old one is back: writes on its sessions wait
	// for one (503 meanwhile).
	c.Restart(t, old)
	now := getSoon(t, r, ids[0])
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

// A master is killed (SIGKILL) while writers update statuses, sessions and relay bookkeeping,
// and while its replica lags behind: the replica is paused (SIGSTOP) and the master is sent more
// than the socket buffers hold, so what the master acknowledged last has not left it when it
// dies. The replica takes over, the writers try again what failed, and every update
// acknowledged before, during and after is there afterwards: the store acknowledges a write only
// once a replica has it (WAIT). With Replicas: -1 (no wait) this test fails.
func TestRedisClusterKilledMasterLosesNoAcknowledgedWrite(t *testing.T) {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	r, err := store.NewRedisCluster(t.Context(), c.Addrs(), store.RedisOptions{Prefix: prefix,
		Logger: slog.New(slog.DiscardHandler), WaitTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx := t.Context()

	const sessions = 12
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("%03dkil%03d", i, i)
		if err := r.CreateSession(ctx, benchSession(ids[i]), testTTL); err != nil {
			t.Fatal(err)
		}
	}
	key := prefix + ":session:{" + ids[0] + "}"
	old := c.MasterOf(t, key)
	t.Cleanup(func() { c.Restart(t, old) }) // the next tests want the whole cluster

	// Three writers per session: member statuses, the session's document (a counter in
	// SettingsVersion) and its relay bookkeeping (a counter). Each tries an update again until
	// it is acknowledged, and remembers the last acknowledged value.
	base := time.Now().UTC().Truncate(time.Second)
	kinds := []struct {
		name  string
		write func(id string, seq int) (int, error)
		read  func(id string) (int, error)
	}{
		{"status", func(id string, seq int) (int, error) {
			u := protocol.StatusUpdate{Status: protocol.InventoryRunningAnalysis, At: base.Add(time.Duration(seq) * time.Millisecond)}
			_, err := r.SetMemberStatus(ctx, id, testTTL, "client", "inst-0", u,
				store.Message{Session: id, Event: protocol.Event{Type: protocol.EventStatusUpdated, Session: id}})
			return seq, err
		}, func(id string) (int, error) {
			s, err := r.GetSession(ctx, id)
			if err != nil {
				return 0, err
			}
			return int(s.Members[0].StatusAt.Sub(base) / time.Millisecond), nil
		}},
		{"session", func(id string, _ int) (int, error) {
			s, err := r.UpdateSession(ctx, id, testTTL, func(s *store.Session) error {
				s.SettingsVersion++
				return nil
			})
			if err != nil {
				return 0, err
			}
			return int(s.SettingsVersion), nil
		}, func(id string) (int, error) {
			s, err := r.GetSession(ctx, id)
			if err != nil {
				return 0, err
			}
			return int(s.SettingsVersion), nil
		}},
		{"relay", func(id string, _ int) (int, error) {
			var n int
			err := r.UpdateRelay(ctx, id, "", testTTL, func(d *store.RelayDocs) error {
				n, _ = strconv.Atoi(string(d.Session))
				n++
				d.Session = []byte(strconv.Itoa(n))
				return nil
			})
			return n, err
		}, func(id string) (int, error) {
			d, err := r.GetRelay(ctx, id, "")
			if err != nil {
				return 0, err
			}
			return strconv.Atoi(string(d.Session))
		}},
	}
	type writer struct {
		acked atomic.Int64 // last value acknowledged
		err   error
	}
	writers := make([]writer, sessions*len(kinds))
	stop := make(chan struct{})
	var retried atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			wr := &writers[w]
			id, kind := ids[w/len(kinds)], kinds[w%len(kinds)]
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				deadline := time.Now().Add(30 * time.Second)
				for {
					v, err := kind.write(id, seq)
					if err == nil {
						wr.acked.Store(int64(v))
						break
					}
					if !errors.Is(err, store.ErrUnavailable) {
						wr.err = fmt.Errorf("%s update %d of %s: %w", kind.name, seq, id, err)
						return
					}
					retried.Add(1)
					if time.Now().After(deadline) {
						wr.err = fmt.Errorf("%s update %d of %s still failing: %w", kind.name, seq, id, err)
						return
					}
					select {
					case <-stop:
						return // given up, not acknowledged
					case <-time.After(10 * time.Millisecond): // the client's pause between tries
					}
				}
			}
		})
	}
	// waitAcked waits until every writer of the first session has n more updates acknowledged
	// than at from.
	progress := func() []int64 {
		out := make([]int64, len(kinds))
		for k := range kinds {
			out[k] = writers[k].acked.Load()
		}
		return out
	}
	waitAcked := func(from []int64, n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for k := range kinds {
			for writers[k].acked.Load() < from[k]+n {
				if writers[k].err != nil || time.Now().After(deadline) {
					t.Fatalf("%s updates of %s stall at %d (%v)", kinds[k].name, ids[0], writers[k].acked.Load(), writers[k].err)
				}
				time.Sleep(10 * time.Millisecond) // polled
			}
		}
	}
	waitAcked(make([]int64, len(kinds)), 20)
	replica := c.ReplicaOf(t, key)
	resume := c.Pause(t, replica)
	// 32 MiB for the replica, more than the loopback socket buffers between them hold: the rest
	// waits in the master's memory.
	raw := c.Client(t)
	filler := strings.Repeat("x", 1<<20)
	for i := range 32 {
		if err := raw.Set(ctx, fmt.Sprintf("%s:filler:{%s}:%d", prefix, ids[0], i), filler, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Let the writers of the first session try a few more updates, then kill.
	paused, triedBefore := progress(), retried.Load()
	for deadline := time.Now().Add(10 * time.Second); ; {
		now, tried := progress(), retried.Load()
		if now[0] >= paused[0]+5 || tried >= triedBefore+int64(3*len(kinds)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no update of the first session was tried while its replica was paused")
		}
		time.Sleep(10 * time.Millisecond) // polled
	}
	c.Kill(t, old)
	// Every update acknowledged so far must survive; stop the writers before the failover, so
	// that no later update hides a lost one.
	acked := make([]int64, len(writers))
	for w := range writers {
		acked[w] = writers[w].acked.Load()
	}
	close(stop)
	wg.Wait()
	resume()
	promoted := c.WaitPromoted(t, key, old)
	t.Logf("paused the replica %s at %v acknowledged, killed the master %s at %v; failed over to %s; %d tries failed and were made again",
		replica, paused, old, acked[:len(kinds)], promoted, retried.Load())
	for w := range writers {
		if err := writers[w].err; err != nil {
			t.Fatal(err)
		}
		id, kind := ids[w/len(kinds)], kinds[w%len(kinds)]
		var got int
		for deadline := time.Now().Add(20 * time.Second); ; {
			var err error
			if got, err = kind.read(id); err == nil {
				break
			}
			if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("read the %s of %s: %v", kind.name, id, err)
			}
			time.Sleep(10 * time.Millisecond) // polled
		}
		if int64(got) < acked[w] || acked[w] < 2 {
			t.Errorf("%s of %s: %d stored after the failover, but %d was acknowledged", kind.name, id, got, acked[w])
		}
	}
	// With the old master back as its replica, the promoted master acknowledges writes again.
	c.Restart(t, old)
	for _, kind := range kinds {
		if _, err := kind.write(ids[0], 1<<20); err != nil {
			t.Fatalf("%s update of %s once the replica is back: %v", kind.name, ids[0], err)
		}
	}
}

// With the replica of a master gone, a write to the master's slots is not acknowledged: it is
// refused as unavailable once the wait for a replica times out, and acknowledged again once
// the replica is back. Without the wait (Replicas < 0) the same write is acknowledged at once.
func TestRedisClusterWriteWaitsForAReplica(t *testing.T) {
	c := redistest.Cluster(t)
	prefix := redistest.Prefix(t)
	const wait = 300 * time.Millisecond
	open := func(replicas int) *store.Redis {
		r, err := store.NewRedisCluster(t.Context(), c.Addrs(), store.RedisOptions{Prefix: prefix,
			Logger: slog.New(slog.DiscardHandler), WaitTimeout: wait, Replicas: replicas})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	r, unsafe := open(0), open(-1)
	ctx := t.Context()
	id := "000wai000"
	if err := r.CreateSession(ctx, benchSession(id), testTTL); err != nil {
		t.Fatal(err)
	}
	replica := c.ReplicaOf(t, prefix+":session:{"+id+"}")
	t.Cleanup(func() { c.Restart(t, replica) })
	c.Kill(t, replica)
	bump := func(r *store.Redis) error {
		_, err := r.UpdateSession(ctx, id, testTTL, func(s *store.Session) error {
			s.SettingsVersion++
			return nil
		})
		return err
	}
	start := time.Now()
	if err := bump(r); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("update without a replica: %v, want unavailable", err)
	} else if took := time.Since(start); took < wait {
		t.Fatalf("refused after %v, before the wait of %v", took, wait)
	} else {
		t.Logf("refused after %v: %v", took, err)
	}
	if err := bump(unsafe); err != nil {
		t.Fatalf("update not waiting for replicas: %v", err)
	}
	c.Restart(t, replica)
	if err := bump(r); err != nil {
		t.Fatalf("update with the replica back: %v", err)
	}
}
