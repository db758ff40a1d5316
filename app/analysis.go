package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/filter"
	"github.com/ferrysync/ferry/backend/gcpace"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/rules"
	"github.com/ferrysync/ferry/backend/twoway"
)

// Rules modes besides the presets.
const (
	ModeNone   = ""       // no rules: targeted actions only
	ModeCustom = "custom" // a rules file
)

// maxCachedFilters bounds the filters whose results are kept.
const maxCachedFilters = 32

// flowCloseWait bounds the wait, when an inventory is dropped, for the other members to receive
// what this member sent them.
const flowCloseWait = 30 * time.Second

// planRevisions numbers the plans of the process (analysis.revision).
var planRevisions atomic.Int64

// analysis is what the inventory, the rules and the targeted actions make: the comparison and
// the plan, with what the comparison pages need to be fast. core.mu guards it.
type analysis struct {
	// What the user chose.
	mode     string
	text     string
	custom   *rules.File      // the rules file in force (ModeCustom)
	inForce  string           // its text
	settings compare.Settings // for the next inventory: the rules file's, or the defaults
	textErrs []RuleError      // the last text saved: the rules before it stay in force
	targeted []rules.Targeted

	// The last inventory, and the plan from it; flow is the session's flow that inventoried,
	// which runs the plan.
	inv      *inventoryResult
	flow     *sessionFlow
	planErrs []RuleError // the rules do not fit the comparison
	plan     *plan.Plan
	ran      bool // the plan ran: the disk no longer matches the inventory
	// spentParts are the parts of the comparison whose plan ran, once release let it go.
	spentParts []string
	// revision names the plan: a new one with every plan (and when the plan is dropped), never
	// reused in the process, so that an acknowledgement of one plan's deletions cannot start
	// another.
	revision int64
	allowed  int64 // the revision whose deletions the user allowed past the limit; 0: none
	// actions are the plan's actions, in item order (as rules.Evaluate lists them), and as
	// filters read them.
	actions    []itemAction
	forFilters []filter.Action
	acting     int                // items with an action other than do-nothing
	filters    map[string][]int32 // item indices per filter text
	// gc paces the collector while the inventories and the plan are held.
	gc *gcpace.Pacer

	// A two-way preset run between two folders remembers the state it left them in (in
	// records, a folder of the config dir); twoWay is this inventory's run, once begun.
	records string
	twoWay  *twoway.Run

	// userVersions is the settings' kept versions; a rules file's versions and versions_keep
	// override them (versions).
	userVersions plan.Versions
	// safety is the deletion limit and kept versions of the profile that opened the session:
	// they override the settings' and the rules file's, as ferry profile run's flags do.
	safety profile.Safety
	// from is the node a preset goes from, to every other part (a shared profile's run, whose
	// From may be another member's node); "" for the first part to the second.
	from string
}

// inventoryResult is one inventory of this member's nodes, compared.
type inventoryResult struct {
	nodes    []*inventory.Node
	cmp      *compare.Comparison
	settings compare.Settings
	// excluded is the folder of kept versions the scans left out, relative to each root; "" for
	// none.
	excluded string
}

func newAnalysis(records string, versions plan.Versions) analysis {
	return analysis{mode: ModeNone, settings: compare.DefaultSettings(), records: records, userVersions: versions}
}

// versions is where the plan keeps the files it replaces or deletes (unstamped): the rules
// file's versions and versions_keep where the rules in force set them, the settings' otherwise.
// No Dir keeps nothing.
func (a *analysis) versions() plan.Versions {
	v := a.userVersions
	if a.mode == ModeCustom && a.custom != nil {
		if a.custom.SettingsSet["versions"] {
			v.Dir = a.custom.Safety.Versions
		}
		if a.custom.SettingsSet["versions_keep"] {
			v.KeepDays = a.custom.Safety.VersionsKeep
		}
	}
	if a.safety.Versions != "" {
		v.Dir = a.safety.Versions
	}
	if a.safety.VersionsKeep != 0 {
		v.KeepDays = a.safety.VersionsKeep
	}
	if v.Dir == "" {
		return plan.Versions{}
	}
	return v
}

