package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/protocol"
)

const (
	messages   = 50 // per publisher
	publishers = 3
)

var pushTests = []test{
	{"TwoSubscribers", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		subs := []<-chan store.Message{mustSubscribe(t, s, ctx), mustSubscribe(t, s, ctx)}
		var want []store.Message
		for i := range messages {
			m := message("pub", i)
			want = append(want, m)
			mustPublish(t, s, m)
		}
		for n, sub := range subs {
			for i, w := range want {
				sameJSON(t, fmt.Sprintf("subscriber %d, message %d", n, i), Receive(t, sub), w)
			}
		}
	}},
	{"OrderPerPublisher", func(t *testing.T, s store.Store) {
		sub := mustSubscribe(t, s, t.Context())
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range messages {
					if err := s.Publish(context.Background(), message(fmt.Sprint(p), i)); err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			})
		}
		next := map[string]int{}
		for range publishers * messages {
			m := Receive(t, sub)
			if i := seq(t, m); i != next[m.Event.Member] {
				t.Fatalf("publisher %s: got message %d, want %d", m.Event.Member, i, next[m.Event.Member])
			}
			next[m.Event.Member]++
		}
		wg.Wait()
	}},
	{"OrderPerSession", func(t *testing.T, s store.Store) {
		// The events about one session keep their order whether they go to its members or to
		// one client (a joiner's admission, then the session's events).
		sub := mustSubscribe(t, s, t.Context())
		for i := range messages {
			m := message("pub", i)
			if i%2 == 0 {
				m.Session = "" // to the client inst-pub only, about the session
			} else {
				m.To = "" // to the session's members
			}
			mustPublish(t, s, m)
		}
		for i := range messages {
			if got := seq(t, Receive(t, sub)); got != i {
				t.Fatalf("got message %d, want %d", got, i)
			}
		}
	}},
	{"NoReplay", func(t *testing.T, s store.Store) {
		mustPublish(t, s, message("pub", 0))
		sub := mustSubscribe(t, s, t.Context())
		mustPublish(t, s, message("pub", 1))
		if got := seq(t, Receive(t, sub)); got != 1 {
			t.Fatalf("subscriber got message %d published before it subscribed", got)
		}
	}},
	{"PublishWithoutSubscribers", func(t *testing.T, s store.Store) {
		mustPublish(t, s, message("pub", 0))
	}},
	{"CancelClosesChannel", func(t *testing.T, s store.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		sub := mustSubscribe(t, s, ctx)
		other := mustSubscribe(t, s, t.Context())
		cancel()
		Closed(t, sub)
		mustPublish(t, s, message("pub", 0)) // the other subscription lives on
		if got := seq(t, Receive(t, other)); got != 0 {
			t.Fatalf("got message %d, want 0", got)
		}
	}},
}

// Receive returns the next message of sub, failing t when none comes in time or sub closed.
func Receive(t testing.TB, sub <-chan store.Message) store.Message {
	t.Helper()
	select {
	case m, ok := <-sub:
		if !ok {
			t.Fatal("subscription closed, want a message")
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
	}
	return store.Message{}
}

// Closed waits for sub to close, dropping what it still delivers.
func Closed(t testing.TB, sub <-chan store.Message) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-sub:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("subscription not closed within %v", waitFor)
		}
	}
}

func mustSubscribe(t *testing.T, s store.Store, ctx context.Context) <-chan store.Message {
	t.Helper()
	sub, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return sub
}

func mustPublish(t *testing.T, s store.Store, m store.Message) {
	t.Helper()
	if err := s.Publish(context.Background(), m); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// message is the i-th push of a publisher; seq reads i back.
func message(publisher string, i int) store.Message {
	return store.Message{
		Session: sid,
		To:      "inst-" + publisher,
		Event: protocol.Event{
			Type: protocol.EventStatusUpdated, Session: sid, Member: publisher,
			At:   time.Date(2026, 2, 3, 4, 5, 6, i, time.UTC),
			Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, i)),
		},
	}
}

func seq(t testing.TB, m store.Message) int {
	t.Helper()
	var d struct{ Seq int }
	if err := json.Unmarshal(m.Event.Data, &d); err != nil {
		t.Fatalf("message data %q: %v", m.Event.Data, err)
	}
	return d.Seq
}
