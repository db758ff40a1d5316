package session

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/transfer"
	"github.com/ferrysync/ferry/backend/transfer/remote"
	"github.com/ferrysync/ferry/backend/twoway"
)

// The member flow of a session, with one member or several. A member alone in its session
// scans and compares its own nodes, plans, and runs the plan under the local orchestrator: no
// inventory, plan nor answer goes through the server. With several members, the oldest member waits for the members
// it expects, shares the settings and starts the inventory. Then every member scans its own
// nodes and sends their base inventories (no content read) to the others; with every base
// inventory at hand, it reads the content keys of its files that the comparison needs and the
// signatures of its files that may receive a delta, and sends the full inventories and the
// signatures. The oldest member compares, evaluates its rules, plans, and sends the plan as the
// start data; the synchronization runs on the server's path, the oldest member starting it, and
// copies between members travel through the relay. Everything members send each other is sealed
// with the session key.

// reasonWait bounds the wait for the start data of an oldest member that stopped.
const reasonWait = 10 * time.Second

// StepName names where the flow stands.
type StepName string

const (
	StepWaiting          StepName = "waiting_for_members" // the oldest member: Ready of Members ready
	StepInventoryStarted StepName = "inventory_started"
	StepBaseInventories  StepName = "base_inventories_exchanged"
	StepFullInventories  StepName = "full_inventories_exchanged"
	StepPlanned          StepName = "planned" // the plan is made (oldest) or received
	StepSynchronizing    StepName = "synchronizing"
)

// Step is one step of the flow, for the command's JSON lines and the app.
type Step struct {
	Name    StepName `json:"step"`
	Ready   int      `json:"ready,omitempty"`   // members that declared everything they bring
	Members int      `json:"members,omitempty"` // members expected (waiting) or in the session
}

// Planning is how the oldest member plans; the other members ignore it.
type Planning struct {
	Settings compare.Settings
	// Versions keeps what the run replaces or deletes on every member (plan.Options.Versions);
	// its folder is shared with the settings, so that no inventory lists it.
	Versions plan.Versions
	// Rules gives the rules once the session's data part names are known (a preset names the
	// parts it goes between).
	Rules    func(parts []string) ([]rules.Rule, error)
	Targeted []rules.Targeted
	// MaxDelete is the deletion limit (the zero value is the default one): a plan past it is
	// shown to every member and refused (Flow.Refused), nothing changing.
	MaxDelete rules.DeleteLimit
	// DeletionsChecked: the caller checked the plan's deletions against its own limit (its user
	// may allow more), and Propose refuses none.
	DeletionsChecked bool
	// TwoWay, when set, makes the run two-way with a record of the last run.
	TwoWay *TwoWay
	// Sparse, when set, holds the rules the caller evaluates the plan of a member alone with
	// (plan.Local.Evaluate): its inventory leaves out the items they leave alone
	// (plan.Request.Sparse).
	Sparse *Sparse
}

// Sparse are the rules of a one-way plan made on the inventory of a member alone.
type Sparse struct {
	Rules []rules.Rule
}

// TwoWay is a two-way run between every data source of the session, the planning member
// keeping the record of the last run: that record, or on a first run the newest dates, decides
// every item instead of Planning.Rules. The record is named by the members' identity keys and
// their data source codes, not by paths, so the same members with the same nodes find it again
// whatever their session; what the run left on the other members' nodes is their word, sent
// once the run ended.
type TwoWay struct {
	Store twoway.Store // where the record is kept (Side and Read are the flow's)
	Rules []rules.Rule // a rules file's own rules, which still apply beside the record
}

// FlowOptions tune a Flow. Only Planning is needed, and only by the oldest member.
type FlowOptions struct {
	Planning Planning
	Exchange remote.Options
	Content  remote.ContentOptions
	Cloud    engine.CloudOptions
	// Progress receives the progress of the scan and the content reads of this member's nodes.
	Progress func(inventory.Progress)
	// Scanned is told of every node of this member once walked, or of the error that stopped
	// its walk.
	Scanned func(code string, n *inventory.Node, err error)
	// ForceCloud makes the server orchestrate a member alone in its session too.
	ForceCloud bool
	// Roots are this member's data source roots, resolved and locked by the caller, who closes
	// them after Close; the flow locks its own when nil.
	Roots *transfer.Roots
	// Step is told of every step; it must not block.
	Step   func(Step)
	Logger *slog.Logger
}

// Flow is this member's part of the flow. Make it with NewFlow right after Create or Join, and
// Close it before the member.
type Flow struct {
	m     *Member
	nodes []plan.NodeSpec
	o     FlowOptions
	log   *slog.Logger
	x     *remote.Exchange
	stopX func()

	stopEvents func()
	quit       chan struct{} // closed by Close: the watcher stops
	closeOnce  sync.Once
	closeErr   error
	watched    chan struct{} // closed when the watcher ends
	kick       chan struct{} // something changed in the session

	mu      sync.Mutex
	started bool            // the inventory started: a member leaving fails the flow
	syncing bool            // the synchronization runs: the server handles departures
	oldest  string          // the oldest member as last read
	gone    map[string]bool // members that left
	failure error           // why the flow cannot go on
	// fails end the phases under way with a cause (the answer to the plan and the wait for
	// the verdict run at once), by phase number.
	fails     map[int]context.CancelCauseFunc
	lastPhase int

	// Set by Prepare.
	sess    protocol.Session // as the inventory started
	owners  map[string]string
	begun   bool // Start succeeded
	orch    engine.Orchestrator
	mode    engine.Orchestration
	plan    *plan.Plan
	terms   startTerms
	sigs    remote.SignatureSet
	settled bool  // Prepare succeeded
	refused error // the planner refuses the plan: nothing runs

	irregular bool // the synchronization failed or did not end regularly
	stopped   bool // this member stopped before the synchronization (failed)
	reasoned  bool // and sent the others why (the oldest member)

	// roots are this member's data source roots, locked from the inventory to Close (by the
	// caller when ownRoots is false).
	roots    *transfer.Roots
	ownRoots bool
	// dirIDs are the directories the inventory listed, by part root (inventory.Part.DirID).
	dirIDs map[string]inventory.DirID

	// The planning member's two-way run, on the comparison it planned.
	tw    *twoway.Run
	twCmp *compare.Comparison

	// The answers to the plan (confirm.go).
	answer      chan Answer // this member's, once
	answerOnce  sync.Once
	verdictOnce sync.Once
	verdictErr  error

	// What this member's run did, for the record (record.go).
	doneMu sync.Mutex
	done   [][2]string // group, part

	// What the other members' runs left on their nodes (the oldest member, record.go).
	afterMu sync.Mutex
	after   map[string]map[string]twoway.Found // part → item path
}