// followVersions lets the inventory stand for a new folder of kept versions when scanning again
// would list the same entries: it does not list the new folder, and the folder it left out
// before is none, or one it leaves out anyway (a hidden name while hidden names are left out).
// Otherwise needsInventory tells that the inventory must run again.
func (a *analysis) followVersions() {
	r := a.inv
	if r == nil {
		return
	}
	dir := a.versions().Dir
	if dir == r.excluded || r.lists(dir) || !r.leftOutAnyway(r.excluded) {
		return
	}
	r.excluded = dir
}

// forgetInventory drops the comparison and the plan: the nodes changed, or a new inventory runs.
func (a *analysis) forgetInventory() {
	if fr := a.flow; fr != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), flowCloseWait)
			defer cancel()
			fr.close(ctx)
		}()
	}
	a.inv, a.flow = nil, nil
	a.revision = planRevisions.Add(1)
	a.planErrs, a.plan, a.ran = nil, nil, false
	a.actions, a.forFilters, a.acting, a.filters = nil, nil, 0, nil
	a.twoWay = nil
	a.spentParts = nil
	a.gc.Restore()
	a.gc = nil
}

// release lets the comparison, the plan and the inventories go once the plan ran: the summary
// needs none of them, and the next run inventories again. Start still refuses the plan that
// ran, and a profile saved now still knows the parts compared.
func (a *analysis) release() {
	parts := a.partNames()
	a.forgetInventory()
	a.ran, a.spentParts = true, parts
}

// partNames are the parts of the comparison, or of the one that ran and was let go; nil when
// this member compared nothing.
func (a *analysis) partNames() []string {
	if a.inv != nil {
		return a.inv.cmp.PartNames()
	}
	return a.spentParts
}

// presetFrom is the node a preset goes from: the one set for this run, else the first part
// compared ("" when this member compared nothing).
func (a *analysis) presetFrom() string {
	if a.from != "" {
		return a.from
	}
	if names := a.partNames(); len(names) > 0 {
		return names[0]
	}
	return ""
}

// setInventory takes a new comparison, and the flow that made it, and plans it.
func (a *analysis) setInventory(r *inventoryResult, fr *sessionFlow, gc *gcpace.Pacer) {
	a.forgetInventory()
	a.inv, a.flow, a.gc = r, fr, gc
	a.replan()
}

// replan evaluates the rules and the targeted actions again and builds the plan.
func (a *analysis) replan() {
	if a.inv == nil {
		return
	}
	a.followVersions()
	a.install(a.evaluate(a.targeted, nil))
}

// evaluate plans the rules in force with targeted; rules that do not fit the comparison are
// reported and left out. refused, when not nil, is given each action the rules refuse.
func (a *analysis) evaluate(targeted []rules.Targeted, refused func(rules.Rejection)) *planned {
	cmp := a.inv.cmp
	rs, errs := a.rulesFor(cmp)
	targeted = slices.DeleteFunc(slices.Clone(targeted), func(t rules.Targeted) bool { return a.inv.find(t.Path, t.Kind) == nil })
	if tw, err := a.twoWayRun(); err != nil {
		errs = append(errs, RuleError{Msg: err.Error()})
		rs = nil
	} else if tw.Decides() {
		// The record of the last run decides instead of the preset.
		rs, targeted = nil, append(targeted, tw.Targeted()...)
	}
	s, err := rules.NewStream(cmp, rs, targeted)
	if err != nil {
		errs = append(errs, a.locate(err)...)
		if s, err = rules.NewStream(cmp, nil, targeted); err != nil {
			errs = append(errs, RuleError{Msg: err.Error()})
			s, _ = rules.NewStream(cmp, nil, nil)
		}
	}
	p := a.planStream(s, refused)
	p.errs = errs
	return p
}

