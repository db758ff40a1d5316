package tracker

import (
	"slices"
	"testing"

	"github.com/ferrysync/ferry/backend/protocol"
)

// ByteSync's TrackingActionEntity.IsFinished truth table, with IsError and IsSuccess.
func TestGroupTruthTable(t *testing.T) {
	yes, no := true, false
	a, b := protocol.Target{Member: "m", Node: "A"}, protocol.Target{Member: "m", Node: "B"}
	cases := []struct {
		name                     string
		g                        Group
		finished, isErr, success bool
	}{
		{"source failed", Group{Source: "m", SourceOK: &no, Targets: []protocol.Target{a, b}}, true, true, false},
		{"source pending", Group{Source: "m", Targets: []protocol.Target{a}, Success: []protocol.Target{a}}, false, false, false},
		{"source ok, all targets done", Group{Source: "m", SourceOK: &yes, Targets: []protocol.Target{a, b}, Success: []protocol.Target{a}, Errors: []protocol.Target{b}}, true, true, false},
		{"source ok, one target left", Group{Source: "m", SourceOK: &yes, Targets: []protocol.Target{a, b}, Success: []protocol.Target{a}}, false, false, false},
		{"no source, all succeeded", Group{Targets: []protocol.Target{a, b}, Success: []protocol.Target{a, b}}, true, false, true},
		{"no source, none yet", Group{Targets: []protocol.Target{a}}, false, false, false},
		{"no source, one error", Group{Targets: []protocol.Target{a, b}, Errors: []protocol.Target{a}}, false, true, false},
	}
	for _, c := range cases {
		if got := c.g.IsFinished(); got != c.finished {
			t.Errorf("%s: finished %v", c.name, got)
		}
		if got := c.g.IsError(); got != c.isErr {
			t.Errorf("%s: error %v", c.name, got)
		}
		if got := c.g.IsSuccess(); got != c.success {
			t.Errorf("%s: success %v", c.name, got)
		}
	}
}

// A target named twice in a group's definition counts once; the others are kept as defined.
func TestBuildTargetNamedTwice(t *testing.T) {
	a := protocol.Target{Member: "m1", Node: "A"}
	b := protocol.Target{Member: "m1", Node: "B"}
	defs := []protocol.GroupDefinition{
		{ID: "g1", Op: "delete", Targets: []protocol.Target{a, b, a}},
		{ID: "g2", Op: "delete", Targets: []protocol.Target{b, a}},
	}
	total, _, err := check([]string{"m1"}, slices.Values(defs))
	if err != nil {
		t.Fatal(err)
	}
	groups := slices.Collect(groupsOf(slices.Values(defs)))
	if total != 4 {
		t.Errorf("%d actions, want 4", total)
	}
	if got := groups[0].Targets; !slices.Equal(got, []protocol.Target{a, b}) {
		t.Errorf("g1 targets %v, want [A B]", got)
	}
	if got := groups[1].Targets; !slices.Equal(got, []protocol.Target{b, a}) {
		t.Errorf("g2 targets %v, want [B A]", got)
	}
}
