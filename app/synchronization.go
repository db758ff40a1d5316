package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrysync/ferry/app/notify"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/session"
	"github.com/ferrysync/ferry/backend/twoway"
)

// Synchronization states.
const (
	StateIdle    = "idle"
	StateRunning = "running"
	StateEnded   = "ended"
)

// maxItemResults bounds the successful item results kept for the webview; failures are all kept.
const maxItemResults = 10_000

// Destination is what the plan does on one node.
type Destination struct {
	Node    string `json:"node"`
	Copies  int    `json:"copies"`
	Creates int    `json:"creates"`
	Deletes int    `json:"deletes"`
	Dates   int    `json:"dates"`
	Bytes   int64  `json:"bytes"` // content copied onto the node
}

// Confirmation is what the user confirms before a synchronization starts.
type Confirmation struct {
	Actions      int           `json:"actions"`
	Bytes        int64         `json:"bytes"`
	Destinations []Destination `json:"destinations"`
	Refused      int           `json:"refused"` // actions the rules asked for that will not run
	// Revision names this plan; AllowDeletions takes it.
	Revision int64 `json:"revision"`
	// Deletions are the files the plan deletes on each data source that loses any.
	Deletions []Deletions `json:"deletions"`
	// DeleteLimit is the deletion limit in force, as the user reads it: "50% (default)",
	// "20%", "100 files".
	DeleteLimit string `json:"deleteLimit"`
	// OverLimit tells that some deletions are past the limit: Start runs this plan only after
	// AllowDeletions(Revision).
	OverLimit bool `json:"overLimit"`
	// Replaces counts the files the plan writes over (copies onto existing files).
	Replaces int `json:"replaces"`
	// Versions is where the run keeps the files it replaces or deletes; nil keeps nothing.
	Versions *KeptVersions `json:"versions,omitempty"`
	// Conflicts are the items a two-way run decided by its record found edited on both sides.
	Conflicts []Conflict `json:"conflicts"`
}

// KeptVersions is where a run keeps the files it replaces or deletes: Dir/Stamp/<their path> in
// each data source it changes.
type KeptVersions struct {
	Dir   string `json:"dir"`   // relative to each data source root
	Stamp string `json:"stamp"` // the run's folder in Dir: the UTC time of the plan, 2026-12-05T201500Z
	// KeepDays removes, at the end of a successful run, the run folders older than this many
	// days; 0 keeps them all.
	KeepDays int `json:"keepDays"`
}

// Conflict is an item edited on both sides since the last two-way run, with different content:
// the newest edit keeps the name, the others are kept on every side under conflict names.
type Conflict struct {
	Path   string   `json:"path"`
	Winner string   `json:"winner"` // the part whose edit keeps the name
	Kept   []string `json:"kept"`   // the conflict names of the other edits
}

// Deletions is what the plan deletes on one target data source (a part).
type Deletions struct {
	Part string `json:"part"`
	Node string `json:"node"`
	// Root is its folder or file: the path on this computer, the name alone (never the path)
	// on another computer, which Computer names.
	Root     string `json:"root"`
	Computer string `json:"computer,omitempty"`
	Deletes  int    `json:"deletes"` // files deleted there
	Files    int    `json:"files"`   // files it holds
	// EmptySource is another data source of the plan that holds nothing at all (an unmounted
	// drive looks like that), EmptyRoot its folder (as Root), EmptyComputer its computer when
	// another.
	EmptySource   string `json:"emptySource,omitempty"`
	EmptyRoot     string `json:"emptyRoot,omitempty"`
	EmptyComputer string `json:"emptyComputer,omitempty"`
	Over          bool   `json:"over"` // past the deletion limit
}

// Progress are the run's counters.
type Progress struct {
	TotalActions    int   `json:"totalActions"`
	FinishedActions int   `json:"finishedActions"`
	ErrorActions    int   `json:"errorActions"`
	SyncedVolume    int64 `json:"syncedVolume"`
	TotalVolume     int64 `json:"totalVolume"`
}

