package app

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/rules"
)

func TestPresetTextParses(t *testing.T) {
	for _, mode := range rules.Presets {
		want, err := rules.Preset(mode, "A", "B")
		if err != nil {
			t.Fatal(err)
		}
		f, err := rules.Parse(strings.NewReader(presetText(mode, []string{"A", "B"})), nil)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !reflect.DeepEqual(f.Rules, want) {
			t.Errorf("%s: read back %+v, want %+v", mode, f.Rules, want)
		}
	}
}

func TestRuleErrorLines(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		says       string
	}{
		{"syntax", "{\n  \"rules\": [\n    {,\n  ]\n}\n", 3, "invalid character"},
		{"condition op", `{
  "rules": [
    {"applies_to": "file", "actions": [{"op": "copy", "from": "A", "to": "B"}],
     "conditions": [{"left": "A", "property": "date", "op": "newer", "right": "B"}]},
    {
      "applies_to": "file",
      "conditions": [
        {"left": "A", "property": "size", "op": "bigger-than", "right": "B"}
      ],
      "actions": [{"op": "copy", "from": "A", "to": "B"}]
    }
  ]
}`, 8, "rule 1: conditions[0].op"},
		{"settings", "{\n  \"settings\": {\n    \"matching\": \"fuzzy\"\n  }\n}\n", 3, "settings.matching"},
		{"unknown field", "{\n  \"rules\": [],\n  \"rulez\": 1\n}\n", 1, "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rules.Parse(strings.NewReader(c.text), nil)
			if err == nil {
				t.Fatal("parsed")
			}
			got := locateRuleError(c.text, err)
			if got.Line != c.line || !strings.Contains(got.Msg, c.says) {
				t.Fatalf("%+v, want line %d saying %q", got, c.line, c.says)
			}
		})
	}
}

func TestRules(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a", ".hidden": "h", "b.tmp": "b"}, at)
	a.session(t, src, dst)

	st := a.Rules.Get()
	if st.Mode != ModeNone || st.Groups != 0 || len(st.Presets) != 3 || st.Errors == nil {
		t.Fatalf("initial rules %+v", st)
	}
	if _, err := a.Rules.UsePreset("sideways"); err == nil {
		t.Fatal("an unknown preset was accepted")
	}
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	sum, _ := a.Comparison.Summary()
	if sum.Total != 2 {
		t.Fatalf("%d items, want a.txt and b.tmp (hidden files are left out)", sum.Total)
	}

	// a rules file naming a part the comparison lacks: the error points at the rule
	text := `{
  "rules": [
    {
      "applies_to": "file",
      "conditions": [{"left": "A", "property": "presence", "op": "not-on", "right": "C"}],
      "actions": [{"op": "copy", "from": "A", "to": "C"}]
    }
  ]
}`
	st, err := a.Rules.Save(text)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != ModeCustom || len(st.Errors) != 1 || st.Errors[0].Line != 3 || !strings.Contains(st.Errors[0].Msg, `"C"`) {
		t.Fatalf("rules naming C: %+v", st)
	}

	// a broken text keeps the rules in force
	if _, err := a.Rules.UsePreset("update"); err != nil {
		t.Fatal(err)
	}
	st, err = a.Rules.Save(`{"rules": [{"applies_to": "file"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != "update" || st.Groups != 3 || len(st.Errors) != 1 || st.Errors[0].Line != 1 {
		t.Fatalf("broken text: %+v; want update still in force with 3 groups (the root's date too)", st)
	}

	// settings that change what the inventory reads run it again
	mark := a.rec.mark()
	st, err = a.Rules.Save(`{
  "settings": {"exclude_hidden": false},
  "rules": [
    {"applies_to": "file", "conditions": [{"property": "name", "op": "!=", "value": "*.tmp"},
                                          {"left": "A", "property": "presence", "op": "not-on", "right": "B"}],
     "actions": [{"op": "copy", "from": "A", "to": "B"}]}
  ]
}`)
	if err != nil || len(st.Errors) != 0 {
		t.Fatalf("custom rules: %+v, %v", st, err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	sum, _ = a.Comparison.Summary()
	if sum.Total != 3 || sum.WithActions != 2 {
		t.Fatalf("after exclude_hidden false: %+v; want .hidden listed, a.txt and .hidden copied", sum)
	}
	if st := a.Rules.Get(); st.Mode != ModeCustom || st.Groups != 3 { // and the root's date
		t.Fatalf("rules after the new inventory: %+v", st)
	}

	// no rules
	st, _ = a.Rules.Save("  ")
	if st.Mode != ModeNone || st.Groups != 0 || st.Text != "" {
		t.Fatalf("empty rules: %+v", st)
	}
}

// TestPresetNeedsTwoParts: a preset with three nodes is reported, not applied.
func TestPresetNeedsTwoParts(t *testing.T) {
	a := newTestApp(t)
	a.session(t, t.TempDir(), t.TempDir())
	n, _ := a.Data.AddNode()
	if _, err := a.Data.AddSource(n.Code, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	st, err := a.Rules.UsePreset("mirror")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0].Msg, "two data parts") || st.Groups != 0 {
		t.Fatalf("mirror over three nodes: %+v", st)
	}
	if err := a.Synchronization.Start(); err == nil {
		t.Fatal("a synchronization with nothing to do started")
	}
}
