// Package rules holds synchronization rules and targeted actions, the rules file format, the
// presets, and the checks that turn them into valid atomic actions on comparison items.
package rules

import (
	"fmt"
	"regexp"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// Property is what a condition compares.
type Property uint8

const (
	Content Property = iota + 1
	Date
	Size
	Presence
	Name
)

// CondOp is a condition operator.
type CondOp uint8

const (
	Eq CondOp = iota + 1
	Ne
	Newer
	Older
	Bigger
	Smaller
	On
	NotOn
)

// Op is an action operator.
type Op uint8

const (
	Copy        Op = iota + 1 // content and dates
	CopyContent               // content only; target dates become now
	CopyDates                 // creation and last write times only
	Create                    // a directory
	Delete
	DoNothing
)

var (
	propertyNames = map[string]Property{"content": Content, "date": Date, "size": Size, "presence": Presence, "name": Name}
	condOpNames   = map[string]CondOp{"==": Eq, "!=": Ne, "newer": Newer, "older": Older, "bigger": Bigger, "smaller": Smaller, "on": On, "not-on": NotOn}
	opNames       = map[string]Op{"copy": Copy, "copy-content": CopyContent, "copy-dates": CopyDates, "create": Create, "delete": Delete, "do-nothing": DoNothing}
)

func nameOf[T comparable](m map[string]T, v T) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return "?"
}

func (p Property) String() string { return nameOf(propertyNames, p) }
func (o CondOp) String() string   { return nameOf(condOpNames, o) }
func (o Op) String() string       { return nameOf(opNames, o) }

// ParseOp reads an action operator name.
func ParseOp(s string) (Op, bool) { o, ok := opNames[s]; return o, ok }

// IsCopy tells the operators that read a source file.
func (o Op) IsCopy() bool { return o == Copy || o == CopyContent || o == CopyDates }

// Condition compares a property of the left part with the right part or a literal value.
type Condition struct {
	Left     string // part name; empty for name conditions
	Property Property
	Op       CondOp
	Right    string // part name, or empty when Value is set
	Value    string // literal as written

	date    time.Time // parsed literal date, minute precision, UTC
	size    int64     // parsed literal size in bytes
	pattern *regexp.Regexp
}

// Action is an operator with its parts.
type Action struct {
	Op   Op
	From string // copy family
	To   string // copy family
	On   string // create and delete
}

// Rule applies its actions to the items of its kind whose conditions match.
type Rule struct {
	AppliesTo  inventory.Kind
	MatchAll   bool
	Conditions []Condition
	Actions    []Action
}

func (a Action) String() string {
	switch {
	case a.Op.IsCopy():
		return fmt.Sprintf("%s %s→%s", a.Op, a.From, a.To)
	case a.Op == DoNothing:
		return a.Op.String()
	}
	return fmt.Sprintf("%s on %s", a.Op, a.On)
}
