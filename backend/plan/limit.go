package plan

import (
	"fmt"
	"strings"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// Deletions is what a plan deletes on one target data source.
type Deletions struct {
	Part    string `json:"part"`
	Node    string `json:"node"`
	Root    string `json:"root"`
	Deletes int    `json:"deletes"` // files the plan deletes there
	Files   int    `json:"files"`   // files inventoried there
	// EmptySource names another data source of the plan that holds nothing at all.
	EmptySource string `json:"empty_source,omitempty"`
	Over        bool   `json:"over"` // past the limit checked
}

// Deletions counts the files the plan deletes on each data source that loses any, in part
// order, and marks those past l.
func (p *Plan) Deletions(l rules.DeleteLimit) []Deletions {
	deletes := map[string]int{}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Op != OpDelete || g.ItemKind != inventory.File {
			continue
		}
		for _, t := range g.Targets {
			deletes[t.Part]++
		}
	}
	var out []Deletions
	for _, part := range p.Parts {
		n := deletes[part.Name]
		if n == 0 {
			continue
		}
		d := Deletions{Part: part.Name, Node: part.Node, Root: part.Root, Deletes: n, Files: part.Files}
		for _, other := range p.Parts {
			if other.Name != part.Name && other.Empty {
				d.EmptySource = other.Name
				break
			}
		}
		d.Over = over(l, d)
		out = append(out, d)
	}
	return out
}

// String is "40 of 40 files on B (/root) while A is empty".
func (d Deletions) String() string {
	s := fmt.Sprintf("%d of %d files on %s (%s)", d.Deletes, d.Files, d.Part, d.Root)
	if d.EmptySource != "" {
		s += " while " + d.EmptySource + " is empty"
	}
	return s
}

func over(l rules.DeleteLimit, d Deletions) bool {
	share := 100 * float64(d.Deletes) / float64(max(d.Files, 1))
	switch {
	case l.IsCount:
		return d.Deletes > l.Count
	case l.Set:
		return share > l.Percent
	}
	return d.EmptySource != "" || (share > rules.DefaultDeletePercent && d.Deletes >= rules.DefaultMinDeletes)
}

// CheckDeletions returns a *DeleteLimitError when the plan deletes past l on a data source.
func (p *Plan) CheckDeletions(l rules.DeleteLimit) error {
	var over []Deletions
	for _, d := range p.Deletions(l) {
		if d.Over {
			over = append(over, d)
		}
	}
	if len(over) == 0 {
		return nil
	}
	return &DeleteLimitError{Limit: l, Over: over}
}

// DeleteLimitError is a plan refused for deleting too much; nothing was changed.
type DeleteLimitError struct {
	Limit rules.DeleteLimit
	Over  []Deletions
}

func (e *DeleteLimitError) Error() string {
	var b strings.Builder
	b.WriteString("refusing to delete ")
	for i, d := range e.Over {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	fmt.Fprintf(&b, ": over the deletion limit of %s; nothing was changed. If that is intended, allow it with --max-delete (e.g. --max-delete %d, or --max-delete 100%% to allow any deletion)",
		e.Limit, e.maxDeletes())
	return b.String()
}

func (e *DeleteLimitError) maxDeletes() int {
	n := 0
	for _, d := range e.Over {
		n = max(n, d.Deletes)
	}
	return n
}
