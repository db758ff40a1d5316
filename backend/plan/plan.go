// Package plan turns atomic actions into action groups (one source read serves every target) in an
// order that converges in one run: deletes of files, deletes of directories child-first, creates of
// directories parent-first, copies, then directories' dates.
package plan

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// Op is what a group does on its targets; it reads and writes as its name ("copy"…).
type Op uint8

const (
	OpCopy        Op = iota + 1 // content and dates
	OpCopyContent               // content; dates become now
	OpCopyDates                 // dates only (also a copy whose content is already identical)
	OpCreate
	OpDelete
)

var opNames = [...]string{OpCopy: "copy", OpCopyContent: "copy-content", OpCopyDates: "copy-dates", OpCreate: "create", OpDelete: "delete"}

func (o Op) String() string {
	if name := nameOf(opNames[:], o); name != "" {
		return name
	}
	return fmt.Sprintf("Op(%d)", o)
}

// ParseOp is the op named s.
func ParseOp(s string) (Op, bool) {
	o, ok := parseName[Op](opNames[:], s)
	return o, ok && o != 0
}

func (o Op) MarshalText() ([]byte, error) {
	if name := nameOf(opNames[:], o); name != "" {
		return []byte(name), nil
	}
	return nil, fmt.Errorf("no op %d", o)
}

func (o *Op) UnmarshalText(b []byte) error {
	op, ok := ParseOp(string(b))
	if !ok {
		return fmt.Errorf("op %q: want copy, copy-content, copy-dates, create or delete", b)
	}
	*o = op
	return nil
}

// Kind says how a content copy travels; the zero Kind is none (no content travels). It reads and
// writes as its name, the zero Kind as "".
type Kind uint8

const (
	Full Kind = iota + 1
	Delta
)