// SyncStatus is the last synchronization as the webview shows it.
type SyncStatus struct {
	State         string       `json:"state"` // idle, running, ended
	Orchestration string       `json:"orchestration"`
	Progress      Progress     `json:"progress"`
	EndStatus     string       `json:"endStatus,omitempty"` // regular, aborted, error
	EndReason     string       `json:"endReason,omitempty"`
	Errors        []string     `json:"errors"`
	Items         []ItemResult `json:"items"`
	// OmittedItems counts successful item results left out of Items (beyond the first 10,000).
	OmittedItems int `json:"omittedItems"`
}

// ItemResult is the result of one action on one item.
type ItemResult struct {
	Path   string `json:"path"`
	Op     string `json:"op"`
	Target string `json:"target"` // part
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// SyncEvent is one step of the run, as sync:event. Its status carries no items nor errors: they
// come with sync:done.
type SyncEvent struct {
	Type   string     `json:"type"` // started, progress, abort_requested, ended
	Status SyncStatus `json:"status"`
}

// notifier shows desktop notifications (app/notify).
type notifier interface {
	Send(ctx context.Context, n notify.Notification) (uint32, error)
}

// Synchronization is the service of the synchronization of the plan.
type Synchronization struct {
	c *core
}

type syncRun struct {
	ctx       context.Context
	abort     chan struct{}
	abortOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
	session   string // the id of the session it runs in
}

func (r *syncRun) requestAbort() { r.abortOnce.Do(func() { close(r.abort) }) }

func idleStatus() SyncStatus {
	return SyncStatus{State: StateIdle, Errors: []string{}, Items: []ItemResult{}}
}

// Confirmation counts what the plan does, per destination node, and what it deletes on each
// data source against the deletion limit.
func (s *Synchronization) Confirmation() (Confirmation, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.an.inv == nil || c.an.plan == nil {
		return Confirmation{}, errNoInventory
	}
	conf := confirmationOf(c.an.plan, c.an.revision, c.deleteLimitLocked(), c.placesLocked())
	for _, k := range c.an.twoWay.Conflicts() {
		conf.Conflicts = append(conf.Conflicts, Conflict{Path: k.Path, Winner: k.Winner, Kept: append([]string{}, k.Kept...)})
	}
	return conf, nil
}

// places tells the webview where a part's folder is: the path on this computer, the name and
// computer of another's, whose paths are theirs.
type places struct {
	local  map[string]bool // this computer's node codes
	others map[string]elsewhere
}

// elsewhere is a node or data source of another computer: its folder's name and the computer.
type elsewhere struct{ name, computer string }

// placesLocked lists this computer's nodes and the other members'. c.mu is held.
func (c *core) placesLocked() places {
	pl := places{local: map[string]bool{}, others: map[string]elsewhere{}}
	for _, n := range c.nodes {
		pl.local[n.code] = true
	}
	if c.sess == nil {
		return pl
	}
	for _, m := range c.sess.info.Members {
		if m.Self {
			continue
		}
		for _, n := range m.Nodes {
			computer := n.Machine
			if computer == "" {
				computer = "member " + m.Letter
			}
			pl.others[n.Code] = elsewhere{computer: computer}
			for _, src := range n.Sources {
				pl.others[src.Code] = elsewhere{name: src.Name, computer: computer}
			}
		}
	}
	return pl
}

// of is the folder of part (or, for a plan's node, its root) and, when another's, its computer.
// A part of no node of this computer never shows its path.
func (pl places) of(part, node, root string) (string, string) {
	if e, ok := pl.others[part]; ok && e.name != "" {
		return e.name, e.computer
	}
	if e, ok := pl.others[node]; ok {
		return filepath.Base(root), e.computer
	}
	if len(pl.local) > 0 && !pl.local[node] {
		return filepath.Base(root), "another computer"
	}
	return root, ""
}

func confirmationOf(p *plan.Plan, revision int64, limit rules.DeleteLimit, pl places) Confirmation {
	sum := p.Summary()
	out := Confirmation{Actions: sum.Actions, Bytes: sum.Bytes, Destinations: []Destination{}, Refused: len(p.Rejected),
		Revision: revision, Deletions: []Deletions{}, DeleteLimit: limitText(limit), Conflicts: []Conflict{}}
	if v := p.Versions; v != nil {
		out.Versions = &KeptVersions{Dir: v.Dir, Stamp: v.Stamp, KeepDays: v.KeepDays}
	}
	parts := map[string]plan.PartInfo{}
	for _, part := range p.Parts {
		parts[part.Name] = part
	}
	for _, d := range p.Deletions(limit) {
		root, computer := pl.of(d.Part, d.Node, d.Root)
		del := Deletions{Part: d.Part, Node: d.Node, Root: root, Computer: computer, Deletes: d.Deletes,
			Files: d.Files, EmptySource: d.EmptySource, Over: d.Over}
		if e, ok := parts[d.EmptySource]; ok {
			del.EmptyRoot, del.EmptyComputer = pl.of(e.Name, e.Node, e.Root)
		}
		out.Deletions = append(out.Deletions, del)
		out.OverLimit = out.OverLimit || d.Over
	}
	at := map[string]int{}
	for _, part := range p.Parts {
		if _, ok := at[part.Node]; !ok {
			at[part.Node] = len(out.Destinations)
			out.Destinations = append(out.Destinations, Destination{Node: part.Node})
		}
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Quiet {
			continue // a directory's date restored: no action
		}
		for _, t := range g.Targets {
			d := &out.Destinations[at[t.Node]]
			switch g.Op {
			case plan.OpCopy, plan.OpCopyContent:
				d.Copies++
				d.Bytes += g.Size()
				if t.Exists() {
					out.Replaces++
				}
			case plan.OpCopyDates:
				d.Dates++
			case plan.OpCreate:
				d.Creates++
			case plan.OpDelete:
				d.Deletes++
			}
		}
	}
	out.Destinations = slices.DeleteFunc(out.Destinations, func(d Destination) bool {
		return d.Copies+d.Creates+d.Deletes+d.Dates == 0
	})
	return out
}

// AllowDeletions allows the plan that Confirmation showed with this revision to delete past the
// deletion limit: the user confirmed its deletions. Refused when the plan changed since, so that
// a confirmation never starts another plan.
func (s *Synchronization) AllowDeletions(revision int64) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &c.an
	switch {
	case a.inv == nil || a.plan == nil:
		return errNoInventory
	case revision != a.revision:
		return errPlanChanged
	}
	a.allowed = revision
	return nil
}