// NewFlow starts this member's flow with its nodes (those it created or joined with).
func (m *Member) NewFlow(nodes []plan.NodeSpec, o FlowOptions) *Flow {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Exchange.Logger == nil {
		o.Exchange.Logger = o.Logger
	}
	if o.Cloud.Logger == nil {
		o.Cloud.Logger = o.Logger
	}
	f := &Flow{m: m, nodes: nodes, o: o, log: o.Logger, kick: make(chan struct{}, 1), quit: make(chan struct{}), watched: make(chan struct{}),
		gone: map[string]bool{}, fails: map[int]context.CancelCauseFunc{}, roots: o.Roots, dirIDs: map[string]inventory.DirID{}, answer: make(chan Answer, 1)}
	if f.roots == nil {
		f.roots, f.ownRoots = transfer.NewRoots(), true
	}
	pushes, stopX := m.Subscribe()
	f.x, f.stopX = remote.NewExchange(m.c, m.ID(), m.key, m.Self(), pushes, o.Exchange), stopX
	events, stop := m.Subscribe()
	f.stopEvents = stop
	go f.watch(events)
	return f
}

// Alone tells whether this member is alone in the session as its inventory started.
func (f *Flow) Alone() bool { return len(f.sess.Members) == 1 }

func (f *Flow) step(s Step) {
	if f.o.Step != nil {
		f.o.Step(s)
	}
}

// Stats are the relay's counters so far: inventories, signatures, the plan and file content.
func (f *Flow) Stats() remote.Stats { return f.x.Stats() }

// watch follows the session's pushes: every change wakes a waiting step, and once the inventory
// started a member leaving or failing its inventory ends the flow.
func (f *Flow) watch(events <-chan protocol.Event) {
	defer close(f.watched)
	self, id := f.m.Self(), f.m.ID()
	for {
		var e protocol.Event
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			e = ev
		case <-f.quit:
			return
		}
		if e.Type != client.EventReconnected && e.Session != id {
			continue
		}
		select {
		case f.kick <- struct{}{}:
		default:
		}
		if e.Member == self || e.Member == "" {
			continue
		}
		switch e.Type {
		case protocol.EventMemberQuit:
			f.mu.Lock()
			f.gone[e.Member] = true
			failing := f.started || e.Member == f.oldest
			f.mu.Unlock()
			if failing {
				f.failWith(fmt.Errorf("%s left the session", f.who(e.Member)))
			}
		case protocol.EventStatusUpdated:
			var u protocol.StatusUpdate
			if json.Unmarshal(e.Data, &u) == nil && (u.Status == protocol.InventoryError || u.Status == protocol.InventoryCancelled) {
				f.failWith(&peerStopped{member: e.Member, who: f.who(e.Member), status: u.Status})
			}
		}
	}
}

// who names a member by its letter when known.
func (f *Flow) who(instance string) string {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	for _, mb := range f.m.session.Members {
		if mb.InstanceID == instance && mb.Letter != "" {
			return "member " + mb.Letter
		}
	}
	return "member " + instance
}

// failWith ends the phase under way and those to come, unless the synchronization runs.
func (f *Flow) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.syncing || f.failure != nil {
		return
	}
	f.failure = err
	for _, fail := range f.fails {
		fail(err)
	}
}

// phase runs fn with a context that the watcher may end with a cause, and returns that cause
// rather than a bare cancellation.
func (f *Flow) phase(ctx context.Context, fn func(context.Context) error) error {
	ctx, unbind := f.m.bind(ctx)
	defer unbind()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f.mu.Lock()
	if err := f.failure; err != nil {
		f.mu.Unlock()
		return err
	}
	f.lastPhase++
	seq := f.lastPhase
	f.fails[seq] = cancel
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.fails, seq)
		f.mu.Unlock()
	}()
	err := fn(ctx)
	cause := context.Cause(ctx)
	if err == nil || cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, cause) || errors.Is(err, context.Canceled) {
		return cause // the watcher's reason, not the cancellation it caused
	}
	return err
}

