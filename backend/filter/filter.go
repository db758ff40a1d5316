// Package filter is the comparison's filter language: free text, on:/only:, is:, name and path
// patterns, part properties, has: checks and AND/OR/NOT. Parse compiles a text against the
// comparison's parts; Match tests an item without allocating.
package filter

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// Action is a planned action on an item as has:actions counts it.
type Action struct {
	Op       rules.Op
	Targeted bool // set by hand on the item; false for an action from a rule
}

// Env is what a filter reads besides the item. The zero value is usable: no actions, no
// synchronization errors, and the current time.
type Env struct {
	// Now anchors now-<n><unit>; literal dates are wall-clock times in its location. Zero means
	// time.Now() (local time), read once per Match or Select.
	Now time.Time
	// Actions returns the item's planned actions, valid and do-nothing ones. Match only reads the
	// slice: return slices built once (say a map per plan) and Match does not allocate.
	Actions func(*compare.Item) []Action
	// SyncError tells whether the item's synchronization failed.
	SyncError func(*compare.Item) bool
}

// Error is a malformed filter: what is wrong and the byte span [Pos, End) of the text at
// fault.
type Error struct {
	Pos, End int
	Msg      string
}

func (e *Error) Error() string { return fmt.Sprintf("%s at %d", e.Msg, e.Pos) }

// Filter is a compiled comparison filter, bound to the parts of one comparison (see Parse).
// It is immutable and safe for concurrent use. The language follows ByteSync's comparison-result
// filter; keywords, property names and matching ignore case, and adjacent terms are joined by AND:
//
//	filter   = [ or ]
//	or       = and { ("OR" | "||") and }
//	and      = unary { [ "AND" | "&&" ] unary }      AND binds tighter than OR
//	unary    = ("NOT" | "!") unary | "(" or ")" | term
//	term     = value                                 free text: a substring of the item's name
//	         | ("on" | "only") ":" part              present there (and nowhere else)
//	         | "is:" ("file" | "dir" | "directory")
//	         | "has:" ("access-issue" | "computation-error" | "sync-error")
//	         | "has:actions" { "." selector } [ cmp count ]          count > 0 by default
//	         | "name:" value | "path:" value         substring of the name, prefix of the path
//	         | ("name" | "path") ("==" | "=" | "!=" | "<>" | "=~") value
//	         | part "." prop cmp (literal | part "." (prop | "_"))   "_": the same property
//	selector = "targeted" | "rules" | "copy" | "copy-content" | "copy-dates" | "create" | "delete"
//	         | "do-nothing"                         copy-content counts copy too
//	prop     = "content" | "content-and-date" | "size" | "last-write-time" | "date"
//	cmp      = "==" | "=" | "!=" | "<>" | ">" | "<" | ">=" | "<="
//	value    = word | "double-quoted string"         \" and \\ are the only escapes
//
// A word runs up to white space, a parenthesis, a double quote, = < > or one of != && ||; quote
// values holding those or a colon after letters (a keyword), and the words AND, OR, NOT. In name
// and path values '*' is a wildcard, and == and != then match the whole value. Paths are compared
// without their leading "/" ("path:docs" is "/docs…"), with \ read as /; =~ takes a Go regular
// expression matched anywhere in the name or the path as shown ("/docs/a.txt"). Content and
// content-and-date take == and != only; a content literal is the start of a content key in hex.
// Sizes take a unit (512, 100kb, 1.5MB: powers of 1024). Dates are yyyy-MM-dd,
// yyyy-MM-dd-HH-mm-ss, yyyy-MM-ddTHH:mm or now-<n><m|h|d|w|M|y> (minutes, hours, days and weeks
// of 24 h, calendar months, years); a day, minute or second stands for all of it, so
// "date == 2024-01-31" is that whole day and "date > 2024-01-31" starts the next day.
//
// Property comparisons hold for files only. Each side holds the values of the item's files on its
// part (several in flat matching) and the comparison holds when one pair of values does; when
// both sides are empty only == holds, when one is only != does. A file that could not be seen or
// whose content is unknown (analysis error, key not computed for a content literal) makes every
// comparison on its part false, as rule conditions do.
type Filter struct {
	root  filterNode // nil matches every item
	dated bool       // reads the time
}

