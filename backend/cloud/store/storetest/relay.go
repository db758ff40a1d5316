package storetest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/store"
)

var relayTests = []test{
	{"UpdateAndGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		if d, err := s.GetRelay(ctx, sid, "t1"); err != nil || d.Session != nil || d.Transfer != nil {
			t.Fatalf("empty: %+v %v", d, err)
		}
		mustUpdateRelay(t, s, "t1", func(d *store.RelayDocs) error {
			d.Session, d.Transfer = []byte(`{"n":1}`), []byte(`{"t":1}`)
			return nil
		})
		mustUpdateRelay(t, s, "t2", func(d *store.RelayDocs) error {
			if string(d.Session) != `{"n":1}` || d.Transfer != nil {
				t.Errorf("t2 reads %q %q", d.Session, d.Transfer)
			}
			d.Session, d.Transfer = []byte(`{"n":2}`), []byte(`{"t":2}`)
			return nil
		})
		d, err := s.GetRelay(ctx, sid, "t1")
		if err != nil || string(d.Session) != `{"n":2}` || string(d.Transfer) != `{"t":1}` {
			t.Fatalf("get t1: %q %q %v", d.Session, d.Transfer, err)
		}
		if ids, err := s.RelayTransfers(ctx, sid); err != nil || !slices.Equal(ids, []string{"t1", "t2"}) {
			t.Fatalf("transfers %v %v", ids, err)
		}
		mustUpdateRelay(t, s, "t1", func(d *store.RelayDocs) error {
			d.Transfer = nil
			return nil
		})
		if ids, err := s.RelayTransfers(ctx, sid); err != nil || !slices.Equal(ids, []string{"t2"}) {
			t.Fatalf("transfers after a deletion %v %v", ids, err)
		}
		if err := s.DeleteRelay(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if d, err := s.GetRelay(ctx, sid, "t2"); err != nil || d.Session != nil || d.Transfer != nil {
			t.Fatalf("after DeleteRelay: %q %q %v", d.Session, d.Transfer, err)
		}
	}},
	{"NoChangeAndErrors", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		mustUpdateRelay(t, s, "", func(d *store.RelayDocs) error {
			d.Session = []byte("1")
			return nil
		})
		mustUpdateRelay(t, s, "", func(d *store.RelayDocs) error {
			d.Session = []byte("2")
			return store.ErrNoChange
		})
		boom := errors.New("boom")
		if err := s.UpdateRelay(ctx, sid, "", longTTL, func(d *store.RelayDocs) error {
			d.Session = []byte("3")
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("fn's error: %v", err)
		}
		if d, err := s.GetRelay(ctx, sid, ""); err != nil || string(d.Session) != "1" {
			t.Fatalf("after refused updates: %q %v", d.Session, err)
		}
	}},
	// Concurrent updates of the session's document and of different transfers lose nothing.
	{"Atomic", func(t *testing.T, s store.Store) {
		const writers, each = 8, 25
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for range each {
					err := s.UpdateRelay(context.Background(), sid, "t"+strconv.Itoa(w), longTTL, func(d *store.RelayDocs) error {
						n, _ := strconv.Atoi(string(d.Session))
						m, _ := strconv.Atoi(string(d.Transfer))
						d.Session, d.Transfer = []byte(strconv.Itoa(n+1)), []byte(strconv.Itoa(m+1))
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		d, err := s.GetRelay(context.Background(), sid, "t3")
		if err != nil || string(d.Session) != strconv.Itoa(writers*each) || string(d.Transfer) != strconv.Itoa(each) {
			t.Fatalf("counts %q %q %v, want %d and %d", d.Session, d.Transfer, err, writers*each, each)
		}
	}},
	{"Expires", func(t *testing.T, s store.Store) {
		if err := s.UpdateRelay(context.Background(), sid, "t1", shortTTL, func(d *store.RelayDocs) error {
			d.Session, d.Transfer = []byte("1"), []byte("1")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "relay documents expire", func() bool {
			d, err := s.GetRelay(context.Background(), sid, "t1")
			return err == nil && d.Session == nil && d.Transfer == nil
		})
	}},
}

func mustUpdateRelay(t *testing.T, s store.Store, transfer string, fn func(*store.RelayDocs) error) {
	t.Helper()
	if err := s.UpdateRelay(context.Background(), sid, transfer, longTTL, fn); err != nil {
		t.Fatalf("update relay %s: %v", transfer, err)
	}
}