// deleteLimitLocked is the deletion limit in force: the profile's when it sets one, else the
// rules file's max_delete when it sets one, the settings' otherwise. c.mu is held.
func (c *core) deleteLimitLocked() rules.DeleteLimit {
	if s := c.an.safety.MaxDelete; s != "" {
		if l, err := parseMaxDelete(s); err == nil { // checked when the profile was saved
			return l
		}
	}
	if a := &c.an; a.mode == ModeCustom && a.custom != nil && a.custom.SettingsSet["max_delete"] {
		return a.custom.Safety.MaxDelete
	}
	l, _ := parseMaxDelete(c.settings.get().MaxDelete) // checked when saved or read
	return l
}

// versionsSaved takes the settings' new kept versions. When nothing runs and the plan has not
// run, the plan keeps versions as they say at once, and the inventory runs again when it lists
// the new folder or left out the one before.
func (c *core) versionsSaved(v plan.Versions) {
	c.mu.Lock()
	a := &c.an
	before := a.versions()
	a.userVersions = v
	rescan := false
	if a.versions() != before && c.idleLocked() == nil && a.inv != nil && !a.ran {
		a.replan()
		rescan = a.needsInventory()
	}
	c.mu.Unlock()
	if rescan {
		if err := (&Inventory{c: c}).Start(); err != nil {
			// Start refuses the plan until an inventory runs.
			c.log.Warn("inventory for the new folder of kept versions", "err", err)
		}
	}
}

