package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/engine/tracker"
	"github.com/ferrysync/ferry/backend/engine/tracker/trackertest"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

func TestMemorySynchronizations(t *testing.T) {
	trackertest.Run(t, func(t *testing.T) tracker.Store {
		m := store.NewMemory()
		t.Cleanup(func() { _ = m.Close() })
		if m.Synchronizations() != m.Synchronizations() {
			t.Fatal("Synchronizations returned two stores")
		}
		return m.Synchronizations()
	})
}

func TestRedisSynchronizations(t *testing.T) {
	url := redistest.URL(t)
	trackertest.Run(t, func(t *testing.T) tracker.Store {
		return newRedis(t, url, redistest.Prefix(t)).Synchronizations()
	})
}

// A run with more groups than one HSET carries: every group is stored in the groups hash, both
// keys expire, no staging key is left behind, and an update reads only the groups it names.
func TestRedisSynchronizationsLayout(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	syncs := newRedis(t, url, prefix).Synchronizations()
	raw := rawClient(t, url)
	ctx := t.Context()

	const n = 10_500
	members := []string{"member-alice", "member-bob"}
	defs := make([]protocol.GroupDefinition, n)
	for i := range defs {
		defs[i] = protocol.GroupDefinition{ID: fmt.Sprintf("AGID_%d", i+1), Op: "create",
			Targets: []protocol.Target{{Member: members[i%2], Node: "N"}}}
	}
	tr := tracker.New(syncs, tracker.Options{TTL: testTTL})
	if _, err := tr.Start(ctx, "s1", members[0], members, defs); err != nil {
		t.Fatal(err)
	}
	if got, err := raw.HLen(ctx, prefix+":sync-groups:{s1}").Result(); err != nil || got != n {
		t.Fatalf("groups hash holds %d fields (%v), want %d", got, err, n)
	}
	for _, k := range []string{prefix + ":sync:{s1}", prefix + ":sync-groups:{s1}"} {
		if ttl, err := raw.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > testTTL {
			t.Errorf("%s: TTL %v (%v)", k, ttl, err)
		}
	}
	if left, err := raw.Keys(ctx, prefix+":sync-staging:*").Result(); err != nil || len(left) != 0 {
		t.Fatalf("staging keys left: %v (%v)", left, err)
	}

	// Starting again while it runs writes nothing.
	if _, err := tr.Start(ctx, "s1", members[0], members, defs[:1]); !errors.Is(err, tracker.ErrRunning) {
		t.Fatalf("second start: %v, want ErrRunning", err)
	}
	if left, err := raw.Keys(ctx, prefix+":sync-staging:*").Result(); err != nil || len(left) != 0 {
		t.Fatalf("staging keys left by a refused start: %v (%v)", left, err)
	}

	c, err := tr.Report(ctx, "s1", members[1], []protocol.ActionResult{{Group: "AGID_2", Kind: protocol.ResultCreated}})
	if err != nil || !c.Changed || len(c.Groups) != 1 || !c.Groups[0].Success {
		t.Fatalf("report: %+v %v", c, err)
	}
	if _, err := tr.Report(ctx, "s1", members[1], []protocol.ActionResult{{Group: "AGID_0", Kind: protocol.ResultCreated}}); !errors.Is(err, tracker.ErrUnknownGroup) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := tr.Report(ctx, "none", members[1], nil); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}

	// After the end, a start replaces the run and its groups.
	if _, err := tr.MemberLeft(ctx, "s1", members[1], "member B quit"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(ctx, "s1", members[0], members, defs[:3]); err != nil {
		t.Fatalf("start after the end: %v", err)
	}
	if got, err := raw.HLen(ctx, prefix+":sync-groups:{s1}").Result(); err != nil || got != 3 {
		t.Fatalf("groups after the restart: %d (%v), want 3", got, err)
	}
	// An empty run has no groups hash at all.
	if _, err := tr.MemberLeft(ctx, "s1", members[1], "member B quit"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(ctx, "s1", members[0], members, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := raw.Exists(ctx, prefix+":sync-groups:{s1}").Result(); err != nil || got != 0 {
		t.Fatalf("groups hash of an empty run: exists=%d (%v)", got, err)
	}
	if err := syncs.Delete(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if got, err := raw.Exists(ctx, prefix+":sync:{s1}", prefix+":sync-groups:{s1}").Result(); err != nil || got != 0 {
		t.Fatalf("after delete: %d keys (%v)", got, err)
	}
}

// Runs expire with their TTL.
func TestRedisSynchronizationsExpire(t *testing.T) {
	syncs := newRedis(t, redistest.URL(t), redistest.Prefix(t)).Synchronizations()
	tr := tracker.New(syncs, tracker.Options{TTL: 50 * time.Millisecond})
	if _, err := tr.Start(t.Context(), "s1", "member-alice", []string{"member-alice"}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := tr.Get(t.Context(), "s1")
		if errors.Is(err, tracker.ErrNotFound) {
			return
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("run still there after its TTL: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
