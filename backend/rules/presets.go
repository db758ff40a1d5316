package rules

import (
	"fmt"
	"strings"

	"github.com/ferrysync/ferry/backend/inventory"
)

// The presets: synchronization modes a user can pick instead of writing rules.
const (
	PresetMirror = "mirror"
	PresetUpdate = "update"
	// PresetTwoWay is decided by the record of the last run once there is one (package twoway).
	PresetTwoWay = "two-way"
)

// Presets are the synchronization modes a user can pick instead of writing rules.
var Presets = []string{PresetMirror, PresetUpdate, PresetTwoWay}

// Preset expands a mode into rules from part a to part b.
func Preset(mode, a, b string) ([]Rule, error) {
	presence := func(l string, op CondOp, r string) Condition {
		return Condition{Left: l, Property: Presence, Op: op, Right: r}
	}
	cond := func(l string, p Property, op CondOp, r string) Condition {
		return Condition{Left: l, Property: p, Op: op, Right: r}
	}
	file := func(conds []Condition, acts ...Action) Rule {
		return Rule{AppliesTo: inventory.File, MatchAll: true, Conditions: conds, Actions: acts}
	}
	dir := func(conds []Condition, acts ...Action) Rule {
		return Rule{AppliesTo: inventory.Dir, MatchAll: true, Conditions: conds, Actions: acts}
	}
	copyTo := func(from, to string) Action { return Action{Op: Copy, From: from, To: to} }
	switch mode {
	case "mirror":
		return []Rule{
			file([]Condition{presence(a, NotOn, b)}, copyTo(a, b)),
			file([]Condition{presence(a, On, b), cond(a, Content, Ne, b)}, copyTo(a, b)),
			file([]Condition{presence(a, On, b), cond(a, Date, Ne, b)}, copyTo(a, b)),
			file([]Condition{presence(b, NotOn, a)}, Action{Op: Delete, On: b}),
			dir([]Condition{presence(a, NotOn, b)}, Action{Op: Create, On: b}),
			dir([]Condition{presence(b, NotOn, a)}, Action{Op: Delete, On: b}),
		}, nil
	case "update":
		return []Rule{
			file([]Condition{cond(a, Date, Newer, b)}, copyTo(a, b)),
			dir([]Condition{presence(a, NotOn, b)}, Action{Op: Create, On: b}),
		}, nil
	case "two-way":
		return []Rule{
			file([]Condition{cond(a, Date, Newer, b)}, copyTo(a, b)),
			file([]Condition{cond(b, Date, Newer, a)}, copyTo(b, a)),
			dir([]Condition{presence(a, NotOn, b)}, Action{Op: Create, On: b}),
			dir([]Condition{presence(b, NotOn, a)}, Action{Op: Create, On: a}),
		}, nil
	}
	return nil, fmt.Errorf("unknown mode %q (one of %v)", mode, Presets)
}

// PresetAcross expands a preset over several parts: from part first to every other part, or
// between every two parts for two-way. Each part must be a whole node (A, B, not A1, A2).
func PresetAcross(mode, first string, parts []string) ([]Rule, error) {
	for _, p := range parts {
		if last := p[len(p)-1]; last >= '0' && last <= '9' {
			return nil, fmt.Errorf("a preset needs nodes with one data source each (parts %s); use a rules file", strings.Join(parts, ", "))
		}
	}
	from := -1
	for i, p := range parts {
		if p == first {
			from = i
		}
	}
	if from < 0 {
		return nil, fmt.Errorf("no part %s among %s", first, strings.Join(parts, ", "))
	}
	var out []Rule
	add := func(a, b string) error {
		rs, err := Preset(mode, a, b)
		out = append(out, rs...)
		return err
	}
	for i, a := range parts {
		for _, b := range parts[i+1:] {
			var err error
			switch {
			case mode == PresetTwoWay:
				err = add(a, b)
			case a == first:
				err = add(a, b)
			case b == first:
				err = add(b, a)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
