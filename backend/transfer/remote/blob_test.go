package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

func TestTransferID(t *testing.T) {
	t.Parallel()
	k1, _ := crypto.NewSessionKey()
	k2, _ := crypto.NewSessionKey()
	id := remote.TransferID(k1, "inventory A")
	if !protocol.TransferIDPattern.MatchString(id) {
		t.Fatalf("id %q does not match the transfer id pattern", id)
	}
	if remote.TransferID(k1, "inventory A") != id {
		t.Fatal("the id changes between calls")
	}
	for _, other := range []string{remote.TransferID(k1, "inventory B"), remote.TransferID(k2, "inventory A")} {
		if other == id {
			t.Fatalf("another name or key gives the same id %q", id)
		}
	}
	if strings.Contains(id, "inventory") {
		t.Fatalf("the id %q shows the name", id)
	}
}

// notifyWriter collects what is written and closes first once any byte came.
type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	first chan struct{}
}

func newNotifyWriter() *notifyWriter { return &notifyWriter{first: make(chan struct{})} }

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 0 {
		w.once.Do(func() { close(w.first) })
	}
	return w.buf.Write(p)
}

func (w *notifyWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// A blob reaches two recipients, streamed: each has its first bytes before the sender has read
// its last, and the relay storage is empty once the sender closes.
func TestBlobToTwoRecipients(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 3, remote.Options{StartSlice: 64 << 10, MaxSlice: 256 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	data := random(1, 3<<20+12345)

	// The sender's content is held back after its first half until both recipients wrote
	// something.
	sink := []*notifyWriter{newNotifyWriter(), newNotifyWriter()}
	src := &gatedReader{data: data, at: len(data) / 2, open: make(chan struct{})}
	go func() {
		for _, s := range sink {
			select {
			case <-s.first:
			case <-ctx.Done():
				return
			}
		}
		close(src.open)
	}()
	errs := make(chan error, 2)
	for i, r := range m[1:] {
		go func() { errs <- r.x.ReceiveBlob(ctx, "inventory", m[0].id, sink[i]) }()
	}
	if err := m[0].x.SendBlob(ctx, "inventory", protocol.TransferInventory, []string{m[1].id, m[2].id}, src); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sink {
		if !bytes.Equal(s.bytes(), data) {
			t.Fatalf("recipient %d got %d bytes, not the %d sent", i+1, len(s.bytes()), len(data))
		}
	}
	st := m[0].x.Stats()
	if st.PartsUploaded < 10 || st.PartsSkipped != 0 {
		t.Fatalf("sender stats %+v", st)
	}
	for i, r := range m[1:] {
		if got := r.x.Stats().PartsDownloaded; got != st.PartsUploaded {
			t.Fatalf("recipient %d downloaded %d parts of %d", i+1, got, st.PartsUploaded)
		}
	}
	t.Logf("%d bytes in %d parts, %d sealed bytes sent", len(data), st.PartsUploaded, st.BytesSent)

	// An empty blob is one empty part.
	var empty bytes.Buffer
	go func() { errs <- m[1].x.ReceiveBlob(ctx, "plan", m[0].id, &empty) }()
	if err := m[0].x.SendBlob(ctx, "plan", protocol.TransferPlan, []string{m[1].id}, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil || empty.Len() != 0 {
		t.Fatalf("empty blob: %d bytes, %v", empty.Len(), err)
	}

	// The recipients acknowledged every part: the storage holds none, and closing the sender
	// deletes its transfers.
	for _, r := range m[1:] {
		if err := r.x.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := m[0].x.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if parts := srv.storedParts(); len(parts) != 0 {
		t.Fatalf("relay storage still holds %v", parts)
	}
}

// gatedReader yields data, stopping at offset at until open is closed.
type gatedReader struct {
	data []byte
	off  int
	at   int
	open chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.off == g.at {
		<-g.open
	}
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	end := len(g.data)
	if g.off < g.at {
		end = g.at
	}
	n := copy(p, g.data[g.off:end])
	g.off += n
	return n, nil
}

// A blob whose part was altered in the server's storage fails to open.
func TestBlobTampered(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	_, m := session(t, srv, 2, remote.Options{StartSlice: 64 << 10, MaxSlice: 64 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	data := random(2, 300<<10)
	if err := m[0].x.SendBlob(ctx, "signatures", protocol.TransferSignatures, []string{m[1].id}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	flipByte(t, srv, 3)
	var got bytes.Buffer
	err := m[1].x.ReceiveBlob(ctx, "signatures", m[0].id, &got)
	if !errors.Is(err, crypto.ErrOpen) {
		t.Fatalf("receive a tampered blob: %v, want %v", err, crypto.ErrOpen)
	}
	if got.Len() != 2*(64<<10) {
		t.Fatalf("%d bytes written before the tampered part, want the 2 parts before it", got.Len())
	}
}
