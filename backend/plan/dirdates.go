package plan

import (
	"path"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// Directories' dates are set last, once nothing more is written in them, along the directions
// the rules copy in: with a one-way direction (mirror, update) a directory on the target takes
// its source's date; with both directions between two parts (two-way), both take the newer
// one. The root is dated like any directory.
//
// A directory whose date differs before the run gets a listed copy-dates action. A directory
// the run creates, or whose date is right but that the run writes in (a copy, a create or a
// delete directly inside it changes it), gets its date set quietly: a Quiet group, not listed
// nor counted as an action, so that a run does not show every folder it touched.

// dirWrites are the directories, by linking key, that a run creates, deletes or writes
// directly in, on one part.
type dirWrites struct {
	created, deleted, written map[string]bool
}

// dirDatesRoom is at least the number of groups dirDates appends.
func dirDatesRoom(c *compare.Comparison, dirs []rules.Direction) int {
	if !datesDirs(c, dirs) {
		return 0
	}
	targets, origins := map[int]bool{}, map[int]bool{}
	for _, d := range dirs {
		targets[d.Target], origins[d.Source] = true, true
	}
	// A directory's groups differ by origin (a source; a two-way target is one too) and
	// quietness, and each holds a target.
	per := min(len(targets), 2*len(origins))
	n := 1 // the root
	for _, it := range c.Items {
		if it.Kind == inventory.Dir {
			n++
		}
	}
	return n * per
}

// datesDirs tells whether dirDates dates directories at all.
func datesDirs(c *compare.Comparison, dirs []rules.Direction) bool {
	s := c.Settings
	return s.Matching == compare.Tree && s.DataType != compare.Files && len(dirs) > 0
}

// dirDates appends the groups that date directories. versions is the folder kept versions go
// to, relative to each root, or "".
func (p *Plan) dirDates(c *compare.Comparison, places []*Place, dirs []rules.Direction, versions string) {
	if !datesDirs(c, dirs) {
		return
	}
	s := c.Settings
	byName := map[string]int{}
	for _, part := range c.Parts {
		byName[part.Name] = part.Index
	}
	isDir := func(part int) bool { return c.Parts[part].Inv.Type == inventory.SourceDir }
	writes := make([]dirWrites, len(c.Parts))
	for i := range writes {
		writes[i] = dirWrites{created: map[string]bool{}, deleted: map[string]bool{}, written: map[string]bool{}}
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		if g.Op == OpCopyDates {
			continue // a file's dates: its directory is untouched
		}
		for _, t := range g.Targets {
			part := byName[t.Part]
			if !isDir(part) {
				continue
			}
			w := writes[part]
			switch {
			case g.Op == OpCreate:
				w.created[s.Key(t.Path())] = true
			case g.Op == OpDelete && g.ItemKind == inventory.Dir:
				w.deleted[s.Key(t.Path())] = true
			}
			w.written[s.Key(t.parent())] = true
			// Written too, whatever the item: the root (a relayed copy to several targets keeps
			// its content beside them there) and the folder holding the kept versions.
			w.written["/"] = true
			if versions != "" {
				w.written[s.Key(path.Dir("/"+versions))] = true
			}
		}
	}

	sources := make([][]int, len(c.Parts)) // per target part
	twoWay := make([]bool, len(c.Parts))
	for _, d := range dirs {
		if !isDir(d.Source) || !isDir(d.Target) {
			continue
		}
		sources[d.Target] = append(sources[d.Target], d.Source)
		for _, back := range dirs {
			if back.Source == d.Target && back.Target == d.Source {
				twoWay[d.Target] = true
			}
		}
	}

	merge := map[dirDatesKey]int{}
	// date dates the directory item at itemPath (linking key key) on every target part.
	date := func(key, itemPath string, side func(part int) dirSide) {
		for target, srcs := range sources {
			t := side(target)
			if len(srcs) == 0 || writes[target].deleted[key] || !t.present && !writes[target].created[key] {
				continue
			}
			origin, want := -1, time.Time{}
			for _, src := range srcs {
				if sd := side(src); sd.present && sd.mtime.After(want) {
					origin, want = src, sd.mtime
				}
			}
			if twoWay[target] && t.present && t.mtime.After(want) {
				origin, want = target, t.mtime
			}
			if origin < 0 {
				continue
			}
			quiet := !t.present || t.mtime.Equal(want)
			if quiet && t.present && !writes[target].written[key] {
				continue // right, and left alone
			}
			k := dirDatesKey{key, origin, quiet}
			tp := t.path
			if !t.present {
				tp = itemPath // created there, as the create action names it
			}
			te := dirEndpoint(location(places, c.Parts[target], tp), t.present, t.mtime)
			if i, ok := merge[k]; ok {
				p.Groups[i].Targets = append(p.Groups[i].Targets, te)
				continue
			}
			o := side(origin)
			src := dirEndpoint(location(places, c.Parts[origin], o.path), true, want)
			merge[k] = len(p.Groups)
			p.Groups = append(p.Groups, Group{Op: OpCopyDates, RuleOp: rules.CopyDates, ItemKind: inventory.Dir,
				Source: &src, Targets: []Endpoint{te}, Phase: PhaseDirDates, Quiet: quiet})
		}
	}

	date("/", "/", func(part int) dirSide {
		inv := c.Parts[part].Inv
		return dirSide{path: "/", mtime: inv.RootModTime, present: isDir(part) && !inv.RootModTime.IsZero()}
	})
	for _, it := range c.Items {
		if it.Kind != inventory.Dir {
			continue
		}
		date(it.Key(), it.Path(), func(part int) dirSide {
			e := it.Entry(part)
			if e == nil || e.Inaccessible || it.HasAccessIssue(part) || e.ModTime == 0 || !isDir(part) {
				return dirSide{}
			}
			return dirSide{path: e.Path(), mtime: e.Mtime(), present: true}
		})
	}
}

// dirSide is a directory item on one part, as inventoried.
type dirSide struct {
	path    string
	mtime   time.Time
	present bool // a readable directory with a date
}

// dirDatesKey joins the targets of one directory that take one part's date alike.
type dirDatesKey struct {
	key    string
	origin int
	quiet  bool
}

// dirEndpoint is a directory's endpoint with the date it has, or none when it is not there (yet).
func dirEndpoint(l Location, present bool, mtime time.Time) Endpoint {
	ep := Endpoint{Location: l}
	if present {
		e := *l.at // made for the location alone
		e.Kind, e.ModTime = inventory.Dir, inventory.Nanos(mtime)
		ep.Entry = &e
	}
	return ep
}
