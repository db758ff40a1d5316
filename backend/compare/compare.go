package compare

import (
	"cmp"
	"encoding/binary"
	"maps"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

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
	Entries []Located
}

// AccessIssue tells whether the identity holds an inaccessible entry or a placeholder: a file's
// is then never merged with another entry.
func (id *Identity) AccessIssue() bool {
	for _, l := range id.Entries {
		if l.Entry == nil || l.Entry.Inaccessible {
			return true
		}
	}
	return false
}

// AnalysisError tells whether the content key of the identity's file could not be computed: it
// is then never merged with another entry.
func (id *Identity) AnalysisError() bool {
	for _, l := range id.Entries {
		if l.Entry != nil && l.Entry.AnalysisFailed {
			return true
		}
	}
	return false
}

// Size is the size of the identity's files: 0 for a directory or where none could be read.
func (id *Identity) Size() int64 {
	if l, ok := id.real(); ok {
		return l.Entry.Size
	}
	return 0
}

// real is the identity's first entry that is not a placeholder; ok is false when there is none.
func (id *Identity) real() (l Located, ok bool) {
	for _, l := range id.Entries {
		if l.Entry != nil {
			return l, true
		}
	}
	return Located{}, false
}

// Key is the identity's content key, which its files share: zero when it was not read.
func (c *Comparison) Key(id *Identity) inventory.ContentKey {
	if l, ok := id.real(); ok {
		return c.Parts[l.Part].Inv.Keys.Of(l.Entry)
	}
	return inventory.ContentKey{}
}

// Item is one path (tree) or name (flat) across all parts.
type Item struct {
	// Identities hold every entry of the item; a directory has exactly one, where the parts
	// it could not be seen on hold an entry without Entry (AccessIssues). The first entry
	// added, in part order, comes first and names the item (Path).
	Identities []Identity
	Kind       inventory.Kind
	folded     bool // the linking key is the path lower-cased
	flat       bool // matched by name: Path is the first entry's name
}

// Path is the item's relative path (tree) or name (flat): its first entry's. A tree item's is
// made on each call.
func (it *Item) Path() string {
	e := it.first()
	switch {
	case e == nil:
		return ""
	case it.flat:
		return e.Name()
	}
	return e.Path()
}

// AppendPath appends the item's Path to b.
func (it *Item) AppendPath(b []byte) []byte {
	e := it.first()
	switch {
	case e == nil:
		return b
	case it.flat:
		return append(b, e.Name()...)
	}
	return e.AppendPath(b)
}

// first is the entry naming the item, nil when it has none.
func (it *Item) first() *inventory.Entry {
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Entry != nil {
				return l.Entry
			}
		}
	}
	return nil
}

// Key is the item's linking key: its path, lower-cased unless matching is case-sensitive. A path
// with upper case is lower-cased on each call; ItemOrder and Settings.CompareKeys compare keys
// without making them.
func (it *Item) Key() string {
	p := it.Path()
	if it.folded && mayHaveUpper(p) {
		return strings.ToLower(p)
	}
	return p
}

// AccessIssues lists the parts where a directory item could not be seen.
func (it *Item) AccessIssues() []int {
	if it.Kind != inventory.Dir || len(it.Identities) == 0 {
		return nil
	}
	var out []int
	for _, l := range it.Identities[0].Entries {
		if l.Entry == nil {
			out = append(out, l.Part)
		}
	}
	return out
}

// Comparison is the result of comparing every node of a session.
type Comparison struct {
	Settings Settings
	Parts    []*Part
	Items    []*Item // in ItemOrder
	// Omitted counts the items CompareOmitting left out.
	Omitted int
	// omittedIn holds the directories, by linking key and part, directly holding an item left
	// out that is present on that part.
	omittedIn map[dirPart]bool
}

type dirPart struct {
	key  string
	part int
}

