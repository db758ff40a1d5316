package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// BenchmarkPut stores and reads back 16 MiB parts, with and without fsync, to weigh durability
// against throughput (see Store.Put). Each part is received and deleted, as in a relay.
func BenchmarkPut(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"nosync", false}, {"fsync", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := New(b.TempDir(), Options{Sync: mode.sync})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			const session, owner, recipient = "123abc456", "owner-instance", "recipient-instance"
			members := []string{owner, recipient}
			id := transferID(b)
			if _, _, err := s.Create(ctx, session, protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{recipient}}, owner); err != nil {
				b.Fatal(err)
			}
			part := make([]byte, 16<<20)
			_, _ = rand.Read(part)
			b.SetBytes(int64(len(part)))
			b.ResetTimer()
			for i := range b.N {
				n := i + 1
				if err := s.Reserve(ctx, session, id, n, owner, int64(len(part)), time.Now().Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Put(ctx, session, id, n, owner, int64(len(part)), bytes.NewReader(part), members); err != nil {
					b.Fatal(err)
				}
				f, _, err := s.OpenPart(session, id, n, recipient)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, f); err != nil {
					b.Fatal(err)
				}
				f.Close()
				if err := s.Received(ctx, session, id, n, recipient, members); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