// limitText is a deletion limit as the user reads it.
func limitText(l rules.DeleteLimit) string {
	switch {
	case !l.Set:
		return strconv.Itoa(rules.DefaultDeletePercent) + "% (default)"
	case l.IsCount && l.Count == 1:
		return "1 file"
	case l.IsCount:
		return strconv.Itoa(l.Count) + " files"
	}
	return l.String()
}

// errInventoryStale refuses a plan made from an inventory that no longer fits the settings, as
// when the folder for kept versions changed while it ran.
var errInventoryStale = errors.New("the settings changed since the inventory (what it reads, or the folder for kept versions): run the inventory again")

// errDeletionsUnconfirmed ends the refusal of a plan that deletes past the limit.
var errDeletionsUnconfirmed = errors.New("confirm these deletions before starting")

// checkDeletionsLocked refuses a plan that deletes past the limit unless AllowDeletions allowed
// this very plan. c.mu is held.
func (c *core) checkDeletionsLocked() error {
	a := &c.an
	if a.allowed == a.revision {
		return nil
	}
	limit := c.deleteLimitLocked()
	var over []string
	for _, d := range a.plan.Deletions(limit) {
		if !d.Over {
			continue
		}
		over = append(over, d.String())
	}
	if len(over) == 0 {
		return nil
	}
	return fmt.Errorf("this plan deletes %s, over the deletion limit of %s: %w",
		strings.Join(over, "; "), limitText(limit), errDeletionsUnconfirmed)
}

// Start runs the plan in the background: sync:event for every step, sync:done at the end.
// Refused when there is nothing to do, while an inventory or a synchronization runs, and when
// the plan deletes past the deletion limit unless AllowDeletions allowed this plan.
func (s *Synchronization) Start() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return err
	}
	a := &c.an
	switch {
	case c.sess == nil:
		return errNoSession
	case a.ran:
		return errPlanRan
	case a.inv == nil || a.plan == nil:
		return errNoInventory
	case len(a.plan.Groups) == 0:
		return errNothingToDo
	case a.needsInventory():
		return errInventoryStale
	}
	if err := c.checkDeletionsLocked(); err != nil {
		return err
	}
	if a.flow == nil {
		return errNoInventory
	}
	a.ran = true
	a.gc.Planned()
	p, fr := a.plan, a.flow
	// The other members keep the terms with the plan, to save the run as a profile; a shared
	// profile's run gave its own when it opened the session.
	if opened := c.openedBy(); fr.flow.Plans() && (opened == nil || opened.shared == nil) {
		c.sess.member.ShareTerms(a.terms())
	}
	tw, cmp := a.twoWay, a.inv.cmp
	run := c.startRunLocked()
	c.goBackground(func() { s.run(run, fr, p, tw, cmp) })
	return nil
}

