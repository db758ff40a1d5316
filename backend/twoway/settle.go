package twoway

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
)

// Done tells whether the run carried out a group's action on a part.
type Done func(group, part string) bool

// Settle returns the record after a run of p: each item whose every action was done takes the
// state the run left it in (read again from the disk where it acted), each item without action
// that is the same everywhere takes its inventoried state, and every other item keeps its entry
// of old (nil for the first run). So a run that failed part-way leaves a record that is right
// for everything it did and did not do. Only folder data sources are recorded.
func (s Store) Settle(old *Record, cmp *compare.Comparison, p *plan.Plan, done Done) *Record {
	rec := &Record{Version: formatVersion, Machine: s.machine(), Roots: s.sides(cmp), Saved: time.Now().UTC()}
	var ix *index
	if old != nil {
		ix = s.newIndex(old, cmp)
	} else {
		ix = s.newIndex(&Record{Roots: rec.Roots}, cmp)
	}
	for _, part := range cmp.Parts {
		if part.Inv.Type != inventory.SourceDir {
			return rec
		}
	}
	type acted struct {
		ok  bool
		key inventory.ContentKey
	}
	actions := map[string]*acted{}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Phase == plan.PhaseConflict || g.Phase == plan.PhaseDirDates {
			// Conflict names are recorded by the next run, once they are everywhere; the dates
			// of directories are not recorded.
			continue
		}
		for _, t := range g.Targets {
			k := key(cmp, t.Path())
			a := actions[k]
			if a == nil {
				a = &acted{ok: true}
				actions[k] = a
			}
			a.ok = a.ok && done(g.ID(), t.Part)
			if g.Source != nil && !g.Source.ContentKey().IsZero() {
				a.key = g.Source.ContentKey()
			}
		}
	}
	refused := map[string]bool{}
	for _, r := range slices.Concat(p.Rejected, p.LeftAlone) {
		refused[key(cmp, r.Path)] = true
	}
	keepOld := func(it *compare.Item) {
		if e := ix.entry(cmp, it); e != nil {
			rec.Entries = append(rec.Entries, *e)
		}
	}
	for _, it := range cmp.Items {
		k := key(cmp, it.Path())
		a := actions[k]
		switch {
		case refused[k] || (a != nil && !a.ok) || anyAccessIssue(cmp, it):
			keepOld(it)
		case a == nil:
			if e, ok := s.inventoried(cmp, it, rec.Roots); ok {
				rec.Entries = append(rec.Entries, e)
			} else if !presentAnywhere(cmp, it) {
				// gone everywhere: nothing to remember
			} else {
				keepOld(it)
			}
		default:
			e, state := s.onDisk(cmp, it, rec.Roots)
			switch state {
			case everywhere:
				if !a.key.IsZero() && !e.Dir {
					e.Key = a.key.String()
				}
				rec.Entries = append(rec.Entries, e)
			case mixed:
				keepOld(it)
			}
		}
	}
	slices.SortFunc(rec.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return rec
}

func anyAccessIssue(cmp *compare.Comparison, it *compare.Item) bool {
	for p := range cmp.Parts {
		if it.HasAccessIssue(p) {
			return true
		}
	}
	return false
}

func presentAnywhere(cmp *compare.Comparison, it *compare.Item) bool {
	for p := range cmp.Parts {
		if it.Present(p) {
			return true
		}
	}
	return false
}

// inventoried is the entry of an item that is the same on every part, as inventoried.
func (s Store) inventoried(cmp *compare.Comparison, it *compare.Item, roots []string) (Entry, bool) {
	e := Entry{Path: it.Path(), Dir: it.Kind == inventory.Dir}
	if len(it.Identities) != 1 {
		return e, false
	}
	id := &it.Identities[0]
	if !e.Dir {
		e.Sizes, e.Times = make([]int64, len(roots)), make([]int64, len(roots))
		if k := cmp.Key(id); !k.IsZero() {
			e.Key = k.String()
		}
	}
	for p := range cmp.Parts {
		if !it.Present(p) {
			return e, false
		}
		if !e.Dir {
			side := slices.Index(roots, s.side(cmp.Parts[p]))
			en := it.Entry(p)
			e.Sizes[side], e.Times[side] = en.Size, en.Mtime().UnixNano()
		}
	}
	return e, true
}

type diskState uint8

const (
	nowhere diskState = iota
	everywhere
	mixed
)

// onDisk reads the item again on every part after the run acted on it.
func (s Store) onDisk(cmp *compare.Comparison, it *compare.Item, roots []string) (Entry, diskState) {
	e := Entry{Path: it.Path(), Dir: it.Kind == inventory.Dir}
	if !e.Dir {
		e.Sizes, e.Times = make([]int64, len(roots)), make([]int64, len(roots))
	}
	present := 0
	for i := range cmp.Parts {
		part := cmp.Parts[i]
		fi, err := s.read(part, it.Path())
		switch {
		case err != nil, fi.Exists && (fi.Dir != e.Dir || !e.Dir && !fi.Regular):
			return e, mixed
		case !fi.Exists:
			continue
		}
		present++
		if !e.Dir {
			side := slices.Index(roots, s.side(part))
			e.Sizes[side], e.Times[side] = fi.Size, fi.ModTime
		}
	}
	switch {
	case present == 0:
		return e, nowhere
	case present < len(cmp.Parts):
		return e, mixed
	}
	for _, s := range e.Sizes {
		if s != e.Sizes[0] {
			return e, mixed
		}
	}
	return e, everywhere
}

func errorsIsNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