// HoldsOmitted tells whether the directory item dir directly holds, on a part, an item that
// CompareOmitting left out.
func (c *Comparison) HoldsOmitted(dir *Item, part int) bool {
	return dir.Kind == inventory.Dir && c.omittedIn[dirPart{dir.Key(), part}]
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

// Name is the last element of the item's path.
func (it *Item) Name() string {
	if e := it.first(); e != nil {
		return e.Name()
	}
	return ""
}

// Detached is a copy of the item that shares no memory with the comparison's but the
// inventories' entries.
func (it *Item) Detached() *Item {
	c := *it
	c.Identities = make([]Identity, len(it.Identities))
	for i, id := range it.Identities {
		c.Identities[i].Entries = slices.Clone(id.Entries)
	}
	return &c
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
	for i := range it.Identities {
		for _, l := range it.Identities[i].Entries {
			if l.Part == part {
				out = append(out, &it.Identities[i])
				break
			}
		}
	}
	return out
}

// IdentityOn returns the first identity holding an entry on a part, or nil.
func (it *Item) IdentityOn(part int) *Identity {
	for i := range it.Identities {
		for _, l := range it.Identities[i].Entries {
			if l.Part == part {
				return &it.Identities[i]
			}
		}
	}
	return nil
}

// Present tells whether the item has an entry (or a placeholder) on a part.
func (it *Item) Present(part int) bool { return it.IdentityOn(part) != nil }

// Entry returns the first real entry of the item on a part, or nil.
func (it *Item) Entry(part int) *inventory.Entry {
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part == part && l.Entry != nil {
				return l.Entry
			}
		}
	}
	return nil
}

// HasAccessIssue tells whether the item could not be fully seen on a part.
func (it *Item) HasAccessIssue(part int) bool {
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part == part && (l.Entry == nil || l.Entry.Inaccessible) {
				return true
			}
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
	seen := map[int64]int{}
	for p := 0; p < nparts; p++ {
		groups[p] = -1
		e := it.Entry(p)
		if e == nil || e.Kind != inventory.File || e.Inaccessible {
			continue
		}
		t := e.ModTime
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
	return CompareOmitting(nodes, s, nil)
}

// CompareOmitting is Compare that leaves out the file items whose content needs no reading
// (ContentNeeded lists none of their files) and that omit, made from the comparison before
// its first item, tells to leave out: a plan that ignores items its rules leave alone need not
// keep them. It leaves out nothing where the comparison is flat (matched by name), nor
// where a part is incomplete, and keeps every directory. omit must not keep the item, and may be
// called from several goroutines at once.
func CompareOmitting(nodes []*inventory.Node, s Settings, omitter func(*Comparison) func(*Item) bool) *Comparison {
	return compareOmitting(nodes, s, omitter, 0)
}

// compareOmitting is CompareOmitting merging in ranges ranges of items (mergeIn).
func compareOmitting(nodes []*inventory.Node, s Settings, omitter func(*Comparison) func(*Item) bool, ranges int) *Comparison {
	c := &Comparison{Settings: s, Parts: Parts(nodes)}
	a := &arena{parts: len(c.Parts)}
	var omit func(*Item) bool
	if omitter != nil && !c.anyIncomplete() {
		omit = omitter(c)
	}
	if !c.mergeIn(a, omit, ranges) {
		c.index(a)
	}
	if s.Matching == Flat {
		c.placeholdersFlat()
	} else {
		c.propagateAccessIssues()
	}
	return c
}

// index builds the items through a map keyed by linking key, then sorts them: the general case.
func (c *Comparison) index(a *arena) {
	s := c.Settings
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
			display := e.Path()
			if s.Matching == Flat {
				display = e.Name()
			}
			k := itemKey{e.Kind, s.linkingKey(display)}
			it := index[k]
			if it == nil {
				it = a.item(e.Kind, !s.CaseSensitive, s.Matching == Flat)
				index[k] = it
				c.Items = append(c.Items, it)
			}
			it.add(a, c.Parts, p.Index, e)
		}
	}
	slices.SortFunc(c.Items, ItemOrder)
}

// Find is the item of kind whose linking key is key's (key may be the key or a path or name
// with that key), nil when there is none.
func (c *Comparison) Find(kind inventory.Kind, key string) *Item {
	i, ok := slices.BinarySearchFunc(c.Items, kind, func(it *Item, kind inventory.Kind) int {
		return cmp.Or(c.Settings.CompareKeys(it.Path(), key), cmp.Compare(it.Kind, kind))
	})
	if !ok {
		return nil
	}
	return c.Items[i]
}

