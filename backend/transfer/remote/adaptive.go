package remote

import (
	"sync"
	"time"
)

// Slice sizes (plain bytes per part) and parts uploaded at once per transfer.
const (
	minSlice    = 64 << 10
	maxSlice    = 16 << 20
	startSlice  = 1 << 20
	minParallel = 2
	maxParallel = 4
)

// controller adapts the part size and the parallelism of uploads to how parts fare, for every
// upload of an Exchange. Parts grow while full-size parts all succeed quickly, shrink when they
// are slow, are reset when the server says it is overloaded, and are halved (with parallelism
// back to its minimum) after two network failures in a row.
type controller struct {
	mu              sync.Mutex
	min, max, start int
	size, parallel  int
	window          []time.Duration // durations of recent successful full-size parts
	networkFailures int             // in a row
}

func newController(lo, hi, start int) *controller {
	return &controller{min: lo, max: hi, start: start, size: start, parallel: minParallel}
}

// sliceSize is the size of the next part to cut.
func (c *controller) sliceSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// parallelism is how many parts of one transfer may be in flight.
func (c *controller) parallelism() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parallel
}

// succeeded records a part of size plain bytes uploaded in took.
func (c *controller) succeeded(size int, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.networkFailures = 0
	if size*10 < c.size*9 {
		return // a short part (the last one, or cut before the size grew) tells little
	}
	c.window = append(c.window, took)
	if len(c.window) < c.parallel {
		return
	}
	slowest := time.Duration(0)
	for _, d := range c.window {
		slowest = max(slowest, d)
	}
	c.window = c.window[:0]
	switch {
	case slowest > 30*time.Second:
		if c.parallel > minParallel {
			c.parallel--
		} else {
			c.resize(c.size * 3 / 4)
		}
		return
	case slowest > 22*time.Second:
		return
	case slowest < time.Second:
		c.resize(c.size * 2)
	case slowest < 3*time.Second:
		c.resize(c.size * 7 / 4)
	case slowest < 10*time.Second:
		c.resize(c.size * 3 / 2)
	default:
		c.resize(c.size * 5 / 4)
	}
	switch {
	case c.size >= 8<<20:
		c.parallel = max(c.parallel, 4)
	case c.size >= 4<<20:
		c.parallel = max(c.parallel, 3)
	}
	c.parallel = min(c.parallel, maxParallel)
}

// failed records a failed attempt.
func (c *controller) failed(f failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.window = c.window[:0]
	switch f {
	case overloaded:
		c.networkFailures = 0
		c.resize(min(c.size, c.start))
	case network:
		if c.networkFailures++; c.networkFailures >= 2 {
			c.networkFailures = 0
			c.parallel = minParallel
			c.resize(c.size / 2)
		}
	}
}

func (c *controller) resize(n int) { c.size = min(max(n, c.min), c.max) }
