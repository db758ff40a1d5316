package tracker

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

var (
	// ErrNotFound: the session has no synchronization.
	ErrNotFound = errors.New("no synchronization")
	// ErrRunning: a synchronization of the session has not ended yet.
	ErrRunning = errors.New("a synchronization is running")
	// ErrNotMember: the caller is not a member of the run.
	ErrNotMember = errors.New("not a member of the synchronization")
	// ErrUnknownGroup: a result names a group the run does not have.
	ErrUnknownGroup = errors.New("unknown action group")
	// ErrNotTarget: a result comes from a member that is neither a target nor the source.
	ErrNotTarget = errors.New("not a target of the action group")
	// ErrInvalid: a definition or a result is malformed.
	ErrInvalid = errors.New("invalid")
	// ErrNoChange, returned by an update function, ends the update without writing.
	ErrNoChange = errors.New("no change")
)

// Store keeps synchronizations. Updates of one session are serialized; different sessions never
// wait for each other.
type Store interface {
	// Create stores a new run with its groups, replacing an ended one; ErrRunning when the
	// session has a run that has not ended. groups yields each group once, made for the store:
	// it may keep them.
	Create(ctx context.Context, s *protocol.Synchronization, groups iter.Seq[*Group], ttl time.Duration) error
	// Get reads a run; ErrNotFound when there is none.
	Get(ctx context.Context, session string) (*protocol.Synchronization, error)
	// Update loads the run and the named groups (ErrUnknownGroup when one is missing), calls fn
	// on copies, and stores them all at once unless fn fails; fn returning ErrNoChange stores
	// nothing and Update returns the run with a nil error. fn may run more than once when
	// writers race. Work is proportional to the number of groups named, not to the run.
	Update(ctx context.Context, session string, groups []string, ttl time.Duration,
		fn func(s *protocol.Synchronization, gs []*Group) error) (*protocol.Synchronization, error)
	// Delete removes a run and its groups.
	Delete(ctx context.Context, session string) error
}

// Tracker applies ByteSync's tracking rules to a Store, with its hazards fixed: results and
// member completions count once however often they are reported, an abort ends the run as soon
// as every member completed (whenever it arrives), and a member leaving mid-run ends it with an
// error.
type Tracker struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
}

// Options tune a Tracker.
type Options struct {
	TTL time.Duration    // how long a run is kept after its last change (2 days when zero)
	Now func() time.Time // time.Now when nil
}

