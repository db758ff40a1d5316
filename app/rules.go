package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// RulesState is the rules in force and what they make of the comparison.
type RulesState struct {
	Mode    string      `json:"mode"` // "" (none yet), a preset, or "custom"
	Text    string      `json:"text"` // the rules file, or the preset written as one
	Presets []string    `json:"presets"`
	Errors  []RuleError `json:"errors"`
	Groups  int         `json:"groups"` // action groups of the plan
}

// RuleError is a problem with the rules; Line is 1-based in Text, 0 when it has no line.
type RuleError struct {
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

// Rules is the service of the synchronization rules.
type Rules struct {
	c *core
}

// Get returns the rules state.
func (r *Rules) Get() RulesState {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.an.rulesState()
}

// UsePreset puts a preset in force: mirror, update or two-way, from the first part to the
// second.
func (r *Rules) UsePreset(mode string) (RulesState, error) {
	if !slices.Contains(rules.Presets, mode) {
		return RulesState{}, fmt.Errorf("unknown mode %q: %s", mode, strings.Join(rules.Presets, ", "))
	}
	return r.change(func(a *analysis, parts []string) {
		a.mode, a.custom, a.textErrs = mode, nil, nil
		a.settings = compare.DefaultSettings()
		a.text = presetText(mode, parts)
	})
}

// Save puts a rules file in force (docs/rules-format.md); an empty text removes every
// rule. A text that does not parse is kept for editing with its errors, and the rules before it
// stay in force. When the file's settings change what the inventory reads, the inventory runs
// again (inventory:progress, inventory:done).
func (r *Rules) Save(text string) (RulesState, error) {
	return r.change(func(a *analysis, _ []string) {
		a.text = text
		if strings.TrimSpace(text) == "" {
			a.mode, a.custom, a.textErrs, a.text = ModeNone, nil, nil, ""
			a.settings = compare.DefaultSettings()
			return
		}
		f, err := rules.Parse(strings.NewReader(text), nil)
		if err != nil {
			a.textErrs = []RuleError{locateRuleError(text, err)}
			return
		}
		a.mode, a.custom, a.inForce, a.textErrs = ModeCustom, f, text, nil
		a.settings = f.Settings
	})
}

// change applies fn, plans again and, when the settings ask for it, inventories again.
func (r *Rules) change(fn func(a *analysis, parts []string)) (RulesState, error) {
	c := r.c
	c.mu.Lock()
	if err := c.idleLocked(); err != nil {
		c.mu.Unlock()
		return RulesState{}, err
	}
	a := &c.an
	parts := []string{"A", "B"}
	if a.inv != nil {
		parts = a.inv.cmp.PartNames()
	} else if specs := c.specsLocked(); len(specs) >= 2 {
		parts = plan.PartNames(specs)
	}
	fn(a, parts)
	a.replan()
	rescan := a.needsInventory()
	st := a.rulesState()
	c.mu.Unlock()
	if rescan {
		if err := (&Inventory{c: c}).Start(); err != nil {
			return st, fmt.Errorf("the new settings need a new inventory, which could not start: %w", err)
		}
	}
	return st, nil
}

func (a *analysis) rulesState() RulesState {
	st := RulesState{Mode: a.mode, Text: a.text, Presets: slices.Clone(rules.Presets), Errors: []RuleError{}}
	st.Errors = append(append(st.Errors, a.textErrs...), a.planErrs...)
	if a.plan != nil {
		st.Groups = len(a.plan.Groups) - a.plan.QuietGroups()
	}
	return st
}

// The rules file as JSON, to write presets in the format the editor takes.
type (
	rulesFileJSON struct {
		Rules []ruleJSON `json:"rules"`
	}
	ruleJSON struct {
		AppliesTo  string          `json:"applies_to"`
		Match      string          `json:"match"`
		Conditions []conditionJSON `json:"conditions"`
		Actions    []actionJSON    `json:"actions"`
	}
	conditionJSON struct {
		Left     string  `json:"left,omitempty"`
		Property string  `json:"property"`
		Op       string  `json:"op"`
		Right    string  `json:"right,omitempty"`
		Value    *string `json:"value,omitempty"`
	}
	actionJSON struct {
		Op   string `json:"op"`
		From string `json:"from,omitempty"`
		To   string `json:"to,omitempty"`
		On   string `json:"on,omitempty"`
	}
)

// presetText writes a preset between two parts as a rules file.
func presetText(mode string, parts []string) string {
	a, b := "A", "B"
	if len(parts) >= 2 {
		a, b = parts[0], parts[1]
	}
	rs, err := rules.Preset(mode, a, b)
	if err != nil {
		return ""
	}
	return rulesText(rs)
}

// rulesText writes rules as a rules file.
func rulesText(rs []rules.Rule) string {
	f := rulesFileJSON{Rules: make([]ruleJSON, 0, len(rs))}
	for _, r := range rs {
		rj := ruleJSON{AppliesTo: "file", Match: "all", Conditions: []conditionJSON{}, Actions: []actionJSON{}}
		if r.AppliesTo == inventory.Dir {
			rj.AppliesTo = "directory"
		}
		if !r.MatchAll {
			rj.Match = "any"
		}
		for _, c := range r.Conditions {
			cj := conditionJSON{Left: c.Left, Property: c.Property.String(), Op: c.Op.String(), Right: c.Right}
			if c.Value != "" {
				v := c.Value
				cj.Value = &v
			}
			rj.Conditions = append(rj.Conditions, cj)
		}
		for _, a := range r.Actions {
			rj.Actions = append(rj.Actions, actionJSON{Op: a.Op.String(), From: a.From, To: a.To, On: a.On})
		}
		f.Rules = append(f.Rules, rj)
	}
	data, _ := json.MarshalIndent(f, "", "  ")
	return string(data) + "\n"
}

// locateRuleError turns a rules error into a message on its line of text.
func locateRuleError(text string, err error) RuleError {
	var re *rules.Error
	if !errors.As(err, &re) {
		return RuleError{Msg: err.Error()}
	}
	msg := strings.TrimPrefix(re.Error(), "rules file: ")
	if n, ok := strings.CutPrefix(re.Field, "line "); ok {
		line, _ := strconv.Atoi(n)
		return RuleError{Line: line, Msg: msg}
	}
	if text == "" {
		return RuleError{Msg: msg}
	}
	var path []any
	switch {
	case re.Rule >= 0:
		path = append([]any{"rules", re.Rule}, fieldPath(re.Field)...)
	case strings.HasPrefix(re.Field, "settings"):
		path = fieldPath(re.Field)
	}
	return RuleError{Line: lineAt(text, valueOffset(text, path)), Msg: msg}
}

// fieldPath splits "conditions[1].op" into "conditions", 1, "op".
func fieldPath(field string) []any {
	var path []any
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			path = append(path, name)
		}
		for rest != "" {
			n, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(n); err == nil {
				path = append(path, i)
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return path
}

// lineAt is the 1-based line of a byte offset.
func lineAt(text string, off int) int {
	return 1 + strings.Count(text[:min(max(off, 0), len(text))], "\n")
}

// valueOffset finds the byte offset of the JSON value at path (object keys and array indices)
// in text, or of the deepest value of the path that exists.
func valueOffset(text string, path []any) int {
	l := &jsonLocator{dec: json.NewDecoder(strings.NewReader(text)), text: text}
	return l.find(path)
}

type jsonLocator struct {
	dec  *json.Decoder
	text string
}

// start is where the next value begins.
func (l *jsonLocator) start() int {
	i := int(l.dec.InputOffset())
	for i < len(l.text) && strings.IndexByte(" \t\r\n,:", l.text[i]) >= 0 {
		i++
	}
	return i
}

// find reads the value at the decoder's position and descends along path.
func (l *jsonLocator) find(path []any) int {
	at := l.start()
	if len(path) == 0 {
		return at
	}
	tok, err := l.dec.Token()
	if err != nil {
		return at
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return at
	}
	switch d {
	case '{':
		key, ok := path[0].(string)
		if !ok {
			return at
		}
		for l.dec.More() {
			k, err := l.dec.Token()
			if err != nil {
				return at
			}
			if k == key {
				return l.find(path[1:])
			}
			var skip json.RawMessage
			if l.dec.Decode(&skip) != nil {
				return at
			}
		}
	case '[':
		idx, ok := path[0].(int)
		if !ok {
			return at
		}
		for i := 0; l.dec.More(); i++ {
			if i == idx {
				return l.find(path[1:])
			}
			var skip json.RawMessage
			if l.dec.Decode(&skip) != nil {
				return at
			}
		}
	}
	return at
}