// planned is a plan made and the actions it was made of, not yet in force (install).
type planned struct {
	plan    *plan.Plan
	actions []itemAction // in item order
	acting  int          // items with an action other than do-nothing
	errs    []RuleError
}

// planStream evaluates s over the comparison, keeping its actions as item actions, and plans
// them: no rules.Result, which takes 32 bytes an action, is held.
func (a *analysis) planStream(s *rules.Stream, refused func(rules.Rejection)) *planned {
	cmp := a.inv.cmp
	var kept keptActions
	var refusals rules.Refusals
	item := 0
	yield := func(out rules.Outcome) {
		if out.Reason != "" {
			refusals.Add(out)
			if refused != nil {
				refused(rules.Rejection{AtomicAction: out.Action, Reason: out.Reason})
			}
			return
		}
		act := out.Action
		item = a.itemIndex(act.Item, item)
		kept.add(itemAction{item: int32(item), source: int16(act.Source), target: int16(act.Target), op: act.Op, targeted: act.Targeted()}, out.At())
	}
	for _, it := range cmp.Items {
		s.Item(it, yield)
	}
	s.End(yield)

	p := &planned{actions: kept.inOrder()}
	counted, doing := int32(-1), 0
	for _, act := range p.actions {
		if act.op == rules.DoNothing {
			continue
		}
		doing++
		if act.item != counted {
			p.acting++
			counted = act.item
		}
	}
	o := plan.Options{Versions: a.versions()}
	if a.flow != nil {
		o = a.flow.flow.PlanOptions(o)
	}
	if a.mode == rules.PresetTwoWay {
		o = a.twoWay.PlanOptions(cmp, o)
	}
	actions := func(yield func(rules.AtomicAction) bool) {
		for _, act := range p.actions {
			if !yield(act.atomic(cmp)) {
				return
			}
		}
	}
	p.plan = plan.BuildEach(cmp, s.Directions, refusals.List(), doing, actions, o)
	return p
}

// install makes p the plan in force.
func (a *analysis) install(p *planned) {
	a.planErrs, a.plan, a.actions, a.acting = p.errs, p.plan, p.actions, p.acting
	a.revision = planRevisions.Add(1)
	a.forFilters = make([]filter.Action, len(p.actions))
	for i, act := range p.actions {
		a.forFilters[i] = filter.Action{Op: act.op, Targeted: act.targeted}
	}
	a.filters = nil
}

// keptActions gathers a plan's actions as a rules.Stream gives them, in chunks so that no
// growing array is copied over and over, with their positions among the actions kept: a tree's
// directory deletes come at the end of their subtree.
type keptActions struct {
	chunks [][]itemAction
	at     [][]int32
	n      int
	sorted bool
	last   int
}

const keptChunk = 4096

func (k *keptActions) add(act itemAction, at int) {
	if k.n == 0 {
		k.sorted = true
	} else if at < k.last {
		k.sorted = false
	}
	k.last = at
	if k.n%keptChunk == 0 {
		k.chunks = append(k.chunks, make([]itemAction, 0, keptChunk))
		k.at = append(k.at, make([]int32, 0, keptChunk))
	}
	c := len(k.chunks) - 1
	k.chunks[c] = append(k.chunks[c], act)
	k.at[c] = append(k.at[c], int32(at))
	k.n++
}

// inOrder is the actions in one array of their number, in the order of their positions.
func (k *keptActions) inOrder() []itemAction {
	out := make([]itemAction, 0, k.n)
	var at []int32
	if !k.sorted {
		at = make([]int32, 0, k.n)
	}
	for i := range k.chunks {
		out = append(out, k.chunks[i]...)
		if !k.sorted {
			at = append(at, k.at[i]...)
		}
		k.chunks[i], k.at[i] = nil, nil
	}
	if !k.sorted {
		sort.Sort(byPosition{out, at})
	}
	return out
}

type byPosition struct {
	actions []itemAction
	at      []int32
}