// ItemOrder is the order of a comparison's items: by linking key, then kind.
func ItemOrder(a, b *Item) int {
	s := Settings{CaseSensitive: !a.folded}
	if ea, eb := a.first(), b.first(); !a.flat && ea != nil && eb != nil {
		return cmp.Or(s.comparePaths(ea, eb), cmp.Compare(a.Kind, b.Kind))
	}
	return cmp.Or(s.CompareKeys(a.Path(), b.Path()), cmp.Compare(a.Kind, b.Kind))
}

// comparePaths compares the linking keys of the paths of a and b, as CompareKeys, without making
// the paths.
func (s Settings) comparePaths(a, b *inventory.Entry) int {
	switch {
	case s.CaseSensitive:
		return inventory.ComparePaths(a, b)
	case inventory.SameDir(a, b):
		return s.CompareKeys(a.Name(), b.Name()) // the paths' keys agree up to the slash before
	}
	return compareJoinedKeys(joinedOf(a), joinedOf(b))
}

// joined is a path held in pieces, its directory's path, "/" and its name: no rune spans two.
type joined [3]string

func joinedOf(e *inventory.Entry) joined { return joined{e.Dir(), "/", e.Name()} }

// drop drops the first n bytes.
func (j *joined) drop(n int) {
	for i := range j {
		k := min(n, len(j[i]))
		j[i], n = j[i][k:], n-k
	}
}

// front is the first piece not empty, "" at the end.
func (j *joined) front() string {
	for _, p := range j {
		if p != "" {
			return p
		}
	}
	return ""
}

// compareJoinedKeys compares the linking keys of two paths held in pieces, as CompareKeys
// compares them whole: equal bytes are skipped piece by piece, then runes are compared
// lower-cased from where the last equal ASCII byte ends (a rune starts there in both, whatever
// bytes the pieces hold).
func compareJoinedKeys(a, b joined) int {
	sa, sb := a, b
	for {
		fa, fb := a.front(), b.front()
		if fa == "" && fb == "" {
			return 0
		}
		n := min(len(fa), len(fb))
		k := equalPrefix(fa[:n], fb[:n])
		if i := strings.LastIndexFunc(fa[:k], func(r rune) bool { return r < utf8.RuneSelf }); i >= 0 {
			sa, sb = a, b
			sa.drop(i + 1)
			sb.drop(i + 1)
		}
		if k < n || n == 0 {
			return compareLowerRunes(&sa, &sb)
		}
		a.drop(n)
		b.drop(n)
	}
}

// equalPrefix is the length of the bytes a and b, of one length, start with alike.
func equalPrefix(a, b string) int {
	k := 0
	for k+8 <= len(a) && a[k:k+8] == b[k:k+8] {
		k += 8
	}
	for k < len(a) && a[k] == b[k] {
		k++
	}
	return k
}

// compareLowerRunes compares what is left of a and b rune by rune, lower-cased.
func compareLowerRunes(a, b *joined) int {
	for {
		fa, fb := a.front(), b.front()
		if fa == "" || fb == "" {
			return cmp.Compare(len(fa), len(fb))
		}
		ra, na := utf8.DecodeRuneInString(fa)
		rb, nb := utf8.DecodeRuneInString(fb)
		if ra, rb = unicode.ToLower(ra), unicode.ToLower(rb); ra != rb {
			return cmp.Compare(ra, rb)
		}
		a.drop(na)
		b.drop(nb)
	}
}

// cursor walks the kept entries of one part in item order (linking key, then kind): the order
// of the entries unless order is set, which then lists the kept entries' indexes in item order.
// Paths are compared by their linking keys (Settings.CompareKeys) without making the keys.
type cursor struct {
	part    int
	entries []inventory.Entry
	order   []int32
	next    int
	end     int  // the cursor walks positions next to end of the order (or of the entries)
	atMin   bool // the entry at next is the item being built
}

func (cu *cursor) done() bool { return cu.next == cu.end }

func (cu *cursor) entry() *inventory.Entry { return cu.at(cu.next) }

// at is the entry at position i of the cursor's order.
func (cu *cursor) at(i int) *inventory.Entry {
	if cu.order != nil {
		return &cu.entries[cu.order[i]]
	}
	return &cu.entries[i]
}