// startRunLocked makes a run the one under way. c.mu is held.
func (c *core) startRunLocked() *syncRun {
	ctx, cancel := context.WithCancel(c.life)
	run := &syncRun{ctx: ctx, abort: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	if c.sess != nil {
		run.session = c.sess.member.ID()
	}
	c.run = run
	c.sync = SyncStatus{State: StateRunning, Errors: []string{}, Items: []ItemResult{}}
	c.hiddenByClose = false
	if c.tray != nil {
		c.tray.SetState(TrayRunning)
		c.tray.SetAbortEnabled(true)
	}
	return run
}

// follow runs the plan of the session's oldest member, which fr received: this member's data
// sources take part in the run. A plan past this member's deletion limit is refused, and
// nothing runs on any member.
func (s *Synchronization) follow(sess *openSession, fr *sessionFlow) {
	c := s.c
	p, err := fr.flow.Receive(c.life) // received with the inventory: returns at once
	c.mu.Lock()
	if err != nil || c.closing || c.sess != sess || c.run != nil {
		c.mu.Unlock()
		fr.close(c.life)
		return
	}
	limit := c.deleteLimitLocked()
	run := c.startRunLocked()
	c.mu.Unlock()
	if err := p.CheckDeletions(limit); err != nil {
		var le *plan.DeleteLimitError
		reason := err.Error()
		if errors.As(err, &le) {
			reason = refusalOf(le)
		}
		if aerr := fr.flow.Answer(run.ctx, session.Answer{Reason: reason, Limit: true}); aerr != nil {
			c.log.Warn("refuse the plan", "err", aerr)
		}
	}
	c.goBackground(func() { s.run(run, fr, p, nil, nil) })
}

// refusalOf words this computer's refusal of a plan past its deletion limit for the app, on
// every member: "laptop-b refused: the plan deletes 12 of 12 files in Ba1, past its deletion
// limit of 10 files (its Settings)". It names no path: the other members see it.
func refusalOf(e *plan.DeleteLimitError) string {
	name, _ := os.Hostname()
	if name == "" {
		name = "another computer"
	}
	var b strings.Builder
	b.WriteString(name + " refused: the plan deletes ")
	for i, d := range e.Over {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d of %d files in %s", d.Deletes, d.Files, d.Part)
		if d.EmptySource != "" {
			b.WriteString(" while " + d.EmptySource + " is empty")
		}
	}
	fmt.Fprintf(&b, ", past its deletion limit of %s (its Settings)", limitText(e.Limit))
	return b.String()
}

// Abort asks the running synchronization to stop; it ends as aborted (sync:done).
func (s *Synchronization) Abort() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == nil {
		return errNoSyncRunning
	}
	c.run.requestAbort()
	return nil
}

// Status is the last synchronization: running, ended, or idle when none ran in this session.
func (s *Synchronization) Status() SyncStatus {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sync.clone()
}

// run synchronizes p through the session's flow, as the ferry command does: alone, under the
// local orchestrator; with other members, on the server's path, the oldest member starting it.
// A two-way run then saves its record.
func (s *Synchronization) run(run *syncRun, fr *sessionFlow, p *plan.Plan, tw *twoway.Run, cmp *compare.Comparison) {
	c := s.c
	ctx := run.ctx
	defer close(run.done)
	defer run.cancel()
	mode := engine.OrchestrationLocal
	results := newResultLog(p)
	fwd := newSyncForwarder(c)
	var err error
	if fr.flow.Plans() {
		err = fr.flow.Propose(ctx, p)
	}
	var out *engine.Outcome
	if err == nil {
		out, err = fr.flow.Synchronize(ctx, session.SyncOptions{
			Event:  fwd.event,
			Abort:  run.abort,
			Result: tw.Result,
			Report: func(rs []protocol.ActionResult) {
				if c.beforeReport != nil {
					c.beforeReport(rs)
				}
				results.add(rs)
			},
			Chosen: func(o engine.Orchestration) {
				mode = o
				c.mu.Lock()
				c.sync.Orchestration = string(o)
				c.mu.Unlock()
			},
		})
	}
	aborted := false
	select {
	case <-run.abort:
		aborted = true
	default:
	}
	final := endStatus(string(mode), out, err, aborted)
	final.Items, final.OmittedItems = results.items(out)
	if out != nil {
		if err := tw.SavePlan(cmp, p); err != nil {
			final.Errors = append(final.Errors, err.Error())
		}
	}

	c.mu.Lock()
	c.run = nil
	c.sync = final
	if c.an.flow == fr { // it ran: the flow, the comparison and the plan can go
		c.an.flow = nil
		c.an.release()
	}
	t, n, desk := c.tray, c.notifier, c.desk
	quit := c.hiddenByClose && t == nil && !c.closing && !c.quitting
	if quit {
		c.quitting = true
	}
	c.mu.Unlock()

	prof := s.profileEnded(run.session, final)
	fwd.stop()
	c.emit(EventSyncDone, final.clone())
	if t != nil {
		t.SetAbortEnabled(false)
		t.SetState(trayStateOf(final))
	}
	s.notify(n, out, err, prof)
	c.goBackground(func() {
		// The other members may still be receiving what this one sent.
		ctx, cancel := context.WithTimeout(c.life, flowCloseWait)
		defer cancel()
		fr.close(ctx)
	})
	if quit { // the window was closed during the run and no tray holds the app
		desk.quit()
	}
	c.giveBackLater()
}

