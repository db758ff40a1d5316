package client

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Knobs of BenchmarkRedisStatusUpdates, from the environment.
const (
	envBenchDuration = "FERRY_BENCH_DURATION" // load time per iteration, e.g. 10s (30s when unset)
	envBenchClients  = "FERRY_BENCH_CLIENTS"  // concurrent clients (32 when unset)
	envBenchPush     = "FERRY_BENCH_PUSH"     // 0: the clients hold no push connection
)

// BenchmarkRedisStatusUpdates drives a Redis-backed server on loopback with concurrent clients,
// each a member of its own session holding a push connection, reporting member statuses as
// fast as the server answers for a fixed time. It reports the updates per second, the latency
// of one update (p50, p99) and the errors, which must be none. Each b.Loop iteration is one
// load period: -benchtime=1x runs exactly one. It runs on a single Redis (store=redis) and on a
// Redis Cluster of three masters with a replica each, in the same run: acknowledging each update
// once a replica has it (store=cluster, the default) and at once (store=cluster-nowait), which
// tells what the wait costs.
func BenchmarkRedisStatusUpdates(b *testing.B) {
	b.Run("store=redis", func(b *testing.B) {
		st, err := store.NewRedis(b.Context(), redistest.URL(b), store.RedisOptions{Prefix: redistest.Prefix(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		benchStatusUpdates(b, st)
	})
	for _, v := range []struct {
		name     string
		replicas int
	}{{"cluster-nowait", -1}, {"cluster", 0}} {
		b.Run("store="+v.name, func(b *testing.B) {
			c := redistest.Cluster(b)
			st, err := store.NewRedisCluster(b.Context(), c.Addrs(), store.RedisOptions{Prefix: redistest.Prefix(b), Replicas: v.replicas})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			benchStatusUpdates(b, st)
		})
	}
}

func benchStatusUpdates(b *testing.B, st store.Store) {
	duration := envDuration(b, envBenchDuration, 30*time.Second)
	clients := envInt(b, envBenchClients, 32)
	withPush := os.Getenv(envBenchPush) != "0"

	// The server's own speed is measured, not the allowance of one client.
	srv := startServer(b, cloud.Config{Store: st, Limits: cloud.Limits{Rate: -1}}, nil)

	type member struct {
		c       *Client
		session string
		last    time.Time
	}
	members := make([]*member, clients)
	for i := range members {
		c := newClient(b, srv.URL(), Options{})
		s := newSession(b, c)
		if withPush {
			r, err := c.Push(b.Context(), s.ID)
			if err != nil {
				b.Fatal(err)
			}
			nextEvent(b, r, protocol.EventSubscribed)
			go func() {
				for range r.Events() { // members read their pushes
				}
			}()
			b.Cleanup(r.Close)
		}
		members[i] = &member{c: c, session: s.ID}
	}

	var (
		latencies []time.Duration
		updates   int
		failures  int
		ignored   int
		elapsed   time.Duration
	)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(b.Context(), duration)
		lats := make([][]time.Duration, clients)
		errs := make([]int, clients)
		notApplied := make([]int, clients)
		var wg sync.WaitGroup
		start := time.Now()
		for i, m := range members {
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					at := time.Now().UTC().Truncate(time.Microsecond)
					if !at.After(m.last) {
						at = m.last.Add(time.Microsecond)
					}
					m.last = at
					u := protocol.StatusUpdate{Status: protocol.MemberStatus(1 + n%int(protocol.SynchronizationFinished)), At: at}
					t0 := time.Now()
					applied, err := m.c.SetStatus(ctx, m.session, u)
					switch {
					case ctx.Err() != nil: // the period ended during the call: not counted
						return
					case err != nil:
						errs[i]++
						if errs[i] == 1 {
							b.Logf("client %d: %v", i, err)
						}
					case !applied:
						notApplied[i]++
					default:
						lats[i] = append(lats[i], time.Since(t0))
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		cancel()
		for i := range members {
			latencies = append(latencies, lats[i]...)
			failures += errs[i]
			ignored += notApplied[i]
		}
		updates = len(latencies)
	}

	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(updates)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(ms(percentile(latencies, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 99)), "p99-ms")
	b.ReportMetric(float64(failures), "errors")
	if updates > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(updates), "ns/op")
	}
	b.Logf("%d clients (push %v), %v: %d updates, %.0f/s, p50 %v, p99 %v, max %v, %d errors, %d not applied",
		clients, withPush, elapsed.Round(time.Millisecond), updates, float64(updates)/elapsed.Seconds(),
		percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 100), failures, ignored)
	if failures > 0 || ignored > 0 {
		b.Errorf("%d errors and %d updates not applied, want none", failures, ignored)
	}
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 30s", name, v)
	}
	return d
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