// New returns a tracker over s.
func New(s Store, o Options) *Tracker {
	if o.TTL == 0 {
		o.TTL = 48 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tracker{store: s, ttl: o.TTL, now: o.Now}
}

// Change is what a call did to the run.
type Change struct {
	Sync           *protocol.Synchronization
	Groups         []protocol.GroupSummary // groups whose state changed
	Changed        bool                    // counters or groups changed
	AbortRequested bool                    // this call requested the abort first
	Ended          bool                    // this call ended the run
}

// Start creates the run of a session: every group of the plan, the members at start, counters
// at zero. ErrRunning when one is running. The groups keep the targets of defs: the caller
// must not change them afterwards.
func (t *Tracker) Start(ctx context.Context, session, by string, members []string, defs []protocol.GroupDefinition) (*protocol.Synchronization, error) {
	return t.StartEach(ctx, session, by, members, slices.Values(defs))
}

// StartEach is Start with the definitions yielded one at a time, twice: once to check them,
// once to store them. A plan's definitions need not all be held at once.
func (t *Tracker) StartEach(ctx context.Context, session, by string, members []string, defs iter.Seq[protocol.GroupDefinition]) (*protocol.Synchronization, error) {
	if !slices.Contains(members, by) {
		return nil, ErrNotMember
	}
	total, volume, err := check(members, defs)
	if err != nil {
		return nil, err
	}
	s := &protocol.Synchronization{
		Session:   session,
		Started:   t.now().UTC(),
		StartedBy: by,
		Progress: protocol.Progress{
			Version:          1,
			TotalActions:     total,
			TotalVolume:      volume,
			Members:          slices.Clone(members),
			CompletedMembers: []string{},
		},
	}
	if err := t.store.Create(ctx, s, groupsOf(defs), t.ttl); err != nil {
		return nil, err
	}
	return s, nil
}

// check validates the definitions of a run and counts its actions and the bytes they copy.
func check(members []string, defs iter.Seq[protocol.GroupDefinition]) (total int, volume int64, err error) {
	// Ids numbered by position, as plans make them, are distinct; others are sorted to be
	// checked.
	var ids []string
	n, numbered := 0, true
	for d := range defs {
		if numbered && !numberedAt(d.ID, n) {
			numbered = false
			for i := range n {
				ids = append(ids, idAt(i))
			}
		}
		if !numbered {
			ids = append(ids, d.ID)
		}
		n++
		c, err := checkGroup(members, d)
		if err != nil {
			return 0, 0, err
		}
		total += c
		if contentCopy(d.Op) {
			volume += d.Size * int64(c)
		}
	}
	if !numbered {
		if err := uniqueIDs(ids); err != nil {
			return 0, 0, err
		}
	}
	return total, volume, nil
}

// checkGroup validates one definition and counts its distinct targets.
func checkGroup(members []string, d protocol.GroupDefinition) (int, error) {
	switch d.Op {
	case "copy", "copy-content", "copy-dates", "create", "delete":
	default:
		return 0, fmt.Errorf("%w: group %s: unknown op %q", ErrInvalid, d.ID, d.Op)
	}
	if d.Size < 0 {
		return 0, fmt.Errorf("%w: group %s: negative size", ErrInvalid, d.ID)
	}
	if (d.Source != "") != contentCopy(d.Op) {
		return 0, fmt.Errorf("%w: group %s: a source goes with content copies only", ErrInvalid, d.ID)
	}
	if d.Source != "" && !slices.Contains(members, d.Source) {
		return 0, fmt.Errorf("%w: group %s: source %s is not a member", ErrInvalid, d.ID, d.Source)
	}
	n := 0
	for i, tg := range d.Targets {
		if !slices.Contains(members, tg.Member) || tg.Node == "" {
			return 0, fmt.Errorf("%w: group %s: target %s/%s is not a member's node", ErrInvalid, d.ID, tg.Member, tg.Node)
		}
		if !slices.Contains(d.Targets[:i], tg) {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: group %s has no target", ErrInvalid, d.ID)
	}
	return n, nil
}

// groupsOf makes the groups of checked definitions one at a time, so that a store keeping them
// in another form never holds them all. A group shares its definition's targets, which it never
// changes, unless one is named twice.
func groupsOf(defs iter.Seq[protocol.GroupDefinition]) iter.Seq[*Group] {
	return func(yield func(*Group) bool) {
		for d := range defs {
			g := &Group{ID: d.ID, Op: d.Op, Source: d.Source, Size: d.Size, Targets: slices.Clip(d.Targets)}
			for i, tg := range d.Targets {
				if slices.Contains(d.Targets[:i], tg) {
					g.Targets = nil
					for _, tg := range d.Targets {
						if !g.isTarget(tg) {
							g.Targets = append(g.Targets, tg)
						}
					}
					break
				}
			}
			if !yield(g) {
				return
			}
		}
	}
}

// uniqueIDs checks that every group has an id of its own; it sorts ids.
func uniqueIDs(ids []string) error {
	slices.Sort(ids)
	for i, id := range ids {
		if id == "" || i > 0 && ids[i-1] == id {
			return fmt.Errorf("%w: group id %q missing or repeated", ErrInvalid, id)
		}
	}
	return nil
}

// Get reads the run of a session.
func (t *Tracker) Get(ctx context.Context, session string) (*protocol.Synchronization, error) {
	return t.store.Get(ctx, session)
}

// Report applies a batch of results from member. Results reported again change nothing; results
// after the end are ignored. Results still count after an abort request: they say what was
// really done.
func (t *Tracker) Report(ctx context.Context, session, member string, results []protocol.ActionResult) (Change, error) {
	ids := make([]string, 0, len(results))
	seen := make(map[string]bool, len(results))
	for _, r := range results {
		if !seen[r.Group] {
			seen[r.Group] = true
			ids = append(ids, r.Group)
		}
	}
	var c Change
	s, err := t.store.Update(ctx, session, ids, t.ttl, func(s *protocol.Synchronization, gs []*Group) error {
		c = Change{}
		if !slices.Contains(s.Progress.Members, member) {
			return ErrNotMember
		}
		if s.IsEnded() {
			return ErrNoChange
		}
		byID := make(map[string]*Group, len(gs))
		for _, g := range gs {
			byID[g.ID] = g
		}
		changed := map[string]bool{}
		for _, r := range results {
			g := byID[r.Group]
			ok, err := apply(&s.Progress, g, member, r)
			if err != nil {
				return fmt.Errorf("group %s: %w", r.Group, err)
			}
			changed[g.ID] = changed[g.ID] || ok
		}
		for _, g := range gs {
			if changed[g.ID] {
				c.Groups = append(c.Groups, g.Summary())
			}
		}
		if len(c.Groups) == 0 {
			return ErrNoChange
		}
		c.Changed = true
		s.Progress.Version++
		c.Ended = t.checkEnd(s)
		return nil
	})
	if err != nil {
		return Change{}, err
	}
	c.Sync = s
	return c, nil
}

// apply records one result on g; false when it changed nothing.
func apply(p *protocol.Progress, g *Group, member string, r protocol.ActionResult) (bool, error) {
	if r.Kind == protocol.ResultFailed && r.Source {
		if g.Source != member {
			return false, ErrNotTarget
		}
		if g.SourceOK != nil && !*g.SourceOK {
			return false, nil
		}
		ok := false
		g.SourceOK = &ok
		for _, tg := range g.Targets {
			if g.addError(tg) {
				p.FinishedActions++
				p.ErrorActions++
			}
		}
		return true, nil
	}
	if !fits(g.Op, r.Kind) {
		return false, fmt.Errorf("%w: result %q for a %s group", ErrInvalid, r.Kind, g.Op)
	}
	if r.Bytes < 0 {
		return false, fmt.Errorf("%w: negative bytes", ErrInvalid)
	}
	var targets []protocol.Target
	for _, tg := range g.Targets {
		if tg.Member == member && (r.Node == "" || tg.Node == r.Node) {
			targets = append(targets, tg)
		}
	}
	if len(targets) == 0 {
		return false, ErrNotTarget
	}
	changed := false
	if r.Kind == protocol.ResultFailed {
		for _, tg := range targets {
			if g.addError(tg) {
				p.FinishedActions++
				p.ErrorActions++
				changed = true
			}
		}
		return changed, nil
	}
	if g.Source != "" && g.SourceOK != nil && !*g.SourceOK {
		return false, nil // the source failed: its targets are decided
	}
	for _, tg := range targets {
		if g.addSuccess(tg) {
			p.FinishedActions++
			if r.Kind == protocol.ResultCopied {
				p.SyncedVolume += g.Size
			}
			changed = true
		}
	}
	if changed && r.Kind == protocol.ResultCopied {
		if g.SourceOK == nil {
			ok := true
			g.SourceOK = &ok
		}
		if g.Source == member {
			p.LocalCopyVolume += r.Bytes
		}
	}
	return changed, nil
}

// fits tells whether a success result belongs to a group of op.
func fits(op string, k protocol.ResultKind) bool {
	switch k {
	case protocol.ResultFailed:
		return true
	case protocol.ResultCopied:
		return contentCopy(op)
	case protocol.ResultDatesCopied:
		return op == "copy-dates"
	case protocol.ResultCreated:
		return op == "create"
	case protocol.ResultDeleted:
		return op == "delete"
	}
	return false
}

// MemberFinished records that member ran all its groups. Idempotent.
func (t *Tracker) MemberFinished(ctx context.Context, session, member string) (Change, error) {
	return t.update(ctx, session, member, func(s *protocol.Synchronization, c *Change) error {
		if slices.Contains(s.Progress.CompletedMembers, member) || s.IsEnded() {
			return ErrNoChange
		}
		s.Progress.CompletedMembers = append(s.Progress.CompletedMembers, member)
		return nil
	})
}

// Abort records member's abort request. The run ends as soon as every member completed, which
// may be now.
func (t *Tracker) Abort(ctx context.Context, session, member string) (Change, error) {
	return t.update(ctx, session, member, func(s *protocol.Synchronization, c *Change) error {
		if s.IsEnded() || slices.Contains(s.AbortRequestedBy, member) {
			return ErrNoChange
		}
		if s.AbortRequested == nil {
			at := t.now().UTC()
			s.AbortRequested = &at
			c.AbortRequested = true
		}
		s.AbortRequestedBy = append(s.AbortRequestedBy, member)
		return nil
	})
}

// MemberLeft ends a running synchronization with an error when member quit or went away before
// its part was done.
func (t *Tracker) MemberLeft(ctx context.Context, session, member, reason string) (Change, error) {
	return t.update(ctx, session, member, func(s *protocol.Synchronization, c *Change) error {
		p := &s.Progress
		if s.IsEnded() || (slices.Contains(p.CompletedMembers, member) && p.AllActionsDone()) {
			return ErrNoChange
		}
		t.end(s, protocol.EndError, reason)
		c.Ended = true
		return nil
	})
}

// update runs fn on the run of a session member, then the end rule.
func (t *Tracker) update(ctx context.Context, session, member string, fn func(*protocol.Synchronization, *Change) error) (Change, error) {
	var c Change
	s, err := t.store.Update(ctx, session, nil, t.ttl, func(s *protocol.Synchronization, _ []*Group) error {
		c = Change{}
		if !slices.Contains(s.Progress.Members, member) {
			return ErrNotMember
		}
		if err := fn(s, &c); err != nil {
			return err
		}
		c.Changed = true
		s.Progress.Version++
		if !c.Ended {
			c.Ended = t.checkEnd(s)
		}
		return nil
	})
	if err != nil {
		return Change{}, err
	}
	c.Sync = s
	return c, nil
}

// checkEnd ends the run when every member completed and every action is done or an abort was
// requested.
func (t *Tracker) checkEnd(s *protocol.Synchronization) bool {
	p := &s.Progress
	if s.IsEnded() || !p.AllMembersCompleted() || !(p.AllActionsDone() || s.IsAbortRequested()) {
		return false
	}
	status := protocol.EndRegular
	if s.IsAbortRequested() {
		status = protocol.EndAborted
	}
	t.end(s, status, "")
	return true
}

func (t *Tracker) end(s *protocol.Synchronization, status protocol.EndStatus, reason string) {
	at := t.now().UTC()
	s.Ended, s.EndStatus, s.EndReason = &at, status, reason
}