// notify tells the desktop how the run ended, naming its profile when one ran; a missing
// notification server is not fatal.
func (s *Synchronization) notify(n notifier, out *engine.Outcome, err error, profile string) {
	if n == nil {
		return
	}
	end := protocol.Synchronization{EndStatus: protocol.EndError}
	errs := 0
	if out != nil {
		end, errs = out.Sync, len(out.Errors)
	}
	if err != nil && end.EndReason == "" {
		end.EndStatus, end.EndReason = protocol.EndError, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.c.life), 5*time.Second)
	defer cancel()
	if _, err := n.Send(ctx, notify.ForEnd(end, errs).Of(profile)); err != nil {
		s.c.log.Info("desktop notification", "err", err)
	}
}

// errorText is err as the app shows it: another member's refusal of the plan for its deletion
// limit is its own words, which name the computer.
func errorText(err error) string {
	var nc *session.NotConfirmedError
	if !errors.As(err, &nc) || nc.Self || !nc.Answer.Limit {
		return err.Error()
	}
	if strings.Contains(nc.Answer.Reason, " refused: ") {
		return nc.Answer.Reason + ": nothing changed"
	}
	// A ferry join's refusal: its paths and flags are the other computer's.
	reason, _, _ := strings.Cut(nc.Answer.Reason, "; nothing was changed")
	reason = pathInParens.ReplaceAllString(reason, "")
	if rest, ok := strings.CutPrefix(reason, "refusing to delete "); ok {
		return nc.Who + " refused: the plan deletes " + strings.Replace(rest, ": over the deletion limit", ", past its deletion limit", 1) + ": nothing changed"
	}
	return nc.Who + " refused the plan (" + reason + "): nothing changed"
}

// pathInParens is " (/a/path)" or " (C:\a\path)" in a message.
var pathInParens = regexp.MustCompile(` \((/|[A-Za-z]:\\)[^)]*\)`)

// endStatus is the status of an ended run.
func endStatus(mode string, out *engine.Outcome, err error, aborted bool) SyncStatus {
	st := SyncStatus{State: StateEnded, Orchestration: mode, Errors: []string{}, Items: []ItemResult{}}
	if out != nil {
		st.Progress = progressOf(out.Sync.Progress)
		st.EndStatus, st.EndReason = string(out.Sync.EndStatus), out.Sync.EndReason
		for _, e := range out.Errors {
			st.Errors = append(st.Errors, e.Error())
		}
	}
	if err != nil {
		st.Errors = append(st.Errors, errorText(err))
		if st.EndStatus == "" {
			st.EndStatus = string(protocol.EndError)
			if aborted {
				st.EndStatus = string(protocol.EndAborted)
			}
		}
		if st.EndReason == "" && st.EndStatus == string(protocol.EndError) {
			st.EndReason = errorText(err)
		}
	}
	if st.EndStatus == "" {
		st.EndStatus = string(protocol.EndError)
		st.EndReason = "the synchronization ended without an end status"
	}
	return st
}

func progressOf(p protocol.Progress) Progress {
	return Progress{
		TotalActions:    p.TotalActions,
		FinishedActions: p.FinishedActions,
		ErrorActions:    p.ErrorActions,
		SyncedVolume:    p.SyncedVolume,
		TotalVolume:     p.TotalVolume,
	}
}

