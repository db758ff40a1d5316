package app

import (
	"context"
	"errors"
	"os"
	"sync"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/gcpace"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/transfer"
)

// skippedPending counts, while a node is walked, the entries it skipped so far: their reasons
// are known when the walk of the node ends.
const skippedPending = "pending"

// NodeProgress is the inventory of one node so far.
type NodeProgress struct {
	Node        string           `json:"node"`
	Files       int64            `json:"files"`
	Dirs        int64            `json:"dirs"`
	Bytes       int64            `json:"bytes"`
	Skipped     map[string]int64 `json:"skipped"` // by reason: hidden, noise, symlink…
	HashedFiles int64            `json:"hashedFiles"`
	HashedBytes int64            `json:"hashedBytes"`
	Done        bool             `json:"done"`
	Error       string           `json:"error,omitempty"`
}

// InventoryDone ends an inventory: Error is empty when it succeeded.
type InventoryDone struct {
	Error string `json:"error,omitempty"`
}

// Inventory is the service of the inventory of this member's nodes.
type Inventory struct {
	c *core
}

type inventoryRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start declares the nodes to the session server and inventories them in the background:
// inventory:progress while it runs, inventory:done at the end, and then the comparison.
func (s *Inventory) Start() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return err
	}
	if c.sess == nil {
		return errNoSession
	}
	if err := c.checkNodesLocked(); err != nil {
		return err
	}
	specs, settings, sess := c.specsLocked(), c.an.settings, c.sess
	versions := c.an.versions()
	await := 0
	if sr := c.shared; sr != nil && sr.sess == sess {
		await, sr.await = sr.await, 0 // the first inventory of a shared profile's run
	}
	ctx, cancel := context.WithCancel(c.life)
	run := &inventoryRun{cancel: cancel, done: make(chan struct{})}
	c.inv = run
	sess.joined = true
	c.an.forgetInventory()
	c.goBackground(func() { s.run(ctx, run, sess, specs, settings, versions, await) })
	return nil
}

func (s *Inventory) run(ctx context.Context, run *inventoryRun, sess *openSession, specs []plan.NodeSpec, settings compare.Settings, versions plan.Versions, await int) {
	c := s.c
	defer close(run.done)
	defer run.cancel()
	prog := newScanProgress(specs, c.emit)
	// Held with the comparison it makes; restored at once when there is none.
	gc := gcpace.Start(os.Getenv, len(specs))
	fr, res, err := s.inventory(ctx, sess, specs, settings, versions, await, prog, gc)
	if err != nil && ctx.Err() != nil {
		err = errors.New("the inventory was cancelled")
	}
	c.mu.Lock()
	c.inv = nil
	if err == nil && res != nil {
		c.an.setInventory(res, fr, gc)
	} else {
		gc.Restore()
	}
	c.mu.Unlock()
	prog.finish(err, func(done InventoryDone) { c.emit(EventInventoryDone, done) })
	if err == nil && res == nil { // another member plans: this one runs its plan
		(&Synchronization{c: c}).follow(sess, fr)
	}
}

// inventory declares the nodes and runs the inventory of this member through the session's
// flow: alone, it scans its nodes, reads the content the comparison needs and compares; with
// other members, it exchanges the inventories with them. The scans leave out the folder of
// kept versions, and remove the temp files a killed run left: this inventory leads to a run
// the user may start, as ferry sync's does. The oldest member gets the comparison; the others
// get none, and the plan of the oldest member in the flow. With await, the flow first waits
// for that many members (this one included) to declare their nodes: a shared profile's run.
func (s *Inventory) inventory(ctx context.Context, sess *openSession, specs []plan.NodeSpec, settings compare.Settings, versions plan.Versions, await int, prog *scanProgress, gc *gcpace.Pacer) (*sessionFlow, *inventoryResult, error) {
	m := sess.member
	if err := sess.declare(ctx, specs, true); err != nil {
		status := protocol.InventoryError
		if ctx.Err() != nil {
			status = protocol.InventoryCancelled
		}
		m.Status(status)
		return nil, nil, err
	}
	fr := &sessionFlow{roots: transfer.NewRoots()}
	fr.flow = m.NewFlow(specs, session.FlowOptions{
		// The user checks the plan's deletions against the app's limit (AllowDeletions).
		Planning: session.Planning{Settings: settings, Versions: versions, DeletionsChecked: true},
		Roots:    fr.roots,
		Progress: prog.part,
		Scanned: func(code string, n *inventory.Node, err error) {
			gc.Scanned()
			if err != nil {
				prog.fail(code, err)
				return
			}
			prog.scanned(n)
		},
		Cloud:  engine.CloudOptions{Logger: s.c.log},
		Logger: s.c.log,
	})
	var l *plan.Local
	var err error
	if await > 1 {
		err = fr.flow.AwaitMembers(ctx, await)
	}
	if err == nil {
		l, err = fr.flow.Inventory(ctx)
	}
	if err == nil && l == nil {
		_, err = fr.flow.Receive(ctx)
	}
	if err != nil {
		fr.close(s.c.life)
		return nil, nil, readable(err)
	}
	if l == nil {
		return fr, nil, nil
	}
	r := newInventoryResult(l.Nodes, l.Comparison, settings)
	r.excluded = versions.Dir
	return fr, r, nil
}

