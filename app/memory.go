package app

import (
	"runtime/debug"
	"time"
)

// giveBackWait is how long the app stays idle after a run or a Quit before the memory they let
// go returns to the system.
const giveBackWait = 3 * time.Second

// giveBackLater returns the memory let go to the system once the app has been idle for
// giveBackWait: the heap shrinks at the next collection, but the runtime keeps freed pages for
// minutes. A call while one waits makes it wait again from now; work running when the wait ends
// gives back at its own end instead.
func (c *core) giveBackLater() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.giveBack != nil {
		select {
		case c.giveBack <- struct{}{}:
		default:
		}
		return
	}
	again := make(chan struct{}, 1)
	c.giveBack = again
	wait, done := c.giveBackWait, c.gaveBack
	c.goBackground(func() {
		t := time.NewTimer(wait)
		defer t.Stop()
		idle := false
	waiting:
		for {
			select {
			case <-c.life.Done():
				break waiting
			case <-again:
				t.Reset(wait)
			case <-t.C:
				break waiting
			}
		}
		c.mu.Lock()
		idle = c.life.Err() == nil && c.idleLocked() == nil
		c.giveBack = nil
		c.mu.Unlock()
		if idle {
			debug.FreeOSMemory()
		}
		if done != nil {
			done(idle)
		}
	})
}
