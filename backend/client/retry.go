package client

import (
	"context"
	"errors"
	"time"

	"github.com/ferrysync/ferry/backend/backoff"
)

// Retry shapes the retries of calls: of idempotent ones (GET, PUT, DELETE) when the server could
// not be reached or a gateway answered 502, 503 or 504; of any call the server turned away
// before acting on it (429 over its rate, 503 busy); never after any other answer. The waits
// are exponential with full jitter: attempt n waits a random time below min(Max, Base·2ⁿ⁻¹),
// and at least the server's Retry-After when that is below Max.
// Zero fields take the defaults: 4 attempts, Base 100 ms, Max 2 s.
type Retry struct {
	Attempts int           // tries in all, the first included
	Base     time.Duration // bound of the first wait
	Max      time.Duration // bound of every wait
}

// defaultRetry: 4 attempts, waits bounded by 100 ms, 200 ms, 400 ms.
var defaultRetry = Retry{Attempts: 4, Base: 100 * time.Millisecond, Max: 2 * time.Second}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = defaultRetry.Attempts
	}
	if r.Base <= 0 {
		r.Base = defaultRetry.Base
	}
	if r.Max <= 0 {
		r.Max = max(defaultRetry.Max, r.Base)
	}
	return r
}

// policy is the backoff of these retries.
func (r Retry) policy() backoff.Policy { return backoff.Policy{Base: r.Base, Max: r.Max} }

// backoff is the wait after the attempt-th failure (attempt ≥ 1), with full jitter.
func (r Retry) backoff(attempt int) time.Duration { return r.policy().Full(attempt) }

// wait is the wait after the attempt-th failure, err: the backoff, or the server's Retry-After
// when it asks for longer (but never beyond Max).
func (r Retry) wait(attempt int, err error) time.Duration {
	d := r.backoff(attempt)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = min(se.RetryAfter, r.Max)
	}
	return d
}

// ceiling is min(Max, Base·2^(attempt-1)).
func (r Retry) ceiling(attempt int) time.Duration { return r.policy().Ceiling(attempt) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
