package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// Page sizes.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// ComparisonSummary counts the comparison's items.
type ComparisonSummary struct {
	Total       int      `json:"total"`
	Parts       []string `json:"parts"`
	WithActions int      `json:"withActions"` // items with an action other than do-nothing
}

// Cell is an item on one part. Content and date are group letters: parts with the same letter
// hold the same content, or the same last write time.
type Cell struct {
	Present     bool   `json:"present"`
	Size        int64  `json:"size"`
	Mtime       string `json:"mtime"` // RFC 3339, UTC; "" for a directory or an absent file
	Content     string `json:"content"`
	Date        string `json:"date"`
	AccessIssue bool   `json:"accessIssue"`
}

// ItemAction is an action planned on an item.
type ItemAction struct {
	Op       string   `json:"op"`
	Source   string   `json:"source"` // part copied from; "" for create, delete and do-nothing
	Targets  []string `json:"targets"`
	Targeted bool     `json:"targeted"`
}

// Item is one comparison item: a path (tree matching) or a name (flat matching).
type Item struct {
	Path    string          `json:"path"`
	Kind    string          `json:"kind"` // file or dir
	Cells   map[string]Cell `json:"cells"`
	Actions []ItemAction    `json:"actions"`
}

// FilterError is a malformed filter: the message and the span [pos, end) of the filter text at
// fault, in UTF-16 code units (JavaScript string indices).
type FilterError struct {
	Pos int    `json:"pos"`
	End int    `json:"end"`
	Msg string `json:"msg"`
}

// ComparisonPage is a page of the items that pass a filter.
type ComparisonPage struct {
	Total       int          `json:"total"` // items that pass the filter
	Offset      int          `json:"offset"`
	Items       []Item       `json:"items"`
	FilterError *FilterError `json:"filterError,omitempty"`
}

// Comparison is the service of the comparison of the nodes, after the inventory.
type Comparison struct {
	c *core
}

// Summary counts the items.
func (s *Comparison) Summary() (ComparisonSummary, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.an.inv == nil {
		return ComparisonSummary{}, errNoInventory
	}
	return c.an.summary(), nil
}

// Page returns up to limit items (100 when 0, at most 1000) from offset among those that pass
// the filter. A malformed filter is not an error: the page is empty and says what is wrong.
func (s *Comparison) Page(filter string, offset, limit int) (ComparisonPage, error) {
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	offset = max(offset, 0)
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &c.an
	if a.inv == nil {
		return ComparisonPage{}, errNoInventory
	}
	page := ComparisonPage{Offset: offset, Items: []Item{}}
	idx, ferr := a.filtered(filter)
	if ferr != nil {
		page.FilterError = ferr
		return page, nil
	}
	items := a.inv.cmp.Items
	page.Total = len(items)
	if idx != nil {
		page.Total = len(idx)
	}
	for i := offset; i < page.Total && i < offset+limit; i++ {
		n := i
		if idx != nil {
			n = int(idx[i])
		}
		page.Items = append(page.Items, a.item(n))
	}
	return page, nil
}

// AddTargetedAction sets an action on one item by hand: op from source onto each target for
// the copies, on each target for create and delete, none for do-nothing. An action the item
// does not allow is refused with the reason, and the plan stays as it was.
func (s *Comparison) AddTargetedAction(path, op, source string, targets []string) (ComparisonSummary, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return ComparisonSummary{}, err
	}
	a := &c.an
	if a.inv == nil {
		return ComparisonSummary{}, errNoInventory
	}
	added, it, err := a.targetedActions(path, op, source, targets)
	if err != nil {
		return ComparisonSummary{}, err
	}
	all := append(slices.Clone(a.targeted), added...)
	var why []string
	p := a.evaluate(all, func(r rules.Rejection) {
		if r.Targeted() && r.Item == it {
			why = append(why, fmt.Sprintf("%s: %s", describeAction(a.inv.cmp, r.AtomicAction), r.Reason))
		}
	})
	if len(why) > 0 {
		return ComparisonSummary{}, fmt.Errorf("refused on %s: %s", it.Path(), strings.Join(why, "; "))
	}
	a.targeted = all
	a.install(p)
	return a.summary(), nil
}

// RemoveTargetedActions removes every action set by hand on an item.
func (s *Comparison) RemoveTargetedActions(path string) (ComparisonSummary, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return ComparisonSummary{}, err
	}
	a := &c.an
	if a.inv == nil {
		return ComparisonSummary{}, errNoInventory
	}
	n := len(a.targeted)
	a.targeted = slices.DeleteFunc(a.targeted, func(t rules.Targeted) bool {
		return a.inv.key(t.Path) == a.inv.key(path)
	})
	if len(a.targeted) != n {
		a.replan()
	}
	return a.summary(), nil
}

