package inventory

import "time"

// progressEvery is the shortest interval between two progress reports.
const progressEvery = 100 * time.Millisecond

// reporter calls a progress callback from a single goroutine every progressEvery while work runs,
// and once more when it ends. A nil reporter does nothing.
type reporter struct {
	fn   func(Progress)
	snap func() Progress
	stop chan struct{}
	done chan struct{}
}

func startReporter(fn func(Progress), snap func() Progress) *reporter {
	if fn == nil {
		return nil
	}
	r := &reporter{fn: fn, snap: snap, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				fn(snap())
			}
		}
	}()
	return r
}

// finish stops the periodic reports and sends the final one; no call happens after it returns.
func (r *reporter) finish() {
	if r == nil {
		return
	}
	close(r.stop)
	<-r.done
	r.fn(r.snap())
}
