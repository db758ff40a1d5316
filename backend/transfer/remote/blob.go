package remote

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ferrysync/ferry/backend/protocol"
)

// blobName is the transfer name of a blob called name sent by member from.
func blobName(from, name string) string { return "blob\x00" + from + "\x00" + name }

// SendBlob sends what r yields to recipients (other members' instance ids, 1 to 4) as the blob
// called name, streamed in sealed parts. A name stands for one content: sending again under a
// name already sent resumes or repeats that transfer. kind is what the server records
// (protocol.TransferInventory, TransferPlan, TransferSignatures).
func (x *Exchange) SendBlob(ctx context.Context, name string, kind protocol.TransferKind, recipients []string, r io.Reader) error {
	if len(recipients) == 0 {
		return fmt.Errorf("send %s: no recipient", name)
	}
	if _, err := x.send(ctx, TransferID(x.key, blobName(x.self, name)), kind, recipients, r); err != nil {
		return fmt.Errorf("send %s: %w", name, err)
	}
	return nil
}

// ReceiveBlob writes the blob called name that member from sends to w, part by part as they
// arrive; each part is acknowledged once opened and written. It waits for the blob as long as
// ctx allows. A part that fails to open (tampered, out of place, truncated) fails it with an
// error wrapping crypto.ErrOpen or crypto.ErrTruncated; w may then hold a beginning.
func (x *Exchange) ReceiveBlob(ctx context.Context, name, from string, w io.Writer) error {
	s := x.openStream(ctx, TransferID(x.key, blobName(from, name)), from)
	defer s.close()
	for {
		n, plain, last, err := s.part()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive %s from %s: %w", name, from, err)
		}
		if _, err := w.Write(plain); err != nil {
			return fmt.Errorf("receive %s from %s: %w", name, from, err)
		}
		s.ack(n)
		if last {
			return nil
		}
	}
}
