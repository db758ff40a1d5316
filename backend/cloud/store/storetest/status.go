package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

// statusWriters is how many goroutines set statuses in the concurrent status test, each
// statusRounds times.
const (
	statusWriters = 8
	statusRounds  = 10
)

var statusTests = []test{
	{"NewestWins", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, longTTL)
		at := sess.Members[0].StatusAt
		newer := status(protocol.InventoryRunningAnalysis, at.Add(time.Second))
		if !mustSetStatus(t, s, "inst-a", newer) {
			t.Fatal("a newer status was not applied")
		}
		wantStatus(t, s, "inst-a", newer)
		for _, old := range []protocol.StatusUpdate{
			status(protocol.InventoryError, at),                                          // older
			status(protocol.InventoryError, newer.At.In(time.FixedZone("x", 3600))),      // same instant
			status(protocol.InventoryError, newer.At.Add(-time.Nanosecond)),              // just older
			status(protocol.InventoryFinished, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)), // zero time
		} {
			if mustSetStatus(t, s, "inst-a", old) {
				t.Fatalf("status at %v applied over one at %v", old.At, newer.At)
			}
		}
		wantStatus(t, s, "inst-a", newer)
		newest := status(protocol.InventoryFinished, newer.At.Add(time.Nanosecond))
		if !mustSetStatus(t, s, "inst-a", newest) {
			t.Fatal("a status one nanosecond newer was not applied")
		}
		wantStatus(t, s, "inst-a", newest)
		// The rest of the session is as it was created.
		want := testSession(sid)
		want.Members[0].Status, want.Members[0].StatusAt = newest.Status, newest.At
		got := mustGet(t, s, sid)
		got.Version = 0
		sameJSON(t, "session after status updates", got, want)
	}},
	{"UnknownSession", func(t *testing.T, s store.Store) {
		_, err := setStatus(s, sid, "inst-a", status(protocol.InventoryFinished, time.Now()))
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	}},
	{"NotMember", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		before := mustGet(t, s, sid)
		u := status(protocol.InventoryFinished, time.Now())
		for _, who := range []struct{ client, instance string }{
			{"client-inst-b", "inst-b"}, // not in the session
			{"client-inst-b", "inst-a"}, // a member's instance, another client
			{"client-inst-a", "inst-b"}, // a member's client, another instance
		} {
			_, err := s.SetMemberStatus(context.Background(), sid, longTTL, who.client, who.instance, u, statusPush(who.instance, u))
			if !errors.Is(err, store.ErrNotMember) {
				t.Fatalf("client %s, instance %s: want ErrNotMember, got %v", who.client, who.instance, err)
			}
		}
		sameJSON(t, "session after refused updates", mustGet(t, s, sid), before)
	}},
	{"PushWhenApplied", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, longTTL)
		sub := mustSubscribe(t, s, t.Context())
		u := status(protocol.InventoryRunningIdentification, sess.Members[0].StatusAt.Add(time.Minute))
		push := statusPush("inst-a", u)
		if _, err := s.SetMemberStatus(context.Background(), sid, longTTL, "client-inst-a", "inst-a", u, push); err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "status push", Receive(t, sub), push)
		// An ignored update pushes nothing: the next message is the marker published after it.
		if mustSetStatus(t, s, "inst-a", u) {
			t.Fatal("the same status applied twice")
		}
		marker := message("marker", 7)
		mustPublish(t, s, marker)
		sameJSON(t, "message after an ignored status", Receive(t, sub), marker)
	}},
	{"UpdateSeesStatus", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, longTTL)
		u := status(protocol.InventoryWaitingForAnalysis, sess.Members[0].StatusAt.Add(time.Hour))
		mustSetStatus(t, s, "inst-a", u)
		got := mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			if m := sess.Members[0]; m.Status != u.Status || !m.StatusAt.Equal(u.At) {
				return fmt.Errorf("update sees status %v at %v, want %v at %v", m.Status, m.StatusAt, u.Status, u.At)
			}
			sess.SettingsVersion++
			return nil
		})
		if m := got.Members[0]; m.Status != u.Status || !m.StatusAt.Equal(u.At) {
			t.Fatalf("update returned status %v at %v, want %v at %v", m.Status, m.StatusAt, u.Status, u.At)
		}
		wantStatus(t, s, "inst-a", u)
		// A status an update sets is the one later updates compare with, even an older one.
		older := status(protocol.InventoryCancelled, u.At.Add(-time.Minute))
		mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.Members[0].Status, sess.Members[0].StatusAt = older.Status, older.At
			return nil
		})
		wantStatus(t, s, "inst-a", older)
		if !mustSetStatus(t, s, "inst-a", status(protocol.InventoryFinished, older.At.Add(time.Second))) {
			t.Fatal("a status newer than the one an update set was not applied")
		}
		// ErrNoChange answers the stored statuses.
		got, err := s.UpdateSession(context.Background(), sid, longTTL, func(sess *store.Session) error {
			sess.Members[0].Status = protocol.InventoryError
			return store.ErrNoChange
		})
		if err != nil || got.Members[0].Status != protocol.InventoryFinished {
			t.Fatalf("update without change: %v, status %v", err, got.Members[0].Status)
		}
	}},
	{"RemovedMember", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		at := sess.Members[0].StatusAt
		sess.Members = append(sess.Members, member("inst-b", at))
		mustCreate(t, s, sess, longTTL)
		latest := status(protocol.InventoryFinished, at.Add(time.Hour))
		mustSetStatus(t, s, "inst-b", latest)
		mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.Members = sess.Members[:1]
			return nil
		})
		if _, err := setStatus(s, sid, "inst-b", status(protocol.InventoryError, at.Add(2*time.Hour))); !errors.Is(err, store.ErrNotMember) {
			t.Fatalf("status of a removed member: want ErrNotMember, got %v", err)
		}
		// Back as a new member: its old status is gone with it.
		mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.Members = append(sess.Members, member("inst-b", at))
			return nil
		})
		wantStatus(t, s, "inst-b", status(protocol.InventoryWaitingForStart, at))
		if !mustSetStatus(t, s, "inst-b", status(protocol.InventoryError, at.Add(time.Minute))) {
			t.Fatal("the member back was compared with its status before it left")
		}
	}},
	{"DeletedSession", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, longTTL)
		mustSetStatus(t, s, "inst-a", status(protocol.InventoryFinished, sess.Members[0].StatusAt.Add(time.Hour)))
		if err := s.DeleteSession(context.Background(), sid); err != nil {
			t.Fatal(err)
		}
		if _, err := setStatus(s, sid, "inst-a", status(protocol.InventoryError, time.Now())); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status in a deleted session: want ErrNotFound, got %v", err)
		}
		// A new session under the id starts from its own statuses.
		mustCreate(t, s, testSession(sid), longTTL)
		got := mustGet(t, s, sid)
		got.Version = 0
		sameJSON(t, "session created again", got, testSession(sid))
	}},
	{"RefreshesTTL", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, shortTTL)
		u := status(protocol.InventoryFinished, sess.Members[0].StatusAt.Add(time.Hour))
		if _, err := s.SetMemberStatus(context.Background(), sid, longTTL, "client-inst-a", "inst-a", u, statusPush("inst-a", u)); err != nil {
			t.Fatal(err)
		}
		afterExpiry(t, s)
		wantStatus(t, s, "inst-a", u)
	}},
	{"IgnoredKeepsTTL", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, shortTTL)
		u := status(protocol.InventoryFinished, sess.Members[0].StatusAt)
		if applied, err := s.SetMemberStatus(context.Background(), sid, longTTL, "client-inst-a", "inst-a", u, statusPush("inst-a", u)); err != nil || applied {
			t.Fatalf("same time: applied %v, %v; want not applied", applied, err)
		}
		sessionGone(t, s, sid)
	}},
	{"Refuses", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		mustCreate(t, s, sess, longTTL)
		before := mustGet(t, s, sid)
		ctx := context.Background()
		at := sess.Members[0].StatusAt.Add(time.Hour)
		for _, ttl := range []time.Duration{0, -time.Second} {
			u := status(protocol.InventoryFinished, at)
			if _, err := s.SetMemberStatus(ctx, sid, ttl, "client-inst-a", "inst-a", u, statusPush("inst-a", u)); err == nil {
				t.Errorf("ttl %v: want an error", ttl)
			}
		}
		for _, u := range []protocol.StatusUpdate{
			status(protocol.StatusUnknown, at),
			status(protocol.SynchronizationFinished+1, at),
			status(protocol.InventoryFinished, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		} {
			if _, err := s.SetMemberStatus(ctx, sid, longTTL, "client-inst-a", "inst-a", u, store.Message{}); err == nil {
				t.Errorf("status %v at %v: want an error", u.Status, u.At)
			}
		}
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		u := status(protocol.InventoryFinished, at)
		if _, err := s.SetMemberStatus(canceled, sid, longTTL, "client-inst-a", "inst-a", u, statusPush("inst-a", u)); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled context: want context.Canceled, got %v", err)
		}
		sameJSON(t, "session after refused updates", mustGet(t, s, sid), before)
	}},
	{"ConcurrentWithUpdates", func(t *testing.T, s store.Store) {
		sess := testSession(sid)
		at := sess.Members[0].StatusAt
		sess.Members = append(sess.Members, member("inst-b", at))
		mustCreate(t, s, sess, longTTL)
		instances := []string{"inst-a", "inst-b"}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			applied = map[string][]time.Time{}
			start   = make(chan struct{})
		)
		for w := range statusWriters {
			wg.Go(func() {
				<-start
				instance := instances[w%len(instances)]
				for i := range statusRounds {
					// Writers of one member interleave their times, so some updates lose.
					u := status(protocol.MemberStatus(1+i%int(protocol.SynchronizationFinished)),
						at.Add(time.Duration(i*statusWriters+w)*time.Millisecond))
					ok, err := setStatus(s, sid, instance, u)
					if err != nil {
						t.Errorf("%s: %v", instance, err)
						return
					}
					if ok {
						mu.Lock()
						applied[instance] = append(applied[instance], u.At)
						mu.Unlock()
					}
				}
			})
		}
		for range writers {
			wg.Go(func() {
				<-start
				_, err := s.UpdateSession(context.Background(), sid, longTTL, func(sess *store.Session) error {
					sess.SettingsVersion++
					return nil
				})
				if err != nil {
					t.Errorf("update: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		got := mustGet(t, s, sid)
		if got.SettingsVersion != sess.SettingsVersion+writers {
			t.Fatalf("settings version %d after %d updates from %d", got.SettingsVersion, writers, sess.SettingsVersion)
		}
		for i, instance := range instances {
			times := applied[instance]
			if len(times) == 0 {
				t.Fatalf("%s: no status applied", instance)
			}
			latest := slices.MaxFunc(times, time.Time.Compare)
			if m := got.Members[i]; !m.StatusAt.Equal(latest) {
				t.Fatalf("%s: status at %v, want the latest applied, %v", instance, m.StatusAt, latest)
			}
		}
	}},
}

func status(st protocol.MemberStatus, at time.Time) protocol.StatusUpdate {
	return protocol.StatusUpdate{Status: st, At: at}
}

// statusPush is the status_updated push of u.
func statusPush(instance string, u protocol.StatusUpdate) store.Message {
	data, err := json.Marshal(u)
	if err != nil {
		data = nil // an invalid status: the store refuses it before pushing
	}
	return store.Message{Session: sid, Event: protocol.Event{
		Type: protocol.EventStatusUpdated, Session: sid, Member: instance,
		At: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), Data: data,
	}}
}

// setStatus sets the status of a member of testSession or member (client "client-" + instance).
func setStatus(s store.Store, id, instance string, u protocol.StatusUpdate) (bool, error) {
	return s.SetMemberStatus(context.Background(), id, longTTL, "client-"+instance, instance, u, statusPush(instance, u))
}

func mustSetStatus(t *testing.T, s store.Store, instance string, u protocol.StatusUpdate) bool {
	t.Helper()
	applied, err := setStatus(s, sid, instance, u)
	if err != nil {
		t.Fatalf("set status of %s: %v", instance, err)
	}
	return applied
}

// wantStatus fails t unless GetSession holds u as the status of instance.
func wantStatus(t *testing.T, s store.Store, instance string, u protocol.StatusUpdate) {
	t.Helper()
	for _, m := range mustGet(t, s, sid).Members {
		if m.InstanceID == instance {
			sameJSON(t, "status of "+instance, protocol.StatusUpdate{Status: m.Status, At: m.StatusAt}, u)
			return
		}
	}
	t.Fatalf("no member %s", instance)
}
