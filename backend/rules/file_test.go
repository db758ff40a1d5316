package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// specExample is an example rules file in the format of docs/rules-format.md.
const specExample = `{
  "settings": {
    "data_type": "files-directories",
    "matching": "tree",
    "case": "insensitive",
    "analysis": "smart",
    "exclude_hidden": true,
    "exclude_system": true
  },
  "rules": [
    {
      "applies_to": "file",
      "match": "all",
      "conditions": [
        {"left": "A", "property": "content", "op": "!=", "right": "B"},
        {"left": "A", "property": "date", "op": "newer", "right": "B"}
      ],
      "actions": [
        {"op": "copy", "from": "A", "to": "B"}
      ]
    }
  ]
}`

func parse(s string) (*File, error) { return Parse(strings.NewReader(s), time.UTC) }

func TestParseSpecExample(t *testing.T) {
	f, err := parse(specExample)
	if err != nil {
		t.Fatal(err)
	}
	if f.Settings != compare.DefaultSettings() {
		t.Errorf("settings %+v, want the defaults", f.Settings)
	}
	for _, k := range []string{"data_type", "matching", "case", "analysis", "exclude_hidden", "exclude_system"} {
		if !f.SettingsSet[k] {
			t.Errorf("setting %s not recorded as set", k)
		}
	}
	if len(f.Rules) != 1 {
		t.Fatalf("%d rules", len(f.Rules))
	}
	r := f.Rules[0]
	if r.AppliesTo != inventory.File || !r.MatchAll {
		t.Errorf("rule %+v", r)
	}
	type cond struct {
		left       string
		prop       Property
		op         CondOp
		right, val string
	}
	want := []cond{{"A", Content, Ne, "B", ""}, {"A", Date, Newer, "B", ""}}
	if len(r.Conditions) != len(want) {
		t.Fatalf("conditions %+v", r.Conditions)
	}
	for i, c := range r.Conditions {
		if got := (cond{c.Left, c.Property, c.Op, c.Right, c.Value}); got != want[i] {
			t.Errorf("condition %d: %+v, want %+v", i, got, want[i])
		}
	}
	if len(r.Actions) != 1 || r.Actions[0] != (Action{Op: Copy, From: "A", To: "B"}) {
		t.Errorf("actions %+v", r.Actions)
	}
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		json string
		want func(*compare.Settings)
		set  []string
	}{
		{`{}`, nil, nil},
		{`{"settings": null}`, nil, nil},
		{`{"settings": {"data_type": "files"}}`, func(s *compare.Settings) { s.DataType = compare.Files }, []string{"data_type"}},
		{`{"settings": {"data_type": "directories", "matching": "flat"}}`, func(s *compare.Settings) {
			s.DataType, s.Matching = compare.Directories, compare.Flat
		}, []string{"data_type", "matching"}},
		{`{"settings": {"case": "sensitive", "analysis": "checksum"}}`, func(s *compare.Settings) {
			s.CaseSensitive, s.Analysis = true, compare.Checksum
		}, []string{"case", "analysis"}},
		{`{"settings": {"exclude_hidden": false, "exclude_system": false}}`, func(s *compare.Settings) {
			s.ExcludeHidden, s.ExcludeSystem = false, false
		}, []string{"exclude_hidden", "exclude_system"}},
	}
	for _, tt := range tests {
		f, err := parse(tt.json)
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		want := compare.DefaultSettings()
		if tt.want != nil {
			tt.want(&want)
		}
		if f.Settings != want {
			t.Errorf("%s: settings %+v, want %+v", tt.json, f.Settings, want)
		}
		if len(f.SettingsSet) != len(tt.set) {
			t.Errorf("%s: set %v, want %v", tt.json, f.SettingsSet, tt.set)
		}
		for _, k := range tt.set {
			if !f.SettingsSet[k] {
				t.Errorf("%s: %s not recorded as set", tt.json, k)
			}
		}
	}
}

