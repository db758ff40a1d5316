package remote

import (
	"context"
	"testing"
	"time"
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
