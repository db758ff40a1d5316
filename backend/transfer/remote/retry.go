package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ferrysync/ferry/backend/backoff"
	"github.com/ferrysync/ferry/backend/client"
)

// failure classes for retries and for the slice controller.
type failure uint8

const (
	permanent  failure = iota // a refusal: trying again changes nothing
	network                   // the server could not be reached, or the connection broke
	overloaded                // the server answered it cannot now: 408, 429, 5xx, 507 (quota)
)

// classify tells whether err may pass.
func classify(err error) failure {
	var se *client.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusUnauthorized,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout, http.StatusInsufficientStorage:
			return overloaded
		}
		return permanent
	}
	if errors.Is(err, client.ErrUnreachable) {
		return network
	}
	return permanent
}

func retryable(err error) bool { return classify(err) != permanent }

// status is the HTTP status of an answer in err's chain, 0 when there is none.
func status(err error) int {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// backoff is the wait after the attempt-th failure: RetryBase doubling up to RetryMax, with
// jitter between half and all of it.
func (x *Exchange) backoff(attempt int) time.Duration {
	return backoff.Policy{Base: x.opts.RetryBase, Max: x.opts.RetryMax}.Equal(attempt)
}

// retrier follows the failures of one request: it says whether to try again and waits.
type retrier struct {
	x       *Exchange
	op      string
	attempt int
	failing time.Time // since the first failure
}

// again is called after a failed attempt: it waits and returns nil to try again, or returns
// the error to give up with. A request gives up once it failed for the retry window, or when
// every request of the Exchange has been failing for that long (the server is gone: later
// requests do not wait the window again). A full relay storage is waited for longer, Idle:
// it empties as recipients receive.
func (r *retrier) again(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", r.op, context.Cause(ctx))
	}
	if !retryable(err) {
		return err // the API's errors name the request
	}
	now := time.Now()
	if r.failing.IsZero() {
		r.failing = now
	}
	window, since := r.x.opts.RetryWindow, r.x.outage(now)
	if status(err) == http.StatusInsufficientStorage {
		window, since = r.x.opts.Idle, now
	}
	if failed := max(now.Sub(r.failing), now.Sub(since)); failed >= window {
		r.x.log.Warn("relay: giving up", "op", r.op, "after", failed.Round(time.Second), "err", err)
		return fmt.Errorf("still failing after %v: %w", failed.Round(time.Second), err)
	}
	r.attempt++
	r.x.stats.retried.Add(1)
	d := r.x.backoff(r.attempt)
	r.x.log.Debug("relay: retrying", "op", r.op, "attempt", r.attempt, "wait", d, "err", err)
	if err := sleep(ctx, d); err != nil {
		return fmt.Errorf("%s: %w", r.op, err)
	}
	return nil
}

// outage is when every request began failing (now when the last one succeeded). The first
// failure after a success starts it; any success ends it.
func (x *Exchange) outage(now time.Time) time.Time {
	x.failing.CompareAndSwap(0, now.UnixNano())
	return time.Unix(0, x.failing.Load())
}

// reached records a request that the server answered with success.
func (x *Exchange) reached() { x.failing.Store(0) }

// retry runs f until it succeeds, fails for good, or keeps failing for the retry window.
func (x *Exchange) retry(ctx context.Context, op string, f func(context.Context) error) error {
	r := retrier{x: x, op: op}
	for {
		err := f(ctx)
		if err == nil {
			x.reached()
			return nil
		}
		if err := r.again(ctx, err); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
