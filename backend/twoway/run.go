package twoway

import (
	"slices"
	"sync"

	"github.com/ferrysync/ferry/backend/compare"

	"github.com/ferrysync/ferry/backend/engine"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// Run is one two-way run: the record it started from (nil on the first run), what the record
// decided, and the actions carried out so far.
type Run struct {
	store    Store
	old      *Record
	decision *Decision

	mu   sync.Mutex
	done map[[2]string]bool // group, part
}

// Begin loads the record of the comparison's data sources and, when there is one, decides every
// item with it.
func (s Store) Begin(cmp *compare.Comparison) (*Run, error) {
	run := &Run{store: s, done: map[[2]string]bool{}}
	var err error
	if run.old, err = s.Load(cmp); err != nil {
		return nil, err
	}
	if run.old != nil {
		run.decision = s.Decide(cmp, run.old)
	}
	return run, nil
}

// BeginAll is Begin that also decides a first run (FirstRun): the record or the first run
// decides every item, between any number of data parts, where the two-way preset only goes
// between two.
func (s Store) BeginAll(cmp *compare.Comparison) (*Run, error) {
	run, err := s.Begin(cmp)
	if err == nil && run.decision == nil {
		run.decision = FirstRun(cmp)
	}
	return run, err
}

// Decides tells whether a record decides the run; on a first run, the two-way preset does.
func (r *Run) Decides() bool { return r != nil && r.decision != nil }

// Targeted are the actions the record decided (none on a first run).
func (r *Run) Targeted() []rules.Targeted {
	if !r.Decides() {
		return nil
	}
	return r.decision.Targeted
}

// PlanOptions adds what the record decided to the options of the plan: the conflict copies, and
// both copy directions between every two parts for the dates of directories.
func (r *Run) PlanOptions(cmp *compare.Comparison, o plan.Options) plan.Options {
	if !r.Decides() {
		return o
	}
	o.Conflicts = append(slices.Clone(o.Conflicts), r.decision.Conflicts...)
	o.Directions = slices.Clone(o.Directions)
	for a := range cmp.Parts {
		for b := range cmp.Parts {
			if a != b {
				o.Directions = append(o.Directions, rules.Direction{Source: a, Target: b})
			}
		}
	}
	return o
}

// Plan plans an inventoried two-way run. Without a record (the first run) the request's rules
// (the two-way preset and any others) decide, as without a record; with one, the record decides
// every item and only extra (the rules file's own rules) still applies besides it.
func (s Store) Plan(l *plan.Local, r plan.Request, extra []rules.Rule) (*Run, error) {
	run, err := s.Begin(l.Comparison)
	if err != nil {
		return nil, err
	}
	if run.Decides() {
		r.Rules = extra
		r.Targeted = append(slices.Clone(r.Targeted), run.Targeted()...)
		r.Options = run.PlanOptions(l.Comparison, r.Options)
	}
	if err := l.Evaluate(r); err != nil {
		return nil, err
	}
	return run, nil
}

// Conflicts are the items edited on several sides, never nil.
func (r *Run) Conflicts() []Conflict {
	if r == nil || r.decision == nil {
		return []Conflict{}
	}
	return append([]Conflict{}, r.decision.Report...)
}

// Result records a target the run carried out; give it to the synchronization's Result.
func (r *Run) Result(t engine.TargetResult) {
	if r == nil || t.Err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done[[2]string{t.Group, t.Target.Part}] = true
}

// Save records the state the run left the data sources in: call it once the run has ended,
// however it ended.
func (r *Run) Save(l *plan.Local) error { return r.SavePlan(l.Comparison, l.Plan) }

// SavePlan is Save for a comparison and its plan.
func (r *Run) SavePlan(cmp *compare.Comparison, p *plan.Plan) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.store.Settle(r.old, cmp, p, func(group, part string) bool {
		return r.done[[2]string{group, part}]
	})
	return r.store.Save(rec)
}
