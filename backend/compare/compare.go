package compare

import (
	"cmp"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// Part is a data part that rules and actions name: "A" when every node has a single data source
// (then "A1" is an alias), otherwise the data source code "A1", "B2"…
type Part struct {
	Name  string
	Node  string
	Index int // position in Comparison.Parts
	Inv   *inventory.Part
}

// Located is one inventory entry of an item on a part. Entry is nil for a placeholder standing for
// content that could not be seen (an unreadable ancestor directory or an incomplete part).
type Located struct {
	Part  int
	Entry *inventory.Entry
}

// Identity groups the entries of an item that share the same content (files) or presence
// (directories).
type Identity struct {
	Key           inventory.ContentKey // zero when the content was not read
	Size          int64
	AnalysisError bool // a content key could not be computed: never merged with another entry
	AccessIssue   bool // an inaccessible entry or a placeholder
	Entries       []Located
}

// Item is one path (tree) or name (flat) across all parts.
type Item struct {
	Kind inventory.Kind
	Key  string // linking key: lower-cased unless case-sensitive
	Path string // relative path (tree) or name (flat), as first seen in part order
	Name string
	// Identities hold every entry of the item; a directory has exactly one.
	Identities []*Identity
	// AccessIssue lists the parts where a directory item could not be seen.
	AccessIssue []int
}

// Comparison is the result of comparing every node of a session.
type Comparison struct {
	Settings Settings
	Parts    []*Part
	Items    []*Item
}

// Part resolves a part name, case-insensitively; "A1" is accepted for "A" when parts are per node.
func (c *Comparison) Part(name string) (*Part, bool) {
	for _, p := range c.Parts {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	if len(name) >= 2 && strings.HasSuffix(name, "1") {
		base := name[:len(name)-1]
		for _, p := range c.Parts {
			if strings.EqualFold(p.Name, base) && p.Name == p.Node {
				return p, true
			}
		}
	}
	return nil, false
}

// PartNames lists the parts' names in order.
func (c *Comparison) PartNames() []string {
	names := make([]string, len(c.Parts))
	for i, p := range c.Parts {
		names[i] = p.Name
	}
	return names
}

// On returns the entries of the item on a part (placeholders included).
func (it *Item) On(part int) []Located {
	var out []Located
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part == part {
				out = append(out, l)
			}
		}
	}
	return out
}

// IdentitiesOn returns the identities that hold an entry on a part.
func (it *Item) IdentitiesOn(part int) []*Identity {
	var out []*Identity
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part == part {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// IdentityOn returns the first identity holding an entry on a part, or nil.
func (it *Item) IdentityOn(part int) *Identity {
	ids := it.IdentitiesOn(part)
	if len(ids) == 0 {
		return nil
	}
	return ids[0]
}

// Present tells whether the item has an entry (or a placeholder) on a part.
func (it *Item) Present(part int) bool { return it.IdentityOn(part) != nil }

// Entry returns the first real entry of the item on a part, or nil.
func (it *Item) Entry(part int) *inventory.Entry {
	for _, l := range it.On(part) {
		if l.Entry != nil {
			return l.Entry
		}
	}
	return nil
}

// HasAccessIssue tells whether the item could not be fully seen on a part.
func (it *Item) HasAccessIssue(part int) bool {
	if slices.Contains(it.AccessIssue, part) {
		return true
	}
	for _, l := range it.On(part) {
		if l.Entry == nil || l.Entry.Inaccessible {
			return true
		}
	}
	return false
}

// ContentGroups returns, per part, the index of its content group (-1 when absent): parts whose
// entries share an identity share a group; groups are numbered by their first part.
func (it *Item) ContentGroups(nparts int) []int {
	groups := make([]int, nparts)
	for i := range groups {
		groups[i] = -1
	}
	next := 0
	ids := make(map[*Identity]int)
	for p := 0; p < nparts; p++ {
		id := it.IdentityOn(p)
		if id == nil {
			continue
		}
		g, ok := ids[id]
		if !ok {
			g = next
			next++
			ids[id] = g
		}
		groups[p] = g
	}
	return groups
}

// DateGroups returns, per part, the index of its last-write-time group (-1 when absent or a
// directory).
func (it *Item) DateGroups(nparts int) []int {
	groups := make([]int, nparts)
	seen := map[time.Time]int{}
	for p := 0; p < nparts; p++ {
		groups[p] = -1
		e := it.Entry(p)
		if e == nil || e.Kind != inventory.File || e.Inaccessible {
			continue
		}
		t := e.ModTime.UTC()
		g, ok := seen[t]
		if !ok {
			g = len(seen)
			seen[t] = g
		}
		groups[p] = g
	}
	return groups
}

// Parts names the data parts of the nodes: by node code when every node has one source.
func Parts(nodes []*inventory.Node) []*Part {
	perNode := true
	for _, n := range nodes {
		if len(n.Parts) != 1 {
			perNode = false
		}
	}
	var parts []*Part
	for _, n := range nodes {
		for _, ip := range n.Parts {
			name := ip.Code
			if perNode {
				name = n.Code
			}
			parts = append(parts, &Part{Name: name, Node: n.Code, Index: len(parts), Inv: ip})
		}
	}
	return parts
}

// Compare builds the comparison items of the nodes with the content keys they carry.
func Compare(nodes []*inventory.Node, s Settings) *Comparison {
	c := &Comparison{Settings: s, Parts: Parts(nodes)}
	type itemKey struct {
		kind inventory.Kind
		key  string
	}
	index := make(map[itemKey]*Item)
	for _, p := range c.Parts {
		if s.Matching == Flat && p.Inv.Incomplete {
			continue // placeholders are added below
		}
		for i := range p.Inv.Entries {
			e := &p.Inv.Entries[i]
			if !s.keeps(e.Kind) {
				continue
			}
			display := e.Path
			if s.Matching == Flat {
				display = e.Name()
			}
			k := itemKey{e.Kind, s.linkingKey(display)}
			it := index[k]
			if it == nil {
				it = &Item{Kind: e.Kind, Key: k.key, Path: display, Name: e.Name()}
				index[k] = it
				c.Items = append(c.Items, it)
			}
			it.add(p.Index, e)
		}
	}
	slices.SortFunc(c.Items, func(a, b *Item) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), cmp.Compare(a.Kind, b.Kind))
	})
	if s.Matching == Flat {
		c.placeholdersFlat()
	} else {
		c.propagateAccessIssues()
	}
	return c
}

