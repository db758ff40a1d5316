package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Parts held in memory at once by one Exchange, uploads and downloads apart. A part is at most
// maxSlice plain bytes plus its sealed copy.
const (
	uploadParts   = 8
	downloadParts = 8
)

// Exchange moves transfers of one session for one member: it uploads what this member sends
// and downloads what it receives, following the session's pushes to start each download with
// its first part. It is safe for concurrent use.
type Exchange struct {
	api     API
	session string
	key     crypto.SessionKey
	self    string
	opts    Options
	log     *slog.Logger
	ctrl    *controller

	upMem, downMem chan struct{} // part buffers in flight
	buffers        sync.Pool     // of *[]byte: plain text of parts being uploaded
	plain          bool          // parts travel unsealed (benchmarks only)

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	tasks  sync.WaitGroup // acknowledgements and cancellations in the background
	pushes sync.WaitGroup // the push reader

	failing atomic.Int64 // unix nanoseconds of the first failure since the last success, 0: none

	stats struct {
		uploaded, skipped, downloaded, retried, sent, received atomic.Int64
	}

	mu      sync.Mutex
	watches map[string]*watch
	sent    []string        // transfers completed by this member, deleted once every recipient has them
	gone    map[string]bool // members that quit or went absent: nothing is awaited from them
}

// watch tells the downloads of one transfer that something changed.
type watch struct {
	refs    int
	changed chan struct{} // closed and replaced at every change
	parts   []int         // parts announced by pushes and not taken yet
	total   int           // parts of the completed transfer, 0 until told
}

// NewExchange returns the exchange of member self in session, sealing with key. pushes are the
// session's pushes (those of session.Member.Subscribe); other events are ignored, and
// client.EventReconnected makes every waiting download read its transfer's state again. The
// channel is read until it closes or Close.
func NewExchange(api API, session string, key crypto.SessionKey, self string, pushes <-chan protocol.Event, o Options) *Exchange {
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	x := &Exchange{
		api: api, session: session, key: key, self: self, opts: o, log: o.Logger,
		ctrl:    newController(o.MinSlice, o.MaxSlice, o.StartSlice),
		upMem:   make(chan struct{}, uploadParts),
		downMem: make(chan struct{}, downloadParts),
		ctx:     ctx, cancel: cancel,
		watches: map[string]*watch{},
	}
	if pushes != nil {
		x.pushes.Go(func() { x.follow(pushes) })
	}
	return x
}

// Stats returns the counters so far.
func (x *Exchange) Stats() Stats {
	return Stats{
		PartsUploaded:   x.stats.uploaded.Load(),
		PartsSkipped:    x.stats.skipped.Load(),
		PartsDownloaded: x.stats.downloaded.Load(),
		PartsRetried:    x.stats.retried.Load(),
		BytesSent:       x.stats.sent.Load(),
		BytesReceived:   x.stats.received.Load(),
	}
}

// Close waits until ctx ends for every transfer this member sent to be received by all its
// recipients and for its own acknowledgements to reach the server, deletes the transfers it
// sent (received or not), and stops following the pushes.
func (x *Exchange) Close(ctx context.Context) error {
	tasks := make(chan struct{})
	go func() {
		x.tasks.Wait()
		close(tasks)
	}()
	select {
	case <-tasks:
	case <-ctx.Done():
	}
	x.mu.Lock()
	sent := x.sent
	x.sent = nil
	x.mu.Unlock()
	var (
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	// Deletions go on for a while after ctx ends: the server should not keep what was sent.
	del, stopDeleting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDeleting()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, stopDeleting) })()
	inOrder(del, sent, 8, func(id string) {
		if err := x.awaitReceipts(ctx, id); err != nil && ctx.Err() == nil {
			fail(err)
		}
		if err := x.api.CancelTransfer(del, x.session, id); err != nil && client.Code(err) != protocol.ErrCodeNotFound {
			fail(fmt.Errorf("delete transfer %s: %w", id, err))
		}
	})
	x.cancel()
	x.tasks.Wait()
	x.pushes.Wait()
	return errors.Join(errs...)
}

