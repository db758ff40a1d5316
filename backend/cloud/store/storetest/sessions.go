package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

const sid = "042kqd917"

var sessionTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		want := testSession(sid)
		mustCreate(t, s, want, longTTL)
		sameJSON(t, "stored session", mustGet(t, s, sid), want)
	}},
	{"CreateExists", func(t *testing.T, s store.Store) {
		first := testSession(sid)
		mustCreate(t, s, first, longTTL)
		second := testSession(sid)
		second.SettingsVersion = 99
		err := s.CreateSession(context.Background(), second, longTTL)
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second create: want ErrExists, got %v", err)
		}
		sameJSON(t, "session after refused create", mustGet(t, s, sid), first)
	}},
	{"CreateWithoutID", func(t *testing.T, s store.Store) {
		if err := s.CreateSession(context.Background(), testSession(""), longTTL); err == nil {
			t.Fatal("create without id: want an error")
		}
	}},
	{"GetUnknown", func(t *testing.T, s store.Store) {
		_, err := s.GetSession(context.Background(), "nope")
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustCreate(t, s, testSession(sid), longTTL)
		if err := s.DeleteSession(ctx, sid); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.GetSession(ctx, sid); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get after delete: want ErrNotFound, got %v", err)
		}
		_, err := s.UpdateSession(ctx, sid, longTTL, func(*store.Session) error { return nil })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update after delete: want ErrNotFound, got %v", err)
		}
		if err := s.DeleteSession(ctx, sid); err != nil {
			t.Fatalf("delete again: want nil, got %v", err)
		}
		mustCreate(t, s, testSession(sid), longTTL) // the id is free again
	}},
	{"NoSharedMemory", func(t *testing.T, s store.Store) {
		in := testSession(sid)
		want := testSession(sid)
		mustCreate(t, s, in, longTTL)
		in.Members[0].PrivateData[0] = 'X'
		in.Settings = nil
		got := mustGet(t, s, sid)
		got.Members[0].Nodes[0].Data[0] = 'X'
		got.Joins["t2"] = store.Join{Ticket: "t2"}
		sameJSON(t, "session after callers changed their copies", mustGet(t, s, sid), want)
	}},
}

func mustCreate(t *testing.T, s store.Store, sess *store.Session, ttl time.Duration) {
	t.Helper()
	if err := s.CreateSession(context.Background(), sess, ttl); err != nil {
		t.Fatalf("create session %q: %v", sess.ID, err)
	}
}

func mustGet(t *testing.T, s store.Store, id string) *store.Session {
	t.Helper()
	got, err := s.GetSession(context.Background(), id)
	if err != nil {
		t.Fatalf("get session %q: %v", id, err)
	}
	return got
}

func mustUpdate(t *testing.T, s store.Store, id string, ttl time.Duration, fn func(*store.Session) error) *store.Session {
	t.Helper()
	got, err := s.UpdateSession(context.Background(), id, ttl, fn)
	if err != nil {
		t.Fatalf("update session %q: %v", id, err)
	}
	return got
}
