package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscribeBuffer is how many messages wait for a slow subscriber before the connection's
// reader blocks; go-redis then drops a message that waits more than a minute.
const subscribeBuffer = 256

// pushShards is how many shard channels carry the pushes on a Redis Cluster: enough to spread
// them over the masters, few enough that each process subscribes to them all.
const pushShards = 16

// On a single Redis, pushes travel over one channel, P:push (PUBLISH, SUBSCRIBE). On a Redis
// Cluster a PUBLISH goes to every node of the cluster and messages sent to different nodes may
// overtake each other, so pushes travel over pushShards shard channels instead, P:push:{n}
// (SPUBLISH, SSUBSCRIBE): each lives on the master of its hash slot and its replicas only,
// every process subscribes to all of them, and the messages about one session take one channel,
// in order.

// pushChannelOf is the channel that carries m: on a cluster, the shard of the session the event
// is about, whether it goes to the session's members or to one client (a joiner's admission
// must not overtake or trail the session's events), or else the recipient's.
func (r *Redis) pushChannelOf(m Message) string {
	if !r.sharded {
		return r.pushChannel()
	}
	key := m.Session
	if key == "" {
		key = m.Event.Session
	}
	if key == "" {
		key = m.To
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return r.shardChannel(int(h.Sum32() % pushShards))
}

func (r *Redis) shardChannel(n int) string { return r.pushChannel() + ":{" + strconv.Itoa(n) + "}" }

// pushChannels are the channels a subscriber listens to.
func (r *Redis) pushChannels() []string {
	if !r.sharded {
		return []string{r.pushChannel()}
	}
	chs := make([]string, pushShards)
	for i := range chs {
		chs[i] = r.shardChannel(i)
	}
	return chs
}

// Publish sends m to every subscriber of every process sharing the prefix. A message goes out
// once a process subscribes; nothing is kept for processes that subscribe later.
func (r *Redis) Publish(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("publish %s: encode: %w", m.Event.Type, err)
	}
	if err := r.publish(ctx, r.pushChannelOf(m), b); err != nil {
		return fmt.Errorf("publish %s: %w", m.Event.Type, redisErr(err))
	}
	return nil
}

func (r *Redis) publish(ctx context.Context, channel string, b []byte) error {
	if r.sharded {
		return r.client.SPublish(ctx, channel, b).Err()
	}
	return r.client.Publish(ctx, channel, b).Err()
}

// Subscribe returns once Redis has confirmed the subscription, so a Publish that follows, from
// any process, is delivered. The channel closes when ctx ends or the store is closed.
//
// Redis pub/sub delivers at most once. When the connection to Redis drops, go-redis reconnects
// and subscribes again (on a cluster, to the master now serving the channel), but what was
// published in between is lost; it is logged. Clients recover by reading their sessions again
// when their push connection comes back, and the server should treat pushes as hints, not as
// the record.
func (r *Redis) Subscribe(ctx context.Context) (<-chan Message, error) {
	if err := r.addSub(); err != nil {
		return nil, err
	}
	channels := r.pushChannels()
	subs := make([]*redis.PubSub, 0, len(channels))
	fail := func(ch string, err error) (<-chan Message, error) {
		for _, ps := range subs {
			_ = ps.Close()
		}
		r.subs.Done()
		return nil, fmt.Errorf("subscribe %s: %w", ch, redisErr(err))
	}
	for _, ch := range channels {
		var ps *redis.PubSub
		if r.sharded {
			ps = r.client.SSubscribe(ctx, ch)
		} else {
			ps = r.client.Subscribe(ctx, ch)
		}
		subs = append(subs, ps)
		if err := confirm(ctx, ps); err != nil {
			return fail(ch, err)
		}
	}
	out := make(chan Message)
	var wg sync.WaitGroup
	for _, ps := range subs {
		wg.Go(func() { r.forward(ctx, ps, out) })
	}
	go func() {
		defer r.subs.Done()
		wg.Wait()
		close(out)
	}()
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
	if s, ok := v.(*redis.Subscription); !ok || (s.Kind != "subscribe" && s.Kind != "ssubscribe") {
		return fmt.Errorf("unexpected answer %v", v)
	}
	return nil
}

// forward decodes the subscription's messages into out until ctx ends or the store closes.
//
// A server that stops serving a shard channel (its slot moved to another master while the
// cluster was resharded) ends the subscription with an SUNSUBSCRIBE of its own, which go-redis
// does not answer: forward then subscribes again, where the channel now lives.
func (r *Redis) forward(ctx context.Context, ps *redis.PubSub, out chan<- Message) {
	defer func() { _ = ps.Close() }()
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
			switch {
			case v.Kind == "subscribe" || v.Kind == "ssubscribe":
				r.log.Warn("push subscription re-established after a lost connection; messages published meanwhile were lost",
					"channel", v.Channel)
			case v.Kind == "sunsubscribe" && r.sharded:
				r.log.Warn("push channel moved to another node; subscribing again, messages published meanwhile are lost",
					"channel", v.Channel)
				next := r.resubscribe(ctx, v.Channel)
				if next == nil {
					return
				}
				_ = ps.Close()
				ps = next
				in = ps.ChannelWithSubscriptions(redis.WithChannelSize(subscribeBuffer))
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

// resubscribe subscribes to the shard channel again, on the node the cluster now names for it,
// trying until it succeeds or ctx ends or the store closes (nil).
func (r *Redis) resubscribe(ctx context.Context, channel string) *redis.PubSub {
	const pauseMin, pauseMax = 10 * time.Millisecond, time.Second
	pause := pauseMin
	for {
		if cc, ok := r.client.(*redis.ClusterClient); ok {
			cc.ReloadState(ctx)
		}
		ps := r.client.SSubscribe(ctx, channel)
		err := confirm(ctx, ps)
		if err == nil {
			return ps
		}
		_ = ps.Close()
		r.log.Warn("push channel: cannot subscribe again yet", "channel", channel, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-r.done:
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, pauseMax)
	}
}