// Match reports whether the item passes the filter; an empty filter passes every item.
func (f *Filter) Match(it *compare.Item, env Env) bool {
	if f == nil || f.root == nil {
		return true
	}
	if f.dated && env.Now.IsZero() {
		env.Now = time.Now()
	}
	return f.root.match(it, env)
}

// Select returns the items that pass the filter, in order.
func (f *Filter) Select(items []*compare.Item, env Env) []*compare.Item {
	if f != nil && f.dated && env.Now.IsZero() {
		env.Now = time.Now()
	}
	var out []*compare.Item
	for _, it := range items {
		if f.Match(it, env) {
			out = append(out, it)
		}
	}
	return out
}

// String renders the filter fully parenthesized, with part names resolved.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	return f.root.String()
}

// filterNode is one compiled term. Env goes by value: a pointer through an interface call
// would escape and cost an allocation per Match.
type filterNode interface {
	match(it *compare.Item, env Env) bool
	String() string
}

type andNode struct{ kids []filterNode }

func (n *andNode) match(it *compare.Item, env Env) bool {
	for _, k := range n.kids {
		if !k.match(it, env) {
			return false
		}
	}
	return true
}

func (n *andNode) String() string { return joinNodes(n.kids, " AND ") }

type orNode struct{ kids []filterNode }

func (n *orNode) match(it *compare.Item, env Env) bool {
	for _, k := range n.kids {
		if k.match(it, env) {
			return true
		}
	}
	return false
}

func (n *orNode) String() string { return joinNodes(n.kids, " OR ") }

func joinNodes(kids []filterNode, sep string) string {
	s := make([]string, len(kids))
	for i, k := range kids {
		s[i] = k.String()
	}
	return "(" + strings.Join(s, sep) + ")"
}

type notNode struct{ kid filterNode }

func (n *notNode) match(it *compare.Item, env Env) bool { return !n.kid.match(it, env) }
func (n *notNode) String() string                       { return "NOT " + n.kid.String() }

// filterOp is a comparison operator.
type filterOp uint8

const (
	opEq filterOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opRe // =~, name and path only
)

func (o filterOp) String() string {
	switch o {
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opLt:
		return "<"
	case opLe:
		return "<="
	case opGt:
		return ">"
	case opGe:
		return ">="
	case opRe:
		return "=~"
	}
	return "?"
}

func filterCompareInts(op filterOp, a, b int64) bool {
	switch op {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	}
	return false
}

// fieldNode matches the item's name or path: text terms, name… and path….
type fieldNode struct {
	path bool           // the item's path rather than its name
	neg  bool           // !=
	re   *regexp.Regexp // =~; otherwise g
	g    filterGlob
	desc string
}

func (n *fieldNode) match(it *compare.Item, _ Env) bool {
	switch {
	case n.re != nil && n.path:
		return n.re.MatchString(it.Path())
	case n.re != nil:
		return n.re.MatchString(it.Name())
	case !n.path:
		return n.g.match(it.Name()) != n.neg
	}
	var buf [256]byte // the path, matched and never kept
	p := it.AppendPath(buf[:0])
	s := strings.TrimLeft(unsafe.String(unsafe.SliceData(p), len(p)), "/") // "/a/b" in tree mode, "b" in flat mode
	return n.g.match(s) != n.neg
}

func (n *fieldNode) String() string { return n.desc }

// presenceNode is on:X (an entry or a placeholder on X) and only:X (and on no other part).
type presenceNode struct {
	only bool
	in   []bool // by part index
	desc string
}

func (n *presenceNode) match(it *compare.Item, _ Env) bool {
	on := false
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part >= 0 && l.Part < len(n.in) && n.in[l.Part] {
				on = true
				if !n.only {
					return true
				}
			} else if n.only {
				return false
			}
		}
	}
	return on
}

func (n *presenceNode) String() string { return n.desc }

type kindNode struct{ kind inventory.Kind }

func (n *kindNode) match(it *compare.Item, _ Env) bool { return it.Kind == n.kind }

func (n *kindNode) String() string {
	if n.kind == inventory.Dir {
		return "is:dir"
	}
	return "is:file"
}

