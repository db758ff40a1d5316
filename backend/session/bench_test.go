package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/session"
)

// BenchmarkAdmission is the time from a join request to a member that declared its node, with
// the real password cost (Argon2id with crypto.DefaultPasswordParams) and a known key: what a
// rerun between two machines pays before its inventory.
func BenchmarkAdmission(b *testing.B) {
	ts := newTestServer(b, store.NewMemory())
	a := create(b, ts.URL, session.TrustNewKeys(true))
	dir := b.TempDir()
	nodes := []plan.NodeSpec{{Code: "B", Roots: []string{dir}}}
	id := newIdentity(b)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
		m, err := session.Join(ctx, newClientWith(b, ts.URL, id), session.JoinRequest{ID: a.ID(), Password: a.Password(), Nodes: nodes}, session.TrustNewKeys(true))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_, _ = m.Close(context.Background(), time.Second)
		b.StartTimer()
	}
}
