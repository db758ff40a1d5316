package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// Reason says why an action was refused.
type Reason string

const (
	CopyOnDirectory         Reason = "a copy applies to files only"
	CreateOnFile            Reason = "create applies to directories only"
	SourceNotAccessible     Reason = "source could not be read"
	SourceMissing           Reason = "source missing"
	SourceMultipleContents  Reason = "source holds several contents under this name"
	SourceAnalysisError     Reason = "source content could not be analysed"
	TargetNotAccessible     Reason = "target could not be read"
	TargetFileNotPresent    Reason = "target data source is a single file that does not exist"
	NothingToCopy           Reason = "content and dates already identical"
	ContentIdentical        Reason = "content already identical"
	TargetAnalysisError     Reason = "target content could not be analysed"
	TargetMissing           Reason = "target missing"
	CreateNeedsDirectory    Reason = "target data source is a file"
	TargetExists            Reason = "target already exists"
	BlockedByDoNothing      Reason = "item is set to do nothing"
	SourceIsTarget          Reason = "source is the target of another action"
	TargetIsSource          Reason = "target is the source of another action"
	TargetAlreadyUsed       Reason = "target already used by another action"
	DeleteConflicts         Reason = "delete conflicts with another action on the item"
	ItemBeingDeleted        Reason = "item is being deleted"
	Duplicate               Reason = "duplicate action"
	DirectoryStillHoldsFile Reason = "directory still holds files"
	// NotReadable reports a folder or file the inventory could not read: what it holds was left
	// alone.
	NotReadable Reason = "could not be read: left alone"
)

// AtomicAction is one action on one comparison item, with parts resolved.
type AtomicAction struct {
	Item   *compare.Item
	Source int   // part index, -1 for none
	Target int   // part index, -1 for none (do-nothing)
	Rule   int32 // rule index, -1 for a targeted action
	Op     Op
}

// Targeted reports whether the user set the action on the item by hand.
func (a AtomicAction) Targeted() bool { return a.Rule < 0 }

// Rejection is an action that will not run, and why.
type Rejection struct {
	AtomicAction
	Reason Reason
}

// Targeted is an action a user set on one item by hand.
type Targeted struct {
	Kind   inventory.Kind
	Path   string // the item's path (tree) or name (flat)
	Action Action
}

// Result is what rules and targeted actions make of a comparison.
type Result struct {
	Actions  []AtomicAction // valid actions, do-nothing included, in item order
	Rejected []Rejection
	// Directions are the part pairs the rules copy between, whatever they matched: a plan dates
	// directories along them.
	Directions []Direction
}

// Direction is a source and a target part (indices in the comparison) of a rule's copy action.
type Direction struct{ Source, Target int }

// Evaluate applies targeted actions, then rules, to every item of the comparison. Each action is
// checked against its item first and then against the actions already kept for the item. A
// do-nothing (targeted or from a rule) refuses every other rule action on its item; a rule action
// equal to one already kept is merged silently. In tree matching, a directory's delete is refused
// where something below it stays (Stream).
func Evaluate(cmp *compare.Comparison, rs []Rule, targeted []Targeted) (*Result, error) {
	s, err := NewStream(cmp, rs, targeted)
	if err != nil {
		return nil, err
	}
	res := &Result{Directions: s.Directions}
	var at []int // res.Actions' positions among the actions kept
	var refusals Refusals
	collect := func(o Outcome) {
		if o.Reason != "" {
			refusals.Add(o)
			return
		}
		res.Actions = append(res.Actions, o.Action)
		at = append(at, o.at)
	}
	for _, it := range cmp.Items {
		s.Item(it, collect)
	}
	s.End(collect)
	// Directory deletes come out at the end of their subtree: back to item order.
	if !slices.IsSorted(at) {
		order := make([]int, len(at))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int { return at[i] - at[j] })
		actions := make([]AtomicAction, len(order))
		for i, k := range order {
			actions[i] = res.Actions[k]
		}
		res.Actions = actions
	}
	res.Rejected = refusals.List()
	return res, nil
}

// Idle returns a test telling whether the rules rs leave an item of cmp alone: no action, not
// even a do-nothing, and no refusal, so that Evaluate with rs and no targeted action lists
// nothing for it (compare.CompareOmitting may leave it out).
func Idle(cmp *compare.Comparison, rs []Rule) (func(*compare.Item) bool, error) {
	bound, err := bindRules(cmp, rs)
	if err != nil {
		return nil, err
	}
	return func(it *compare.Item) bool {
		kept, rejected := evaluateItem(cmp, it, bound, nil)
		return len(kept) == 0 && len(rejected) == 0
	}, nil
}

