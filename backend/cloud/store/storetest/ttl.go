package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

var ttlTests = []test{
	{"SessionExpires", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), shortTTL)
		sessionGone(t, s, sid)
		mustCreate(t, s, testSession(sid), longTTL) // the id is free again
	}},
	{"UpdateRefreshesTTL", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), shortTTL)
		mustUpdate(t, s, sid, longTTL, func(sess *store.Session) error {
			sess.SettingsVersion++
			return nil
		})
		afterExpiry(t, s)
		mustGet(t, s, sid)
	}},
	{"UpdateSetsTTL", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), longTTL)
		mustUpdate(t, s, sid, shortTTL, func(sess *store.Session) error {
			sess.SettingsVersion++
			return nil
		})
		sessionGone(t, s, sid)
	}},
	{"NoChangeKeepsTTL", func(t *testing.T, s store.Store) {
		mustCreate(t, s, testSession(sid), shortTTL)
		mustUpdate(t, s, sid, longTTL, func(*store.Session) error { return store.ErrNoChange })
		sessionGone(t, s, sid)
	}},
	{"RefusesNonPositive", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustCreate(t, s, testSession(sid), longTTL)
		for _, ttl := range []time.Duration{0, -time.Second} {
			if err := s.CreateSession(ctx, testSession("123abc456"), ttl); err == nil {
				t.Errorf("CreateSession with ttl %v: want an error", ttl)
			}
			if _, err := s.UpdateSession(ctx, sid, ttl, func(*store.Session) error { return nil }); err == nil {
				t.Errorf("UpdateSession with ttl %v: want an error", ttl)
			}
			if err := s.PutChallenge(ctx, []byte("nonce"), []byte("key"), ttl); err == nil {
				t.Errorf("PutChallenge with ttl %v: want an error", ttl)
			}
			if err := s.PutRefresh(ctx, "hash", store.Refresh{ClientID: "c"}, ttl); err == nil {
				t.Errorf("PutRefresh with ttl %v: want an error", ttl)
			}
			if err := s.Touch(ctx, "inst", ttl); err == nil {
				t.Errorf("Touch with ttl %v: want an error", ttl)
			}
		}
		if v := mustGet(t, s, sid).Version; v != 0 {
			t.Errorf("update with a bad ttl was written: version %d", v)
		}
	}},
}
