package rules

import (
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
)

// The comparison filter counts planned actions by compare.FilterActionOp, whose values follow
// Op so that one converts to the other.
func TestFilterActionOpsFollowOps(t *testing.T) {
	pairs := map[Op]compare.FilterActionOp{
		Copy: compare.FilterCopy, CopyContent: compare.FilterCopyContent, CopyDates: compare.FilterCopyDates,
		Create: compare.FilterCreate, Delete: compare.FilterDelete, DoNothing: compare.FilterDoNothing,
	}
	for op, f := range pairs {
		if compare.FilterActionOp(op) != f {
			t.Errorf("%s is %d, its filter op %d", op, op, f)
		}
	}
}