func (s Settings) keeps(k inventory.Kind) bool {
	switch s.DataType {
	case Files:
		return k == inventory.File
	case Directories:
		return k == inventory.Dir
	}
	return true
}

// Key is the linking key of an item path or name: items whose keys are equal are one item.
func (s Settings) Key(display string) string { return s.linkingKey(display) }

func (s Settings) linkingKey(display string) string {
	if s.CaseSensitive {
		return display
	}
	return strings.ToLower(display)
}

func (it *Item) add(part int, e *inventory.Entry) {
	loc := Located{Part: part, Entry: e}
	if it.Kind == inventory.Dir {
		if len(it.Identities) == 0 {
			it.Identities = []*Identity{{}}
		}
		id := it.Identities[0]
		id.Entries = append(id.Entries, loc)
		if e.Inaccessible {
			id.AccessIssue = true
		}
		return
	}
	if !e.Inaccessible && e.AnalysisError == "" {
		for _, id := range it.Identities {
			if !id.AccessIssue && !id.AnalysisError && id.Key == e.ContentKey && id.Size == e.Size {
				id.Entries = append(id.Entries, loc)
				return
			}
		}
	}
	it.Identities = append(it.Identities, &Identity{
		Key:           e.ContentKey,
		Size:          e.Size,
		AnalysisError: e.AnalysisError != "",
		AccessIssue:   e.Inaccessible,
		Entries:       []Located{loc},
	})
}

func (it *Item) addPlaceholder(part int) {
	if it.Kind == inventory.Dir {
		if !slices.Contains(it.AccessIssue, part) {
			it.AccessIssue = append(it.AccessIssue, part)
		}
		if len(it.Identities) > 0 {
			it.Identities[0].Entries = append(it.Identities[0].Entries, Located{Part: part})
			it.Identities[0].AccessIssue = true
		}
		return
	}
	it.Identities = append(it.Identities, &Identity{AccessIssue: true, Entries: []Located{{Part: part}}})
}

// placeholdersFlat marks, on every incomplete part, each item it does not hold as unseen.
func (c *Comparison) placeholdersFlat() {
	for _, p := range c.Parts {
		if !p.Inv.Incomplete {
			continue
		}
		for _, it := range c.Items {
			if !it.Present(p.Index) {
				it.addPlaceholder(p.Index)
			}
		}
	}
}

// propagateAccessIssues marks items below an unreadable directory of a part as unseen on that part.
func (c *Comparison) propagateAccessIssues() {
	blocked := make(map[int]map[string]bool) // part → linking keys of unreadable directories
	for _, p := range c.Parts {
		for i := range p.Inv.Entries {
			e := &p.Inv.Entries[i]
			if e.Kind == inventory.Dir && e.Inaccessible {
				if blocked[p.Index] == nil {
					blocked[p.Index] = map[string]bool{}
				}
				blocked[p.Index][c.Settings.linkingKey(e.Path)] = true
			}
		}
	}
	if len(blocked) == 0 {
		return
	}
	parts := make([]int, 0, len(blocked))
	for p := range blocked {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	for _, it := range c.Items {
		for _, p := range parts {
			if it.Present(p) && it.Kind == inventory.File {
				continue
			}
			for dir := path.Dir(it.Key); dir != "/" && dir != "."; dir = path.Dir(dir) {
				if blocked[p][dir] {
					it.addPlaceholder(p)
					break
				}
			}
		}
	}
}

func sortedStrings(s []string) []string { slices.Sort(s); return s }
