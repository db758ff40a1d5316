package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
)

var (
	file = inventory.File
	dir  = inventory.Dir
)

func cp(from, to string) Action      { return Action{Op: Copy, From: from, To: to} }
func content(from, to string) Action { return Action{Op: CopyContent, From: from, To: to} }
func dates(from, to string) Action   { return Action{Op: CopyDates, From: from, To: to} }
func del(on string) Action           { return Action{Op: Delete, On: on} }
func mk(on string) Action            { return Action{Op: Create, On: on} }

var nothing = Action{Op: DoNothing}

func tgt(kind inventory.Kind, path string, a Action) Targeted {
	return Targeted{Kind: kind, Path: path, Action: a}
}

// show renders an action as "copy A→B /f", "delete on B /d" or "do-nothing /f".
func show(c *compare.Comparison, a AtomicAction) string {
	name := func(i int) string { return c.Parts[i].Name }
	switch {
	case a.Op.IsCopy():
		return fmt.Sprintf("%s %s→%s %s", a.Op, name(a.Source), name(a.Target), a.Item.Path())
	case a.Op == DoNothing:
		return fmt.Sprintf("%s %s", a.Op, a.Item.Path())
	}
	return fmt.Sprintf("%s on %s %s", a.Op, name(a.Target), a.Item.Path())
}

type outcome struct {
	actions, rejected []string
}

func evaluate(t *testing.T, c *compare.Comparison, rs []Rule, ts []Targeted) outcome {
	t.Helper()
	res, err := Evaluate(c, rs, ts)
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	for _, a := range res.Actions {
		if a.Item == nil {
			t.Fatalf("action without item: %+v", a)
		}
		o.actions = append(o.actions, show(c, a))
	}
	for _, r := range res.Rejected {
		o.rejected = append(o.rejected, show(c, r.AtomicAction)+": "+string(r.Reason))
	}
	return o
}

func (o outcome) check(t *testing.T, actions, rejected []string) {
	t.Helper()
	if !slices.Equal(o.actions, actions) {
		t.Errorf("actions:\n got  %q\n want %q", o.actions, actions)
	}
	if !slices.Equal(o.rejected, rejected) {
		t.Errorf("rejected:\n got  %q\n want %q", o.rejected, rejected)
	}
}

func tree(nodes []*inventory.Node) *compare.Comparison {
	return compare.Compare(nodes, compare.DefaultSettings())
}

func flat(nodes []*inventory.Node) *compare.Comparison {
	s := compare.DefaultSettings()
	s.Matching = compare.Flat
	return compare.Compare(nodes, s)
}

func incompleteFlat(nodes []*inventory.Node, part int) *compare.Comparison {
	testinv.Incomplete(nodes[part].Parts[0])
	return flat(nodes)
}

// withFileSourceB has B as a data source that is a single file, /g.txt.
func withFileSourceB(a []testinv.Entry) *compare.Comparison {
	b := testinv.Part("B1", F("/g.txt", 1, 0))
	b.Root, b.Type = "/b/g.txt", inventory.SourceFile
	return tree([]*inventory.Node{testinv.Node("A", testinv.Part("A1", a...)), testinv.Node("B", b)})
}

func mustParse(t *testing.T, rules ...string) []Rule {
	t.Helper()
	f, err := Parse(strings.NewReader(rulesFile(rules...)), plus2)
	if err != nil {
		t.Fatal(err)
	}
	return f.Rules
}