// awaitReceipts polls the state of a sent transfer until every recipient has every part.
func (x *Exchange) awaitReceipts(ctx context.Context, id string) error {
	wait := 50 * time.Millisecond
	for {
		st, err := x.api.TransferState(ctx, x.session, id)
		switch {
		case client.Code(err) == protocol.ErrCodeNotFound:
			return nil
		case err != nil && !retryable(err):
			return fmt.Errorf("transfer %s: %w", id, err)
		case err == nil && x.allReceived(st):
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// allReceived tells whether every recipient still in the session has every part of st.
func (x *Exchange) allReceived(st *protocol.TransferState) bool {
	if !st.Complete {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range st.Parts {
		if p.Deleted {
			continue
		}
		for _, r := range st.Recipients {
			if !x.gone[r] && !slices.Contains(p.Received, r) {
				return false
			}
		}
	}
	return true
}

// follow reads the pushes until they end or Close.
func (x *Exchange) follow(pushes <-chan protocol.Event) {
	for {
		select {
		case e, ok := <-pushes:
			if !ok {
				return
			}
			x.onPush(e)
		case <-x.ctx.Done():
			return
		}
	}
}

func (x *Exchange) onPush(e protocol.Event) {
	if e.Session != "" && e.Session != x.session {
		return
	}
	switch e.Type {
	case protocol.EventPartUploaded:
		var d protocol.PartUploaded
		if json.Unmarshal(e.Data, &d) == nil && d.Transfer != "" {
			x.notify(d.Transfer, func(w *watch) { w.parts = append(w.parts, d.Part) })
		}
	case protocol.EventTransferCompleted:
		var d protocol.TransferCompleted
		if json.Unmarshal(e.Data, &d) == nil && d.Transfer != "" {
			x.notify(d.Transfer, func(w *watch) { w.total = d.Parts })
		}
	case protocol.EventMemberQuit, protocol.EventMemberAbsent, protocol.EventMemberPresent:
		x.mu.Lock()
		if x.gone == nil {
			x.gone = map[string]bool{}
		}
		x.gone[e.Member] = e.Type != protocol.EventMemberPresent
		x.mu.Unlock()
	case client.EventReconnected:
		x.mu.Lock()
		for _, w := range x.watches {
			close(w.changed)
			w.changed = make(chan struct{})
		}
		x.mu.Unlock()
	}
}

// notify records a push about a transfer somebody waits for.
func (x *Exchange) notify(id string, update func(*watch)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	w := x.watches[id]
	if w == nil {
		return // nobody waits: a download reads the state when it starts
	}
	update(w)
	close(w.changed)
	w.changed = make(chan struct{})
}

// watch starts following a transfer's pushes; release stops.
func (x *Exchange) watch(id string) (w *watch, release func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	w = x.watches[id]
	if w == nil {
		w = &watch{changed: make(chan struct{})}
		x.watches[id] = w
	}
	w.refs++
	return w, func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		if w.refs--; w.refs == 0 {
			delete(x.watches, id)
		}
	}
}

// pushed takes the news of a watch: parts announced since the last call, the completed count,
// and the channel that closes at the next change.
func (x *Exchange) pushed(w *watch) (parts []int, total int, changed <-chan struct{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	parts, w.parts = w.parts, nil
	return parts, w.total, w.changed
}

// seal and open are crypto.SealPart and OpenPart, or a bare last-part flag when sealing is
// off for a benchmark.
func (x *Exchange) seal(id string, n int, last bool, plain []byte) []byte {
	if x.plain {
		flag := byte(0)
		if last {
			flag = 1
		}
		return append([]byte{flag}, plain...)
	}
	return crypto.SealPart(x.key, id, uint32(n), last, plain)
}

func (x *Exchange) open(id string, n int, sealed []byte) ([]byte, bool, error) {
	if x.plain {
		if len(sealed) == 0 || sealed[0] > 1 {
			return nil, false, fmt.Errorf("file part %d: %w", n, crypto.ErrOpen)
		}
		return sealed[1:], sealed[0] == 1, nil
	}
	return crypto.OpenPart(x.key, id, uint32(n), sealed)
}

// overhead is how much larger a sealed part is than its plain text.
func (x *Exchange) overhead() int64 {
	if x.plain {
		return 1
	}
	return crypto.PartOverhead
}
