package plan

import (
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/rules"
)

// ConflictCopy keeps one losing content of a two-way conflict under a new name on every part:
// copied from From to Path on the parts To (before the winner's copies run), and kept from the
// replaced file on the parts Keep, whose copy of the winner then replaces it.
type ConflictCopy struct {
	Item *compare.Item
	From int    // part holding the losing content
	Path string // the conflict name's path, beside the item's
	To   []int
	Keep []int
}

// addConflictCopies adds the groups of conflict copies and marks the targets whose replaced
// content is kept (Build, through Options.Conflicts).
func (p *Plan) addConflictCopies(c *compare.Comparison, places []*Place, copies []ConflictCopy) {
	for _, cc := range copies {
		for _, part := range cc.Keep {
			places[part].keep(cc.Item.Path(), cc.Path)
		}
		if len(cc.To) == 0 {
			continue
		}
		source := c.Parts[cc.From]
		se := cc.Item.Entry(cc.From)
		src := endpoint(places, source, se, nil)
		g := Group{Op: OpCopy, RuleOp: rules.Copy, ItemKind: se.Kind, Source: &src, Kind: Full, Phase: PhaseConflict}
		for _, t := range cc.To {
			g.Targets = append(g.Targets, Endpoint{Location: location(places, c.Parts[t], cc.Path)})
		}
		p.Groups = append(p.Groups, g)
	}
}