// seek moves the cursor to the next kept entry at or after next.
func (cu *cursor) seek(s Settings) {
	for !cu.done() && !s.keeps(cu.entry().Kind) {
		cu.next++
	}
}

// holds reports whether the cursor's next entry is a kind entry whose linking key is e's path's.
func (cu *cursor) holds(e *inventory.Entry, kind inventory.Kind, s Settings) bool {
	return !cu.done() && cu.entry().Kind == kind && s.comparePaths(cu.entry(), e) == 0
}

// itemOrder lists the indexes of the kept entries in item order (linking key, then kind), entries
// of one key and kind in their order; it is nil where the entries are in item order already, as
// they are unless case-insensitive linking reorders names ("Banana" sorts before "apple" in
// bytes, not in keys).
func itemOrder(entries []inventory.Entry, s Settings) (order []int32, kept int) {
	inOrder := true
	var prev *inventory.Entry
	for j := range entries {
		e := &entries[j]
		if !s.keeps(e.Kind) {
			continue
		}
		if prev != nil && cmp.Or(s.comparePaths(prev, e), cmp.Compare(prev.Kind, e.Kind)) > 0 {
			inOrder = false
		}
		prev = e
		kept++
	}
	if inOrder {
		return nil, kept
	}
	order = make([]int32, 0, kept)
	for j := range entries {
		if s.keeps(entries[j].Kind) {
			order = append(order, int32(j))
		}
	}
	slices.SortStableFunc(order, func(x, y int32) int {
		a, b := &entries[x], &entries[y]
		return cmp.Or(s.comparePaths(a, b), cmp.Compare(a.Kind, b.Kind))
	})
	return order, kept
}

// mergeSplit is the fewest kept entries a merge hands to a goroutine of its own.
const mergeSplit = 1 << 16

// mergeIn builds the items of a tree comparison in one pass over the parts' entries, each walked
// in item order; it reports false, building nothing, for a flat comparison. The items are those
// index builds, in the same order, with the entries added in the same order. It merges ranges
// ranges of items, one goroutine each (as many as the comparison's size and the processors
// suggest for 0): omit must allow calls from several at once.
func (c *Comparison) mergeIn(a *arena, omit func(*Item) bool, ranges int) bool {
	s := c.Settings
	if s.Matching == Flat {
		return false
	}
	curs := make([]cursor, len(c.Parts))
	total, whole := 0, true
	for i, p := range c.Parts {
		order, kept := itemOrder(p.Inv.Entries, s)
		total += kept
		whole = whole && (order != nil || kept == len(p.Inv.Entries))
		curs[i] = cursor{part: i, entries: p.Inv.Entries, order: order, end: len(p.Inv.Entries)}
		if order != nil {
			curs[i].end = len(order)
		}
	}
	if ranges == 0 {
		ranges = min(runtime.GOMAXPROCS(0), total/mergeSplit)
	}
	if !whole {
		ranges = 1 // entries left out interleave with the kept ones: no bounds can be searched
	}
	spans := c.ranges(curs, max(ranges, 1))
	outs := make([]merged, len(spans))
	var wg sync.WaitGroup
	for i, span := range spans {
		ar := a
		if i > 0 {
			ar = &arena{parts: a.parts}
		}
		run := func() { outs[i] = c.mergeRange(ar, span, omit) }
		if i == len(spans)-1 {
			run()
			continue
		}
		wg.Go(run)
	}
	wg.Wait()
	c.Items = outs[0].items
	for _, o := range outs[1:] {
		c.Items = append(c.Items, o.items...)
	}
	for _, o := range outs {
		c.Omitted += o.omitted
		if o.omittedIn == nil {
			continue
		}
		if c.omittedIn == nil {
			c.omittedIn = o.omittedIn
			continue
		}
		maps.Copy(c.omittedIn, o.omittedIn)
	}
	return true
}

