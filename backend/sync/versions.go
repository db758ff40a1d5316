package sync

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/transfer"
)

// PruneVersions removes the run folders of kept versions older than the plan's KeepDays (as of
// now) from the data sources of the plan that are this member's (mine tells by node). Nothing
// to do when the plan keeps no versions, or keeps them all.
func PruneVersions(p *plan.Plan, mine func(node string) bool, now time.Time) error {
	v := p.Versions
	if v == nil || v.KeepDays == 0 {
		return nil
	}
	seen := map[string]bool{}
	var errs []error
	for _, part := range p.Parts {
		dir := part.Root
		if part.Type == inventory.SourceFile {
			dir = filepath.Dir(dir) // versions of a file data source are kept beside it
		}
		if !mine(part.Node) || seen[dir] {
			continue
		}
		seen[dir] = true
		r, err := transfer.OpenRoot(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, err = transfer.PruneVersions(r, v.Dir, func(name string) bool { return v.Older(name, now) })
		errs = append(errs, err, r.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune kept versions: %w", err)
	}
	return nil
}
