package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// PruneVersions removes the run folders of kept versions older than the plan's KeepDays (as of
// now) from the data sources of the plan that are this member's (mine tells by node), in the
// roots the run opened. Nothing to do when the plan keeps no versions, or keeps them all.
func PruneVersions(p *plan.Plan, roots *transfer.Roots, mine func(node string) bool, now time.Time) error {
	v := p.Versions
	if v == nil || v.KeepDays == 0 {
		return nil
	}
	seen := map[string]bool{}
	var errs []error
	for _, part := range p.Parts {
		dir := part.Dir() // versions of a file data source are kept beside it
		if !mine(part.Node) || seen[dir] {
			continue
		}
		seen[dir] = true
		r, err := roots.Get(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, err = transfer.PruneVersions(r, v.Dir, func(name string) bool { return v.Older(name, now) })
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune kept versions: %w", err)
	}
	return nil
}
