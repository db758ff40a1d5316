package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// Result is the outcome of a relayed copy on one target, or the failure of its source.
type Result struct {
	Group string
	Op    plan.Op
	// Target is the target written; for a source failure, the source.
	Target plan.Location
	// Source: the source could not be read or sent, every target of the group fails.
	Source bool
	// Bytes transferred: the file size for a full copy, the delta's size for a delta.
	Bytes int64
	Err   error
}

// Signatures gives the librsync signature of a target file as inventoried, computed on the
// target's member (ComputeSignatures) and shipped with its inventory. part is the target's
// data part (plan.Location.Part), path its item path.
type Signatures interface {
	Signature(part, path string) ([]byte, bool)
}

// SignatureSet is a Signatures held in memory: signatures by part, then by path.
type SignatureSet map[string]map[string][]byte

func (s SignatureSet) Signature(part, path string) ([]byte, bool) {
	sig, ok := s[part][path]
	return sig, ok
}

// WantsSignature tells whether a target of size bytes may receive a delta from another member,
// so that its signature is worth computing and shipping.
func WantsSignature(size int64) bool { return transfer.PreferDelta(size, true, true) }

// ComputeSignatures computes the signatures of the files at item paths of the data source root
// dir. A path that is not a readable regular file is left out (its copy travels in full); only
// cancellation fails the call.
func ComputeSignatures(ctx context.Context, dir string, paths []string) (map[string][]byte, error) {
	root, err := transfer.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		var buf bytes.Buffer
		err := transfer.FileSignature(ctx, root, p, &buf)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("signatures of %s: %w", dir, ctx.Err())
		}
		if err == nil {
			out[p] = buf.Bytes()
		}
	}
	return out, nil
}

// Content carries the content of copies between members over an Exchange: Send on the member
// reading a group's source, Receive on each member owning a target of it. Both derive the same
// transfers from the plan. It is safe for concurrent use.
type Content struct {
	x    *Exchange
	sigs Signatures
	opts ContentOptions

	mu       sync.Mutex
	roots    *transfer.Roots
	fresh    map[*transfer.Root]bool // roots holding new files not synced yet
	reported map[string]bool         // source failures reported, by run and group
}

// ContentOptions tune a Content. The zero value is ready to use.
type ContentOptions struct {
	// Senders is how many transfers a member sends at once (2 when zero); Receivers how many
	// it receives at once (4 when zero).
	Senders, Receivers int
	// TempDir holds the copy of a file received for several targets on this member while it
	// is written to each (the first target's data source folder when empty).
	TempDir string
	// Roots are the run's data source roots (engine.Run.Roots), which the caller closes. Nil:
	// the Content opens each root on first use, unchecked, and Close releases them.
	Roots *transfer.Roots
}

// NewContent returns the content carrier of x; sigs (nil: none) gives the targets' signatures
// for deltas. Close releases the data source roots it opens.
func NewContent(x *Exchange, sigs Signatures, o ContentOptions) *Content {
	if o.Senders <= 0 {
		o.Senders = 2
	}
	if o.Receivers <= 0 {
		o.Receivers = 4
	}
	if sigs == nil {
		sigs = SignatureSet(nil)
	}
	roots := o.Roots
	if roots == nil {
		roots = transfer.NewRoots()
	}
	return &Content{x: x, sigs: sigs, opts: o, roots: roots,
		fresh: map[*transfer.Root]bool{}, reported: map[string]bool{}}
}

// Close releases the data source roots the Content opened itself.
func (c *Content) Close() error {
	if c.opts.Roots != nil {
		return nil
	}
	return c.roots.Close()
}

func (c *Content) root(dir string) (*transfer.Root, error) { return c.roots.Get(dir) }

// wroteNew notes a root that received a new file written without its own fsync.
func (c *Content) wroteNew(r *transfer.Root) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fresh[r] = true
}

// flush makes the new files durable: one file system sync per root written.
func (c *Content) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for r := range c.fresh {
		errs = append(errs, transfer.SyncFS(r))
		delete(c.fresh, r)
	}
	return errors.Join(errs...)
}

// firstSourceFailure tells whether a source failure of group in run is reported for the first
// time (delta transfers of one group to several targets each meet it).
func (c *Content) firstSourceFailure(run, group string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := run + "\x00" + group
	if c.reported[k] {
		return false
	}
	c.reported[k] = true
	return true
}

// inOrder runs work for every item on up to n goroutines, taking items in order.
func inOrder[T any](ctx context.Context, items []T, n int, work func(T)) {
	next := make(chan T)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		wg.Go(func() {
			for it := range next {
				work(it)
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
}
