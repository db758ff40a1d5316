// Package backoff holds Ferry's wait between retries: exponential from a base, bounded, with
// jitter so that clients that failed together do not retry together.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy doubles the wait from Base after each failure, up to Max.
type Policy struct {
	Base time.Duration // bound of the first wait
	Max  time.Duration // bound of every wait
}

// Ceiling is min(Max, Base·2^(attempt-1)) without overflow (attempt ≥ 1).
func (p Policy) Ceiling(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Full is the wait after the attempt-th failure with full jitter: a random time in [0, Ceiling).
func (p Policy) Full(attempt int) time.Duration {
	d := p.Ceiling(attempt)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// Equal is the wait after the attempt-th failure with equal jitter: between half and all of
// Ceiling, for waits that must not be cut short.
func (p Policy) Equal(attempt int) time.Duration {
	d := p.Ceiling(attempt)
	return d/2 + rand.N(d/2+1)
}