// sessionFlow is the flow of one inventory and the run of its plan, with the data source
// roots the run locks.
type sessionFlow struct {
	flow  *session.Flow
	roots *transfer.Roots
	once  sync.Once
}

// close ends the flow and releases the roots, once.
func (fr *sessionFlow) close(ctx context.Context) {
	if fr == nil {
		return
	}
	fr.once.Do(func() {
		_ = fr.flow.Close(ctx)
		_ = fr.roots.Close()
	})
}

// scanProgress gathers the progress of every part into inventory:progress events, at most
// ten per second.
type scanProgress struct {
	th *throttle

	mu      sync.Mutex
	order   []string                      // node codes
	nodeOf  map[string]string             // part code → node code
	parts   map[string]inventory.Progress // latest per part
	skipped map[string]map[string]int64   // per scanned node, by reason
	failed  map[string]string             // node → error
	done    bool
}

func newScanProgress(specs []plan.NodeSpec, emit func(string, any)) *scanProgress {
	p := &scanProgress{
		nodeOf:  map[string]string{},
		parts:   map[string]inventory.Progress{},
		skipped: map[string]map[string]int64{},
		failed:  map[string]string{},
	}
	for _, s := range specs {
		p.order = append(p.order, s.Code)
		for i := range s.Roots {
			p.nodeOf[sourceCode(s.Code, i)] = s.Code
		}
	}
	p.th = newThrottle(progressEvery, func(v any) { emit(EventInventoryProgress, v) })
	return p
}

// part takes the progress of one part.
func (p *scanProgress) part(pr inventory.Progress) {
	p.mu.Lock()
	p.parts[pr.Part] = pr
	snap := p.snapshotLocked()
	p.mu.Unlock()
	p.th.offer(snap)
}

// scanned takes the skipped entries of a node walked.
func (p *scanProgress) scanned(n *inventory.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	by := map[string]int64{}
	for _, part := range n.Parts {
		for r, k := range part.Skipped {
			by[string(r)] += int64(k)
		}
	}
	p.skipped[n.Code] = by
}

func (p *scanProgress) fail(node string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed[node] = err.Error()
}

// finish sends the last progress, then the end.
func (p *scanProgress) finish(err error, end func(InventoryDone)) {
	p.mu.Lock()
	p.done = err == nil
	snap := p.snapshotLocked()
	p.mu.Unlock()
	p.th.then(func() {
		p.th.send(snap)
		done := InventoryDone{}
		if err != nil {
			done.Error = err.Error()
		}
		end(done)
	})
	p.th.stop()
}

func (p *scanProgress) snapshotLocked() []NodeProgress {
	out := make([]NodeProgress, 0, len(p.order))
	index := map[string]int{}
	for i, code := range p.order {
		index[code] = i
		np := NodeProgress{Node: code, Skipped: map[string]int64{}, Done: p.done, Error: p.failed[code]}
		for r, k := range p.skipped[code] {
			np.Skipped[r] = k
		}
		out = append(out, np)
	}
	for code, pr := range p.parts {
		i, ok := index[p.nodeOf[code]]
		if !ok {
			continue
		}
		np := &out[i]
		np.Files += pr.Files
		np.Dirs += pr.Dirs
		np.Bytes += pr.Bytes
		np.HashedFiles += pr.Hashed
		np.HashedBytes += pr.HashedBytes
		if _, scanned := p.skipped[np.Node]; !scanned && pr.Skipped > 0 {
			np.Skipped[skippedPending] += pr.Skipped
		}
	}
	return out
}
