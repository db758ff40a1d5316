package twoway

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// Decision is what the record makes of a comparison: targeted actions for every item that needs
// one, and the conflict copies that keep the losing edits.
type Decision struct {
	Targeted  []rules.Targeted
	Conflicts []plan.ConflictCopy
	// Report lists the conflicts for the user: "path: kept B's edit as name".
	Report []Conflict
}

// Conflict is an item edited on several sides with different content.
type Conflict struct {
	Path   string   `json:"path"`
	Winner string   `json:"winner"` // the part whose (newest) edit keeps the name
	Kept   []string `json:"kept"`   // conflict names of the other edits, on every side
}

// state is what happened to an item on one part since the record.
type state uint8

const (
	absent    state = iota // not there, and not in the record
	unchanged              // as recorded
	changed                // recorded, then edited
	created                // there, not in the record
	deleted                // recorded, now gone
)

// Decide compares every item with the record. Items that any part could not see entirely are left
// alone; their record entries stay as they were.
func (s Store) Decide(cmp *compare.Comparison, rec *Record) *Decision {
	d := &Decision{}
	ix := s.newIndex(rec, cmp)
	names := map[string]*compare.Item{} // by item key: conflict names must be free
	for _, it := range cmp.Items {
		names[itemKey(cmp, it.Path(), it.Kind == inventory.Dir)] = it
	}
	keepDirs := map[string]bool{} // folders that must exist after the run
	type dirState struct {
		it *compare.Item
		st []state // nil: a part cannot see it entirely
	}
	var dirs []dirState
	for _, it := range cmp.Items {
		if it.Kind == inventory.File {
			d.decideFile(cmp, ix, it, names, keepDirs)
			continue
		}
		// A folder created since the record, or one that cannot be seen entirely, stays with
		// the folders above it.
		st, ok := states(cmp, ix, it, ix.entry(cmp, it))
		if !ok || slices.Contains(st, created) {
			markParents(cmp, keepDirs, it.Path()+"/")
		}
		if ok {
			dirs = append(dirs, dirState{it, st})
		}
	}
	for _, ds := range dirs {
		d.decideDir(cmp, ds.it, ds.st, keepDirs)
	}
	return d
}

// FirstRun decides a run without a record between any number of parts as the two-way preset
// does between two: the newest date of a file wins and is copied where the file is missing or
// older, folders are created where missing, nothing is deleted and no edit is kept as a
// conflict. Items that any part could not see entirely are left alone.
func FirstRun(cmp *compare.Comparison) *Decision {
	d := &Decision{}
	for _, it := range cmp.Items {
		seen := true
		for p, part := range cmp.Parts {
			seen = seen && !it.HasAccessIssue(p) && (it.Present(p) || !part.Inv.Incomplete)
		}
		if !seen {
			continue
		}
		if it.Kind != inventory.File {
			for p, part := range cmp.Parts {
				if !it.Present(p) && part.Inv.Type == inventory.SourceDir {
					d.target(it, rules.Action{Op: rules.Create, On: part.Name})
				}
			}
			continue
		}
		newest := -1
		for p := range cmp.Parts {
			if it.Present(p) && (newest < 0 || it.Entry(p).Mtime().After(it.Entry(newest).Mtime())) {
				newest = p
			}
		}
		for p, part := range cmp.Parts {
			if p != newest && (!it.Present(p) || it.Entry(p).Mtime().Before(it.Entry(newest).Mtime())) {
				d.target(it, rules.Action{Op: rules.Copy, From: cmp.Parts[newest].Name, To: part.Name})
			}
		}
	}
	return d
}

func (d *Decision) target(it *compare.Item, a rules.Action) {
	d.Targeted = append(d.Targeted, rules.Targeted{Kind: it.Kind, Path: it.Path(), Action: a})
}

// states tells, per part, what happened to the item; ok is false when a part is unknown.
func states(cmp *compare.Comparison, ix *index, it *compare.Item, e *Entry) (st []state, ok bool) {
	st = make([]state, len(cmp.Parts))
	for p, part := range cmp.Parts {
		present := it.Present(p)
		side := ix.sideOf[p]
		switch {
		case it.HasAccessIssue(p) || (!present && part.Inv.Incomplete) || side < 0:
			return nil, false
		case !present && e == nil:
			st[p] = absent
		case !present:
			st[p] = deleted
		case e == nil:
			st[p] = created
		case e.Dir:
			st[p] = unchanged
		default:
			en := it.Entry(p)
			if en.Size == e.Sizes[side] && en.Mtime().UnixNano() == e.Times[side] {
				st[p] = unchanged
			} else {
				st[p] = changed
			}
		}
	}
	return st, true
}