// ranges splits the cursors into n ranges of whole items at most, each range one cursor a part,
// by the entries of the part holding the most.
func (c *Comparison) ranges(curs []cursor, n int) [][]cursor {
	big := 0
	for i := range curs {
		if curs[i].end > curs[big].end {
			big = i
		}
	}
	if curs[big].end == 0 {
		return [][]cursor{curs}
	}
	out := make([][]cursor, 0, n)
	from := make([]int, len(curs))
	for k := 1; k <= n; k++ {
		to := make([]int, len(curs))
		if k == n {
			for i := range curs {
				to[i] = curs[i].end
			}
		} else {
			bound := curs[big].at(curs[big].end * k / n)
			for i := range curs {
				cu := &curs[i]
				// The first entry at or past the bound's (key, kind): an item's entries all
				// fall on one side.
				to[i] = from[i] + sort.Search(cu.end-from[i], func(j int) bool {
					e := cu.at(from[i] + j)
					return cmp.Or(c.Settings.comparePaths(e, bound), cmp.Compare(e.Kind, bound.Kind)) >= 0
				})
			}
		}
		span := slices.Clone(curs)
		empty := true
		for i := range span {
			span[i].next, span[i].end = from[i], to[i]
			empty = empty && from[i] == to[i]
		}
		if !empty {
			out = append(out, span)
		}
		from = to
	}
	if len(out) == 0 {
		out = append(out, curs)
	}
	return out
}

// merged is what merging one range of items made.
type merged struct {
	items     []*Item
	omitted   int
	omittedIn map[dirPart]bool
	last      []string // by part, the directory path of the last item left out
}

// mergeRange merges the items of the cursors' range.
func (c *Comparison) mergeRange(a *arena, curs []cursor, omit func(*Item) bool) merged {
	s := c.Settings
	var out merged
	if omit == nil {
		total := 0
		for i := range curs {
			total += curs[i].end - curs[i].next
		}
		out.items = make([]*Item, 0, total/max(1, len(c.Parts)))
	}
	for i := range curs {
		curs[i].seek(s)
	}
	var nf needFiles
	var heads []Located
	for {
		// The smallest (key, kind) at the heads of the parts, and the parts at it.
		var minPath *inventory.Entry
		var minKind inventory.Kind
		found := false
		for i := range curs {
			cu := &curs[i]
			cu.atMin = false
			if cu.done() {
				continue
			}
			e := cu.entry()
			order := -1
			if found {
				order = cmp.Or(s.comparePaths(e, minPath), cmp.Compare(e.Kind, minKind))
			}
			switch {
			case order < 0:
				for j := range i {
					curs[j].atMin = false
				}
				minPath, minKind, found = e, e.Kind, true
				cu.atMin = true
			case order == 0:
				cu.atMin = true
			}
		}
		if !found {
			return out
		}
		heads = heads[:0]
		for i := range curs {
			cu := &curs[i]
			// A part may hold more entries with the same key (names that differ in case only).
			for more := cu.atMin; more; more = cu.holds(minPath, minKind, s) {
				heads = append(heads, Located{Part: cu.part, Entry: cu.entry()})
				cu.next++
				cu.seek(s)
			}
		}
		mark := *a
		it := a.item(minKind, !s.CaseSensitive, false)
		out.items = append(out.items, it)
		it.build(a, c.Parts, heads)
		if omit != nil && it.Kind == inventory.File && c.settled(it, &nf) && omit(it) {
			c.omitted(&out, it)
			out.items = out.items[:len(out.items)-1]
			a.rewind(mark) // the item's room is taken again by the next
		}
	}
}

// anyIncomplete tells whether a part could not be read whole.
func (c *Comparison) anyIncomplete() bool {
	for _, p := range c.Parts {
		if p.Inv.Incomplete {
			return true
		}
	}
	return false
}

// settled tells whether a file item's entries are all readable and analysed, and none of its
// content needs reading.
func (c *Comparison) settled(it *Item, nf *needFiles) bool {
	for _, id := range it.Identities {
		if id.AccessIssue() || id.AnalysisError() {
			return false
		}
	}
	needs := false
	c.needs(it, nf, func(Located) { needs = true })
	return !needs
}

// omitted records an item left out in m.
func (c *Comparison) omitted(m *merged, it *Item) {
	m.omitted++
	if m.omittedIn == nil {
		m.omittedIn = map[dirPart]bool{}
		m.last = make([]string, len(c.Parts))
	}
	dir := it.first().Dir() // its key is not made (merge)
	if dir == "" {
		dir = "/"
	}
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			// Items come in path order: most follow one left out of the same folder.
			if m.last[l.Part] == dir {
				continue
			}
			m.omittedIn[dirPart{c.Settings.linkingKey(dir), l.Part}] = true
			m.last[l.Part] = dir
		}
	}
}