func (a *analysis) summary() ComparisonSummary {
	return ComparisonSummary{Total: len(a.inv.cmp.Items), Parts: a.inv.cmp.PartNames(), WithActions: a.acting}
}

// targetedActions turns a request into targeted actions on one item.
func (a *analysis) targetedActions(path, op, source string, targets []string) ([]rules.Targeted, *compare.Item, error) {
	cmp := a.inv.cmp
	o, ok := rules.ParseOp(op)
	if !ok {
		return nil, nil, fmt.Errorf("unknown action %q: copy, copy-content, copy-dates, create, delete or do-nothing", op)
	}
	var kind inventory.Kind
	switch {
	case o.IsCopy():
		kind = inventory.File
	case o == rules.Create:
		kind = inventory.Dir
	}
	it := a.inv.find(path, kind)
	if it == nil {
		if kind != 0 && a.inv.find(path, 0) != nil {
			return nil, nil, fmt.Errorf("%s applies to %ss only", op, kind)
		}
		return nil, nil, fmt.Errorf("there is no item %q in the comparison", path)
	}
	part := func(name string) (string, error) {
		p, ok := cmp.Part(name)
		if !ok {
			return "", fmt.Errorf("unknown part %q (parts: %s)", name, strings.Join(cmp.PartNames(), ", "))
		}
		return p.Name, nil
	}
	if o == rules.DoNothing {
		return []rules.Targeted{{Kind: it.Kind, Path: it.Path(), Action: rules.Action{Op: o}}}, it, nil
	}
	if len(targets) == 0 {
		return nil, nil, fmt.Errorf("%s needs at least one target part", op)
	}
	from := ""
	if o.IsCopy() {
		var err error
		if from, err = part(source); err != nil {
			return nil, nil, fmt.Errorf("source: %w", err)
		}
	}
	var out []rules.Targeted
	for _, t := range targets {
		to, err := part(t)
		if err != nil {
			return nil, nil, fmt.Errorf("target: %w", err)
		}
		act := rules.Action{Op: o, On: to}
		if o.IsCopy() {
			if to == from {
				return nil, nil, fmt.Errorf("%s from %s to itself", op, from)
			}
			act = rules.Action{Op: o, From: from, To: to}
		}
		out = append(out, rules.Targeted{Kind: it.Kind, Path: it.Path(), Action: act})
	}
	return out, it, nil
}

// item renders the comparison item at index i with its planned actions.
func (a *analysis) item(i int) Item {
	cmp := a.inv.cmp
	it := cmp.Items[i]
	n := len(cmp.Parts)
	contents, dates := it.ContentGroups(n), it.DateGroups(n)
	out := Item{Path: it.Path(), Kind: "file", Cells: make(map[string]Cell, n), Actions: []ItemAction{}}
	if it.Kind == inventory.Dir {
		out.Kind = "dir"
	}
	for p, part := range cmp.Parts {
		cell := Cell{Present: it.Present(p), AccessIssue: it.HasAccessIssue(p)}
		if it.Kind == inventory.File {
			if e := it.Entry(p); e != nil && !e.Inaccessible {
				cell.Size, cell.Mtime = e.Size, e.Mtime().Format(time.RFC3339Nano)
			}
			if contents[p] >= 0 && !cell.AccessIssue {
				cell.Content = groupLetter(contents[p])
			}
			if dates[p] >= 0 {
				cell.Date = groupLetter(dates[p])
			}
		}
		out.Cells[part.Name] = cell
	}
	lo, hi := a.actionsOf(i, 0)
	for _, act := range a.actions[lo:hi] {
		ia := ItemAction{Op: act.op.String(), Targeted: act.targeted, Targets: []string{}}
		if act.source >= 0 {
			ia.Source = cmp.Parts[act.source].Name
		}
		target := ""
		if act.target >= 0 {
			target = cmp.Parts[act.target].Name
		}
		i := slices.IndexFunc(out.Actions, func(x ItemAction) bool {
			return x.Op == ia.Op && x.Source == ia.Source && x.Targeted == ia.Targeted
		})
		if i < 0 {
			out.Actions = append(out.Actions, ia)
			i = len(out.Actions) - 1
		}
		if target != "" {
			out.Actions[i].Targets = append(out.Actions[i].Targets, target)
		}
	}
	return out
}

// groupLetter names group i: A…Z, then AA, AB…
func groupLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// describeAction is an action as a user reads it: "copy A → B", "delete on B".
func describeAction(cmp *compare.Comparison, act rules.AtomicAction) string {
	name := func(i int) string {
		if i < 0 {
			return "?"
		}
		return cmp.Parts[i].Name
	}
	switch {
	case act.Op.IsCopy():
		return fmt.Sprintf("%s %s → %s", act.Op, name(act.Source), name(act.Target))
	case act.Op == rules.DoNothing:
		return act.Op.String()
	}
	return fmt.Sprintf("%s on %s", act.Op, name(act.Target))
}
