package plan_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// rooted gives the data sources of nodes their roots' dates, T0 plus the minutes.
func rooted(nodes []*inventory.Node, minutes ...int) []*inventory.Node {
	for i, m := range minutes {
		nodes[i].Parts[0].RootModTime = testinv.T0.Add(time.Duration(m) * time.Minute)
	}
	return nodes
}

func preset(t *testing.T, mode string) []rules.Rule {
	t.Helper()
	rs, err := rules.Preset(mode, "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDirectoryDates(t *testing.T) {
	at := func(m int) testinv.Opt { return testinv.At(time.Duration(m) * time.Minute) }
	tests := []struct {
		name  string
		nodes []*inventory.Node
		mode  string
		want  []string
	}{
		{"mirror: a date that differs is listed, one written in is restored, one created is dated",
			rooted(testinv.Nodes(
				E(D("/differs", at(60)), D("/same"), F("/same/new", 1, 0), D("/new", at(5)), D("/untouched")),
				E(D("/differs"), D("/same"), D("/gone", at(9)), D("/untouched")),
			), 120, 0),
			"mirror", []string{
				"AGID_1 delete on B /gone",
				"AGID_2 create on B /new",
				"AGID_3 copy A→B /same/new full",
				"AGID_4 copy-dates A→B /", // the root differs: listed, first
				"AGID_5 copy-dates A→B /differs",
				"AGID_6 copy-dates A→B /new quiet",
				"AGID_7 copy-dates A→B /same quiet",
			}},
		{"mirror: the root is restored after a delete in it",
			rooted(testinv.Nodes(E(D("/d")), E(D("/d"), F("/x", 1, 0))), 0, 0),
			"mirror", []string{"AGID_1 delete on B /x", "AGID_2 copy-dates A→B / quiet"}},
		{"mirror: in sync, nothing to do",
			rooted(testinv.Nodes(E(D("/d", at(3)), F("/d/f", 1, 0)), E(D("/d", at(3)), F("/d/f", 1, 0))), 7, 7),
			"mirror", nil},
		{"update: a directory only on the target keeps its date",
			rooted(testinv.Nodes(E(D("/d", at(3))), E(D("/d", at(3)), D("/extra", at(9)))), 7, 7),
			"update", nil},
		{"two-way: the newer date goes to the other side; a side written in keeps its own",
			rooted(testinv.Nodes(
				E(D("/a", at(60)), F("/a/f", 1, 30), D("/b")),
				E(D("/a"), F("/a/g", 1, 30), D("/b", at(60))),
			), 0, 0),
			"two-way", []string{
				"AGID_1 copy A→B /a/f full",
				"AGID_2 copy B→A /a/g full",
				"AGID_3 copy-dates A→B /a",
				"AGID_4 copy-dates B→A /b",
				"AGID_5 copy-dates B→A / quiet", // equal: restored after the copies
				"AGID_6 copy-dates A→B / quiet",
				"AGID_7 copy-dates A→A /a quiet", // A's own date, the newer
			}},
		{"a directory that could not be read is left alone",
			rooted(testinv.Nodes(E(D("/d", at(5))), E(D("/d", testinv.Unreadable))), 0, 0),
			"mirror", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tree(tt.nodes)
			res, err := rules.Evaluate(c, preset(t, tt.mode), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := plan.Build(c, res, plan.Options{})
			check(t, p, tt.want)
			dated := 0
			for _, g := range p.Groups {
				if g.Phase == plan.PhaseDirDates {
					dated++
				}
			}
			if room := plan.DirDatesRoom(c, res.Directions); dated > room {
				t.Errorf("%d groups date directories, room was made for %d", dated, room)
			}
			var listed []string
			for _, a := range p.Actions() {
				if a.Op == plan.OpCopyDates {
					listed = append(listed, a.Path)
				}
			}
			var want []string
			for _, g := range p.Groups {
				if g.Phase == plan.PhaseDirDates && !g.Quiet {
					want = append(want, g.Targets[0].Path())
				}
				if g.Phase == plan.PhaseDirDates && (g.ItemKind != inventory.Dir || g.Source.ModTime() == 0) {
					t.Errorf("%s: %+v", g.ID(), g)
				}
			}
			if !slices.Equal(listed, want) || p.Summary().Actions != len(p.Actions()) {
				t.Errorf("listed dates %q, want %q; summary %+v", listed, want, p.Summary())
			}
		})
	}
}

// The date a target takes is its source's, or the newer of two sides for two-way.
func TestDirectoryDatesValues(t *testing.T) {
	a := testinv.T0.Add(time.Hour)
	nodes := rooted(testinv.Nodes(E(D("/d", testinv.At(time.Hour))), E(D("/d"))), 0, 0)
	for mode, want := range map[string]time.Time{"mirror": a, "two-way": a} {
		p := build(t, tree(nodes), preset(t, mode), nil, plan.Options{})
		if len(p.Groups) != 1 || p.Groups[0].Source.Part != "A" || !p.Groups[0].Source.Mtime().Equal(want) ||
			p.Groups[0].Targets[0].Part != "B" || !p.Groups[0].Targets[0].Mtime().Equal(testinv.T0) {
			t.Errorf("%s: %q %+v", mode, describe(p), p.Groups)
		}
	}
	// B newer: a mirror still takes A's date, two-way keeps B's and gives it to A.
	nodes = rooted(testinv.Nodes(E(D("/d")), E(D("/d", testinv.At(time.Hour)))), 0, 0)
	check(t, build(t, tree(nodes), preset(t, "mirror"), nil, plan.Options{}), []string{"AGID_1 copy-dates A→B /d"})
	check(t, build(t, tree(nodes), preset(t, "two-way"), nil, plan.Options{}), []string{"AGID_1 copy-dates B→A /d"})
}

// Only tree matching over directories dates them, and only on directory data sources.
func TestDirectoryDatesNeedDirectories(t *testing.T) {
	nodes := func() []*inventory.Node {
		return rooted(testinv.Nodes(E(D("/d", testinv.At(time.Hour))), E(D("/d"))), 5, 0)
	}
	for name, s := range map[string]func(*compare.Settings){
		"flat":  func(s *compare.Settings) { s.Matching = compare.Flat },
		"files": func(s *compare.Settings) { s.DataType = compare.Files },
	} {
		st := compare.DefaultSettings()
		s(&st)
		if p := build(t, compare.Compare(nodes(), st), preset(t, "mirror"), nil, plan.Options{}); len(p.Groups) != 0 {
			t.Errorf("%s: %q", name, describe(p))
		}
	}
	b := testinv.Part("B1", F("/d", 1, 0))
	b.Root, b.Type = "/b/d", inventory.SourceFile
	c := tree([]*inventory.Node{nodes()[0], testinv.Node("B", b)})
	for _, g := range build(t, c, preset(t, "mirror"), nil, plan.Options{}).Groups {
		if g.Phase == plan.PhaseDirDates {
			t.Errorf("a file data source got directory dates: %+v", g)
		}
	}
}