// arena allocates items and identities in chunks: one allocation for many.
type arena struct {
	parts   int // entries an identity made by add has room for at first
	items   []Item
	ids     []Identity
	locs    []Located
	scratch []int32
}

const arenaChunk = 1024

// rewind takes back what was taken from a since mark. A chunk started since is kept, emptied:
// the one mark had is full, and going back to it would start a new chunk for every item.
func (a *arena) rewind(mark arena) {
	a.items = rewound(a.items, mark.items)
	a.ids = rewound(a.ids, mark.ids)
	a.locs = rewound(a.locs, mark.locs)
}

func rewound[T any](now, mark []T) []T {
	if unsafe.SliceData(now) != unsafe.SliceData(mark) {
		return now[:0]
	}
	return mark
}

func (a *arena) item(kind inventory.Kind, folded, flat bool) *Item {
	if len(a.items) == cap(a.items) {
		a.items = make([]Item, 0, arenaChunk)
	}
	a.items = append(a.items, Item{Kind: kind, folded: folded, flat: flat})
	return &a.items[len(a.items)-1]
}

// identity returns a slice holding an identity of entries, with room for no more: an item's
// first, which most items keep alone.
func (a *arena) identity(entries []Located) []Identity {
	ids := a.identities(1)
	ids[0].Entries = entries
	return ids
}

// identities returns n empty identities, with room for no more.
func (a *arena) identities(n int) []Identity {
	if a == nil {
		return make([]Identity, n)
	}
	if cap(a.ids)-len(a.ids) < n {
		a.ids = make([]Identity, 0, max(arenaChunk, n))
	}
	a.ids = a.ids[:len(a.ids)+n]
	out := a.ids[len(a.ids)-n : len(a.ids) : len(a.ids)]
	clear(out) // rewind gives back room that was used
	return out
}

// located returns room for n entries of an identity, taken from a chunk.
func (a *arena) located(loc Located, n int) []Located {
	if a == nil {
		return append(make([]Located, 0, n), loc)
	}
	if cap(a.locs)-len(a.locs) < n {
		a.locs = make([]Located, 0, max(arenaChunk, n))
	}
	out := a.locs[len(a.locs) : len(a.locs)+1 : len(a.locs)+n]
	out[0] = loc
	a.locs = a.locs[:len(a.locs)+n]
	return out
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
	if s.CaseSensitive || !mayHaveUpper(display) {
		return display
	}
	return strings.ToLower(display)
}

// CompareKeys compares the linking keys of two paths or names, as strings.Compare would compare
// the keys, without making them. Paths compared share long prefixes: equal bytes are skipped
// eight at a time; ASCII letters that differ are compared lower-cased, and where a non-ASCII
// byte differs, the rests of both strings are, from the rune it begins.
func (s Settings) CompareKeys(a, b string) int {
	if s.CaseSensitive || a == b {
		return strings.Compare(a, b)
	}
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && binary.LittleEndian.Uint64([]byte(a[i:i+8])) == binary.LittleEndian.Uint64([]byte(b[i:i+8])) {
		i += 8
	}
	for ; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca >= 0x80 || cb >= 0x80 {
			return compareLowerFrom(a, b, i)
		}
		if ca, cb = lowerASCII(ca), lowerASCII(cb); ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	if len(a) != len(b) && n > 0 && a[n-1] >= 0x80 {
		return compareLowerFrom(a, b, n) // the shorter may end inside a rune of the longer
	}
	return cmp.Compare(len(a), len(b))
}

