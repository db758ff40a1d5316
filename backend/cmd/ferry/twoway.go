package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	stdsync "sync"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
	fsync "github.com/ferrysync/ferry/backend/sync"
	"github.com/ferrysync/ferry/backend/twoway"
)

// twoWayRun is a two-way job's record: the one of the last run (nil on the first run) and
// what it decided.
type twoWayRun struct {
	store    twoway.Store
	old      *twoway.Record
	decision *twoway.Decision

	mu   stdsync.Mutex
	done map[[2]string]bool // group, part
}

// planJob inventories, compares and plans the job. A two-way job with a record of the last run is
// decided by the record (the preset's rules are left out, the rules file's rules still apply).
func planJob(ctx context.Context, j job) (*plan.Local, *twoWayRun, error) {
	local, err := plan.Inventory(ctx, j.Request)
	if err != nil {
		return nil, nil, err
	}
	var tw *twoWayRun
	if j.TwoWay {
		dir, err := configDir()
		if err != nil {
			return nil, nil, err
		}
		tw = &twoWayRun{store: twoway.Store{Dir: filepath.Join(dir, "state")}, done: map[[2]string]bool{}}
		if tw.old, err = tw.store.Load(local.Comparison); err != nil {
			return nil, nil, err
		}
		if tw.old != nil {
			tw.decision = twoway.Decide(local.Comparison, tw.old)
			j.Rules = j.FileRules
			j.Targeted = append(append([]rules.Targeted{}, j.Targeted...), tw.decision.Targeted...)
		}
	}
	if err := local.Evaluate(j.Request); err != nil {
		return nil, nil, err
	}
	if tw != nil && tw.decision != nil {
		local.Plan.AddConflictCopies(local.Comparison, tw.decision.Conflicts)
	}
	return local, tw, nil
}

// conflicts are the decided conflicts, never nil.
func (tw *twoWayRun) conflicts() []twoway.Conflict {
	if tw == nil || tw.decision == nil {
		return []twoway.Conflict{}
	}
	return append([]twoway.Conflict{}, tw.decision.Report...)
}

// result records a target the run carried out.
func (tw *twoWayRun) result(r fsync.TargetResult) {
	if tw == nil || r.Err != nil {
		return
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.done[[2]string{r.Group, r.Target.Part}] = true
}

// save records the state the run left the data sources in.
func (tw *twoWayRun) save(local *plan.Local) error {
	if tw == nil {
		return nil
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	rec := tw.store.Settle(tw.old, local.Comparison, local.Plan, func(group, part string) bool {
		return tw.done[[2]string{group, part}]
	})
	return tw.store.Save(rec)
}

func printConflicts(w io.Writer, cs []twoway.Conflict) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "Conflicts: %d (edited on both sides; the newest edit keeps the name)\n", len(cs))
	for _, c := range cs {
		for _, k := range c.Kept {
			fmt.Fprintf(w, "  %s: %s's edit wins, the other edit is kept as %s on every side\n", c.Path, c.Winner, k)
		}
	}
}