var kindNames = [...]string{Full: "full", Delta: "delta"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

func (k Kind) MarshalText() ([]byte, error) {
	if int(k) >= len(kindNames) {
		return nil, fmt.Errorf("no copy kind %d", k)
	}
	return []byte(kindNames[k]), nil
}

func (k *Kind) UnmarshalText(b []byte) error {
	kind, ok := parseName[Kind](kindNames[:], string(b))
	if !ok {
		return fmt.Errorf("copy kind %q: want full or delta", b)
	}
	*k = kind
	return nil
}

// nameOf is the name of v in names, "" when it has none.
func nameOf[T ~uint8](names []string, v T) string {
	if int(v) < len(names) {
		return names[v]
	}
	return ""
}

// parseName is the value named s in names.
func parseName[T ~uint8](names []string, s string) (T, bool) {
	for i, name := range names {
		if name == s {
			return T(i), true
		}
	}
	return 0, false
}

// Phase orders groups; groups of one phase are independent of each other, except directory
// deletes (child-first) and creates (parent-first), which their order within the phase respects.
type Phase uint8

const (
	PhaseDeleteFiles Phase = iota
	PhaseDeleteDirs
	PhaseCreateDirs
	// PhaseConflict copies the losing side of a two-way conflict to its conflict name on the
	// other parts, before the copies of the winner replace it.
	PhaseConflict
	PhaseCopy
	// PhaseDirDates sets directories' dates once nothing more is written in them (dirdates.go).
	PhaseDirDates
)

// Place is a data part as locations name it: the locations on one part share it.
type Place struct {
	Part string // part name
	Node string // node code
	// Root is the data source; for a file data source Dir is its parent and a location's Path
	// "/"+its name.
	Root string
	Dir  string // directory every write is confined to
	// kept holds where the run keeps this part's files before copies replace them (KeepAs).
	kept *keptFiles
	// keys holds the content keys of the entries found here.
	keys *inventory.ContentKeys
}

// keptFiles are the paths (relative to Dir) where files are kept, by the file's path; held by
// pointer, so that places stay comparable.
type keptFiles struct{ as map[string]string }

// Location is an item on a part: where to read or write it.
type Location struct {
	*Place
	// at is the entry whose path names the location: the one found there, the source's for the
	// target of a new item, or one made for the location alone (At). A plan holds no paths of
	// its own: a first mirror's group of two endpoints takes 48 bytes besides the inventories'.
	at *inventory.Entry
}

// At is the location at path on p, relative to p.Dir: "/"-separated, with a leading "/".
func At(p *Place, path string) Location {
	e := inventory.Entry{}.At(path)
	return Location{Place: p, at: &e}
}

// Path is "/"-separated, with a leading "/", relative to Dir; made on each call.
func (l Location) Path() string {
	if l.at == nil {
		return ""
	}
	return l.at.Path()
}

// Depth is the number of elements of the location's path.
func (l Location) Depth() int {
	if l.at == nil {
		return 0
	}
	return l.at.Depth()
}

// parent is the path of the directory holding the location: "/" for an item at the root.
func (l Location) parent() string {
	if l.at == nil || l.at.Dir() == "" {
		return "/"
	}
	return l.at.Dir()
}

// comparePaths compares the paths of a and b as strings.Compare would, without making them.
func comparePaths(a, b Location) int {
	if a.at == nil || b.at == nil {
		return strings.Compare(a.Path(), b.Path())
	}
	return inventory.ComparePaths(a.at, b.at)
}

// Endpoint is a Location and the inventory entry found there, nil where there is none (the target
// of a new file). The plan refers to the inventories' entries instead of copying them: a group of
// a first mirror takes 96 bytes less.
type Endpoint struct {
	Location
	Entry *inventory.Entry
}

// Found is the endpoint of e, found at its path on p.
func Found(p *Place, e *inventory.Entry) Endpoint {
	return Endpoint{Location: Location{Place: p, at: e}, Entry: e}
}

// Exists tells whether the endpoint's file or directory was inventoried.
func (e *Endpoint) Exists() bool { return e.Entry != nil }

// Size is the inventoried size; 0 when the endpoint does not exist.
func (e *Endpoint) Size() int64 {
	if e.Entry == nil {
		return 0
	}
	return e.Entry.Size
}

// ModTime is the inventoried last write time as inventory.Nanos encodes it; 0 when the endpoint
// does not exist.
func (e *Endpoint) ModTime() int64 {
	if e.Entry == nil {
		return 0
	}
	return e.Entry.ModTime
}

// BirthTime is the inventoried creation time as inventory.Nanos encodes it; 0 when unknown.
func (e *Endpoint) BirthTime() int64 {
	if e.Entry == nil {
		return 0
	}
	return e.Entry.BirthTime
}

// ContentKey is the inventoried content key; zero when not read or when the endpoint does not
// exist.
func (e *Endpoint) ContentKey() inventory.ContentKey {
	if e.Entry == nil {
		return inventory.ContentKey{}
	}
	return e.keys.Of(e.Entry)
}

// SetContentKey sets the content key of the endpoint's entry, which must exist.
func (e *Endpoint) SetContentKey(k inventory.ContentKey) {
	if e.keys == nil {
		e.keys = new(inventory.ContentKeys)
	}
	e.keys.Set(e.Entry, k)
}

// Group is a set of atomic actions sharing one source read: the unit that is run and tracked.
type Group struct {
	Source  *Endpoint // copy family
	Targets []Endpoint
	// Num is the group's position in the plan, from 1: its id is "AGID_<Num>".
	Num uint32
	// The small fields come last: a group takes 48 bytes.
	Op       Op
	Kind     Kind     // content copies
	RuleOp   rules.Op // the operator the rule or the user asked for
	ItemKind inventory.Kind
	// DatesOnly is a copy whose content is already identical on every target.
	DatesOnly bool
	Phase     Phase
	Targeted  bool
	// Quiet is a directory's date set because the run creates the directory or writes in it,
	// not because it differed: not listed in the plan, not counted as an action nor tracked.
	Quiet bool
}

// Size is the source's size: the content a copy reads; 0 for other groups.
func (g *Group) Size() int64 {
	if g.Source == nil {
		return 0
	}
	return g.Source.Size()
}

// IDPrefix starts every group id.
const IDPrefix = "AGID_"

// ID is the group's id, "AGID_<Num>", as the plan is listed and tracked.
func (g *Group) ID() string { return IDPrefix + strconv.FormatUint(uint64(g.Num), 10) }

// Group is the group of id id, nil when the plan has none.
func (p *Plan) Group(id string) *Group {
	num, ok := strings.CutPrefix(id, IDPrefix)
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 || num[0] == '0' || n > uint64(len(p.Groups)) || p.Groups[n-1].Num != uint32(n) {
		return nil
	}
	return &p.Groups[n-1]
}

// KeepAs is, for an existing copy target, a path (relative to Dir) where its content is kept,
// with its dates, before the copy replaces it: a two-way conflict's losing edit. "" when
// nothing is kept.
func (e *Endpoint) KeepAs() string {
	if e.Place == nil || e.kept == nil || !e.Exists() {
		return ""
	}
	return e.kept.as[e.Path()]
}

// SetKeepAs keeps the endpoint's content at as before a copy replaces it (KeepAs).
func (e *Endpoint) SetKeepAs(as string) { e.keep(e.Path(), as) }

// keep keeps the file at path at as before a copy replaces it.
func (p *Place) keep(path, as string) {
	if p.kept == nil {
		p.kept = &keptFiles{as: map[string]string{}}
	}
	p.kept.as[path] = as
}

// Bytes is the content this group writes: the source size per target for content copies.
func (g *Group) Bytes() int64 {
	if g.Op == OpCopy || g.Op == OpCopyContent {
		return g.Size() * int64(len(g.Targets))
	}
	return 0
}

// Plan is the whole synchronization, ready to run.
type Plan struct {
	Parts    []PartInfo
	Groups   []Group
	Rejected []Rejected
	// LeftAlone are the actions a do-nothing (a rule's or the user's) kept off its item: what the
	// user asked for, not a failure.
	LeftAlone []Rejected
	// Versions keeps what the run replaces or deletes; nil keeps nothing.
	Versions *Versions
}

// PartInfo describes a data part of the plan.
type PartInfo struct {
	Name  string
	Node  string
	Root  string
	Type  inventory.SourceType
	Files int  // files inventoried
	Empty bool // no entry at all
	// DirID is the directory the inventory listed (inventory.Part.DirID): the run checks that
	// it still finds that very directory at the part's folder before it reads or writes there.
	// Known on the part's own machine only; zero when not recorded.
	DirID inventory.DirID
}

// Dir is the folder the part's reads and writes are confined to: its root, or the folder
// holding a file data source.
func (p *PartInfo) Dir() string {
	if p.Type == inventory.SourceFile {
		return filepath.Dir(p.Root)
	}
	return p.Root
}

// Rejected is an action that will not run.
type Rejected struct {
	Op     string       `json:"op"`
	From   string       `json:"from,omitempty"`
	To     string       `json:"to,omitempty"`
	On     string       `json:"on,omitempty"`
	Path   string       `json:"path"`
	Reason rules.Reason `json:"reason"`
}

// Options shape planning.
type Options struct {
	// PreferDelta decides whether a content copy onto an existing target travels as a delta.
	// Nil means never (local copies: a delta still reads both files and writes the whole file).
	PreferDelta func(size int64, sourceNode, targetNode string) bool
	// Versions, when its Dir is set, keeps the files the run replaces or deletes
	// (Plan.Versions); Build stamps it with the time of the plan unless it has a stamp.
	Versions Versions
	// Directions adds copy directions to those of the rules, for the dates of directories (a
	// two-way run decided by its record has no rules).
	Directions []rules.Direction
	// Conflicts are the conflict copies of a two-way run decided by its record.
	Conflicts []ConflictCopy
	// Consume lets Local.Evaluate plan item by item (Evaluate), taking the comparison apart so
	// that the items it has planned can be freed before it ends: for a run that keeps only the
	// plan. Not with Conflicts, which need the whole evaluation.
	Consume bool
}

// Build groups the actions of an evaluation.
func Build(c *compare.Comparison, res *rules.Result, o Options) *Plan {
	n := 0
	for _, a := range res.Actions {
		if a.Op != rules.DoNothing {
			n++
		}
	}
	return BuildEach(c, res.Directions, res.Rejected, n, slices.Values(res.Actions), o)
}

// BuildEach groups the actions of an evaluation given one at a time, as rules.Evaluate lists
// them, n of them at most besides do-nothings: the copies of one item from one source come in a
// row. The plan's groups are made in one array of the size n gives, never copied.
func BuildEach(c *compare.Comparison, dirs []rules.Direction, rejected []rules.Rejection, n int, actions iter.Seq[rules.AtomicAction], o Options) *Plan {
	b := newBuilder(c, o, slices.Concat(dirs, o.Directions))
	b.room(n)
	for _, r := range rejected {
		b.reject(r)
	}
	for a := range actions {
		b.action(a)
	}
	return b.finish()
}

// Evaluate evaluates rules and targeted actions on the comparison's items one at a time and
// plans each item's actions as they come, letting every item go once planned: the plan that
// rules.Evaluate and Build make, without the whole evaluation ever held, nor every item beside
// the plan. The comparison cannot be used afterwards.
func Evaluate(c *compare.Comparison, rs []rules.Rule, targeted []rules.Targeted, o Options) (*Plan, error) {
	if len(o.Conflicts) > 0 {
		return nil, errors.New("plan: conflict copies need the whole evaluation (Build)")
	}
	s, err := rules.NewStream(c, rs, targeted)
	if err != nil {
		return nil, err
	}
	b := newBuilder(c, o, slices.Concat(s.Directions, o.Directions))
	items := c.Items
	// An item makes one group at most, unless it is deleted or created on several parts (the
	// array then grows). The array is made whole at the start, but its pages are only touched
	// as groups fill it, while the items planned are let go.
	b.room(len(items))
	c.Items = b.dirItems()
	yield := func(out rules.Outcome) {
		if out.Reason == "" {
			b.action(out.Action)
		} else {
			b.reject(rules.Rejection{AtomicAction: out.Action, Reason: out.Reason})
		}
	}
	for k, it := range items {
		items[k] = nil
		s.Item(it, yield)
	}
	s.End(yield)
	return b.finish(), nil
}

// builder makes a plan out of actions given in item order.
type builder struct {
	p      *Plan
	c      *compare.Comparison
	o      Options
	dirs   []rules.Direction
	places []*Place
	// merge holds the copies of the current item that later ones from the same source join.
	merge []mergeAt
}

// room makes the plan's array of groups with room for those of n actions besides do-nothings
// (an action makes a group at most), conflict copies and directories' dates: the groups are
// never copied to a larger array, unless more come.
func (b *builder) room(n int) {
	if room := n + len(b.o.Conflicts) + dirDatesRoom(b.c, b.dirs); room > 0 {
		b.p.Groups = make([]Group, 0, room)
	}
}

func (b *builder) add(g Group) int {
	b.p.Groups = append(b.p.Groups, g)
	return len(b.p.Groups) - 1
}

func (b *builder) group(i int) *Group { return &b.p.Groups[i] }

// newBuilder starts a plan.
func newBuilder(c *compare.Comparison, o Options, dirs []rules.Direction) *builder {
	p := &Plan{}
	for _, part := range c.Parts {
		files := 0
		for i := range part.Inv.Entries {
			if part.Inv.Entries[i].Kind == inventory.File {
				files++
			}
		}
		p.Parts = append(p.Parts, PartInfo{Name: part.Name, Node: part.Node, Root: part.Inv.Root, Type: part.Inv.Type,
			Files: files, Empty: len(part.Inv.Entries) == 0 && !part.Inv.Incomplete, DirID: part.Inv.DirID})
	}
	return &builder{p: p, c: c, o: o, dirs: dirs, places: placesOf(c)}
}

// dirItems are copies of the comparison's directory items, for their dates, when the plan
// dates directories: what a consumed comparison keeps.
func (b *builder) dirItems() []*compare.Item {
	if len(b.dirs) == 0 {
		return nil
	}
	var out []*compare.Item
	for _, it := range b.c.Items {
		if it.Kind == inventory.Dir {
			out = append(out, it.Detached())
		}
	}
	return out
}

func (b *builder) reject(r rules.Rejection) {
	if r.Reason == rules.BlockedByDoNothing {
		b.p.LeftAlone = append(b.p.LeftAlone, rejection(b.c, r))
	} else {
		b.p.Rejected = append(b.p.Rejected, rejection(b.c, r))
	}
}

// action plans a kept action; the copies of one item from one source share a group.
func (b *builder) action(a rules.AtomicAction) {
	if a.Op == rules.DoNothing {
		return
	}
	g := group(b.c, b.places, a, b.o)
	if g.Source == nil {
		b.add(g)
		return
	}
	if len(b.merge) > 0 && b.merge[0].item != a.Item {
		b.merge = b.merge[:0]
	}
	k := mergeKey{a.Item, a.Source, g.Op, g.Kind}
	if i := slices.IndexFunc(b.merge, func(m mergeAt) bool { return m.mergeKey == k }); i >= 0 {
		at := b.group(b.merge[i].group)
		at.Targets = append(at.Targets, g.Targets...)
		return
	}
	b.merge = append(b.merge, mergeAt{k, b.add(g)})
}

// finish adds conflict copies and directories' dates, orders the groups and lists what will not
// run.
func (b *builder) finish() *Plan {
	p, c, o := b.p, b.c, b.o
	b.merge = nil
	if o.Versions.Dir != "" {
		v := o.Versions
		if v.Stamp == "" {
			v.Stamp = Stamp(time.Now())
		}
		p.Versions = &v
	}
	p.addConflictCopies(c, b.places, o.Conflicts)
	p.dirDates(c, b.places, b.dirs, o.Versions.Dir)
	if len(p.Groups) == 0 {
		p.Groups = nil // made with room for actions that all did nothing
	}
	p.order()
	p.Rejected = append(p.Rejected, unreadable(c)...)
	byPath := func(a, b Rejected) int { return strings.Compare(a.Path, b.Path) }
	slices.SortStableFunc(p.Rejected, byPath)
	slices.SortStableFunc(p.LeftAlone, byPath)
	return p
}

// unreadable reports what the inventories could not read (a folder it could not list, a file it
// could not describe): the items there were left alone, and the run is not complete.
func unreadable(c *compare.Comparison) []Rejected {
	var out []Rejected
	for _, part := range c.Parts {
		for i := range part.Inv.Entries {
			if e := &part.Inv.Entries[i]; e.Inaccessible {
				out = append(out, Rejected{Op: "read", On: part.Name, Path: e.Path(), Reason: rules.NotReadable})
			}
		}
	}
	return out
}

func rejection(c *compare.Comparison, r rules.Rejection) Rejected {
	name := func(i int) string {
		if i < 0 {
			return ""
		}
		return c.Parts[i].Name
	}
	out := Rejected{Op: r.Op.String(), Path: r.Item.Path(), Reason: r.Reason}
	if r.Op.IsCopy() {
		out.From, out.To = name(r.Source), name(r.Target)
	} else {
		out.On = name(r.Target)
	}
	return out
}

// placesOf are the places of the comparison's parts, by index.
func placesOf(c *compare.Comparison) []*Place {
	out := make([]*Place, len(c.Parts))
	for i, part := range c.Parts {
		out[i] = &Place{Part: part.Name, Node: part.Node, Root: part.Inv.Root, Dir: part.Inv.Root, keys: &part.Inv.Keys}
		if part.Inv.Type == inventory.SourceFile {
			out[i].Dir = filepath.Dir(part.Inv.Root) // an OS path, as Root
		}
	}
	return out
}

// location places an item path on a part.
func location(places []*Place, part *compare.Part, itemPath string) Location {
	if part.Inv.Type == inventory.SourceFile {
		itemPath = "/" + filepath.Base(part.Inv.Root)
	}
	return At(places[part.Index], itemPath)
}

// locationOf places an item on a part, at the path of the entry named: the one found there or
// the source's.
func locationOf(places []*Place, part *compare.Part, named *inventory.Entry) Location {
	if part.Inv.Type == inventory.SourceFile && (named.Dir() != "" || named.Name() != filepath.Base(part.Inv.Root)) {
		return location(places, part, "")
	}
	return Location{Place: places[part.Index], at: named}
}

// Mtime is the endpoint's last write time, in UTC; zero when unknown.
func (e *Endpoint) Mtime() time.Time { return inventory.Time(e.ModTime()) }

// Btime is the endpoint's creation time, in UTC; zero when unknown.
func (e *Endpoint) Btime() time.Time { return inventory.Time(e.BirthTime()) }

// endpoint is the endpoint of an item on a part where e was found, or, e nil, where nothing
// was, at the path of the entry named.
func endpoint(places []*Place, part *compare.Part, e, named *inventory.Entry) Endpoint {
	if e != nil {
		named = e
	}
	return Endpoint{Location: locationOf(places, part, named), Entry: e}
}

// mergeKey joins the copies of one item from one source that can share a read.
type mergeKey struct {
	item   *compare.Item
	source int
	op     Op
	kind   Kind
}

// mergeAt is the group a mergeKey's copies go to.
type mergeAt struct {
	mergeKey
	group int
}

func group(c *compare.Comparison, places []*Place, a rules.AtomicAction, o Options) Group {
	it := a.Item
	target := c.Parts[a.Target]
	g := Group{RuleOp: a.Op, ItemKind: it.Kind, Targeted: a.Targeted()}
	switch a.Op {
	case rules.Create:
		g.Op, g.Phase = OpCreate, PhaseCreateDirs
		g.Targets = []Endpoint{{Location: location(places, target, it.Path())}}
		return g
	case rules.Delete:
		g.Op, g.Phase = OpDelete, PhaseDeleteFiles
		if it.Kind == inventory.Dir {
			g.Phase = PhaseDeleteDirs
		}
		for _, l := range it.On(a.Target) {
			g.Targets = append(g.Targets, endpoint(places, target, l.Entry, nil))
		}
		return g
	}
	// Copy family: one group per action; targets that already hold the source content and dates
	// are left out (flat matching may find the name at several paths).
	source := c.Parts[a.Source]
	se := it.Entry(a.Source)
	// The source and a first target share one allocation.
	pair := make([]Endpoint, 1, 2)
	pair[0] = endpoint(places, source, se, nil)
	g.Source, g.Targets, g.Phase = &pair[0], pair[1:1:2], PhaseCopy
	srcID := it.IdentityOn(a.Source)
	allSame := true
	for _, l := range it.On(a.Target) {
		sameContent := identityHolds(srcID, l)
		if sameContent && l.Entry.ModTime == se.ModTime && a.Op != rules.CopyContent {
			continue
		}
		allSame = allSame && sameContent
		g.Targets = append(g.Targets, endpoint(places, target, l.Entry, nil))
	}
	if len(g.Targets) == 0 {
		allSame = false
		g.Targets = append(g.Targets, endpoint(places, target, nil, se))
	}
	switch a.Op {
	case rules.CopyDates:
		g.Op = OpCopyDates
	case rules.CopyContent:
		g.Op = OpCopyContent
	default:
		g.Op = OpCopy
		if allSame {
			g.Op, g.DatesOnly = OpCopyDates, true
		}
	}
	if g.Op != OpCopyDates {
		g.Kind = Full
		if g.Targets[0].Exists() && o.PreferDelta != nil && o.PreferDelta(g.Size(), source.Node, target.Node) {
			g.Kind = Delta
		}
	}
	return g
}

func identityHolds(id *compare.Identity, l compare.Located) bool {
	for _, x := range id.Entries {
		if x == l {
			return true
		}
	}
	return false
}

// order sorts groups by phase: directory deletes deepest first, creates shallowest first, quiet
// directory dates after the listed ones, others by path; then numbers them.
func (p *Plan) order() {
	slices.SortStableFunc(p.Groups, func(a, b Group) int {
		if c := cmp.Compare(a.Phase, b.Phase); c != 0 {
			return c
		}
		if a.Quiet != b.Quiet {
			if a.Quiet {
				return 1
			}
			return -1
		}
		la, lb := a.Targets[0].Location, b.Targets[0].Location
		switch a.Phase {
		case PhaseDeleteDirs:
			if c := cmp.Compare(lb.Depth(), la.Depth()); c != 0 {
				return c
			}
		case PhaseCreateDirs:
			if c := cmp.Compare(la.Depth(), lb.Depth()); c != 0 {
				return c
			}
		}
		return comparePaths(la, lb)
	})
	for i := range p.Groups {
		p.Groups[i].Num = uint32(i + 1)
	}
}

// QuietGroups counts the quiet groups, which are no actions.
func (p *Plan) QuietGroups() int {
	n := 0
	for i := range p.Groups {
		if p.Groups[i].Quiet {
			n++
		}
	}
	return n
}

// Summary counts what a plan does.
type Summary struct {
	Actions int   `json:"actions"`
	Bytes   int64 `json:"bytes"`
}

// Summary counts one action per group target and the bytes content copies write; quiet groups
// are no actions.
func (p *Plan) Summary() Summary {
	var s Summary
	for i := range p.Groups {
		if p.Groups[i].Quiet {
			continue
		}
		s.Actions += len(p.Groups[i].Targets)
		s.Bytes += p.Groups[i].Bytes()
	}
	return s
}
