package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferrysync/ferry/backend/inventory"
)

// DeleteLimit bounds the files one run may delete on any target data source. The zero value is
// the default: more than half of a data source's files, when that is at least DefaultMinDeletes
// files, is over the limit, and so is any deletion on a data source while another one of the plan
// is empty (an unmounted drive looks like an empty folder).
type DeleteLimit struct {
	Count   int     // with IsCount: at most this many files
	Percent float64 // without IsCount, once Set: at most this share of the files, 0–100
	IsCount bool
	Set     bool // false: the default
}

const (
	// DefaultDeletePercent and DefaultMinDeletes make the default limit.
	DefaultDeletePercent = 50
	DefaultMinDeletes    = 10
)

// ParseDeleteLimit reads "N" (files) or "P%" (of each target data source's files).
func ParseDeleteLimit(s string) (DeleteLimit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return DeleteLimit{}, fmt.Errorf("deletion limit %q: want a number of files or a percentage from 0%% to 100%%", s)
		}
		return DeleteLimit{Percent: v, Set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return DeleteLimit{}, fmt.Errorf("deletion limit %q: want a number of files or a percentage from 0%% to 100%%", s)
	}
	return DeleteLimit{Count: n, IsCount: true, Set: true}, nil
}

func (l DeleteLimit) String() string {
	switch {
	case !l.Set:
		return fmt.Sprintf("%d%% (default)", DefaultDeletePercent)
	case l.IsCount:
		return strconv.Itoa(l.Count)
	}
	return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
}

// MarshalText writes the limit as ParseDeleteLimit reads it; the default is empty.
func (l DeleteLimit) MarshalText() ([]byte, error) {
	if !l.Set {
		return nil, nil
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a limit; empty is the default.
func (l *DeleteLimit) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = DeleteLimit{}
		return nil
	}
	v, err := ParseDeleteLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

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
func (p *Plan) Deletions(l DeleteLimit) []Deletions {
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
		d.Over = l.over(d)
		out = append(out, d)
	}
	return out
}

func (l DeleteLimit) over(d Deletions) bool {
	share := 100 * float64(d.Deletes) / float64(max(d.Files, 1))
	switch {
	case l.IsCount:
		return d.Deletes > l.Count
	case l.Set:
		return share > l.Percent
	}
	return d.EmptySource != "" || (share > DefaultDeletePercent && d.Deletes >= DefaultMinDeletes)
}

// CheckDeletions returns a *DeleteLimitError when the plan deletes past l on a data source.
func (p *Plan) CheckDeletions(l DeleteLimit) error {
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
	Limit DeleteLimit
	Over  []Deletions
}

func (e *DeleteLimitError) Error() string {
	var b strings.Builder
	b.WriteString("refusing to delete ")
	for i, d := range e.Over {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d of %d files on %s (%s)", d.Deletes, d.Files, d.Part, d.Root)
		if d.EmptySource != "" {
			fmt.Fprintf(&b, " while %s is empty", d.EmptySource)
		}
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