func (b byPosition) Len() int           { return len(b.actions) }
func (b byPosition) Less(i, j int) bool { return b.at[i] < b.at[j] }
func (b byPosition) Swap(i, j int) {
	b.actions[i], b.actions[j] = b.actions[j], b.actions[i]
	b.at[i], b.at[j] = b.at[j], b.at[i]
}

// itemAction is an action of the plan as the comparison shows it and filters read it: its item
// by index in the comparison, in 12 bytes where a rules.AtomicAction takes 32.
type itemAction struct {
	item           int32
	source, target int16 // part indexes, -1 for none
	op             rules.Op
	targeted       bool
}

// atomic is the action as rules.Evaluate gives it; a rule's action names rule 0.
func (act itemAction) atomic(cmp *compare.Comparison) rules.AtomicAction {
	a := rules.AtomicAction{Item: cmp.Items[act.item], Source: int(act.source), Target: int(act.target), Op: act.op}
	if act.targeted {
		a.Rule = -1
	}
	return a
}

// itemIndex is the index of it in the comparison's items, looked for from hint on.
func (a *analysis) itemIndex(it *compare.Item, hint int) int {
	items := a.inv.cmp.Items
	for i := hint; i < len(items) && i < hint+2; i++ {
		if items[i] == it {
			return i
		}
	}
	i, _ := slices.BinarySearchFunc(items, it, compare.ItemOrder)
	return i
}

// actionsOf is where the actions of the item at index i are in a.actions, which come in item
// order; from is where an earlier item's actions end, or 0.
func (a *analysis) actionsOf(i, from int) (lo, hi int) {
	at := func(k int) bool { return a.actions[k].item >= int32(i) }
	if from > len(a.actions) || from > 0 && at(from-1) {
		from = 0
	}
	lo = from
	if lo < len(a.actions) && !at(lo) {
		lo += sort.Search(len(a.actions)-lo, func(k int) bool { return at(lo + k) })
	}
	hi = lo
	for hi < len(a.actions) && a.actions[hi].item == int32(i) {
		hi++
	}
	return lo, hi
}

// twoWayRun begins, for the two-way preset between two folders, the run of this inventory: the
// record of the last run, when there is one, decides. Nil for other rules.
func (a *analysis) twoWayRun() (*twoway.Run, error) {
	// The record is this machine's: it does not follow the runs of a session with other members.
	shared := a.flow != nil && !a.flow.flow.Alone()
	if a.mode != rules.PresetTwoWay || a.inv.settings.Matching != compare.Tree || len(a.inv.cmp.Parts) != 2 || a.records == "" || shared {
		a.twoWay = nil
		return nil, nil
	}
	if a.twoWay == nil {
		run, err := twoway.Store{Dir: a.records}.Begin(a.inv.cmp)
		if err != nil {
			return nil, err
		}
		a.twoWay = run
	}
	return a.twoWay, nil
}

// rulesFor expands the rules in force for the comparison's parts.
func (a *analysis) rulesFor(cmp *compare.Comparison) ([]rules.Rule, []RuleError) {
	names := cmp.PartNames()
	switch a.mode {
	case ModeNone:
		return nil, nil
	case ModeCustom:
		if err := rules.CheckParts(a.custom.Rules, names); err != nil {
			return nil, a.locate(err)
		}
		return a.custom.Rules, nil
	}
	if a.from != "" {
		rs, err := rules.PresetAcross(a.mode, a.from, names)
		if err != nil {
			return nil, []RuleError{{Msg: err.Error()}}
		}
		return rs, nil
	}
	if len(names) != 2 {
		return nil, []RuleError{{Msg: fmt.Sprintf("the %s preset synchronizes two data parts, and there are %d (%s): use two nodes of one data source each, or write rules", a.mode, len(names), strings.Join(names, ", "))}}
	}
	rs, err := rules.Preset(a.mode, names[0], names[1])
	if err != nil {
		return nil, []RuleError{{Msg: err.Error()}}
	}
	return rs, nil
}

