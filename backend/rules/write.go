package rules

import (
	"encoding/json"

	"github.com/ferrysync/ferry/backend/inventory"
)

// FileText writes rules as a rules file (no settings), as Parse reads it: how a preset is shown
// for editing.
func FileText(rs []Rule) string {
	raw := func(v any) json.RawMessage {
		data, _ := json.Marshal(v)
		return data
	}
	f := fileJSON{Rules: make([]json.RawMessage, 0, len(rs))}
	for _, r := range rs {
		rj := ruleJSON{AppliesTo: "file", Match: "all", Conditions: []json.RawMessage{}, Actions: []json.RawMessage{}}
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
			rj.Conditions = append(rj.Conditions, raw(cj))
		}
		for _, a := range r.Actions {
			rj.Actions = append(rj.Actions, raw(actionJSON{Op: a.Op.String(), From: a.From, To: a.To, On: a.On}))
		}
		f.Rules = append(f.Rules, raw(rj))
	}
	data, _ := json.MarshalIndent(f, "", "  ")
	return string(data) + "\n"
}