func TestParseSafety(t *testing.T) {
	for in, want := range map[string]Safety{
		`{}`:                                  {},
		`{"settings": {"max_delete": 25}}`:    {MaxDelete: DeleteLimit{Count: 25, IsCount: true, Set: true}},
		`{"settings": {"max_delete": "25"}}`:  {MaxDelete: DeleteLimit{Count: 25, IsCount: true, Set: true}},
		`{"settings": {"max_delete": "10%"}}`: {MaxDelete: DeleteLimit{Percent: 10, Set: true}},
		`{"settings": {"versions": ".versions", "versions_keep": 30}}`: {Versions: ".versions", VersionsKeep: 30},
		`{"settings": {"versions": "backup/old"}}`:                     {Versions: "backup/old"},
	} {
		f, err := parse(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if f.Safety != want {
			t.Errorf("%s: safety %+v, want %+v", in, f.Safety, want)
		}
		if f.Settings != compare.DefaultSettings() {
			t.Errorf("%s: comparison settings changed: %+v", in, f.Settings)
		}
	}
	for in, field := range map[string]string{
		`{"settings": {"max_delete": "lots"}}`:     "settings.max_delete",
		`{"settings": {"max_delete": -1}}`:         "settings.max_delete",
		`{"settings": {"max_delete": true}}`:       "settings.max_delete",
		`{"settings": {"max_delete": "150%"}}`:     "settings.max_delete",
		`{"settings": {"versions": "../outside"}}`: "settings.versions",
		`{"settings": {"versions": "/abs"}}`:       "settings.versions",
		`{"settings": {"versions": "a/../b"}}`:     "settings.versions",
		`{"settings": {"versions": ""}}`:           "settings.versions",
		`{"settings": {"versions_keep": -3}}`:      "settings.versions_keep",
	} {
		_, err := parse(in)
		var e *Error
		if !errors.As(err, &e) || e.Field != field {
			t.Errorf("%s: %v, want an error on %s", in, err, field)
		}
	}
}

// fileRule wraps conditions and actions into a file rule of a rules file.
func fileRule(conds, acts string) string {
	return fmt.Sprintf(`{"applies_to": "file", "conditions": [%s], "actions": [%s]}`, conds, acts)
}

func dirRule(conds, acts string) string {
	return fmt.Sprintf(`{"applies_to": "directory", "conditions": [%s], "actions": [%s]}`, conds, acts)
}

func rulesFile(rules ...string) string {
	return fmt.Sprintf(`{"rules": [%s]}`, strings.Join(rules, ",\n"))
}

const (
	okCond = `{"left": "A", "property": "presence", "op": "not-on", "right": "B"}`
	okCopy = `{"op": "copy", "from": "A", "to": "B"}`
)

func TestParseErrors(t *testing.T) {
	cond := func(c string) string { return rulesFile(fileRule(c, okCopy)) }
	act := func(a string) string { return rulesFile(fileRule(okCond, a)) }
	tests := []struct {
		name   string
		json   string
		rule   int
		field  string
		reason string
	}{
		{"malformed JSON names the line", "{\n  \"rules\": [\n    {\"applies_to\": \"file\",,}\n  ]\n}", -1, "line 3", "invalid character"},
		{"empty file", ``, -1, "file", "empty or truncated"},
		{"truncated file", `{"rules": [`, -1, "file", "empty or truncated"},
		{"not an object", `[]`, -1, "file", "expected"},
		{"unknown top-level field", `{"rulez": []}`, -1, "rulez", "unknown field"},
		{"rules of the wrong type", `{"rules": {}}`, -1, "rules", "expected"},
		{"trailing data", `{"rules": []} {"rules": []}`, -1, "file", "unexpected data"},
		{"trailing brace", `{"rules": []}}`, -1, "file", "unexpected data"},
		{"trailing bracket", `{"rules": []}]`, -1, "file", "unexpected data"},
		{"oversize", `{"rules": [], "x": "` + strings.Repeat("x", MaxFileSize) + `"}`, -1, "file", "larger than"},
		{"unknown settings field", `{"settings": {"colour": "red"}}`, -1, "settings.colour", "unknown field"},
		{"bad data_type", `{"settings": {"data_type": "everything"}}`, -1, "settings.data_type", `unknown value "everything"`},
		{"bad matching", `{"settings": {"matching": "name"}}`, -1, "settings.matching", `unknown value "name"`},
		{"bad case", `{"settings": {"case": "upper"}}`, -1, "settings.case", `unknown value "upper"`},
		{"bad analysis", `{"settings": {"analysis": "fast"}}`, -1, "settings.analysis", `unknown value "fast"`},
		{"setting of the wrong type", `{"settings": {"exclude_hidden": "yes"}}`, -1, "settings.exclude_hidden", "expected bool"},
		{"unknown field in a rule", rulesFile(fileRule(okCond, okCopy), `{"applies_to": "file", "colour": 1}`), 1, "colour", "unknown field"},
		{"rule field of the wrong type", rulesFile(fileRule(okCond, okCopy), `{"applies_to": 1}`), 1, "applies_to", "expected string"},
		{"rule is not an object", rulesFile(`3`), 0, "rule", "expected"},
		{"missing applies_to", rulesFile(`{"actions": [{"op": "do-nothing"}]}`), 0, "applies_to", "missing"},
		{"unknown applies_to", rulesFile(`{"applies_to": "folder", "actions": [{"op": "do-nothing"}]}`), 0, "applies_to", `unknown value "folder"`},
		{"unknown match", rulesFile(`{"applies_to": "file", "match": "most", "actions": [{"op": "do-nothing"}]}`), 0, "match", `unknown value "most"`},
		{"rule without actions", rulesFile(fileRule(okCond, "")), 0, "actions", "at least one action"},
		{"error in a later rule", rulesFile(fileRule(okCond, okCopy), fileRule(okCond, okCopy), fileRule(okCond, `{"op": "move"}`)), 2, "actions[0].op", `unknown action "move"`},
		{"unknown condition field", cond(`{"lft": "A", "property": "presence", "op": "on", "right": "B"}`), 0, "conditions[0].lft", "unknown field"},
		{"condition of the wrong type", cond(`{"left": "A", "property": "size", "op": "==", "value": 10}`), 0, "conditions[0].value", "expected string"},
		{"unknown property", cond(`{"left": "A", "property": "colour", "op": "==", "right": "B"}`), 0, "conditions[0].property", `unknown property "colour"`},
		{"unknown operator", cond(`{"left": "A", "property": "size", "op": "~=", "right": "B"}`), 0, "conditions[0].op", `"~=" is not an operator of size`},
		{"content newer", cond(`{"left": "A", "property": "content", "op": "newer", "right": "B"}`), 0, "conditions[0].op", `"newer" is not an operator of content`},
		{"presence ==", cond(`{"left": "A", "property": "presence", "op": "==", "right": "B"}`), 0, "conditions[0].op", "not an operator of presence"},
		{"date bigger", cond(`{"left": "A", "property": "date", "op": "bigger", "right": "B"}`), 0, "conditions[0].op", "not an operator of date"},
		{"size older", cond(`{"left": "A", "property": "size", "op": "older", "right": "B"}`), 0, "conditions[0].op", "not an operator of size"},
		{"name on", cond(`{"property": "name", "op": "on", "value": "x"}`), 0, "conditions[0].op", "not an operator of name"},
		{"name with left", cond(`{"left": "A", "property": "name", "op": "==", "value": "*.tmp"}`), 0, "conditions[0].left", "only a value"},
		{"name with right", cond(`{"property": "name", "op": "==", "right": "B", "value": "*.tmp"}`), 0, "conditions[0].right", "only a value"},
		{"name without value", cond(`{"property": "name", "op": "=="}`), 0, "conditions[0].value", "missing name pattern"},
		{"name with an empty value", cond(`{"property": "name", "op": "!=", "value": ""}`), 0, "conditions[0].value", "missing name pattern"},
		{"missing left", cond(`{"property": "size", "op": "==", "right": "B"}`), 0, "conditions[0].left", "not a part name"},
		{"bad left", cond(`{"left": "A-1", "property": "size", "op": "==", "right": "B"}`), 0, "conditions[0].left", `"A-1" is not a part name`},
		{"missing right and value", cond(`{"left": "A", "property": "date", "op": "=="}`), 0, "conditions[0].right", "not a part name"},
		{"bad right", cond(`{"left": "A", "property": "presence", "op": "on", "right": "B C"}`), 0, "conditions[0].right", `"B C" is not a part name`},
		{"both right and value", cond(`{"left": "A", "property": "size", "op": "==", "right": "B", "value": "1MB"}`), 0, "conditions[0].right", "either right or value"},
		{"value on content", cond(`{"left": "A", "property": "content", "op": "==", "value": "x"}`), 0, "conditions[0].value", "compares two parts"},
		{"value on presence", cond(`{"left": "A", "property": "presence", "op": "on", "value": "B"}`), 0, "conditions[0].value", "compares two parts"},
		{"bad date", cond(`{"left": "A", "property": "date", "op": "newer", "value": "31/01/2024"}`), 0, "conditions[0].value", "not a date"},
		{"impossible date", cond(`{"left": "A", "property": "date", "op": "newer", "value": "2024-02-30"}`), 0, "conditions[0].value", "not a date"},
		{"date with seconds", cond(`{"left": "A", "property": "date", "op": "newer", "value": "2024-01-31T12:30:10"}`), 0, "conditions[0].value", "not a date"},
		{"bad size", cond(`{"left": "A", "property": "size", "op": "bigger", "value": "10XB"}`), 0, "conditions[0].value", "not a size"},
		{"negative size", cond(`{"left": "A", "property": "size", "op": "bigger", "value": "-1MB"}`), 0, "conditions[0].value", "not a size"},
		{"empty size", cond(`{"left": "A", "property": "size", "op": "bigger", "value": ""}`), 0, "conditions[0].value", "not a size"},
		{"error in a later condition", cond(okCond + `, {"left": "A", "property": "size", "op": "bigger", "value": "x"}`), 0, "conditions[1].value", "not a size"},
		{"unknown action field", act(`{"op": "copy", "from": "A", "dest": "B"}`), 0, "actions[0].dest", "unknown field"},
		{"unknown action", act(`{"op": "move", "from": "A", "to": "B"}`), 0, "actions[0].op", `unknown action "move"`},
		{"copy in a directory rule", rulesFile(dirRule(okCond, okCopy)), 0, "actions[0].op", "files only"},
		{"copy-dates in a directory rule", rulesFile(dirRule(okCond, `{"op": "copy-dates", "from": "A", "to": "B"}`)), 0, "actions[0].op", "files only"},
		{"create in a file rule", act(`{"op": "create", "on": "B"}`), 0, "actions[0].op", "directories only"},
		{"from is to", act(`{"op": "copy", "from": "A", "to": "a"}`), 0, "actions[0].to", "same part"},
		{"copy without to", act(`{"op": "copy-content", "from": "A"}`), 0, "actions[0].to", "not a part name"},
		{"bad from", act(`{"op": "copy", "from": "A/B", "to": "B"}`), 0, "actions[0].from", `"A/B" is not a part name`},
		{"copy with on", act(`{"op": "copy", "from": "A", "to": "B", "on": "B"}`), 0, "actions[0].on", "copy takes no on"},
		{"delete without on", act(`{"op": "delete"}`), 0, "actions[0].on", "not a part name"},
		{"delete with from", act(`{"op": "delete", "from": "A", "on": "B"}`), 0, "actions[0].from", "delete takes no from"},
		{"create with to", rulesFile(dirRule(okCond, `{"op": "create", "on": "B", "to": "B"}`)), 0, "actions[0].to", "create takes no to"},
		{"do-nothing with on", act(`{"op": "do-nothing", "on": "B"}`), 0, "actions[0].on", "do-nothing takes no on"},
		{"error in a later action", act(okCopy + `, {"op": "delete", "on": "9"}`), 0, "actions[1].on", `"9" is not a part name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse(tt.json)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Rule != tt.rule || e.Field != tt.field || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got rule %d field %q reason %q\nwant rule %d field %q reason containing %q", e.Rule, e.Field, e.Reason, tt.rule, tt.field, tt.reason)
			}
			msg := err.Error()
			if tt.rule >= 0 && !strings.Contains(msg, fmt.Sprintf("rule %d:", tt.rule)) {
				t.Errorf("message %q does not name rule %d", msg, tt.rule)
			}
			if !strings.Contains(msg, tt.field) || !strings.Contains(msg, tt.reason) {
				t.Errorf("message %q does not name the field and the reason", msg)
			}
		})
	}
}

func TestParseAcceptsEveryOperator(t *testing.T) {
	conds := []string{
		`{"left": "A", "property": "content", "op": "==", "right": "B"}`,
		`{"left": "A", "property": "content", "op": "!=", "right": "B"}`,
		`{"left": "a1", "property": "date", "op": "==", "right": "b1"}`,
		`{"left": "A", "property": "date", "op": "!=", "value": "2024-01-31"}`,
		`{"left": "A", "property": "date", "op": "newer", "value": "2024-01-31T12:30"}`,
		`{"left": "A", "property": "date", "op": "older", "right": "B"}`,
		`{"left": "A", "property": "size", "op": "==", "value": "10MB"}`,
		`{"left": "A", "property": "size", "op": "!=", "right": "B"}`,
		`{"left": "A", "property": "size", "op": "bigger", "value": "1.5 gb"}`,
		`{"left": "A", "property": "size", "op": "smaller", "value": "512"}`,
		`{"left": "A", "property": "presence", "op": "on", "right": "B"}`,
		`{"left": "Ab2", "property": "presence", "op": "not-on", "right": "Ba1"}`,
		`{"property": "name", "op": "==", "value": "*.tmp"}`,
		`{"property": "name", "op": "!=", "value": "x"}`,
	}
	acts := []string{
		okCopy,
		`{"op": "copy-content", "from": "A", "to": "B"}`,
		`{"op": "copy-dates", "from": "B", "to": "A"}`,
		`{"op": "delete", "on": "B"}`,
		`{"op": "do-nothing"}`,
	}
	f, err := parse(rulesFile(
		`{"applies_to": "file", "match": "any", "conditions": [`+strings.Join(conds, ",")+`], "actions": [`+strings.Join(acts, ",")+`]}`,
		dirRule("", `{"op": "create", "on": "B"}, {"op": "delete", "on": "A"}, {"op": "do-nothing"}`),
	))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Rules[0]; r.MatchAll || len(r.Conditions) != len(conds) || len(r.Actions) != len(acts) {
		t.Errorf("file rule %+v", r)
	}
	if r := f.Rules[1]; r.AppliesTo != inventory.Dir || !r.MatchAll || len(r.Conditions) != 0 || len(r.Actions) != 3 {
		t.Errorf("directory rule %+v", r)
	}
	if got := f.Rules[0].Conditions[9]; got.size != 512 || got.Value != "512" {
		t.Errorf("size literal %+v", got)
	}
}

func TestParseDateInLocation(t *testing.T) {
	plus2 := time.FixedZone("UTC+2", 2*3600)
	tests := []struct {
		value string
		loc   *time.Location
		want  time.Time
	}{
		{"2024-01-31T12:30", time.UTC, time.Date(2024, 1, 31, 12, 30, 0, 0, time.UTC)},
		{"2024-01-31T12:30", plus2, time.Date(2024, 1, 31, 10, 30, 0, 0, time.UTC)},
		{"2024-01-31", plus2, time.Date(2024, 1, 30, 22, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		f, err := Parse(strings.NewReader(rulesFile(fileRule(
			fmt.Sprintf(`{"left": "A", "property": "date", "op": "newer", "value": %q}`, tt.value), okCopy))), tt.loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Rules[0].Conditions[0].date; !got.Equal(tt.want) {
			t.Errorf("%s in %s: %v, want %v", tt.value, tt.loc, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"512", 512},
		{"512B", 512},
		{"1KB", 1 << 10},
		{"10MB", 10 << 20},
		{"10mb", 10 << 20},
		{" 3 kb ", 3 << 10},
		{"1.5 GB", 3 << 29},
		{"2TB", 2 << 40},
		{"0.5KB", 512},
		{"1.0001KB", 1024},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "10 XB", "10K", "1e3", "1,5MB", "1.MB", "10 MB B", "99999999TB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestCheckParts(t *testing.T) {
	rs := func(parts ...string) []Rule {
		var out []Rule
		for _, p := range parts {
			out = append(out, Rule{AppliesTo: inventory.File, Conditions: []Condition{
				{Property: Name, Op: Eq, Value: "x"},
				{Left: p, Property: Size, Op: Eq, Value: "1MB"},
			}, Actions: []Action{{Op: Delete, On: p}}})
		}
		return out
	}
	perNode := []string{"A", "B"}
	perPart := []string{"A1", "A2", "B1"}
	tests := []struct {
		rules   []Rule
		known   []string
		badRule int // -1 when every part is known
		bad     string
	}{
		{rs("A", "B"), perNode, -1, ""},
		{rs("a", "b1", "A1"), perNode, -1, ""},
		{rs("A", "C"), perNode, 1, "C"},
		{rs("A2"), perNode, 0, "A2"},
		{rs("A1", "a2", "B1"), perPart, -1, ""},
		{rs("A1", "A"), perPart, 1, "A"},
		{rs("A11"), perPart, 0, "A11"},
		{rs("Aa1", "Ab"), []string{"Aa", "Ab"}, -1, ""},
		{[]Rule{{Conditions: []Condition{{Left: "A", Property: Presence, Op: On, Right: "Z"}}, Actions: []Action{{Op: DoNothing}}}}, perNode, 0, "Z"},
		{[]Rule{{Actions: []Action{{Op: Copy, From: "Q", To: "B"}}}}, perNode, 0, "Q"},
	}
	for _, tt := range tests {
		err := CheckParts(tt.rules, tt.known)
		if tt.badRule < 0 {
			if err != nil {
				t.Errorf("%v among %v: %v", Parts(tt.rules), tt.known, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%v among %v: %v, want an *Error", Parts(tt.rules), tt.known, err)
			continue
		}
		if e.Rule != tt.badRule || !strings.Contains(e.Reason, fmt.Sprintf("%q", tt.bad)) {
			t.Errorf("%v among %v: rule %d %q, want rule %d naming %q", Parts(tt.rules), tt.known, e.Rule, e.Reason, tt.badRule, tt.bad)
		}
	}
}