// locate places a rules error on its line of the rules text.
func (a *analysis) locate(err error) []RuleError {
	text := ""
	if a.mode == ModeCustom {
		text = a.inForce
	}
	return []RuleError{locateRuleError(text, err)}
}

// needsInventory tells whether the settings in force differ from those of the last inventory:
// what it reads and compares, or the folder of kept versions it leaves out.
func (a *analysis) needsInventory() bool {
	return a.inv != nil && (a.inv.settings != a.settings || a.inv.excluded != a.versions().Dir)
}

// filtered returns the indices of the items that pass the filter (nil for every item), from the
// cache when the filter ran on this plan already.
func (a *analysis) filtered(text string) ([]int32, *FilterError) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	if idx, ok := a.filters[text]; ok {
		return idx, nil
	}
	cmp := a.inv.cmp
	f, err := filter.Parse(text, cmp.Parts)
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			return nil, &FilterError{Pos: utf16Offset(text, fe.Pos), End: utf16Offset(text, fe.End), Msg: fe.Msg}
		}
		return nil, &FilterError{End: utf16Offset(text, len(text)), Msg: err.Error()}
	}
	// The items are matched in order, and their actions come in the same order: an item's
	// start where an earlier item's ended.
	cur, hi := 0, 0
	env := filter.Env{
		Now: time.Now(),
		Actions: func(it *compare.Item) []filter.Action {
			i := a.itemIndex(it, cur)
			var lo int
			lo, hi = a.actionsOf(i, hi)
			return a.forFilters[lo:hi:hi]
		},
	}
	idx := make([]int32, 0, 64)
	for i, it := range cmp.Items {
		cur = i
		if f.Match(it, env) {
			idx = append(idx, int32(i))
		}
	}
	if a.filters == nil || len(a.filters) >= maxCachedFilters {
		a.filters = make(map[string][]int32)
	}
	a.filters[text] = idx
	return idx, nil
}

func newInventoryResult(nodes []*inventory.Node, cmp *compare.Comparison, s compare.Settings) *inventoryResult {
	return &inventoryResult{nodes: nodes, cmp: cmp, settings: s}
}

// lists tells whether some data source's inventory holds dir (relative to its root).
func (r *inventoryResult) lists(dir string) bool {
	if dir == "" {
		return false
	}
	p := "/" + dir
	for _, n := range r.nodes {
		for _, part := range n.Parts {
			if _, ok := slices.BinarySearchFunc(part.Entries, p, func(e inventory.Entry, p string) int { return inventory.ComparePath(&e, p) }); ok {
				return true
			}
		}
	}
	return false
}

// leftOutAnyway tells whether a scan with this inventory's settings leaves dir out without being
// told to: "" or a path with a hidden name while hidden names are left out, or with a system
// name while those are.
func (r *inventoryResult) leftOutAnyway(dir string) bool {
	if dir == "" {
		return true
	}
	for name := range strings.SplitSeq(dir, "/") {
		if (r.settings.ExcludeHidden && inventory.IsHidden(name)) || (r.settings.ExcludeSystem && inventory.IsNoise(name)) {
			return true
		}
	}
	return false
}

// key is the linking key of a path (tree) or name (flat): lower-cased unless case-sensitive.
func (r *inventoryResult) key(path string) string {
	if r.cmp.Settings.CaseSensitive {
		return path
	}
	return strings.ToLower(path)
}

// find finds the item of a path or name; kind 0 takes a file before a directory.
func (r *inventoryResult) find(path string, kind inventory.Kind) *compare.Item {
	k := r.key(path)
	if kind != 0 {
		return r.cmp.Find(kind, k)
	}
	if it := r.cmp.Find(inventory.File, k); it != nil {
		return it
	}
	return r.cmp.Find(inventory.Dir, k)
}

// utf16Offset converts a byte offset in s to an offset in UTF-16 code units, as JavaScript
// indexes strings.
func utf16Offset(s string, byteOff int) int {
	n := 0
	for i, r := range s {
		if i >= byteOff {
			break
		}
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
