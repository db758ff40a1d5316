package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// subscribeBuffer is how many messages wait for a slow subscriber before the connection's
// reader blocks; go-redis then drops a message that waits more than a minute.
const subscribeBuffer = 256

// Publish sends m to every subscriber of every process sharing the prefix. A message goes out
// once a process subscribes; nothing is kept for processes that subscribe later.
func (r *Redis) Publish(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("publish %s: encode: %w", m.Event.Type, err)
	}
	if err := r.client.Publish(ctx, r.pushChannel(), b).Err(); err != nil {
		return fmt.Errorf("publish %s: %w", m.Event.Type, redisErr(err))
	}
	return nil
}

// Subscribe returns once Redis has confirmed the subscription, so a Publish that follows, from
// any process, is delivered. The channel closes when ctx ends or the store is closed.
//
// Redis pub/sub delivers at most once. When the connection to Redis drops, go-redis reconnects
// and subscribes again, but what was published in between is lost; it is logged. Clients
// recover by reading their sessions again when their push connection comes back, and the server
// should treat pushes as hints, not as the record.
func (r *Redis) Subscribe(ctx context.Context) (<-chan Message, error) {
	if err := r.addSub(); err != nil {
		return nil, err
	}
	ps := r.client.Subscribe(ctx, r.pushChannel())
	if err := confirm(ctx, ps); err != nil {
		_ = ps.Close()
		r.subs.Done()
		return nil, fmt.Errorf("subscribe %s: %w", r.pushChannel(), redisErr(err))
	}
	out := make(chan Message)
	go r.forward(ctx, ps, out)
	return out, nil
}

// addSub counts a new subscription unless the store is closed.
func (r *Redis) addSub() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.subs.Add(1)
	return nil
}

// confirm waits for the server's answer to SUBSCRIBE.
func confirm(ctx context.Context, ps *redis.PubSub) error {
	v, err := ps.Receive(ctx)
	if err != nil {
		return err
	}
	if s, ok := v.(*redis.Subscription); !ok || s.Kind != "subscribe" {
		return fmt.Errorf("unexpected answer %v", v)
	}
	return nil
}

// forward decodes the subscription's messages into out until ctx ends or the store closes.
func (r *Redis) forward(ctx context.Context, ps *redis.PubSub, out chan<- Message) {
	defer r.subs.Done()
	defer close(out)
	defer ps.Close()
	in := ps.ChannelWithSubscriptions(redis.WithChannelSize(subscribeBuffer))
	for {
		var v any
		select {
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case v = <-in:
		}
		switch v := v.(type) {
		case nil:
			return // go-redis closed the channel
		case *redis.Subscription:
			if v.Kind == "subscribe" {
				r.log.Warn("push subscription re-established after a lost connection; messages published meanwhile were lost",
					"channel", v.Channel)
			}
		case *redis.Message:
			var m Message
			if err := json.Unmarshal([]byte(v.Payload), &m); err != nil {
				r.log.Error("push message dropped: cannot decode", "channel", v.Channel, "err", err)
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			case <-r.done:
				return
			}
		}
	}
}
