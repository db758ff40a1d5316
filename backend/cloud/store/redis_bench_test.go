package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/redistest"
	"github.com/ferrysync/ferry/backend/protocol"
)

// BenchmarkRedisUpdateSession measures member status updates from parallel writers spread over
// many sessions, and all on one session (every writer contends for the same key).
func BenchmarkRedisUpdateSession(b *testing.B) {
	url := redistest.URL(b)
	for _, sessions := range []int{1000, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			r := newRedis(b, url, redistest.Prefix(b))
			ids := make([]string, sessions)
			for i := range ids {
				ids[i] = fmt.Sprintf("%03dabc%03d", i/1000, i%1000)
				if err := r.CreateSession(context.Background(), benchSession(ids[i]), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(4) // writers per CPU: requests wait on the network, not the CPU
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := ids[rand.N(len(ids))]
					_, err := r.UpdateSession(ctx, id, time.Hour, func(s *store.Session) error {
						m := &s.Members[rand.N(len(s.Members))]
						m.Status = protocol.InventoryRunningAnalysis
						m.StatusAt = time.Now()
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// benchSession is a session of three members with two nodes of three sources each.
func benchSession(id string) *store.Session {
	s := &store.Session{}
	s.ID = id
	s.Created = time.Now()
	s.Settings = make([]byte, 256)
	for i := range 3 {
		m := protocol.Member{InstanceID: fmt.Sprintf("inst-%d", i), ClientID: "client",
			Letter: string(rune('A' + i)), PrivateData: make([]byte, 64),
			Status: protocol.InventoryWaitingForStart}
		for n := range 2 {
			node := protocol.DataNode{ID: fmt.Sprint(n), Data: make([]byte, 96)}
			for src := range 3 {
				node.Sources = append(node.Sources, protocol.DataSource{ID: fmt.Sprint(src), Data: make([]byte, 96)})
			}
			m.Nodes = append(m.Nodes, node)
		}
		s.Members = append(s.Members, m)
	}
	return s
}
