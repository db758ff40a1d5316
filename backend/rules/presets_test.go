package rules

import (
	"reflect"
	"strings"
	"testing"
)

// A preset over several parts: from the first part to every other, or between every two.
func TestPresetAcross(t *testing.T) {
	count := func(rs []Rule) map[string]int {
		out := map[string]int{}
		for _, r := range rs {
			for _, a := range r.Actions {
				if a.On != "" {
					out["on "+a.On]++
				} else {
					out[a.From+">"+a.To]++
				}
			}
		}
		return out
	}
	rs, err := PresetAcross("mirror", "B", []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(rs); got["B>A"] != 3 || got["B>C"] != 3 || got["on A"] != 3 || got["on C"] != 3 || got["A>C"] != 0 || got["on B"] != 0 {
		t.Fatalf("mirror from B: %v", got)
	}
	rs, err = PresetAcross("two-way", "A", []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(rs); got["A>B"] != 1 || got["B>A"] != 1 || got["B>C"] != 1 || got["C>B"] != 1 || got["A>C"] != 1 || got["C>A"] != 1 {
		t.Fatalf("two-way: %v", got)
	}
	if _, err := PresetAcross("mirror", "A", []string{"A1", "A2", "B"}); err == nil {
		t.Fatal("a preset over a node with two sources was accepted")
	}
}

// A preset written as a rules file reads back as the same rules.
func TestFileTextReadsBack(t *testing.T) {
	for _, mode := range Presets {
		rs, err := Preset(mode, "A", "B")
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(strings.NewReader(FileText(rs)), nil)
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, FileText(rs))
		}
		if !reflect.DeepEqual(f.Rules, rs) {
			t.Errorf("%s: read back %+v, want %+v", mode, f.Rules, rs)
		}
	}
}