func trayStateOf(s SyncStatus) TrayState {
	switch {
	case s.State == StateRunning:
		return TrayRunning
	case s.State == StateEnded && (s.EndStatus == string(protocol.EndError) || s.Progress.ErrorActions > 0 || len(s.Errors) > 0):
		return TrayError
	}
	return TrayIdle
}

func (s SyncStatus) clone() SyncStatus {
	s.Errors = slices.Clone(s.Errors)
	s.Items = slices.Clone(s.Items)
	return s
}

// syncForwarder turns the run's events into sync:event, progress at most ten per second.
type syncForwarder struct {
	c  *core
	th *throttle
}

func newSyncForwarder(c *core) *syncForwarder {
	f := &syncForwarder{c: c}
	f.th = newThrottle(progressEvery, func(v any) { c.emit(EventSync, v) })
	return f
}

// event is Run.Event: it keeps the status up to date and forwards the event.
func (f *syncForwarder) event(e engine.Event) {
	c := f.c
	c.mu.Lock()
	c.sync.Progress = progressOf(e.Sync.Progress)
	st := c.sync
	c.mu.Unlock()
	st.Errors, st.Items = []string{}, []ItemResult{}
	if e.Type == engine.EventEnded {
		st.State, st.EndStatus, st.EndReason = StateEnded, string(e.Sync.EndStatus), e.Sync.EndReason
	}
	ev := SyncEvent{Type: string(e.Type), Status: st}
	if e.Type == engine.EventProgress {
		f.th.offer(ev)
		return
	}
	f.th.then(func() { f.th.send(ev) })
}

// stop sends the progress that waits and ends the forwarding.
func (f *syncForwarder) stop() {
	f.th.then(func() {})
	f.th.stop()
}

// resultLog keeps the item results of a run: every failure, and the first successes.
type resultLog struct {
	plan *plan.Plan

	mu      sync.Mutex
	next    map[groupNode]int // targets of a group on a node reported so far
	results []ItemResult
	ok      int
	omitted int
}

type groupNode struct{ group, node string }

func newResultLog(p *plan.Plan) *resultLog {
	return &resultLog{plan: p, next: map[groupNode]int{}}
}

func (l *resultLog) add(results []protocol.ActionResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range results {
		g := l.plan.Group(r.Group)
		if g == nil {
			continue
		}
		// Results of one group on one node come in target order (the handler runs a group's
		// targets one by one), and those an abort left out are the last ones.
		k := groupNode{r.Group, r.Node}
		n := l.next[k]
		var t *plan.Endpoint
		for i := range g.Targets {
			if g.Targets[i].Node != r.Node {
				continue
			}
			if n == 0 {
				t = &g.Targets[i]
				break
			}
			n--
		}
		if t == nil {
			continue
		}
		l.next[k]++
		ok := r.Kind != protocol.ResultFailed
		if ok && l.ok >= maxItemResults {
			l.omitted++
			continue
		}
		if ok {
			l.ok++
		}
		l.results = append(l.results, ItemResult{Path: t.Path(), Op: g.Op.String(), Target: t.Part, OK: ok})
	}
}

// items returns the results, each failure with its error from the outcome.
func (l *resultLog) items(out *engine.Outcome) ([]ItemResult, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The handler's errors read "<op> <path> on <part>: <cause>"; a path may hold ": ", so every
	// prefix ending in ": " is a candidate.
	causes := map[string]string{}
	if out != nil {
		for _, e := range out.Errors {
			msg := e.Error()
			for i := 0; ; {
				j := strings.Index(msg[i:], ": ")
				if j < 0 {
					break
				}
				i += j + 2
				if _, ok := causes[msg[:i]]; !ok {
					causes[msg[:i]] = msg[i:]
				}
			}
		}
	}
	items := make([]ItemResult, len(l.results))
	for i, r := range l.results {
		if !r.OK {
			r.Error = causes[r.Op+" "+r.Path+" on "+r.Target+": "]
			if r.Error == "" {
				r.Error = "failed"
			}
		}
		items[i] = r
	}
	return items, l.omitted
}