func (d *Decision) decideFile(cmp *compare.Comparison, ix *index, it *compare.Item, names map[string]*compare.Item, keepDirs map[string]bool) {
	e := ix.entry(cmp, it)
	st, ok := states(cmp, ix, it, e)
	if !ok {
		markParents(cmp, keepDirs, it.Path())
		return
	}
	// The contents written since the record, each with the part of its newest edit.
	var edits []*compare.Identity
	newest := map[*compare.Identity]int{}
	for p, s := range st {
		if s != changed && s != created {
			continue
		}
		id := it.IdentityOn(p)
		if q, seen := newest[id]; !seen {
			edits = append(edits, id)
			newest[id] = p
		} else if it.Entry(p).Mtime().After(it.Entry(q).Mtime()) {
			newest[id] = p
		}
	}
	if len(edits) == 0 {
		deletedSomewhere := false
		for _, s := range st {
			deletedSomewhere = deletedSomewhere || s == deleted
		}
		if !deletedSomewhere {
			markParents(cmp, keepDirs, it.Path())
			return
		}
		for p, s := range st {
			if s == unchanged {
				d.target(it, rules.Action{Op: rules.Delete, On: cmp.Parts[p].Name})
			}
		}
		return
	}
	markParents(cmp, keepDirs, it.Path())
	// The newest edit keeps the name everywhere.
	winner := newest[edits[0]]
	for _, id := range edits[1:] {
		if p := newest[id]; it.Entry(p).Mtime().After(it.Entry(winner).Mtime()) {
			winner = p
		}
	}
	winID, winTime := it.IdentityOn(winner), it.Entry(winner).ModTime
	for p := range cmp.Parts {
		if p == winner {
			continue
		}
		if it.Present(p) && it.IdentityOn(p) == winID && it.Entry(p).ModTime == winTime {
			continue // already the winner's content and dates
		}
		d.target(it, rules.Action{Op: rules.Copy, From: cmp.Parts[winner].Name, To: cmp.Parts[p].Name})
	}
	if len(edits) == 1 {
		return
	}
	c := Conflict{Path: it.Path(), Winner: cmp.Parts[winner].Name}
	for _, id := range edits {
		if id == winID {
			continue
		}
		from := newest[id]
		name := conflictName(it.Path(), cmp.Parts[from].Node, it.Entry(from).Mtime())
		if kept := names[itemKey(cmp, name, false)]; kept != nil && holds(cmp, kept, it.Entry(from)) {
			// A run killed part-way already kept this edit under its name: that item's own
			// decision brings it everywhere.
			c.Kept = append(c.Kept, name)
			continue
		}
		name = freeName(cmp, names, name)
		cc := plan.ConflictCopy{Item: it, From: from, Path: name}
		for p := range cmp.Parts {
			if it.Present(p) && it.IdentityOn(p) == id {
				cc.Keep = append(cc.Keep, p) // its copy of the winner keeps this content aside
			} else {
				cc.To = append(cc.To, p)
			}
		}
		d.Conflicts = append(d.Conflicts, cc)
		c.Kept = append(c.Kept, name)
	}
	d.Report = append(d.Report, c)
}

func (d *Decision) decideDir(cmp *compare.Comparison, it *compare.Item, st []state, keepDirs map[string]bool) {
	createdSomewhere, deletedSomewhere := false, false
	for _, s := range st {
		createdSomewhere = createdSomewhere || s == created
		deletedSomewhere = deletedSomewhere || s == deleted
	}
	switch {
	case keepDirs[key(cmp, it.Path())] || createdSomewhere:
		for p := range cmp.Parts {
			if !it.Present(p) && cmp.Parts[p].Inv.Type == inventory.SourceDir {
				d.target(it, rules.Action{Op: rules.Create, On: cmp.Parts[p].Name})
			}
		}
	case deletedSomewhere:
		for p := range cmp.Parts {
			if it.Present(p) {
				d.target(it, rules.Action{Op: rules.Delete, On: cmp.Parts[p].Name})
			}
		}
	}
}

func key(cmp *compare.Comparison, p string) string {
	if !cmp.Settings.CaseSensitive {
		return strings.ToLower(p)
	}
	return p
}

// markParents records that the folders above p must stay.
func markParents(cmp *compare.Comparison, keepDirs map[string]bool, p string) {
	for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
		k := key(cmp, dir)
		if keepDirs[k] {
			return
		}
		keepDirs[k] = true
	}
}

// conflictName is "<stem>.conflict-<node>-<YYYYMMDD-HHMMSS><ext>" beside p, from the losing
// edit's node and modification time (UTC).
func conflictName(p, node string, at time.Time) string {
	dir, base := path.Split(p)
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if stem == "" { // ".bashrc": the whole name is the stem
		stem, ext = base, ""
	}
	return dir + stem + ".conflict-" + node + "-" + at.UTC().Format("20060102-150405") + ext
}

// freeName returns name, or name with "-2", "-3"… before its extension, whichever no item of the
// comparison or earlier conflict uses; it reserves the name.
func freeName(cmp *compare.Comparison, names map[string]*compare.Item, name string) string {
	candidate := name
	for i := 2; names[itemKey(cmp, candidate, false)] != nil || names[itemKey(cmp, candidate, true)] != nil; i++ {
		ext := path.Ext(name)
		candidate = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), i, ext)
	}
	names[itemKey(cmp, candidate, false)] = &compare.Item{}
	return candidate
}

// holds tells whether every entry of item is the content of e: same size and modification time
// (a conflict copy keeps both).
func holds(cmp *compare.Comparison, item *compare.Item, e *inventory.Entry) bool {
	seen := false
	for p := range cmp.Parts {
		for _, l := range item.On(p) {
			if l.Entry == nil || l.Entry.Size != e.Size || l.Entry.ModTime != e.ModTime {
				return false
			}
			seen = true
		}
	}
	return seen
}
