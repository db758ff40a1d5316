package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/twoway"
)

// planJob inventories, compares and plans the job. A two-way job also returns its run, which a
// record of the last run decides.
func planJob(ctx context.Context, j job) (*plan.Local, *twoway.Run, error) {
	local, err := plan.Inventory(ctx, j.Request)
	if err != nil {
		return nil, nil, err
	}
	run, err := planLocal(local, j)
	return local, run, err
}

// planLocal plans the job on its inventories and comparison. A two-way job also returns its
// run, which a record of the last run decides.
func planLocal(local *plan.Local, j job) (*twoway.Run, error) {
	if !j.TwoWay {
		return nil, local.Evaluate(j.Request)
	}
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	run, err := twoway.Store{Dir: filepath.Join(dir, "state")}.Plan(local, j.Request, j.FileRules)
	local.Timings.Plan = time.Since(start)
	return run, err
}

func printConflicts(w io.Writer, cs []twoway.Conflict) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "Conflicts: %d (edited on both sides; the newest edit keeps the name)\n", len(cs))
	for _, c := range cs {
		for _, k := range c.Kept {
			fmt.Fprintf(w, "  %s: %s's edit wins, the other edit is kept as %s on every side\n", shownPath(c.Path), c.Winner, shownPath(k))
		}
	}
}
