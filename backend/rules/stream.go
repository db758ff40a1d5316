package rules

import (
	"container/heap"
	"path"
	"slices"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// Stream evaluates the items of a comparison one at a time, in item order, so that a caller can
// plan each item and let it go before the next: Evaluate is a Stream over every item. In tree
// matching, a directory's delete waits for the end of the directory's subtree, where it is
// refused (DirectoryStillHoldsFile) if something below it stays on the target: a file, a
// directory, an entry that could not be seen, or one the inventory skipped (hidden, noise,
// links), which the delete itself checks again when it runs.
type Stream struct {
	cmp      *compare.Comparison
	rules    []boundRule
	targeted map[*compare.Item][]AtomicAction
	// Directions are the copy directions of the rules (Result.Directions).
	Directions []Direction

	kept    int                         // actions kept so far, the refused deletes included
	waiting deleteHeap                  // directory deletes by the end of their subtree
	below   map[string][]*waitingDelete // the same, by the directory's linking key
}

// Outcome is an action kept (Reason "") or refused.
type Outcome struct {
	Action AtomicAction
	Reason Reason
	// at is the position of an action kept by its item's evaluation among all those kept:
	// Evaluate lists actions, and the refusals of non-empty deletes, in that order.
	at int
}

// At is the position of a kept action among all those kept, which come in item order but for a
// tree's directory deletes, given at the end of their subtree: Evaluate lists actions in At order.
func (o Outcome) At() int { return o.at }

// Refusals gathers the refusals of a Stream in Evaluate's order: as they come, but for the
// refusals of non-empty directories' deletes, which follow all others in item order.
type Refusals struct{ early, late []Outcome }

// Add takes a refused outcome.
func (r *Refusals) Add(o Outcome) {
	if o.Reason == DirectoryStillHoldsFile {
		r.late = append(r.late, o)
	} else {
		r.early = append(r.early, o)
	}
}

// List is the refusals in Evaluate's order; nil when there is none.
func (r *Refusals) List() []Rejection {
	if len(r.early)+len(r.late) == 0 {
		return nil
	}
	slices.SortFunc(r.late, func(x, y Outcome) int { return x.at - y.at })
	out := make([]Rejection, 0, len(r.early)+len(r.late))
	for _, o := range slices.Concat(r.early, r.late) {
		out = append(out, Rejection{o.Action, o.Reason})
	}
	return out
}

// waitingDelete is a directory's delete until the end of its subtree.
type waitingDelete struct {
	a     AtomicAction
	at    int
	end   string // the smallest linking key past the subtree
	holds bool   // something below the directory stays on the target
}

// NewStream binds rules and targeted actions to the comparison; its items may then be
// evaluated, each once, in order.
func NewStream(cmp *compare.Comparison, rs []Rule, targeted []Targeted) (*Stream, error) {
	bound, err := bindRules(cmp, rs)
	if err != nil {
		return nil, err
	}
	byItem, err := bindTargeted(cmp, targeted)
	if err != nil {
		return nil, err
	}
	return &Stream{cmp: cmp, rules: bound, targeted: byItem, Directions: directions(bound)}, nil
}

// Item evaluates the next item and yields what is decided at this point: the item's own actions
// and refusals, and the directory deletes whose subtree ends before it.
func (s *Stream) Item(it *compare.Item, yield func(Outcome)) {
	for len(s.waiting) > 0 && s.cmp.Settings.CompareKeys(s.waiting[0].end, it.Path()) <= 0 {
		s.decide(heap.Pop(&s.waiting).(*waitingDelete), yield)
	}
	kept, rejected := evaluateItem(s.cmp, it, s.rules, s.targeted[it])
	for _, r := range rejected {
		yield(Outcome{Action: r.AtomicAction, Reason: r.Reason})
	}
	tree := s.cmp.Settings.Matching == compare.Tree
	if tree && len(s.below) > 0 {
		s.stays(it, kept)
	}
	for _, a := range kept {
		at := s.kept
		s.kept++
		if !tree || a.Op != Delete || it.Kind != inventory.Dir {
			yield(Outcome{Action: a, at: at})
			continue
		}
		key := it.Key()
		w := &waitingDelete{a: a, at: at, end: key + "0", // '0' follows '/'
			holds: holdsSkippedOn(it, a.Target) || s.cmp.HoldsOmitted(it, a.Target)}
		heap.Push(&s.waiting, w)
		if s.below == nil {
			s.below = map[string][]*waitingDelete{}
		}
		s.below[key] = append(s.below[key], w)
	}
}

// End yields the directory deletes still waiting: no item follows.
func (s *Stream) End(yield func(Outcome)) {
	for len(s.waiting) > 0 {
		s.decide(heap.Pop(&s.waiting).(*waitingDelete), yield)
	}
}

// stays marks the waiting deletes of the directories above it where it stays: present on the
// delete's target, and not deleted there or holding what a delete would not see.
func (s *Stream) stays(it *compare.Item, kept []AtomicAction) {
	for dir := path.Dir(it.Key()); dir != "/" && dir != "."; dir = path.Dir(dir) {
		for _, w := range s.below[dir] {
			t := w.a.Target
			if w.holds || !it.Present(t) {
				continue
			}
			deleted := false
			for _, a := range kept {
				deleted = deleted || a.Op == Delete && a.Target == t
			}
			w.holds = !deleted || holdsSkippedOn(it, t) || s.cmp.HoldsOmitted(it, t)
		}
	}
}

// decide yields a directory's delete once its subtree is over.
func (s *Stream) decide(w *waitingDelete, yield func(Outcome)) {
	key := w.a.Item.Key()
	ws := s.below[key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.below, key)
	} else {
		s.below[key] = ws
	}
	o := Outcome{Action: w.a, at: w.at}
	if w.holds {
		o.Reason = DirectoryStillHoldsFile
	}
	yield(o)
}

// holdsSkippedOn tells whether the item's entry on part directly holds entries the inventory
// skipped.
func holdsSkippedOn(it *compare.Item, part int) bool {
	e := it.Entry(part)
	return e != nil && e.HoldsSkipped
}

// deleteHeap orders waiting deletes by the end of their subtree, then as they were kept.
type deleteHeap []*waitingDelete

func (h deleteHeap) Len() int { return len(h) }
func (h deleteHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	return h[i].at < h[j].at
}
func (h deleteHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deleteHeap) Push(x any)   { *h = append(*h, x.(*waitingDelete)) }
func (h *deleteHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}
