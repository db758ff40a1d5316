package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/cloud/store/storetest"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

const testTTL = time.Hour

// newRedis opens a Redis store on url under prefix, closed when t ends.
func newRedis(t testing.TB, url, prefix string) *store.Redis {
	t.Helper()
	return newRedisWith(t, url, store.RedisOptions{Prefix: prefix})
}

func newRedisWith(t testing.TB, url string, opts store.RedisOptions) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// rawClient talks to the test server directly, to look at keys and connections.
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newRedis(t, url, redistest.Prefix(t)) })
}

// Two stores on one server with one prefix behave as two server processes sharing a state.
func TestRedisCrossProcessPubSub(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	a, b := newRedis(t, url, prefix), newRedis(t, url, prefix)
	elsewhere := newRedis(t, url, redistest.Prefix(t))
	subA, err := a.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	subElsewhere, err := elsewhere.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fromB := message("from-b")
	if err := b.Publish(context.Background(), fromB); err != nil {
		t.Fatal(err)
	}
	fromA := message("from-a")
	if err := a.Publish(context.Background(), fromA); err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]<-chan store.Message{"a": subA, "b": subB} {
		for _, want := range []store.Message{fromB, fromA} {
			if got := storetest.Receive(t, sub); got.Event.Member != want.Event.Member {
				t.Fatalf("subscriber on %s got a message from %s, want from %s", name, got.Event.Member, want.Event.Member)
			}
		}
	}
	// Another prefix is another deployment: it saw neither message, only its own.
	own := message("own")
	if err := elsewhere.Publish(context.Background(), own); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Receive(t, subElsewhere); got.Event.Member != "own" {
		t.Fatalf("another prefix received a message from %s", got.Event.Member)
	}
}

func TestRedisCrossProcessUpdates(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	procs := []*store.Redis{newRedis(t, url, prefix), newRedis(t, url, prefix)}
	s := &store.Session{}
	s.ID = "042kqd917"
	if err := procs[0].CreateSession(context.Background(), s, testTTL); err != nil {
		t.Fatal(err)
	}
	const perProc = 25
	var wg sync.WaitGroup
	for p, proc := range procs {
		for i := range perProc {
			wg.Go(func() {
				_, err := proc.UpdateSession(context.Background(), s.ID, testTTL, func(s *store.Session) error {
					s.Members = append(s.Members, protocol.Member{
						InstanceID: fmt.Sprintf("p%d-%d", p, i), Status: protocol.InventoryWaitingForStart})
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	got, err := procs[1].GetSession(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(procs) * perProc; len(got.Members) != n || got.Version != int64(n) {
		t.Fatalf("%d members at version %d, want %d at %d", len(got.Members), got.Version, n, n)
	}
}

// A writer that gets in between WATCH and EXEC makes the update run fn again on the new state.
func TestRedisUpdateRetriesAfterConflict(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	r, other := newRedis(t, url, prefix), newRedis(t, url, prefix)
	s := &store.Session{}
	s.ID = "042kqd917"
	if err := r.CreateSession(context.Background(), s, testTTL); err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := r.UpdateSession(context.Background(), s.ID, testTTL, func(s *store.Session) error {
		calls++
		if calls == 1 {
			_, err := other.UpdateSession(context.Background(), s.ID, testTTL, func(s *store.Session) error {
				s.InventoryStarted = true
				return nil
			})
			if err != nil {
				return err
			}
		}
		s.SettingsVersion++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || !got.InventoryStarted || got.SettingsVersion != 1 || got.Version != 2 {
		t.Fatalf("calls=%d inventory_started=%v settings_version=%d version=%d, want 2 true 1 2",
			calls, got.InventoryStarted, got.SettingsVersion, got.Version)
	}
}

// Every key the store writes expires, with the TTL of its last write.
func TestRedisKeysExpire(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	r := newRedis(t, url, prefix)
	ctx := context.Background()
	s := &store.Session{}
	s.ID = "042kqd917"
	steps := []error{
		r.CreateSession(ctx, s, time.Minute),
		r.PutChallenge(ctx, []byte{0xca, 0xfe}, []byte("pk"), time.Minute),
		r.PutRefresh(ctx, "hash", store.Refresh{ClientID: "c"}, time.Minute),
		r.Touch(ctx, "inst", time.Minute),
	}
	_, err := r.UpdateSession(ctx, s.ID, testTTL, func(s *store.Session) error { s.SettingsVersion++; return nil })
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		prefix + ":session:{042kqd917}": testTTL,
		prefix + ":challenge:cafe":      time.Minute,
		prefix + ":refresh:hash":        time.Minute,
		prefix + ":seen:inst":           time.Minute,
	}
	c := rawClient(t, url)
	keys, err := c.Keys(ctx, prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %d keys", keys, len(want))
	}
	for _, k := range keys {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[k]
		if !ok || ttl <= w-time.Minute/2 || ttl > w {
			t.Errorf("key %s: ttl %v, want about %v (known key: %v)", k, ttl, w, ok)
		}
	}
}

// When the subscription's connection drops, go-redis subscribes again; the store says so in its
// log, and messages published afterwards arrive.
func TestRedisResubscribesAfterLostConnection(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	// Name the store's connections, to cut only this test's subscription on a shared server.
	name := "ferrytest-" + prefix[strings.LastIndex(prefix, ":")+1:]
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	logs := &testio.Buffer{}
	r := newRedisWith(t, url+sep+"client_name="+name, store.RedisOptions{
		Prefix: prefix, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	sub, err := r.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, url)
	ctx := context.Background()
	killed := 0
	clients, err := c.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(clients) {
		fields := strings.Fields(line)
		if slices.Contains(fields, "name="+name) && slices.Contains(fields, "sub=1") {
			id, _ := strings.CutPrefix(fields[0], "id=")
			if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatalf("kill the subscription's connection: %v", err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("found %d subscription connections named %s, want 1:\n%s", killed, name, clients)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "re-established") {
		if time.Now().After(deadline) {
			t.Fatalf("no resubscription logged; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	channel := prefix + ":push"
	if n, err := c.PubSubNumSub(ctx, channel).Result(); err != nil || n[channel] != 1 {
		t.Fatalf("subscribers of %s after reconnect: %v (%v), want 1", channel, n[channel], err)
	}
	if err := r.Publish(ctx, message("after")); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Receive(t, sub); got.Event.Member != "after" {
		t.Fatalf("got a message from %s, want from after", got.Event.Member)
	}
}

func TestRedisNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := store.NewRedis(ctx, "http://nope", store.RedisOptions{}); err == nil {
		t.Error("NewRedis with a bad url: want an error")
	}
	// Something listens but hangs up at once: not a Redis server.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := store.NewRedis(ctx, "redis://"+l.Addr().String(), store.RedisOptions{}); err == nil {
		t.Errorf("NewRedis on %s, which hangs up: want an error", l.Addr())
	}
}

func message(from string) store.Message {
	return store.Message{Session: "042kqd917", Event: protocol.Event{
		Type: protocol.EventMemberJoined, Session: "042kqd917", Member: from, At: time.Now().UTC()}}
}