// directions lists the copy directions of the rules, each once, in rule order.
func directions(rs []boundRule) []Direction {
	var out []Direction
	for _, r := range rs {
		for _, a := range r.actions {
			if d := (Direction{a.Source, a.Target}); a.Op.IsCopy() && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

type boundRule struct {
	Rule
	index   int
	conds   []boundCondition
	actions []AtomicAction
}

func partIndex(cmp *compare.Comparison, name string) (int, error) {
	if name == "" {
		return -1, nil
	}
	p, ok := cmp.Part(name)
	if !ok {
		return -1, fmt.Errorf("unknown part %q (parts: %s)", name, strings.Join(cmp.PartNames(), ", "))
	}
	return p.Index, nil
}

func bindAction(cmp *compare.Comparison, a Action) (AtomicAction, error) {
	aa := AtomicAction{Op: a.Op, Source: -1, Target: -1}
	var err error
	if a.Op.IsCopy() {
		if aa.Source, err = partIndex(cmp, a.From); err == nil {
			aa.Target, err = partIndex(cmp, a.To)
		}
	} else {
		aa.Target, err = partIndex(cmp, a.On)
	}
	return aa, err
}

func bindRules(cmp *compare.Comparison, rs []Rule) ([]boundRule, error) {
	out := make([]boundRule, len(rs))
	for i, r := range rs {
		br := boundRule{Rule: r, index: i}
		for j, c := range r.Conditions {
			bc := boundCondition{Condition: c, left: -1, right: -1}
			var err error
			if c.Property != Name {
				if bc.left, err = partIndex(cmp, c.Left); err == nil && c.Value == "" {
					bc.right, err = partIndex(cmp, c.Right)
				}
			}
			if err != nil {
				return nil, &Error{Rule: i, Field: fmt.Sprintf("conditions[%d]", j), Reason: err.Error()}
			}
			br.conds = append(br.conds, bc)
		}
		for j, a := range r.Actions {
			aa, err := bindAction(cmp, a)
			if err != nil {
				return nil, &Error{Rule: i, Field: fmt.Sprintf("actions[%d]", j), Reason: err.Error()}
			}
			aa.Rule = int32(i)
			br.actions = append(br.actions, aa)
		}
		out[i] = br
	}
	return out, nil
}

func bindTargeted(cmp *compare.Comparison, ts []Targeted) (map[*compare.Item][]AtomicAction, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := map[*compare.Item][]AtomicAction{}
	for i, t := range ts {
		it := cmp.Find(t.Kind, t.Path)
		if it == nil {
			return nil, fmt.Errorf("targeted action %d: no %s %q in the comparison", i, t.Kind, t.Path)
		}
		aa, err := bindAction(cmp, t.Action)
		if err != nil {
			return nil, fmt.Errorf("targeted action %d on %s: %w", i, t.Path, err)
		}
		aa.Rule, aa.Item = -1, it
		out[it] = append(out[it], aa)
	}
	return out, nil
}

func (r *boundRule) matches(cmp *compare.Comparison, it *compare.Item) bool {
	if r.AppliesTo != it.Kind || len(r.conds) == 0 {
		return false
	}
	for i := range r.conds {
		m := r.conds[i].matches(cmp, it)
		if m && !r.MatchAll {
			return true
		}
		if !m && r.MatchAll {
			return false
		}
	}
	return r.MatchAll
}

func evaluateItem(cmp *compare.Comparison, it *compare.Item, rs []boundRule, targeted []AtomicAction) (kept []AtomicAction, rejected []Rejection) {
	refuse := func(a AtomicAction, why Reason) { rejected = append(rejected, Rejection{a, why}) }
	// A targeted do-nothing replaces every other targeted action on the item.
	for _, a := range targeted {
		if a.Op == DoNothing {
			targeted = []AtomicAction{a}
			break
		}
	}
	for _, a := range targeted {
		if why := checkItem(cmp, it, a); why != "" {
			refuse(a, why)
		} else if why := checkAgainst(kept, a); why != "" {
			refuse(a, why)
		} else {
			kept = append(kept, a)
		}
	}
	blocked := len(kept) == 1 && kept[0].Op == DoNothing
	var fromRules []AtomicAction
	var ruleNothing *AtomicAction
	for i := range rs {
		if !rs[i].matches(cmp, it) {
			continue
		}
		for _, a := range rs[i].actions {
			a.Item = it
			if a.Op == DoNothing {
				if ruleNothing == nil {
					ruleNothing = &a
				}
			} else if !containsSame(fromRules, a) {
				fromRules = append(fromRules, a)
			}
		}
	}
	// A do-nothing, targeted or from a rule, leaves the item alone: the other rule actions are
	// refused. Targeted actions win over a do-nothing rule.
	if ruleNothing != nil {
		blocked = true
		if len(kept) == 0 {
			kept = append(kept, *ruleNothing)
		}
	}
	for _, a := range fromRules {
		if containsSame(kept, a) {
			continue // the user asked for the same action
		}
		if why := checkItem(cmp, it, a); why != "" {
			refuse(a, why)
		} else if blocked {
			refuse(a, BlockedByDoNothing)
		} else if why := checkAgainst(kept, a); why != "" {
			refuse(a, why)
		} else {
			kept = append(kept, a)
		}
	}
	return kept, rejected
}

func containsSame(as []AtomicAction, a AtomicAction) bool {
	for _, b := range as {
		if b.Op == a.Op && b.Source == a.Source && b.Target == a.Target {
			return true
		}
	}
	return false
}

// checkItem validates an action against its item alone.
func checkItem(cmp *compare.Comparison, it *compare.Item, a AtomicAction) Reason {
	flat := cmp.Settings.Matching == compare.Flat
	incomplete := func(p int) bool { return flat && cmp.Parts[p].Inv.Incomplete }
	switch {
	case a.Op == DoNothing:
		return ""
	case a.Op.IsCopy():
		if it.Kind != inventory.File {
			return CopyOnDirectory
		}
		return checkCopy(cmp, it, a, incomplete)
	case a.Op == Create:
		switch {
		case it.Kind != inventory.Dir:
			return CreateOnFile
		case cmp.Parts[a.Target].Inv.Type == inventory.SourceFile:
			return CreateNeedsDirectory
		case incomplete(a.Target):
			return TargetNotAccessible
		case it.Present(a.Target):
			return TargetExists
		}
	case a.Op == Delete:
		switch {
		case incomplete(a.Target):
			return TargetNotAccessible
		case !it.Present(a.Target):
			return TargetMissing
		case it.HasAccessIssue(a.Target):
			return TargetNotAccessible
		}
	}
	return ""
}

func checkCopy(cmp *compare.Comparison, it *compare.Item, a AtomicAction, incomplete func(int) bool) Reason {
	if incomplete(a.Source) {
		return SourceNotAccessible
	}
	srcIDs := it.IdentitiesOn(a.Source)
	switch {
	case len(srcIDs) == 0:
		return SourceMissing
	case len(srcIDs) > 1:
		return SourceMultipleContents
	case srcIDs[0].AnalysisError():
		return SourceAnalysisError
	case srcIDs[0].AccessIssue() || it.HasAccessIssue(a.Source):
		return SourceNotAccessible
	case incomplete(a.Target):
		return TargetNotAccessible
	}
	src := srcIDs[0]
	dstIDs := it.IdentitiesOn(a.Target)
	if len(dstIDs) == 0 {
		if a.Op == CopyDates {
			return TargetMissing
		}
		if cmp.Parts[a.Target].Inv.Type == inventory.SourceFile {
			return TargetFileNotPresent
		}
		return ""
	}
	sameContent, sameDates := true, true
	srcTime := it.Entry(a.Source).ModTime
	for _, id := range dstIDs {
		switch {
		case id.AnalysisError():
			return TargetAnalysisError
		case id.AccessIssue():
			return TargetNotAccessible
		}
		sameContent = sameContent && id == src
		for _, l := range id.Entries {
			if l.Part == a.Target && l.Entry.ModTime != srcTime {
				sameDates = false
			}
		}
	}
	switch {
	case sameDates && (sameContent || a.Op == CopyDates):
		return NothingToCopy
	case a.Op == CopyContent && sameContent:
		return ContentIdentical
	}
	return ""
}

// checkAgainst validates an action against the actions already kept for its item. Only parts that
// are set are compared.
func checkAgainst(kept []AtomicAction, a AtomicAction) Reason {
	set := func(p int) bool { return p >= 0 }
	sharing := 0
	var sharer AtomicAction
	for _, e := range kept {
		switch {
		case e.Op == DoNothing:
			return BlockedByDoNothing
		case e.Op == a.Op && e.Source == a.Source && e.Target == a.Target:
			return Duplicate
		case set(e.Target) && e.Target == a.Source:
			return SourceIsTarget
		case set(e.Source) && e.Source == a.Target:
			return TargetIsSource
		case a.Op == Delete && (e.Source == a.Target || e.Target == a.Target):
			return DeleteConflicts
		case e.Op == Delete && set(a.Source) && e.Target == a.Source:
			return ItemBeingDeleted
		}
		if e.Target == a.Target {
			sharing++
			sharer = e
		}
	}
	if sharing > 1 || (sharing == 1 && !complementary(sharer.Op, a.Op)) {
		if sharer.Op == Delete {
			return ItemBeingDeleted
		}
		return TargetAlreadyUsed
	}
	return ""
}

func complementary(x, y Op) bool {
	return (x == CopyContent && y == CopyDates) || (x == CopyDates && y == CopyContent)
}
