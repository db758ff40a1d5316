package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/profile"
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
	defaults := r.c.compareDefaults()
	return r.change(func(a *analysis, parts []string) {
		a.mode, a.custom, a.textErrs, a.from = mode, nil, nil, ""
		a.settings = defaults
		a.text = presetText(mode, parts)
	})
}

// Save puts a rules file in force (docs/rules-format.md); an empty text removes every
// rule. A text that does not parse is kept for editing with its errors, and the rules before it
// stay in force. When the file's settings change what the inventory reads, the inventory runs
// again (inventory:progress, inventory:done).
func (r *Rules) Save(text string) (RulesState, error) {
	defaults := r.c.compareDefaults()
	return r.change(func(a *analysis, _ []string) {
		a.text = text
		if strings.TrimSpace(text) == "" {
			a.mode, a.custom, a.textErrs, a.text = ModeNone, nil, nil, ""
			a.settings = defaults
			return
		}
		f, err := rules.Parse(strings.NewReader(text), nil)
		if err != nil {
			a.textErrs = []RuleError{locateRuleError(text, err)}
			return
		}
		a.mode, a.custom, a.inForce, a.textErrs = ModeCustom, f, text, nil
		a.settings = f.Settings
		if !f.SettingsSet["exclude_hidden"] {
			a.settings.ExcludeHidden = defaults.ExcludeHidden
		}
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

// forgetRules puts back the rules of a new session: none, with the settings s.
func (a *analysis) forgetRules(s compare.Settings) {
	a.mode, a.text, a.custom, a.inForce, a.textErrs = ModeNone, "", nil, "", nil
	a.settings = s
	a.safety = profile.Safety{}
	a.from = ""
}

func (a *analysis) rulesState() RulesState {
	st := RulesState{Mode: a.mode, Text: a.text, Presets: slices.Clone(rules.Presets), Errors: []RuleError{}}
	st.Errors = append(append(st.Errors, a.textErrs...), a.planErrs...)
	if a.plan != nil {
		st.Groups = len(a.plan.Groups) - a.plan.QuietGroups()
	}
	return st
}

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
	return rules.FileText(rs)
}

// locateRuleError turns a rules error into a message on its line of text.
func locateRuleError(text string, err error) RuleError {
	line, msg := rules.Locate(text, err)
	return RuleError{Line: line, Msg: msg}
}
