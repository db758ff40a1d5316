package rules

import (
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// boundCondition is a condition with its parts resolved to indices in the comparison.
type boundCondition struct {
	Condition
	left, right int // -1 when not used
}

func (c *boundCondition) matches(cmp *compare.Comparison, it *compare.Item) bool {
	if c.Property == Name {
		return c.pattern.MatchString(it.Name()) == (c.Op == Eq)
	}
	// In flat matching a part that could not be read entirely may hold any name anywhere: no
	// condition on it holds. In tree matching only the items below what it could not read are
	// unknown: they carry placeholders, which count as present and have no content, date or size.
	if cmp.Settings.Matching == compare.Flat &&
		(cmp.Parts[c.left].Inv.Incomplete || (c.right >= 0 && cmp.Parts[c.right].Inv.Incomplete)) {
		return false
	}
	switch c.Property {
	case Presence:
		on := it.Present(c.left)
		if c.Op == On {
			return on && it.Present(c.right)
		}
		return on && !it.Present(c.right)
	case Content:
		return it.Kind == inventory.File && c.content(it)
	case Date:
		return it.Kind == inventory.File && c.dateMatches(it)
	case Size:
		return it.Kind == inventory.File && c.sizeMatches(it)
	}
	return false
}

func (c *boundCondition) content(it *compare.Item) bool {
	l, r := it.IdentityOn(c.left), it.IdentityOn(c.right)
	for _, id := range []*compare.Identity{l, r} {
		if id != nil && (id.AnalysisError() || id.AccessIssue()) {
			return false
		}
	}
	same := l == r // identities are shared within an item: same pointer, same content
	if c.Op == Eq {
		return same
	}
	return !same
}

// fileOn returns the item's readable file entry on a part, or nil.
func fileOn(it *compare.Item, part int) *inventory.Entry {
	e := it.Entry(part)
	if e == nil || e.Inaccessible || it.HasAccessIssue(part) {
		return nil
	}
	return e
}

func (c *boundCondition) dateMatches(it *compare.Item) bool {
	src := fileOn(it, c.left)
	if src == nil {
		return false
	}
	if c.right < 0 {
		t := src.Mtime().Truncate(time.Minute)
		switch c.Op {
		case Eq:
			return t.Equal(c.date)
		case Ne:
			return !t.Equal(c.date)
		case Newer:
			return t.After(c.date)
		case Older:
			return t.Before(c.date)
		}
		return false
	}
	dst := fileOn(it, c.right)
	if dst == nil {
		return c.Op == Newer && !it.Present(c.right)
	}
	switch c.Op {
	case Eq:
		return src.ModTime == dst.ModTime
	case Ne:
		return src.ModTime != dst.ModTime
	case Newer:
		return src.Mtime().After(dst.Mtime())
	case Older:
		return src.Mtime().Before(dst.Mtime())
	}
	return false
}

func (c *boundCondition) sizeMatches(it *compare.Item) bool {
	src := fileOn(it, c.left)
	if src == nil {
		return false
	}
	other := c.size
	if c.right >= 0 {
		dst := fileOn(it, c.right)
		if dst == nil {
			return false
		}
		other = dst.Size
	}
	switch c.Op {
	case Eq:
		return src.Size == other
	case Ne:
		return src.Size != other
	case Bigger:
		return src.Size > other
	case Smaller:
		return src.Size < other
	}
	return false
}