type filterHas uint8

const (
	hasAccessIssue filterHas = iota + 1
	hasComputationError
	hasSyncError
)

type hasNode struct{ what filterHas }

func (n *hasNode) match(it *compare.Item, env Env) bool {
	switch n.what {
	case hasAccessIssue:
		for _, id := range it.Identities {
			if id.AccessIssue() {
				return true
			}
		}
	case hasComputationError:
		for _, id := range it.Identities {
			if id.AnalysisError() {
				return true
			}
		}
	case hasSyncError:
		return env.SyncError != nil && env.SyncError(it)
	}
	return false
}

func (n *hasNode) String() string {
	return "has:" + [...]string{hasAccessIssue: "access-issue", hasComputationError: "computation-error", hasSyncError: "sync-error"}[n.what]
}

type filterOrigin uint8

const (
	anyOrigin filterOrigin = iota
	targetedOnly
	rulesOnly
)

// actionsNode counts the item's planned actions of an origin and an operator.
type actionsNode struct {
	origin filterOrigin
	op     rules.Op // 0: any; rules.CopyContent also counts rules.Copy
	cmp    filterOp
	n      int64
	desc   string
}

func (n *actionsNode) match(it *compare.Item, env Env) bool {
	count := int64(0)
	if env.Actions != nil {
		for _, a := range env.Actions(it) {
			if n.origin == targetedOnly && !a.Targeted || n.origin == rulesOnly && a.Targeted {
				continue
			}
			if n.op != 0 && a.Op != n.op && !(n.op == rules.CopyContent && a.Op == rules.Copy) {
				continue
			}
			count++
		}
	}
	return filterCompareInts(n.cmp, count, n.n)
}

func (n *actionsNode) String() string { return n.desc }

type filterProp uint8

const (
	propContent filterProp = iota + 1
	propContentAndDate
	propSize
	propDate
)

// filterProperty reads a property name; "date" is short for "last-write-time".
func filterProperty(s string) (filterProp, bool) {
	switch strings.ToLower(s) {
	case "content":
		return propContent, true
	case "content-and-date":
		return propContentAndDate, true
	case "size":
		return propSize, true
	case "last-write-time", "date":
		return propDate, true
	}
	return 0, false
}

func (p filterProp) String() string {
	return [...]string{propContent: "content", propContentAndDate: "content-and-date", propSize: "size", propDate: "last-write-time"}[p]
}

// propNode compares a property of the item's files on a part with another part's or a literal,
// as the Filter documentation says.
type propNode struct {
	prop  filterProp
	op    filterOp
	left  int
	right int // part index, or -1 for a literal
	size  int64
	date  filterDate
	hex   []byte // content literal: lower-case prefix of the content key in hex
	desc  string
	parts []*compare.Part
}

// key is the content key of a located file.
func (n *propNode) key(l compare.Located) inventory.ContentKey {
	return n.parts[l.Part].Inv.Keys.Of(l.Entry)
}

func (n *propNode) match(it *compare.Item, env Env) bool {
	if it.Kind != inventory.File {
		return false
	}
	nl, ok := n.count(it, n.left)
	if !ok {
		return false
	}
	if n.right < 0 {
		if nl == 0 {
			return n.op == opNe
		}
		return n.literal(it, env)
	}
	nr, ok := n.count(it, n.right)
	switch {
	case !ok:
		return false
	case nl == 0 && nr == 0:
		return n.op == opEq
	case nl == 0 || nr == 0:
		return n.op == opNe
	}
	for i := range it.Identities {
		li := &it.Identities[i]
		for _, l := range li.Entries {
			if l.Part != n.left {
				continue
			}
			for j := range it.Identities {
				ri := &it.Identities[j]
				for _, r := range ri.Entries {
					if r.Part == n.right && n.pair(li, l.Entry, ri, r.Entry) {
						return true
					}
				}
			}
		}
	}
	return false
}

