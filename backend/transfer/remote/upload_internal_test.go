package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Parts refused for a full storage go again lowest first, and a part waits while a lower one
// is refused: the room the recipients free goes to the part they wait for.
func TestQuotaQueueTurns(t *testing.T) {
	t.Parallel()
	var q quotaQueue
	done, cancel := context.WithCancel(context.Background())
	cancel()
	mayGo := func(n int) bool { return q.turn(done, n) == nil } // a waiting turn ends with done's error
	steps := []struct {
		join, leave int
		may         []int
		mayNot      []int
	}{
		{may: []int{1, 7}},
		{join: 5, may: []int{1, 5}, mayNot: []int{6, 9}},
		{join: 3, may: []int{3}, mayNot: []int{4, 5, 6}},
		{join: 3, may: []int{3}, mayNot: []int{4}}, // joining twice changes nothing
		{leave: 3, may: []int{4, 5}, mayNot: []int{6}},
		{leave: 8, may: []int{5}, mayNot: []int{6}}, // a part not in the queue
		{leave: 5, may: []int{6, 100}},
	}
	for i, s := range steps {
		if s.join > 0 {
			q.join(s.join)
		}
		if s.leave > 0 {
			q.leave(s.leave)
		}
		for _, n := range s.may {
			if !mayGo(n) {
				t.Errorf("step %d: part %d waits, queue %v", i, n, q.waiting)
			}
		}
		for _, n := range s.mayNot {
			if mayGo(n) {
				t.Errorf("step %d: part %d may go, queue %v", i, n, q.waiting)
			}
		}
	}
}

// A part waiting for its turn goes once the lower parts left the queue.
func TestQuotaQueueWakes(t *testing.T) {
	t.Parallel()
	var q quotaQueue
	q.join(2)
	q.join(4)
	turned := make(chan error, 1)
	go func() { turned <- q.turn(context.Background(), 6) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		q.mu.Lock()
		waiting := q.changed.ch != nil
		q.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("part 6 did not start waiting")
		}
		time.Sleep(time.Millisecond) // polled: until the part waits
	}
	q.leave(2)
	q.leave(4)
	select {
	case err := <-turned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("part 6 still waits with an empty queue")
	}
}

// outageRelay is a relay storage of quota bytes whose one recipient takes the parts in order,
// freeing their room. The first upload of part 1 is slow and fails as an outage would, once
// the storage holds four parts or after a second.
type outageRelay struct {
	quota int64

	mu      sync.Mutex
	stored  map[int]int64 // parts on the server, not taken yet
	sizes   map[int]int64 // every part ever stored
	tries   map[int]int
	total   int           // parts of the completed transfer
	taken   int           // parts the recipient took, in order
	changed chan struct{} // closed and replaced at every change
}

func newOutageRelay(quota int64) *outageRelay {
	return &outageRelay{quota: quota, stored: map[int]int64{}, sizes: map[int]int64{}, tries: map[int]int{},
		changed: make(chan struct{})}
}

// waitFor waits until cond holds (r.mu held) or d passes; it returns with r.mu held.
func (r *outageRelay) waitFor(d time.Duration, cond func() bool) {
	deadline := time.After(d)
	for !cond() {
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			r.mu.Lock()
			return
		}
		r.mu.Lock()
	}
}

func (r *outageRelay) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *outageRelay) UploadPart(_ context.Context, _, _ string, n int, sealed []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries[n]++
	if n == 1 && r.tries[n] == 1 {
		r.waitFor(time.Second, func() bool { return len(r.stored) >= 4 })
		return fmt.Errorf("upload part 1: %w", client.ErrUnreachable)
	}
	var used int64
	for _, size := range r.stored {
		used += size
	}
	if used+int64(len(sealed)) > r.quota {
		return &client.StatusError{Status: http.StatusInsufficientStorage, Err: &protocol.Error{Code: "quota", Message: "full"}}
	}
	r.stored[n], r.sizes[n] = int64(len(sealed)), int64(len(sealed))
	r.changedLocked()
	return nil
}

// take is the recipient: it takes the parts in order until the last.
func (r *outageRelay) take(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.total == 0 || r.taken < r.total {
		if _, ok := r.stored[r.taken+1]; ok {
			delete(r.stored, r.taken+1)
			r.taken++
			r.changedLocked()
			continue
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			return
		}
		r.mu.Lock()
	}
}

func (r *outageRelay) CreateTransfer(_ context.Context, _ string, req protocol.TransferRequest) (*protocol.TransferState, error) {
	return &protocol.TransferState{ID: req.ID, Kind: req.Kind, Recipients: req.Recipients}, nil
}

func (r *outageRelay) TransferState(_ context.Context, _, id string) (*protocol.TransferState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &protocol.TransferState{ID: id}
	for n, size := range r.sizes {
		st.Parts = append(st.Parts, protocol.PartInfo{N: n, Size: size})
	}
	return st, nil
}

func (r *outageRelay) CompleteTransfer(_ context.Context, _, _ string, parts int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total = parts
	r.changedLocked()
	return nil
}

func (r *outageRelay) DownloadPart(context.Context, string, string, int) ([]byte, error) {
	return nil, errors.New("not used")
}
func (r *outageRelay) PartReceived(context.Context, string, string, int) error { return nil }
func (r *outageRelay) CancelTransfer(context.Context, string, string) error    { return nil }

// A part slow to upload, then failing as the server goes away, holds the later parts back
// within the window: they would fill the storage before it is tried again, and the recipient,
// who needs it first, could free nothing (both sides would wait, until Idle). The storage has
// room for that part and three beyond it.
func TestUploadFailedPartHoldsLaterOnes(t *testing.T) {
	t.Parallel()
	const slice, parts = 64 << 10, 10
	relay := newOutageRelay(4 * (slice + crypto.PartOverhead))
	x := NewExchange(relay, "111aaa111", crypto.SessionKey{}, "sender", nil, Options{
		RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Idle: 3 * time.Second,
		MinSlice: slice, MaxSlice: slice, StartSlice: slice})
	defer func() { // nothing waits for receipts here
		done, cancel := context.WithCancel(context.Background())
		cancel()
		_ = x.Close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		relay.take(ctx)
	}()
	if _, err := x.send(ctx, "transfer", protocol.TransferContent, []string{"recipient"}, bytes.NewReader(make([]byte, parts*slice))); err != nil {
		t.Fatalf("send: %v", err)
	}
	<-taken
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.taken != parts {
		t.Fatalf("the recipient took %d parts of %d", relay.taken, parts)
	}
}