// compareLowerFrom compares a and b lower-cased, knowing a[:i] == b[:i]: from the end of their
// last ASCII byte before i, which ends a rune in both. Runes are lowered one at a time, in
// order, as strings.ToLower lowers them (a byte that is no rune stands for U+FFFD): runes order
// as their UTF-8 bytes do.
func compareLowerFrom(a, b string, i int) int {
	for i > 0 && a[i-1] >= 0x80 {
		i--
	}
	a, b = a[i:], b[i:]
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra, rb = unicode.ToLower(ra), unicode.ToLower(rb); ra != rb {
			return cmp.Compare(ra, rb)
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// mayHaveUpper reports whether s holds an ASCII upper-case letter or a non-ASCII byte, eight
// bytes at a time: most paths hold neither, and strings.ToLower, which would return them as they
// are, reads them a byte at a time.
func mayHaveUpper(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64([]byte(s[:8]))
		// With no high bit set, adding 0x80-'A' sets a byte's high bit when it is 'A' or above,
		// adding 0x80-('Z'+1) when it is above 'Z'; neither carries into the next byte.
		if x&high != 0 || (x+(0x80-'A')*ones)&^(x+(0x80-'Z'-1)*ones)&high != 0 {
			return true
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// add adds e, an entry of parts[part], to the item: to the identity of its content, or to a new
// one.
func (it *Item) add(a *arena, parts []*Part, part int, e *inventory.Entry) {
	loc := Located{Part: part, Entry: e}
	n := 1
	if a != nil {
		n = max(1, a.parts)
	}
	if it.Kind == inventory.Dir {
		if len(it.Identities) == 0 {
			it.Identities = a.identity(a.located(loc, n))
		} else {
			id := &it.Identities[0]
			id.Entries = append(id.Entries, loc)
		}
		return
	}
	for i := range it.Identities {
		if id := &it.Identities[i]; sameContent(parts, id.Entries[0], loc) {
			id.Entries = append(id.Entries, loc)
			return
		}
	}
	if len(it.Identities) == 0 {
		it.Identities = a.identity(a.located(loc, n))
	} else {
		it.Identities = append(it.Identities, Identity{Entries: a.located(loc, n)})
	}
}

// sameContent tells whether a file entry l joins the identity whose first entry is o: both are
// readable, of one size and one content key. An unreadable file or one whose analysis failed
// makes an identity of its own.
func sameContent(parts []*Part, o, l Located) bool {
	readable := func(l Located) bool {
		return l.Entry != nil && !l.Entry.Inaccessible && !l.Entry.AnalysisFailed
	}
	return readable(o) && readable(l) && o.Entry.Size == l.Entry.Size &&
		parts[o.Part].Inv.Keys.Of(o.Entry) == parts[l.Part].Inv.Keys.Of(l.Entry)
}

// build adds the entries of a new item, grouped as add groups them, in room of their exact size.
func (it *Item) build(a *arena, parts []*Part, entries []Located) {
	if it.Kind == inventory.Dir || len(entries) == 1 {
		it.Identities = a.identities(1)
		it.Identities[0].Entries = append(a.located(entries[0], len(entries)), entries[1:]...)
		return
	}
	// lead[j] is the first entry of entry j's identity.
	lead := a.scratch[:0]
	n := 0
	for j, l := range entries {
		lead = append(lead, int32(j))
		for k := range j {
			if lead[k] == int32(k) && sameContent(parts, entries[k], l) {
				lead[j] = int32(k)
				break
			}
		}
		if lead[j] == int32(j) {
			n++
		}
	}
	a.scratch = lead
	it.Identities = a.identities(n)
	i := 0
	for j := range entries {
		if lead[j] != int32(j) {
			continue
		}
		size := 0
		for k := j; k < len(entries); k++ {
			if lead[k] == int32(j) {
				size++
			}
		}
		id := &it.Identities[i]
		id.Entries = a.located(entries[j], size)
		for k := j + 1; k < len(entries); k++ {
			if lead[k] == int32(j) {
				id.Entries = append(id.Entries, entries[k])
			}
		}
		i++
	}
}

func (it *Item) addPlaceholder(part int) {
	if it.Kind == inventory.Dir {
		if len(it.Identities) == 0 {
			it.Identities = []Identity{{}}
		}
		id := &it.Identities[0]
		if !slices.Contains(it.AccessIssues(), part) {
			id.Entries = append(id.Entries, Located{Part: part})
		}
		return
	}
	it.Identities = append(it.Identities, Identity{Entries: []Located{{Part: part}}})
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
				blocked[p.Index][c.Settings.linkingKey(e.Path())] = true
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
			for dir := path.Dir(it.Key()); dir != "/" && dir != "."; dir = path.Dir(dir) {
				if blocked[p][dir] {
					it.addPlaceholder(p)
					break
				}
			}
		}
	}
}

func sortedStrings(s []string) []string { slices.Sort(s); return s }