// count counts the item's files on a part; ok is false when one of them cannot be known.
func (n *propNode) count(it *compare.Item, part int) (count int, ok bool) {
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part != part {
				continue
			}
			if l.Entry == nil || l.Entry.Inaccessible {
				return 0, false
			}
			if n.prop == propContent || n.prop == propContentAndDate {
				if id.AnalysisError() || id.AccessIssue() || n.right < 0 && n.key(l).IsZero() {
					return 0, false
				}
			}
			count++
		}
	}
	return count, true
}

// pair compares two files' values. Identities are shared within an item: same pointer, same
// content.
func (n *propNode) pair(li *compare.Identity, le *inventory.Entry, ri *compare.Identity, re *inventory.Entry) bool {
	switch n.prop {
	case propContent:
		return (li == ri) == (n.op == opEq)
	case propContentAndDate:
		return (li == ri && le.ModTime == re.ModTime) == (n.op == opEq)
	case propSize:
		return filterCompareInts(n.op, le.Size, re.Size)
	case propDate:
		return filterCompareInts(n.op, int64(le.Mtime().Compare(re.Mtime())), 0)
	}
	return false
}

// literal compares the item's files on the left part with the literal.
func (n *propNode) literal(it *compare.Item, env Env) bool {
	var start, end time.Time
	if n.prop == propDate {
		start, end = n.date.bounds(env.Now)
	}
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Part != n.left {
				continue
			}
			var ok bool
			switch n.prop {
			case propSize:
				ok = filterCompareInts(n.op, l.Entry.Size, n.size)
			case propDate:
				ok = filterInInterval(n.op, l.Entry.Mtime(), start, end)
			case propContent:
				var buf [2 * len(inventory.ContentKey{})]byte
				key := n.key(l)
				hex.Encode(buf[:], key[:])
				same := string(buf[:len(n.hex)]) == string(n.hex)
				ok = same == (n.op == opEq)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// filterInInterval compares t with a literal date standing for [start, end).
func filterInInterval(op filterOp, t, start, end time.Time) bool {
	switch op {
	case opEq:
		return !t.Before(start) && t.Before(end)
	case opNe:
		return t.Before(start) || !t.Before(end)
	case opLt:
		return t.Before(start)
	case opLe:
		return t.Before(end)
	case opGt:
		return !t.Before(end)
	case opGe:
		return !t.Before(start)
	}
	return false
}

func (n *propNode) String() string { return n.desc }

// filterDate is an absolute wall-clock date to the day, minute or second, or now minus an amount.
type filterDate struct {
	relative bool
	n        int  // relative amount
	unit     byte // m h d w M y
	y, d     int
	mo       time.Month
	h, mi, s int
	prec     byte // 'd', 'm' or 's'
}

// bounds returns the interval [start, end) the literal stands for; a relative date is an instant.
func (d filterDate) bounds(now time.Time) (start, end time.Time) {
	if d.relative {
		switch d.unit {
		case 'm':
			start = now.Add(-time.Duration(d.n) * time.Minute)
		case 'h':
			start = now.Add(-time.Duration(d.n) * time.Hour)
		case 'd': // days and weeks of 24 h, as find -mtime
			start = now.Add(-time.Duration(d.n) * 24 * time.Hour)
		case 'w':
			start = now.Add(-time.Duration(d.n) * 7 * 24 * time.Hour)
		case 'M':
			start = now.AddDate(0, -d.n, 0)
		case 'y':
			start = now.AddDate(-d.n, 0, 0)
		default:
			start = now
		}
		return start, start.Add(time.Nanosecond)
	}
	loc := now.Location()
	start = time.Date(d.y, d.mo, d.d, d.h, d.mi, d.s, 0, loc)
	switch d.prec {
	case 'd':
		end = time.Date(d.y, d.mo, d.d+1, 0, 0, 0, 0, loc)
	case 'm':
		end = time.Date(d.y, d.mo, d.d, d.h, d.mi+1, 0, 0, loc)
	default:
		end = time.Date(d.y, d.mo, d.d, d.h, d.mi, d.s+1, 0, loc)
	}
	return start, end
}

// filterQuote writes a value so that the lexer reads it back as one word or string.
func filterQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-*/", r) {
			plain = false
			break
		}
	}
	if plain && !strings.EqualFold(s, "and") && !strings.EqualFold(s, "or") && !strings.EqualFold(s, "not") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