func mustPreset(t *testing.T, mode string) []Rule {
	t.Helper()
	rs, err := Preset(mode, "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

var allReasons = []Reason{
	CopyOnDirectory, CreateOnFile, SourceNotAccessible, SourceMissing, SourceMultipleContents,
	SourceAnalysisError, TargetNotAccessible, TargetFileNotPresent, NothingToCopy, ContentIdentical,
	TargetAnalysisError, TargetMissing, CreateNeedsDirectory, TargetExists, BlockedByDoNothing,
	SourceIsTarget, TargetIsSource, TargetAlreadyUsed, DeleteConflicts, ItemBeingDeleted, Duplicate,
	DirectoryStillHoldsFile,
}

func TestEveryReason(t *testing.T) {
	two := func(a, b []testinv.Entry) *compare.Comparison { return tree(testinv.Nodes(a, b)) }
	three := func(a, b, c []testinv.Entry) *compare.Comparison { return tree(testinv.Nodes(a, b, c)) }
	differ3 := three(f(1, 0, k("a")), f(1, 1, k("b")), f(1, 2, k("c")))
	placeholderA := two(E(D("/d", ur)), E(D("/d"), F("/d/f", 1, 0)))
	placeholderB := tree(testinv.Nodes(placeholderOnB...))
	tests := []struct {
		name     string
		c        *compare.Comparison
		rules    []Rule
		targeted []Targeted
		want     string // the last rejection
	}{
		{"copy on a directory", two(d(), nil), nil, []Targeted{tgt(dir, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(CopyOnDirectory)},
		{"copy-dates on a directory", two(d(), d()), nil, []Targeted{tgt(dir, "/f", dates("A", "B"))},
			"copy-dates A→B /f: " + string(CopyOnDirectory)},
		{"create on a file", two(f(1, 0), nil), nil, []Targeted{tgt(file, "/f", mk("B"))},
			"create on B /f: " + string(CreateOnFile)},
		{"source unreadable", two(f(0, 0, ur), f(1, 0)), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(SourceNotAccessible)},
		{"source below an unreadable directory", placeholderA, nil, []Targeted{tgt(file, "/d/f", cp("A", "B"))},
			"copy A→B /d/f: " + string(SourceNotAccessible)},
		{"source on an incomplete part (flat)", incompleteFlat(testinv.Nodes(f(1, 0), f(1, 0)), 0), nil, []Targeted{tgt(file, "f", content("A", "B"))},
			"copy-content A→B f: " + string(SourceNotAccessible)},
		{"source missing", two(nil, f(1, 0)), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(SourceMissing)},
		{"copy-dates source missing", two(nil, f(1, 0)), nil, []Targeted{tgt(file, "/f", dates("A", "B"))},
			"copy-dates A→B /f: " + string(SourceMissing)},
		{"source with several contents (flat)", flat(testinv.Nodes(E(D("/p"), F("/p/f", 1, 0), D("/q"), F("/q/f", 2, 0)), f(1, 0))), nil,
			[]Targeted{tgt(file, "f", cp("A", "B"))}, "copy A→B f: " + string(SourceMultipleContents)},
		{"source analysis error", two(f(1, 0, ae), f(1, 0)), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(SourceAnalysisError)},
		{"target unreadable", two(f(1, 0), f(0, 0, ur)), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(TargetNotAccessible)},
		{"target below an unreadable directory", placeholderB, nil, []Targeted{tgt(file, "/d/f", cp("A", "B"))},
			"copy A→B /d/f: " + string(TargetNotAccessible)},
		{"target on an incomplete part (flat)", incompleteFlat(testinv.Nodes(f(1, 0), nil), 1), nil, []Targeted{tgt(file, "f", cp("A", "B"))},
			"copy A→B f: " + string(TargetNotAccessible)},
		{"delete unreadable", two(nil, f(0, 0, ur)), nil, []Targeted{tgt(file, "/f", del("B"))},
			"delete on B /f: " + string(TargetNotAccessible)},
		{"delete below an unreadable directory", placeholderB, nil, []Targeted{tgt(file, "/d/f", del("B"))},
			"delete on B /d/f: " + string(TargetNotAccessible)},
		{"delete on an incomplete part (flat)", incompleteFlat(testinv.Nodes(f(1, 0), f(1, 0)), 1), nil, []Targeted{tgt(file, "f", del("B"))},
			"delete on B f: " + string(TargetNotAccessible)},
		{"create on an incomplete part (flat)", incompleteFlat(testinv.Nodes(d(), nil), 1), nil, []Targeted{tgt(dir, "f", mk("B"))},
			"create on B f: " + string(TargetNotAccessible)},
		{"copy onto an absent file data source", withFileSourceB(E(F("/f.txt", 1, 0))), nil, []Targeted{tgt(file, "/f.txt", cp("A", "B"))},
			"copy A→B /f.txt: " + string(TargetFileNotPresent)},
		{"copy of identical content and dates", two(f(1, 0, k("x")), f(1, 0, k("x"))), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(NothingToCopy)},
		{"copy-content of identical content and dates", two(f(1, 0, k("x")), f(1, 0, k("x"))), nil, []Targeted{tgt(file, "/f", content("A", "B"))},
			"copy-content A→B /f: " + string(NothingToCopy)},
		{"copy-dates of identical dates", two(f(1, 0, k("x")), f(1, 0, k("y"))), nil, []Targeted{tgt(file, "/f", dates("A", "B"))},
			"copy-dates A→B /f: " + string(NothingToCopy)},
		{"copy-content of identical content", two(f(1, 0, k("x")), f(1, 5, k("x"))), nil, []Targeted{tgt(file, "/f", content("A", "B"))},
			"copy-content A→B /f: " + string(ContentIdentical)},
		{"target analysis error", two(f(1, 0), f(1, 0, ae)), nil, []Targeted{tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(TargetAnalysisError)},
		{"copy-dates onto an absent file", two(f(1, 0), nil), nil, []Targeted{tgt(file, "/f", dates("A", "B"))},
			"copy-dates A→B /f: " + string(TargetMissing)},
		{"delete an absent file", two(f(1, 0), nil), nil, []Targeted{tgt(file, "/f", del("B"))},
			"delete on B /f: " + string(TargetMissing)},
		{"delete an absent directory", two(d(), nil), nil, []Targeted{tgt(dir, "/f", del("B"))},
			"delete on B /f: " + string(TargetMissing)},
		{"create on a file data source", withFileSourceB(E(D("/d"))), nil, []Targeted{tgt(dir, "/d", mk("B"))},
			"create on B /d: " + string(CreateNeedsDirectory)},
		{"create an existing directory", two(d(), d()), nil, []Targeted{tgt(dir, "/f", mk("B"))},
			"create on B /f: " + string(TargetExists)},
		{"rule action on an item set to do nothing", two(f(1, 0), nil), mustPreset(t, "mirror"), []Targeted{tgt(file, "/f", nothing)},
			"copy A→B /f: " + string(BlockedByDoNothing)},
		{"chain A→B→C", differ3, nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", cp("B", "C"))},
			"copy B→C /f: " + string(SourceIsTarget)},
		{"copy onto a source", differ3, nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", cp("C", "A"))},
			"copy C→A /f: " + string(TargetIsSource)},
		{"two copies onto one target", differ3, nil, []Targeted{tgt(file, "/f", cp("A", "C")), tgt(file, "/f", cp("B", "C"))},
			"copy B→C /f: " + string(TargetAlreadyUsed)},
		{"copy and copy-content onto one target", two(f(1, 0, k("x")), f(2, 5, k("y"))), nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", content("A", "B"))},
			"copy-content A→B /f: " + string(TargetAlreadyUsed)},
		{"a third action beside complementary ones", differ3, nil, []Targeted{
			tgt(file, "/f", content("A", "C")), tgt(file, "/f", dates("A", "C")), tgt(file, "/f", dates("B", "C")),
		}, "copy-dates B→C /f: " + string(TargetAlreadyUsed)},
		{"delete a copy target", two(f(1, 0, k("x")), f(2, 5, k("y"))), nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", del("B"))},
			"delete on B /f: " + string(DeleteConflicts)},
		{"copy from an item being deleted", differ3, nil, []Targeted{tgt(file, "/f", del("C")), tgt(file, "/f", cp("C", "A"))},
			"copy C→A /f: " + string(SourceIsTarget)},
		{"copy onto an item being deleted", two(f(1, 0, k("x")), f(2, 5, k("y"))), nil, []Targeted{tgt(file, "/f", del("B")), tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(ItemBeingDeleted)},
		{"the same action twice", two(f(1, 0), nil), nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", cp("A", "B"))},
			"copy A→B /f: " + string(Duplicate)},
		{"the same delete twice", two(nil, f(1, 0)), nil, []Targeted{tgt(file, "/f", del("B")), tgt(file, "/f", del("b1"))},
			"delete on B /f: " + string(Duplicate)},
		{"directory that keeps a file", two(nil, E(D("/d"), F("/d/f", 1, 0))), nil, []Targeted{tgt(dir, "/d", del("B"))},
			"delete on B /d: " + string(DirectoryStillHoldsFile)},
	}
	seen := map[Reason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Evaluate(tt.c, tt.rules, tt.targeted)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) == 0 {
				t.Fatalf("nothing rejected; actions %+v", res.Actions)
			}
			last := res.Rejected[len(res.Rejected)-1]
			if got := show(tt.c, last.AtomicAction) + ": " + string(last.Reason); got != tt.want {
				t.Errorf("rejected %q, want %q", got, tt.want)
			}
			for _, r := range res.Rejected {
				for _, a := range res.Actions {
					if a == r.AtomicAction && r.Reason != Duplicate {
						t.Errorf("%q is both kept and rejected", show(tt.c, a))
					}
				}
			}
			seen[last.Reason] = true
		})
	}
	for _, r := range allReasons {
		if !seen[r] {
			t.Errorf("no scenario produces %q", r)
		}
	}
}

func TestComplementaryCopies(t *testing.T) {
	c := tree(testinv.Nodes(f(1, 0, k("x")), f(2, 5, k("y"))))
	evaluate(t, c, nil, []Targeted{tgt(file, "/f", content("A", "B")), tgt(file, "/f", dates("A", "B"))}).
		check(t, []string{"copy-content A→B /f", "copy-dates A→B /f"}, nil)
}

func TestTargetedActionsAreCheckedInOrder(t *testing.T) {
	// The first of two contradicting targeted actions wins.
	c := tree(testinv.Nodes(f(1, 0, k("x")), f(2, 5, k("y"))))
	evaluate(t, c, nil, []Targeted{tgt(file, "/f", cp("B", "A")), tgt(file, "/f", cp("A", "B"))}).
		check(t, []string{"copy B→A /f"}, []string{"copy A→B /f: " + string(SourceIsTarget)})
}

// A naive copy rule matches items present only on B (one side absent ⇒ content differs). It is
// refused on those items before it can push out the delete of a later rule.
func TestItemCheckComesBeforeConflicts(t *testing.T) {
	rs := mustParse(t,
		fileRule(vs("content", "!="), okCopy),
		fileRule(`{"left": "B", "property": "presence", "op": "not-on", "right": "A"}`, `{"op": "delete", "on": "B"}`),
	)
	c := tree(testinv.Nodes(
		E(F("/a-only", 1, 0), F("/differ", 1, 0, k("x")), F("/same", 1, 0, k("s"))),
		E(F("/b-only", 1, 0), F("/differ", 1, 0, k("y")), F("/same", 1, 0, k("s"))),
	))
	evaluate(t, c, rs, nil).check(t,
		[]string{"copy A→B /a-only", "delete on B /b-only", "copy A→B /differ"},
		[]string{"copy A→B /b-only: " + string(SourceMissing)})
}

func TestDoNothing(t *testing.T) {
	tmpNothing := fileRule(`{"property": "name", "op": "==", "value": "*.tmp"}`, `{"op": "do-nothing"}`)
	mirror := mustPreset(t, "mirror")
	nodes := func() *compare.Comparison {
		return tree(testinv.Nodes(
			E(F("/a.tmp", 1, 0), F("/f", 1, 0, k("x"))),
			E(F("/b.tmp", 1, 0), F("/f", 2, 0, k("y")), F("/g", 1, 0)),
		))
	}
	tests := []struct {
		name              string
		rules             []Rule
		targeted          []Targeted
		actions, rejected []string
	}{
		{"targeted do-nothing blocks the rule actions", mirror, []Targeted{tgt(file, "/f", nothing)},
			[]string{"copy A→B /a.tmp", "delete on B /b.tmp", "do-nothing /f", "delete on B /g"},
			[]string{"copy A→B /f: " + string(BlockedByDoNothing)}},
		{"targeted do-nothing replaces the other targeted actions", nil, []Targeted{tgt(file, "/f", cp("A", "B")), tgt(file, "/f", nothing), tgt(file, "/f", del("B"))},
			[]string{"do-nothing /f"}, nil},
		{"an item check still comes first", mustParse(t, fileRule(vs("content", "!="), okCopy)), []Targeted{tgt(file, "/g", nothing)},
			[]string{"copy A→B /a.tmp", "copy A→B /f", "do-nothing /g"},
			[]string{"copy A→B /b.tmp: " + string(SourceMissing), "copy A→B /g: " + string(SourceMissing)}},
		{"a do-nothing rule blocks the other rules", append(mustParse(t, tmpNothing), mirror...), nil,
			[]string{"do-nothing /a.tmp", "do-nothing /b.tmp", "copy A→B /f", "delete on B /g"},
			[]string{"copy A→B /a.tmp: " + string(BlockedByDoNothing), "delete on B /b.tmp: " + string(BlockedByDoNothing)}},
		{"a do-nothing rule listed last blocks too", append(mirror, mustParse(t, tmpNothing)...), nil,
			[]string{"do-nothing /a.tmp", "do-nothing /b.tmp", "copy A→B /f", "delete on B /g"},
			[]string{"copy A→B /a.tmp: " + string(BlockedByDoNothing), "delete on B /b.tmp: " + string(BlockedByDoNothing)}},
		{"targeted actions win over a do-nothing rule", mustParse(t, tmpNothing), []Targeted{tgt(file, "/a.tmp", cp("A", "B"))},
			[]string{"copy A→B /a.tmp", "do-nothing /b.tmp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evaluate(t, nodes(), tt.rules, tt.targeted).check(t, tt.actions, tt.rejected)
		})
	}
}

// ByteSync compares unset parts as equal, so a do-nothing (no parts) would block a create or a
// delete (no source); Ferry compares only the parts that are set.
func TestTargetedCreateAndDeleteAreNotBlockedByUnsetParts(t *testing.T) {
	c := tree(testinv.Nodes(E(D("/d")), nil, E(D("/d"))))
	evaluate(t, c, nil, []Targeted{tgt(dir, "/d", mk("B")), tgt(dir, "/d", del("A")), tgt(dir, "/d", del("C"))}).
		check(t, []string{"create on B /d", "delete on A /d", "delete on C /d"}, nil)

	rs := mustParse(t, dirRule(`{"property": "name", "op": "==", "value": "d"}`, `{"op": "do-nothing"}`))
	evaluate(t, c, rs, []Targeted{tgt(dir, "/d", mk("B"))}).check(t, []string{"create on B /d"}, nil)
}

func TestRulesAgainstTargeted(t *testing.T) {
	c := tree(testinv.Nodes(E(F("/f", 1, 0, k("x")), F("/g", 1, 0)), E(F("/f", 2, 5, k("y")))))
	mirror := mustPreset(t, "mirror")
	tests := []struct {
		name              string
		targeted          []Targeted
		actions, rejected []string
		firstTargeted     bool
	}{
		{"a targeted action wins over a contradicting rule", []Targeted{tgt(file, "/f", cp("B", "A"))},
			[]string{"copy B→A /f", "copy A→B /g"}, []string{"copy A→B /f: " + string(SourceIsTarget)}, true},
		{"a rule action equal to a targeted one merges silently", []Targeted{tgt(file, "/f", cp("A", "B"))},
			[]string{"copy A→B /f", "copy A→B /g"}, nil, true},
		{"a targeted action that fails its item check leaves the rules alone", []Targeted{tgt(file, "/g", del("B"))},
			[]string{"copy A→B /f", "copy A→B /g"}, []string{"delete on B /g: " + string(TargetMissing)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Evaluate(c, mirror, tt.targeted)
			if err != nil {
				t.Fatal(err)
			}
			evaluate(t, c, mirror, tt.targeted).check(t, tt.actions, tt.rejected)
			if res.Actions[0].Targeted() != tt.firstTargeted {
				t.Errorf("the first action of /f: %+v, targeted %v", res.Actions[0], tt.firstTargeted)
			}
		})
	}
}

func TestDuplicateRuleActionsMergeSilently(t *testing.T) {
	rs := mustParse(t,
		fileRule(vs("content", "!="), okCopy),
		fileRule(vs("date", "newer"), okCopy),
		fileRule(vs("size", "!="), okCopy+`, {"op": "copy", "from": "A", "to": "B"}`),
	)
	c := tree(testinv.Nodes(f(2, 5, k("x")), f(1, 0, k("y"))))
	res, err := Evaluate(c, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	evaluate(t, c, rs, nil).check(t, []string{"copy A→B /f"}, nil)
	if res.Actions[0].Rule != 0 {
		t.Errorf("the kept copy comes from rule %d, want the first matching rule", res.Actions[0].Rule)
	}
}

func holdsSkipped(e *testinv.Entry) { e.HoldsSkipped = true }

func TestDirectoryStillHoldsFiles(t *testing.T) {
	holds := string(DirectoryStillHoldsFile)
	mirror := mustPreset(t, "mirror")
	onlyB := func(b ...testinv.Entry) *compare.Comparison { return tree(testinv.Nodes(nil, b)) }
	tests := []struct {
		name              string
		c                 *compare.Comparison
		rules             []Rule
		targeted          []Targeted
		actions, rejected []string
	}{
		{"a file left below: the directory and its parent are refused",
			onlyB(D("/p"), D("/p/d"), F("/p/d/f", 1, 0)), mirror, []Targeted{tgt(file, "/p/d/f", nothing)},
			[]string{"do-nothing /p/d/f"},
			[]string{"delete on B /p/d/f: " + string(BlockedByDoNothing), "delete on B /p: " + holds, "delete on B /p/d: " + holds}},
		{"everything below deleted too: kept",
			onlyB(D("/p"), D("/p/d"), F("/p/d/f", 1, 0), F("/p/g", 1, 0)), mirror, nil,
			[]string{"delete on B /p", "delete on B /p/d", "delete on B /p/d/f", "delete on B /p/g"}, nil},
		{"only the directory deleted",
			onlyB(D("/d"), F("/d/f", 1, 0)), nil, []Targeted{tgt(dir, "/d", del("B"))},
			nil, []string{"delete on B /d: " + holds}},
		{"a file on another part does not count",
			tree(testinv.Nodes(E(D("/d"), F("/d/f", 1, 0)), E(D("/d")))), nil, []Targeted{tgt(dir, "/d", del("B"))},
			[]string{"delete on B /d"}, nil},
		{"a directory left below",
			onlyB(D("/p"), D("/p/e")), mirror, []Targeted{tgt(dir, "/p/e", nothing)},
			[]string{"do-nothing /p/e"},
			[]string{"delete on B /p/e: " + string(BlockedByDoNothing), "delete on B /p: " + holds}},
		{"an unreadable directory below",
			onlyB(D("/p"), D("/p/x", ur)), nil, []Targeted{tgt(dir, "/p", del("B")), tgt(dir, "/p/x", del("B"))},
			nil, []string{"delete on B /p/x: " + string(TargetNotAccessible), "delete on B /p: " + holds}},
		{"skipped entries (hidden, links) inside: refused, and the parent too",
			onlyB(D("/p"), D("/p/h", holdsSkipped), F("/p/h/f", 1, 0)), mirror, nil,
			[]string{"delete on B /p/h/f"},
			[]string{"delete on B /p: " + holds, "delete on B /p/h: " + holds}},
		{"a sibling with a common prefix does not count",
			onlyB(D("/p"), D("/p2"), F("/p2/f", 1, 0)), nil, []Targeted{tgt(dir, "/p", del("B"))},
			[]string{"delete on B /p"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evaluate(t, tt.c, tt.rules, tt.targeted).check(t, tt.actions, tt.rejected)
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	c := tree(testinv.Nodes(f(1, 0), nil))
	ruleTests := []struct {
		rules []Rule
		rule  int
		field string
	}{
		{[]Rule{{AppliesTo: file, Conditions: []Condition{{Left: "A", Property: Presence, Op: On, Right: "C"}}, Actions: []Action{nothing}}}, 0, "conditions[0]"},
		{[]Rule{{AppliesTo: file, Actions: []Action{nothing}}, {AppliesTo: file, Actions: []Action{cp("A", "A2")}}}, 1, "actions[0]"},
	}
	for _, tt := range ruleTests {
		_, err := Evaluate(c, tt.rules, nil)
		var e *Error
		if !errors.As(err, &e) || e.Rule != tt.rule || e.Field != tt.field || !strings.Contains(e.Reason, "unknown part") {
			t.Errorf("error %v, want rule %d field %s unknown part", err, tt.rule, tt.field)
		}
	}
	for _, ts := range [][]Targeted{
		{tgt(file, "/nowhere", nothing)},
		{tgt(dir, "/f", nothing)},
		{tgt(file, "/f", del("C"))},
	} {
		if _, err := Evaluate(c, nil, ts); err == nil {
			t.Errorf("targeted %+v accepted", ts)
		}
	}
	// Targeted paths follow the comparison's case.
	evaluate(t, c, nil, []Targeted{tgt(file, "/F", cp("a1", "b"))}).check(t, []string{"copy A→B /f"}, nil)
}

func TestPresets(t *testing.T) {
	c := tree(testinv.Nodes(
		E(
			F("/a-only.txt", 1, 0, k("a")),
			D("/adir"), F("/adir/x.txt", 1, 0, k("x")),
			D("/both"), F("/both/inner.txt", 2, 2, k("i1")),
			F("/dates.txt", 5, 3, k("t")),
			F("/diff.txt", 5, 5, k("d1")),
			F("/older-on-a.txt", 5, 0, k("o1")),
			F("/same.txt", 5, 0, k("s")),
		),
		E(
			F("/b-only.txt", 1, 0, k("b")),
			D("/bdir"), F("/bdir/y.txt", 1, 0, k("y")),
			D("/both"), F("/both/inner.txt", 2, 1, k("i2")),
			F("/dates.txt", 5, 0, k("t")),
			F("/diff.txt", 6, 0, k("d2")),
			F("/older-on-a.txt", 5, 5, k("o2")),
			F("/same.txt", 5, 0, k("s")),
		),
	))
	tests := []struct {
		mode string
		want []string
	}{
		{"mirror", []string{
			"copy A→B /a-only.txt", "create on B /adir", "copy A→B /adir/x.txt", "delete on B /b-only.txt",
			"delete on B /bdir", "delete on B /bdir/y.txt", "copy A→B /both/inner.txt", "copy A→B /dates.txt",
			"copy A→B /diff.txt", "copy A→B /older-on-a.txt",
		}},
		{"update", []string{
			"copy A→B /a-only.txt", "create on B /adir", "copy A→B /adir/x.txt", "copy A→B /both/inner.txt",
			"copy A→B /dates.txt", "copy A→B /diff.txt",
		}},
		{"two-way", []string{
			"copy A→B /a-only.txt", "create on B /adir", "copy A→B /adir/x.txt", "copy B→A /b-only.txt",
			"create on A /bdir", "copy B→A /bdir/y.txt", "copy A→B /both/inner.txt", "copy A→B /dates.txt",
			"copy A→B /diff.txt", "copy B→A /older-on-a.txt",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			evaluate(t, c, mustPreset(t, tt.mode), nil).check(t, tt.want, nil)
		})
	}
	if _, err := Preset("backup", "A", "B"); err == nil || !strings.Contains(err.Error(), "mirror") {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestPresetsOnFilesOnly(t *testing.T) {
	s := compare.DefaultSettings()
	s.DataType = compare.Files
	c := compare.Compare(testinv.Nodes(E(D("/a"), F("/a/f", 1, 0)), E(D("/b"), F("/b/g", 1, 0))), s)
	evaluate(t, c, mustPreset(t, "mirror"), nil).check(t, []string{"copy A→B /a/f", "delete on B /b/g"}, nil)
}

func TestPresetsBetweenNamedParts(t *testing.T) {
	c := tree([]*inventory.Node{
		testinv.Node("A", testinv.Part("A1", F("/f", 1, 0)), testinv.Part("A2")),
		testinv.Node("B", testinv.Part("B1", F("/g", 1, 0))),
	})
	rs, err := Preset("mirror", "A2", "B1")
	if err != nil {
		t.Fatal(err)
	}
	evaluate(t, c, rs, nil).check(t, []string{"delete on B1 /g"}, nil)
}

// The copy directions of a rule set come from its rules' copy actions, matched or not; targeted
// actions and other operators give none.
func TestDirections(t *testing.T) {
	c := tree(testinv.Nodes(E(F("/f", 1, 0)), E(F("/f", 1, 0)), nil))
	dirsOf := func(rs []Rule, ts []Targeted) []Direction {
		res, err := Evaluate(c, rs, ts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Directions
	}
	for _, tc := range []struct {
		name  string
		rules []Rule
		ts    []Targeted
		want  []Direction
	}{
		{"mirror", mustPreset(t, "mirror"), nil, []Direction{{0, 1}}},
		{"update", mustPreset(t, "update"), nil, []Direction{{0, 1}}},
		{"two-way", mustPreset(t, "two-way"), nil, []Direction{{0, 1}, {1, 0}}},
		{"a rule that matches nothing", mustParse(t, fileRule(`{"property": "name", "op": "==", "value": "*.none"}`,
			`{"op": "copy-dates", "from": "C", "to": "A"}, {"op": "delete", "on": "B"}, {"op": "copy-content", "from": "C", "to": "A"}`),
		), nil, []Direction{{2, 0}}},
		{"targeted only", nil, []Targeted{tgt(file, "/f", cp("A", "C"))}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dirsOf(tc.rules, tc.ts); !slices.Equal(got, tc.want) {
				t.Errorf("directions %v, want %v", got, tc.want)
			}
		})
	}
}