// session reads the session and remembers its oldest member; it waits for the next change
// when wait is set.
func (f *Flow) session(ctx context.Context, wait bool) (*protocol.Session, error) {
	if wait {
		select {
		case <-f.kick:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	s, err := f.m.c.Session(ctx, f.m.ID())
	if err != nil {
		return nil, fmt.Errorf("read the session: %w", err)
	}
	f.m.setSession(s)
	f.mu.Lock()
	if len(s.Members) > 0 {
		f.oldest = s.Members[0].InstanceID
	}
	f.mu.Unlock()
	return s, nil
}

// AwaitMembers waits until the session has n members (n from 2 to protocol.MaxMembers), this
// one included, each having declared every node and source it brings.
func (f *Flow) AwaitMembers(ctx context.Context, n int) error {
	if n < 2 || n > protocol.MaxMembers {
		return fmt.Errorf("expect 2 to %d members, not %d", protocol.MaxMembers, n)
	}
	f.m.watchSession()
	return f.phase(ctx, func(ctx context.Context) error {
		shown := -1
		for wait := false; ; wait = true {
			s, err := f.session(ctx, wait)
			if err != nil {
				return err
			}
			ready := 0
			for i := range s.Members {
				if f.declared(&s.Members[i]) {
					ready++
				}
			}
			if ready != shown {
				f.step(Step{Name: StepWaiting, Ready: ready, Members: n})
				shown = ready
			}
			if ready >= n && ready == len(s.Members) {
				return nil
			}
		}
	})
}

// declared tells whether a member declared every node and source it said it brings.
func (f *Flow) declared(mb *protocol.Member) bool {
	if len(mb.Nodes) == 0 {
		return false
	}
	for _, n := range mb.Nodes {
		plain, err := f.m.key.Open(n.Data, "node:"+n.ID)
		var d nodeData
		if err != nil || json.Unmarshal(plain, &d) != nil || d.Code != n.ID {
			return false
		}
		if len(n.Sources) < max(d.Sources, 1) || d.Nodes > len(mb.Nodes) {
			return false
		}
	}
	return true
}

// PartNames are the data part names of the session's declared nodes, as the comparison will
// name them.
func (f *Flow) PartNames(ctx context.Context) ([]string, error) {
	s, err := f.session(ctx, false)
	if err != nil {
		return nil, err
	}
	return plan.PartNames(specsOf(s)), nil
}

// nodeRef is a node of the session: its code, its member, its sources' codes.
type nodeRef struct {
	code    string
	owner   string
	sources []string
}

// sessionNodes lists the nodes of a session by code.
func sessionNodes(s *protocol.Session) []nodeRef {
	var out []nodeRef
	for _, mb := range s.Members {
		for _, n := range mb.Nodes {
			r := nodeRef{code: n.ID, owner: mb.InstanceID}
			for _, src := range n.Sources {
				r.sources = append(r.sources, src.ID)
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b nodeRef) int { return cmp.Compare(a.code, b.code) })
	return out
}

// specsOf are the session's nodes as node specs without paths (part naming only).
func specsOf(s *protocol.Session) []plan.NodeSpec {
	var out []plan.NodeSpec
	for _, r := range sessionNodes(s) {
		out = append(out, plan.NodeSpec{Code: r.code, Roots: make([]string, len(r.sources))})
	}
	return out
}

// Oldest tells whether this member is the session's oldest, the one that plans and starts.
func (f *Flow) Oldest() bool {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	return len(f.m.session.Members) > 0 && f.m.session.Members[0].InstanceID == f.m.Self()
}

// Prepare runs the inventory and the planning: the oldest member shares its settings, starts
// the inventory and plans with Planning; the others wait for the inventory to start and
// receive the plan. It returns the plan. A failure after the inventory started is told to the
// other members (a status, and for the oldest an empty start data) so that they stop too.
func (f *Flow) Prepare(ctx context.Context) (*plan.Plan, error) {
	if f.settled {
		return f.plan, nil
	}
	l, err := f.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	if !f.planner() {
		return f.Receive(ctx)
	}
	p, err := f.planWith(l)
	if err != nil {
		f.failed(ctx, err, true)
		return nil, err
	}
	if err := f.Propose(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Fail tells the other members that this member stopped after its inventory started, as
// Inventory, Propose and Receive do on their own failures: the planning member's failure to
// plan, for one.
func (f *Flow) Fail(ctx context.Context, err error) {
	f.mu.Lock()
	started := f.started
	f.mu.Unlock()
	if started {
		f.failed(ctx, err, f.planner())
	}
}

// Plans tells whether this member plans the session, once the inventory started: the oldest
// member then, which Proposes the plan.
func (f *Flow) Plans() bool { return f.planner() }

// planner tells whether this member plans: the oldest as the inventory started.
func (f *Flow) planner() bool {
	return len(f.sess.Members) > 0 && f.sess.Members[0].InstanceID == f.m.Self()
}

// Start starts the inventory: the oldest member shares its settings with the others, when
// there are any, and starts it; the others wait for it to start. Inventory calls it.
func (f *Flow) Start(ctx context.Context) error {
	if f.begun {
		return nil
	}
	// A member with others, or that may wait for others, watches the session on the server.
	f.m.mu.Lock()
	alone := len(f.m.session.Members) == 1 && f.m.session.Members[0].InstanceID == f.m.Self()
	f.m.mu.Unlock()
	if !alone {
		f.m.watchSession()
	}
	shared := false
	err := f.phase(ctx, func(ctx context.Context) error {
		s, err := f.session(ctx, false)
		if err != nil {
			return err
		}
		if len(s.Members) > 0 && s.Members[0].InstanceID == f.m.Self() {
			if len(s.Members) > 1 {
				if err := f.m.setSettings(ctx, sessionSettings{Compare: f.o.Planning.Settings, Versions: f.o.Planning.Versions.Dir}); err != nil {
					return err
				}
				shared = true
			}
			if err := f.m.StartInventory(ctx); err != nil {
				return err
			}
		}
		if err := f.awaitStart(ctx); err != nil {
			return err
		}
		if f.planner() && len(f.sess.Members) > 1 && !shared {
			return errors.New("a member joined as the inventory started, too late to receive the settings: run the inventory again")
		}
		return nil
	})
	if err != nil {
		f.mu.Lock()
		started := f.started
		f.mu.Unlock()
		if started { // the others wait for this member's inventory
			f.failed(ctx, err, f.planner())
		}
		return err
	}
	f.begun = true
	if !f.Alone() {
		f.m.watchSession()
	}
	f.step(Step{Name: StepInventoryStarted, Members: len(f.sess.Members)})
	return nil
}

// Inventory starts the inventory (Start) and runs this member's part: a member alone scans its
// nodes, reads the content the comparison needs and compares them; with others, it exchanges
// the inventories and signatures with them. The planning member (the oldest) gets every node
// of the session, compared, to plan with, and then Proposes its plan; the others get nil and
// Receive the plan. The flow keeps nothing of what it returns.
func (f *Flow) Inventory(ctx context.Context) (*plan.Local, error) {
	if err := f.Start(ctx); err != nil {
		return nil, err
	}
	if f.Alone() {
		l, err := f.inventoryAlone(ctx)
		if err != nil {
			f.failed(ctx, err, true)
			return nil, err
		}
		return l, nil
	}
	oldest := f.planner()
	var l *plan.Local
	err := f.phase(ctx, func(ctx context.Context) error {
		nodes, err := f.inventory(ctx)
		if err != nil {
			return err
		}
		// Created before the start: it follows the run from its first push.
		members := make([]string, len(f.sess.Members))
		for i, mb := range f.sess.Members {
			members[i] = mb.InstanceID
		}
		f.orch, f.mode = f.m.Starter(true, f.o.Cloud).Choose(members)
		if oldest {
			ss, err := openSettings(f.m, f.sess.Settings)
			if err != nil {
				return err
			}
			start := time.Now()
			l = &plan.Local{Nodes: nodes, Comparison: compare.Compare(nodes, ss.Compare)}
			l.Timings.Compare = time.Since(start)
		}
		return nil
	})
	if err != nil {
		f.failed(ctx, err, oldest)
		return nil, f.reasonOf(ctx, err)
	}
	return l, nil
}

// inventoryAlone is the inventory of a member alone: its own nodes, compared, nothing sent.
func (f *Flow) inventoryAlone(ctx context.Context) (*plan.Local, error) {
	f.m.Status(protocol.InventoryRunningIdentification)
	specs := f.resolvedNodes()
	if f.ownRoots {
		if err := engine.LockRoots(f.roots, rootsOf(specs)); err != nil {
			return nil, err
		}
	}
	// The inventory leads to a run: the temp files a killed run left go.
	req := plan.Request{Nodes: specs, Settings: f.o.Planning.Settings,
		Options: plan.Options{Versions: f.o.Planning.Versions}, Progress: f.o.Progress, Scanned: f.o.Scanned,
		RemoveTemps: true, Analysing: func() { f.m.Status(protocol.InventoryRunningAnalysis) }}
	if sp := f.o.Planning.Sparse; sp != nil {
		req.Rules, req.Sparse = sp.Rules, true
	}
	l, err := plan.Inventory(ctx, req)
	if err != nil {
		return nil, err
	}
	f.m.Status(protocol.InventoryFinished)
	f.step(Step{Name: StepFullInventories, Members: 1})
	return l, nil
}

// resolvedNodes makes this member's nodes name the directories their roots lead to now (roots
// given as symbolic links are resolved once, here) and returns them.
func (f *Flow) resolvedNodes() []plan.NodeSpec {
	specs := make([]plan.NodeSpec, len(f.nodes))
	for i, n := range f.nodes {
		specs[i] = plan.NodeSpec{Code: n.Code}
		for _, r := range n.Roots {
			specs[i].Roots = append(specs[i].Roots, inventory.ResolveRoot(r))
		}
	}
	f.nodes = specs
	return specs
}

func rootsOf(specs []plan.NodeSpec) []string {
	var paths []string
	for _, n := range specs {
		paths = append(paths, n.Roots...)
	}
	return paths
}

// PlanOptions are o for a plan of this session: copies between members prefer a delta where
// it pays.
func (f *Flow) PlanOptions(o plan.Options) plan.Options {
	if f.Alone() {
		return o
	}
	o.PreferDelta = func(size int64, source, target string) bool {
		return transfer.PreferDelta(size, true, f.owner(source) != f.owner(target))
	}
	return o
}

// Propose makes p, planned from Inventory's comparison, the session's plan (the planning
// member only): it checks it, refuses it past Planning.MaxDelete (Refused), and sends it to
// the other members. A failure is told to them.
func (f *Flow) Propose(ctx context.Context, p *plan.Plan) error {
	switch {
	case f.settled:
		return errors.New("the plan of this inventory was already given")
	case !f.begun || !f.planner():
		return errors.New("only the oldest member plans, after its inventory")
	}
	f.terms = startTerms{Record: f.tw != nil, Terms: f.m.sharedTerms()}
	if err := p.CheckDeletions(f.o.Planning.MaxDelete); err != nil && !f.o.Planning.DeletionsChecked {
		f.terms.Refused = err.Error()
		f.refused = err
	}
	if !f.Alone() {
		err := f.phase(ctx, func(ctx context.Context) error {
			if err := f.checkPlan(p); err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := encodeStartTerms(&buf, p, "", f.terms); err != nil {
				return err
			}
			err := f.x.SendBlob(ctx, blobStart, protocol.TransferPlan, f.others(), &buf)
			if err != nil && f.refused != nil {
				// The refusal stands whatever reached the others: nothing runs anywhere. A
				// member that read the refused plan may well have left before the send ended.
				f.log.Info("the refused plan may not have reached every member", "err", err)
				return nil
			}
			return err
		})
		if err != nil {
			f.refused = nil
			f.failed(ctx, err, true)
			return err
		}
	}
	f.plan, f.settled = p, true
	f.step(Step{Name: StepPlanned, Members: len(f.sess.Members)})
	return nil
}

// Receive receives the plan from the planning member and checks it (the other members, after
// Inventory).
func (f *Flow) Receive(ctx context.Context) (*plan.Plan, error) {
	switch {
	case f.settled:
		return f.plan, nil
	case !f.begun || f.planner():
		return nil, errors.New("only a member that does not plan receives the plan, after its inventory")
	}
	if err := f.phase(ctx, f.receivePlan); err != nil {
		f.failed(ctx, err, false)
		return nil, f.reasonOf(ctx, err)
	}
	f.settled = true
	f.step(Step{Name: StepPlanned, Members: len(f.sess.Members)})
	return f.plan, nil
}

// failed tells the others that this member stopped: an error status (cancelled on an
// interruption), and from the oldest member an empty start data with the reason.
// The start data goes first: a member that sees the status finds the reason on the relay.
func (f *Flow) failed(ctx context.Context, err error, oldest bool) {
	if oldest && f.owners != nil && !f.Alone() {
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		reason := err.Error()
		if ctx.Err() != nil {
			reason = "the oldest member was interrupted"
		}
		var buf bytes.Buffer
		_ = encodeStart(&buf, nil, reason)
		serr := f.x.SendBlob(sendCtx, blobStart, protocol.TransferPlan, f.others(), &buf)
		if serr != nil {
			f.log.Warn("tell the members there is no plan", "err", serr)
		}
		cancel()
		f.mu.Lock()
		f.reasoned = serr == nil
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	status := protocol.InventoryError
	if ctx.Err() != nil {
		status = protocol.InventoryCancelled
	}
	f.m.Status(status)
}

// peerStopped is another member's failure status, seen during the flow.
type peerStopped struct {
	member, who string
	status      protocol.MemberStatus
}

func (e *peerStopped) Error() string { return fmt.Sprintf("%s stopped: %s", e.who, e.status) }

// reasonOf reads why the oldest member stopped from the start data it sent before its status;
// err stays the answer when there is none.
func (f *Flow) reasonOf(ctx context.Context, err error) error {
	var ps *peerStopped
	if !errors.As(err, &ps) || len(f.sess.Members) == 0 || ps.member != f.sess.Members[0].InstanceID {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reasonWait)
	defer cancel()
	rerr := receiveStream(ctx, f.x, blobStart, ps.member, func(r io.Reader) error {
		_, err := decodeStart(r)
		return err
	})
	var pe *PlanError
	if errors.As(rerr, &pe) {
		return pe
	}
	return err
}

// awaitStart waits for the inventory to start and keeps the session as it started.
func (f *Flow) awaitStart(ctx context.Context) error {
	for wait := false; ; wait = true {
		s, err := f.session(ctx, wait)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(s.Members, func(mb protocol.Member) bool { return mb.InstanceID == f.m.Self() }) {
			return errors.New("this member is no longer in the session")
		}
		if s.InventoryStarted {
			f.mu.Lock()
			f.started = true
			var left []string
			for _, mb := range s.Members {
				if f.gone[mb.InstanceID] {
					left = append(left, mb.InstanceID)
				}
			}
			f.mu.Unlock()
			if len(left) > 0 { // gone between the read and now
				return fmt.Errorf("%s left the session", f.who(left[0]))
			}
			f.sess = *s
			f.owners = map[string]string{}
			for _, r := range sessionNodes(s) {
				f.owners[r.code] = r.owner
			}
			return f.checkOwnNodes()
		}
	}
}

// checkOwnNodes checks that the session holds this member's nodes as this flow knows them.
func (f *Flow) checkOwnNodes() error {
	self := f.m.Self()
	declared := map[string]int{}
	for _, r := range sessionNodes(&f.sess) {
		if r.owner == self {
			declared[r.code] = len(r.sources)
		}
	}
	if len(declared) != len(f.nodes) {
		return fmt.Errorf("the session holds %d nodes of this member, not %d", len(declared), len(f.nodes))
	}
	for _, n := range f.nodes {
		if c, ok := declared[n.Code]; !ok || c != len(n.Roots) {
			return fmt.Errorf("node %s: the session holds %d data sources, not %d", n.Code, c, len(n.Roots))
		}
	}
	return nil
}

// owner is the member owning a node.
func (f *Flow) owner(node string) string { return f.owners[node] }

// others are the other members.
func (f *Flow) others() []string {
	var out []string
	for _, mb := range f.sess.Members {
		if mb.InstanceID != f.m.Self() {
			out = append(out, mb.InstanceID)
		}
	}
	return out
}

// inventory scans this member's nodes and exchanges the inventories and signatures with the
// others. It returns every node of the session, by code, with content keys.
func (f *Flow) inventory(ctx context.Context) ([]*inventory.Node, error) {
	ss, err := openSettings(f.m, f.sess.Settings)
	if err != nil {
		return nil, err
	}
	settings := ss.Compare
	f.m.Status(protocol.InventoryRunningIdentification)
	// The inventory leads to a run: the temp files a killed run left go.
	opts := inventory.Options{ExcludeHidden: settings.ExcludeHidden, ExcludeSystem: settings.ExcludeSystem, RemoveTemps: true,
		Exclude: plan.Versions{Dir: ss.Versions}.Exclude(), Progress: f.o.Progress}
	// From now on the flow names the directories the roots led to.
	specs := f.resolvedNodes()
	if f.ownRoots {
		if err := engine.LockRoots(f.roots, rootsOf(specs)); err != nil {
			return nil, err
		}
	}
	own := map[string]*inventory.Node{}
	for i, n := range f.nodes {
		if i > 0 {
			opts.Like = own[f.nodes[0].Code] // most trees synchronized hold most of the first one's paths
		}
		node, err := inventory.ScanNode(ctx, n.Code, n.Roots, opts)
		if f.o.Scanned != nil {
			f.o.Scanned(n.Code, node, err)
		}
		if err != nil {
			return nil, fmt.Errorf("inventory of node %s: %w", n.Code, err)
		}
		own[n.Code] = node
		for _, p := range node.Parts {
			f.dirIDs[p.Root] = p.DirID
		}
	}
	refs := sessionNodes(&f.sess)
	others := f.others()

	// Base inventories, both ways.
	received := map[string]*inventory.Part{}
	var mu sync.Mutex
	g := &group{}
	var sends sync.WaitGroup
	for _, node := range own {
		for _, p := range node.Parts {
			sends.Add(1)
			g.Go(ctx, func(ctx context.Context) error {
				defer sends.Done()
				return sendPart(ctx, f.x, blobBase+p.Code, others, p)
			})
		}
	}
	for _, r := range refs {
		if r.owner == f.m.Self() {
			continue
		}
		for _, src := range r.sources {
			g.Go(ctx, func(ctx context.Context) error {
				p, err := receivePart(ctx, f.x, blobBase+src, r.owner, src)
				mu.Lock()
				received[src] = p
				mu.Unlock()
				return err
			})
		}
	}
	sends.Wait()
	if g.Err() == nil {
		f.m.Status(protocol.InventoryWaitingForAnalysis)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	f.step(Step{Name: StepBaseInventories, Members: len(f.sess.Members)})
	nodes, err := assemble(refs, own, received)
	if err != nil {
		return nil, err
	}

	// Analysis: content keys where the comparison needs them, signatures of possible delta
	// targets.
	f.m.Status(protocol.InventoryRunningAnalysis)
	need := compare.ContentNeeded(nodes, settings)
	i := 0
	for _, n := range nodes {
		for _, p := range n.Parts {
			if own[n.Code] != nil && len(need[i]) > 0 {
				if err := p.Hash(ctx, need[i], inventory.HashOptions{Progress: f.o.Progress}); err != nil {
					return nil, fmt.Errorf("analysis of %s: %w", p.Code, err)
				}
			}
			i++
		}
	}
	sigs, err := f.signatures(ctx, nodes, settings)
	if err != nil {
		return nil, err
	}

	// Full inventories and signatures, both ways.
	all := remote.SignatureSet{}
	for part, s := range sigs {
		all[part] = s
	}
	partNames := partNamesByOwner(nodes, f.owners)
	g = &group{}
	for _, node := range own {
		for _, p := range node.Parts {
			g.Go(ctx, func(ctx context.Context) error { return sendPart(ctx, f.x, blobFull+p.Code, others, p) })
		}
	}
	g.Go(ctx, func(ctx context.Context) error {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeSignatures(pw, sigs)) }()
		err := f.x.SendBlob(ctx, blobSignatures, protocol.TransferSignatures, others, pr)
		pr.CloseWithError(errors.New("sending ended"))
		return err
	})
	for _, r := range refs {
		if r.owner == f.m.Self() {
			continue
		}
		for _, src := range r.sources {
			g.Go(ctx, func(ctx context.Context) error {
				p, err := receivePart(ctx, f.x, blobFull+src, r.owner, src)
				mu.Lock()
				received[src] = p
				mu.Unlock()
				return err
			})
		}
	}
	for _, from := range others {
		g.Go(ctx, func(ctx context.Context) error {
			err := receiveStream(ctx, f.x, blobSignatures, from, func(r io.Reader) error {
				s, err := readSignatures(r, partNames[from])
				mu.Lock()
				for part, m := range s {
					all[part] = m
				}
				mu.Unlock()
				return err
			})
			if err != nil {
				return fmt.Errorf("signatures of member %s: %w", from, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if nodes, err = assemble(refs, own, received); err != nil {
		return nil, err
	}
	f.sigs = all
	f.m.Status(protocol.InventoryFinished)
	f.step(Step{Name: StepFullInventories, Members: len(f.sess.Members)})
	return nodes, nil
}

// assemble puts the session's nodes together from this member's scans and the parts received.
func assemble(refs []nodeRef, own map[string]*inventory.Node, received map[string]*inventory.Part) ([]*inventory.Node, error) {
	nodes := make([]*inventory.Node, 0, len(refs))
	for _, r := range refs {
		if n := own[r.code]; n != nil {
			nodes = append(nodes, n)
			continue
		}
		n := &inventory.Node{Code: r.code}
		for _, src := range r.sources {
			p := received[src]
			if p == nil {
				return nil, fmt.Errorf("no inventory of data source %s", src)
			}
			n.Parts = append(n.Parts, p)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// partNamesByOwner lists the data part names of each member, as the comparison names them.
func partNamesByOwner(nodes []*inventory.Node, owners map[string]string) map[string][]string {
	out := map[string][]string{}
	for _, p := range compare.Parts(nodes) {
		out[owners[p.Node]] = append(out[owners[p.Node]], p.Name)
	}
	return out
}

// signatures computes the signatures of this member's files that another member's copy may
// patch: big enough for a delta, present on another member's node with another size, date or
// content.
func (f *Flow) signatures(ctx context.Context, nodes []*inventory.Node, settings compare.Settings) (remote.SignatureSet, error) {
	self := f.m.Self()
	c := compare.Compare(nodes, settings)
	mine := func(part int) bool { return f.owners[c.Parts[part].Node] == self }
	key := func(l compare.Located) inventory.ContentKey { return c.Parts[l.Part].Inv.Keys.Of(l.Entry) }
	paths := map[int][]string{}
	for _, it := range c.Items {
		if it.Kind != inventory.File {
			continue
		}
		var all []compare.Located
		for _, id := range it.Identities {
			all = append(all, id.Entries...)
		}
		for _, l := range all {
			e := l.Entry
			if !mine(l.Part) || e == nil || e.Inaccessible || e.AnalysisFailed || !remote.WantsSignature(e.Size) {
				continue
			}
			ek := key(l)
			differs := slices.ContainsFunc(all, func(o compare.Located) bool {
				if mine(o.Part) || o.Entry == nil {
					return false
				}
				ok := key(o)
				return o.Entry.Size != e.Size || o.Entry.ModTime != e.ModTime || !ok.IsZero() && !ek.IsZero() && ok != ek
			})
			if differs && !slices.Contains(paths[l.Part], e.Path()) {
				paths[l.Part] = append(paths[l.Part], e.Path())
			}
		}
	}
	out := remote.SignatureSet{}
	for part, ps := range paths {
		inv := c.Parts[part].Inv
		dir := inv.Root
		if inv.Type == inventory.SourceFile {
			dir = filepath.Dir(inv.Root)
		}
		sigs, err := remote.ComputeSignatures(ctx, dir, ps)
		if err != nil {
			return nil, err
		}
		out[c.Parts[part].Name] = sigs
	}
	return out, nil
}

// planWith evaluates Planning's rules on the comparison and plans.
func (f *Flow) planWith(l *plan.Local) (*plan.Plan, error) {
	c := l.Comparison
	opts := f.PlanOptions(plan.Options{Versions: f.o.Planning.Versions})
	targeted := f.o.Planning.Targeted
	var rs []rules.Rule
	if tw := f.o.Planning.TwoWay; tw != nil && c.Settings.Matching == compare.Tree {
		store := tw.Store
		store.Side, store.Read = f.recordSide, f.readAfter
		run, err := store.BeginAll(c)
		if err != nil {
			return nil, err
		}
		f.tw, f.twCmp = run, c
		rs = tw.Rules
		targeted = append(slices.Clone(targeted), run.Targeted()...)
		opts = run.PlanOptions(c, opts)
	} else {
		if f.o.Planning.Rules == nil {
			return nil, errors.New("no rules to plan with")
		}
		var err error
		if rs, err = f.o.Planning.Rules(c.PartNames()); err != nil {
			return nil, err
		}
	}
	res, err := rules.Evaluate(c, rs, targeted)
	if err != nil {
		return nil, err
	}
	return plan.Build(c, res, opts), nil
}

// Conflicts are the items of a two-way run edited on several members since the last run, as
// the planning member found them; none on the others.
func (f *Flow) Conflicts() []twoway.Conflict { return f.tw.Conflicts() }

// Refused is why the planning member refuses the plan (a *plan.DeleteLimitError on the planning
// member, a *RefusedPlanError with its words on the others): nothing runs. Nil once Prepare
// returned a plan that may run.
func (f *Flow) Refused() error { return f.refused }

// RefusedPlanError is the planning member's refusal of its plan, as another member received it.
type RefusedPlanError struct{ Reason string }

func (e *RefusedPlanError) Error() string { return e.Reason }

// receivePlan receives the plan from the oldest member and checks it.
func (f *Flow) receivePlan(ctx context.Context) error {
	oldest := f.sess.Members[0].InstanceID
	var p *plan.Plan
	err := receiveStream(ctx, f.x, blobStart, oldest, func(r io.Reader) error {
		var err error
		p, f.terms, err = decodeStartTerms(r)
		return err
	})
	if err != nil {
		return fmt.Errorf("the plan: %w", err)
	}
	if err := f.checkPlan(p); err != nil {
		return err
	}
	f.ownDirIDs(p)
	f.m.receivedTerms(f.terms.Terms)
	if f.terms.Refused != "" {
		f.refused = &RefusedPlanError{Reason: f.terms.Refused}
	}
	f.plan = p
	return nil
}

// ownDirIDs gives this member's parts of p the directories its inventory listed, which the
// plan does not carry between members.
func (f *Flow) ownDirIDs(p *plan.Plan) {
	for i := range p.Parts {
		if pt := &p.Parts[i]; f.owners[pt.Node] == f.m.Self() {
			pt.DirID = f.dirIDs[pt.Root]
		}
	}
}

// checkPlan checks that the plan knows every node of the session and touches this member's
// nodes only inside their data sources: it writes and deletes confined to an endpoint's Dir,
// which must be a root of this member (or a file root's folder), and keeps versions in the
// folder the inventories left out.
func (f *Flow) checkPlan(p *plan.Plan) error {
	ss, err := openSettings(f.m, f.sess.Settings)
	if err != nil {
		return err
	}
	kept := ""
	if p.Versions != nil {
		kept = p.Versions.Dir
	}
	if kept != ss.Versions {
		return fmt.Errorf("the plan keeps versions in %q, the session's settings in %q", kept, ss.Versions)
	}
	self := f.m.Self()
	roots := map[string][]string{} // own node → roots
	for _, n := range f.nodes {
		roots[n.Code] = n.Roots
	}
	parts := map[string]plan.PartInfo{}
	for _, pt := range p.Parts {
		if _, ok := f.owners[pt.Node]; !ok {
			return fmt.Errorf("the plan names node %s, which is not in the session", pt.Node)
		}
		if f.owners[pt.Node] == self && !slices.Contains(roots[pt.Node], pt.Root) {
			return fmt.Errorf("the plan places data part %s at a root node %s does not have", pt.Name, pt.Node)
		}
		parts[pt.Name] = pt
	}
	check := func(e *plan.Endpoint) error {
		pt, ok := parts[e.Part]
		if !ok || pt.Node != e.Node {
			return fmt.Errorf("the plan names data part %s of node %s, which it does not list", e.Part, e.Node)
		}
		if f.owners[e.Node] != self {
			return nil
		}
		dir := pt.Root
		if pt.Type == inventory.SourceFile {
			dir = filepath.Dir(pt.Root)
		}
		if e.Root != pt.Root || e.Dir != dir {
			return fmt.Errorf("the plan places %s outside data part %s", e.Path(), e.Part)
		}
		return nil
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Source != nil {
			if err := check(g.Source); err != nil {
				return err
			}
		}
		for j := range g.Targets {
			if err := check(&g.Targets[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// SyncOptions are what a run needs of the command or the app.
type SyncOptions struct {
	Event func(engine.Event)
	Abort <-chan struct{}
	// Result, when set, receives the result of every group target this member ran.
	Result func(engine.TargetResult)
	// Report, when set, sees this member's action results on their way to the orchestrator.
	Report func([]protocol.ActionResult)
	// Chosen, when set, is told the orchestration before the run starts.
	Chosen func(engine.Orchestration)
}

// Synchronize runs this member's part of the synchronization of the prepared plan. A member
// alone runs it under the local orchestrator (the server's unless FlowOptions.ForceCloud) and
// asks nothing of the other members; with others it runs on the server's path, the oldest
// member starting it, once every member agreed, and copies between members go through the
// relay.
func (f *Flow) Synchronize(ctx context.Context, o SyncOptions) (*engine.Outcome, error) {
	if !f.settled {
		return nil, errors.New("synchronize before the plan is prepared")
	}
	if f.refused != nil {
		return nil, f.refused
	}
	alone := f.Alone()
	if !alone {
		// Members that did not answer agree; the run starts once every member did.
		if err := f.Answer(ctx, Answer{OK: true}); err != nil {
			return nil, err
		}
		if err := f.Verdict(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.syncing = true
	f.mu.Unlock()
	if f.orch == nil {
		f.orch, f.mode = f.m.Starter(f.o.ForceCloud, f.o.Cloud).Choose([]string{f.m.Self()})
	}
	if o.Chosen != nil {
		o.Chosen(f.mode)
	}
	f.step(Step{Name: StepSynchronizing, Members: len(f.sess.Members)})
	run := engine.Run{
		Plan:         f.plan,
		Self:         f.m.Self(),
		Owner:        f.owner,
		Orchestrator: f.orch,
		Start:        f.planner(),
		Status:       f.m.Status,
		Event:        o.Event,
		Abort:        o.Abort,
		Roots:        f.roots,
		Result:       o.Result,
	}
	if f.terms.Record {
		run.Result = func(t engine.TargetResult) {
			f.result(t)
			if o.Result != nil {
				o.Result(t)
			}
		}
	}
	if o.Report != nil {
		run.Orchestrator = &reporting{Orchestrator: f.orch, report: o.Report}
	}
	if !alone {
		co := f.o.Content
		co.Roots = f.roots
		content := remote.NewContent(f.x, f.sigs, co)
		defer content.Close()
		run.Remote = content
	}
	if f.mode == engine.OrchestrationCloud { // it cannot go on without the server
		var unbind func()
		ctx, unbind = f.m.Bind(ctx)
		defer unbind()
	}
	out, err := engine.Synchronize(ctx, run)
	if err != nil || out.Sync.EndStatus != protocol.EndRegular {
		f.mu.Lock()
		f.irregular = true // the members stopped receiving: Close need not wait for them
		f.mu.Unlock()
	}
	if out != nil && f.terms.Record {
		if rerr := f.settle(ctx); rerr != nil {
			out.Errors = append(out.Errors, rerr)
		}
	}
	return out, err
}

// Orchestration is how the run is orchestrated, once Synchronize chose it.
func (f *Flow) Orchestration() engine.Orchestration { return f.mode }

// reporting shows this member's results to the caller on their way to the orchestrator.
type reporting struct {
	engine.Orchestrator
	report func([]protocol.ActionResult)
}

func (r *reporting) Report(results ...protocol.ActionResult) {
	r.report(results)
	r.Orchestrator.Report(results...)
}

// Close waits until ctx ends for the other members to receive what this member sent, deletes
// it from the relay, and stops following the session. A member that stopped before the
// synchronization waits for nobody but those reading why it stopped, reasonWait at most: two
// members stopped by a third would otherwise each wait for the other to read its inventory.
func (f *Flow) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		var errs []error
		if f.orch != nil {
			errs = append(errs, f.orch.Close())
			f.orch = nil // its tracker holds every group of the run
		}
		f.sigs, f.twCmp = nil, nil
		if f.Alone() { // nothing was sent: nothing to wait for
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		f.mu.Lock()
		irregular, stopped, reasoned := f.irregular, f.stopped, f.reasoned
		f.mu.Unlock()
		switch {
		case irregular || stopped && !reasoned || f.m.Err() != nil: // nobody will receive anything more
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel()
		case stopped: // the others may still read why, and nothing else
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, reasonWait)
			defer cancel()
		}
		if err := f.x.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("relay: %w", err))
		}
		f.stopX()
		f.stopEvents()
		close(f.quit)
		<-f.watched
		if f.ownRoots {
			errs = append(errs, f.roots.Close())
		}
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// group runs functions at once; the first error cancels the others' context.
type group struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
	ctx    context.Context
}

// Go runs fn with a context derived from ctx (the first call's), ended by the first error.
func (g *group) Go(ctx context.Context, fn func(context.Context) error) {
	g.mu.Lock()
	if g.ctx == nil {
		g.ctx, g.cancel = context.WithCancel(ctx)
	}
	gctx := g.ctx
	g.mu.Unlock()
	g.wg.Go(func() {
		if err := fn(gctx); err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
				g.cancel()
			}
			g.mu.Unlock()
		}
	})
}

// Err is the first error so far.
func (g *group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Wait waits for every function and returns the first error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel != nil {
		g.cancel()
	}
	return g.err
}
