package plan_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

var (
	F   = testinv.File
	D   = testinv.Dir
	E   = testinv.E
	key = testinv.Key
)

func mirror(t *testing.T, from, to string) []rules.Rule {
	t.Helper()
	rs, err := rules.Preset("mirror", from, to)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func build(t *testing.T, c *compare.Comparison, rs []rules.Rule, ts []rules.Targeted, o plan.Options) *plan.Plan {
	t.Helper()
	res, err := rules.Evaluate(c, rs, ts)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Build(c, res, o)
}

func tree(nodes []*inventory.Node) *compare.Comparison {
	return compare.Compare(nodes, compare.DefaultSettings())
}

// describe renders each group as "AGID_1 copy A→B+C /f full", "AGID_2 delete on B /x" or
// "AGID_3 copy-dates A→B /d quiet".
func describe(p *plan.Plan) []string {
	var out []string
	for _, g := range p.Groups {
		var parts, paths []string
		for _, t := range g.Targets {
			parts = append(parts, t.Part)
			if !slices.Contains(paths, t.Path()) {
				paths = append(paths, t.Path())
			}
		}
		s := fmt.Sprintf("%s %s ", g.ID(), g.Op)
		if g.Source != nil {
			s += fmt.Sprintf("%s→%s %s", g.Source.Part, strings.Join(parts, "+"), strings.Join(paths, ","))
			if g.Kind != 0 {
				s += " " + g.Kind.String()
			}
			if g.DatesOnly {
				s += " dates-only"
			}
			if g.Quiet {
				s += " quiet"
			}
		} else {
			s += fmt.Sprintf("on %s %s", strings.Join(parts, "+"), strings.Join(paths, ","))
		}
		out = append(out, s)
	}
	return out
}

func check(t *testing.T, p *plan.Plan, want []string) {
	t.Helper()
	if got := describe(p); !slices.Equal(got, want) {
		t.Errorf("groups:\n got  %q\n want %q", got, want)
	}
}

func TestOrder(t *testing.T) {
	c := tree(testinv.Nodes(
		E(D("/m"), D("/m/n"), F("/m/n/f", 1, 0), D("/z"), F("/z.txt", 2, 0), F("/a.txt", 3, 0)),
		E(D("/c"), D("/c/d"), F("/c/d/x", 1, 0), F("/c/y", 1, 0), D("/x"), F("/b.txt", 1, 0)),
	))
	p := build(t, c, mirror(t, "A", "B"), nil, plan.Options{})
	check(t, p, []string{
		"AGID_1 delete on B /b.txt",
		"AGID_2 delete on B /c/d/x",
		"AGID_3 delete on B /c/y",
		"AGID_4 delete on B /c/d", // deepest first
		"AGID_5 delete on B /c",
		"AGID_6 delete on B /x",
		"AGID_7 create on B /m", // parents first
		"AGID_8 create on B /z",
		"AGID_9 create on B /m/n",
		"AGID_10 copy A→B /a.txt full",
		"AGID_11 copy A→B /m/n/f full",
		"AGID_12 copy A→B /z.txt full",
		"AGID_13 copy-dates A→B /m quiet", // the directories it created
		"AGID_14 copy-dates A→B /m/n quiet",
		"AGID_15 copy-dates A→B /z quiet",
	})
	wantPhases := []plan.Phase{
		plan.PhaseDeleteFiles, plan.PhaseDeleteFiles, plan.PhaseDeleteFiles,
		plan.PhaseDeleteDirs, plan.PhaseDeleteDirs, plan.PhaseDeleteDirs,
		plan.PhaseCreateDirs, plan.PhaseCreateDirs, plan.PhaseCreateDirs,
		plan.PhaseCopy, plan.PhaseCopy, plan.PhaseCopy,
		plan.PhaseDirDates, plan.PhaseDirDates, plan.PhaseDirDates,
	}
	for i, g := range p.Groups {
		if g.Phase != wantPhases[i] {
			t.Errorf("%s: phase %d, want %d", g.ID(), g.Phase, wantPhases[i])
		}
	}
	if s := p.Summary(); s != (plan.Summary{Actions: 12, Bytes: 6}) {
		t.Errorf("summary %+v", s)
	}
	if len(p.Rejected) != 0 {
		t.Errorf("rejected %+v", p.Rejected)
	}
}

func TestCopyKinds(t *testing.T) {
	c := tree(testinv.Nodes(
		E(F("/content", 4, 0, key("x")), F("/dates", 5, 7, key("d")), F("/new", 6, 0, key("n")), F("/same", 3, 0, key("s"))),
		E(F("/content", 2, 0, key("y")), F("/dates", 5, 0, key("d")), F("/same", 3, 0, key("s"))),
	))
	tests := []struct {
		name     string
		rules    []rules.Rule
		targeted []rules.Targeted
		want     []string
		bytes    int64
	}{
		{"mirror: identical content becomes a dates-only copy", mirror(t, "A", "B"), nil, []string{
			"AGID_1 copy A→B /content full",
			"AGID_2 copy-dates A→B /dates dates-only",
			"AGID_3 copy A→B /new full",
		}, 10},
		{"requested operators", nil, []rules.Targeted{
			{Kind: inventory.File, Path: "/content", Action: rules.Action{Op: rules.CopyContent, From: "A", To: "B"}},
			{Kind: inventory.File, Path: "/dates", Action: rules.Action{Op: rules.CopyDates, From: "A", To: "B"}},
			{Kind: inventory.File, Path: "/new", Action: rules.Action{Op: rules.CopyContent, From: "A", To: "B"}},
		}, []string{
			"AGID_1 copy-content A→B /content full",
			"AGID_2 copy-dates A→B /dates",
			"AGID_3 copy-content A→B /new full",
		}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, c, tt.rules, tt.targeted, plan.Options{})
			check(t, p, tt.want)
			if b := p.Summary().Bytes; b != tt.bytes {
				t.Errorf("bytes %d, want %d", b, tt.bytes)
			}
		})
	}
}

func TestRuleOpAndTargeted(t *testing.T) {
	c := tree(testinv.Nodes(E(F("/f", 5, 7, key("d")), F("/g", 1, 0)), E(F("/f", 5, 0, key("d")))))
	p := build(t, c, mirror(t, "A", "B"), []rules.Targeted{
		{Kind: inventory.File, Path: "/g", Action: rules.Action{Op: rules.CopyContent, From: "A", To: "B"}},
	}, plan.Options{})
	check(t, p, []string{"AGID_1 copy-dates A→B /f dates-only", "AGID_2 copy-content A→B /g full"})
	if g := p.Groups[0]; g.RuleOp != rules.Copy || g.Targeted || g.Kind != 0 || g.Bytes() != 0 {
		t.Errorf("dates-only group %+v", g)
	}
	if g := p.Groups[1]; g.RuleOp != rules.CopyContent || !g.Targeted || g.Bytes() != 1 {
		t.Errorf("targeted group %+v", g)
	}
}

// mirrorTo writes the mirror preset from A onto each target as rules of a rules file.
func mirrorTo(targets ...string) string {
	var rs []string
	for _, to := range targets {
		presence := func(l, op, r string) string {
			return fmt.Sprintf(`{"left": %q, "property": "presence", "op": %q, "right": %q}`, l, op, r)
		}
		differ := func(prop string) string {
			return fmt.Sprintf(`{"left": "A", "property": %q, "op": "!=", "right": %q}`, prop, to)
		}
		copyTo := fmt.Sprintf(`{"op": "copy", "from": "A", "to": %q}`, to)
		rule := func(kind, conds, act string) string {
			return fmt.Sprintf(`{"applies_to": %q, "conditions": [%s], "actions": [%s]}`, kind, conds, act)
		}
		rs = append(rs,
			rule("file", presence("A", "not-on", to), copyTo),
			rule("file", presence("A", "on", to)+","+differ("content"), copyTo),
			rule("file", presence("A", "on", to)+","+differ("date"), copyTo),
			rule("file", presence(to, "not-on", "A"), fmt.Sprintf(`{"op": "delete", "on": %q}`, to)),
			rule("directory", presence("A", "not-on", to), fmt.Sprintf(`{"op": "create", "on": %q}`, to)),
		)
	}
	return `{"rules": [` + strings.Join(rs, ",\n") + `]}`
}

func TestCopiesFromOneSourceShareAGroup(t *testing.T) {
	f, err := rules.Parse(strings.NewReader(mirrorTo("B", "C")), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := tree(testinv.Nodes(
		E(D("/d"), F("/f", 3, 0, key("f")), F("/g", 4, 0, key("g")), F("/h", 5, 9, key("h"))),
		E(F("/g", 2, 0, key("old")), F("/h", 5, 0, key("h")), F("/z", 1, 0)),
		E(F("/z", 1, 0)),
	))
	tests := []struct {
		name  string
		delta func(int64, string, string) bool
		want  []string
		bytes int64
	}{
		{"full copies", nil, []string{
			"AGID_1 delete on B /z",
			"AGID_2 delete on C /z",
			"AGID_3 create on B /d",
			"AGID_4 create on C /d",
			"AGID_5 copy A→B+C /f full",
			"AGID_6 copy A→B+C /g full",
			"AGID_7 copy-dates A→B /h dates-only",
			"AGID_8 copy A→C /h full",
			"AGID_9 copy-dates A→B+C /d quiet",
		}, 3*2 + 4*2 + 5},
		{"a delta onto an existing target travels apart", func(int64, string, string) bool { return true }, []string{
			"AGID_1 delete on B /z",
			"AGID_2 delete on C /z",
			"AGID_3 create on B /d",
			"AGID_4 create on C /d",
			"AGID_5 copy A→B+C /f full",
			"AGID_6 copy A→B /g delta",
			"AGID_7 copy A→C /g full",
			"AGID_8 copy-dates A→B /h dates-only",
			"AGID_9 copy A→C /h full",
			"AGID_10 copy-dates A→B+C /d quiet",
		}, 3*2 + 4*2 + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, c, f.Rules, nil, plan.Options{PreferDelta: tt.delta})
			check(t, p, tt.want)
			if s := p.Summary(); s.Bytes != tt.bytes || s.Actions != len(p.Actions()) {
				t.Errorf("summary %+v, want %d bytes and %d actions", s, tt.bytes, len(p.Actions()))
			}
		})
	}
}

func TestPreferDelta(t *testing.T) {
	c := tree(testinv.Nodes(E(F("/f", 10, 5), F("/g", 20, 0)), E(F("/f", 11, 0))))
	type call struct {
		size     int64
		src, dst string
	}
	var calls []call
	p := build(t, c, mirror(t, "A", "B"), nil, plan.Options{PreferDelta: func(size int64, src, dst string) bool {
		calls = append(calls, call{size, src, dst})
		return size > 5
	}})
	check(t, p, []string{"AGID_1 copy A→B /f delta", "AGID_2 copy A→B /g full"})
	if want := []call{{10, "A", "B"}}; !reflect.DeepEqual(calls, want) {
		t.Errorf("PreferDelta called with %+v, want %+v (never for an absent target)", calls, want)
	}
}

func TestEndpoints(t *testing.T) {
	c := tree(testinv.Nodes(E(D("/d"), F("/d/f", 10, 5, key("x"))), E(F("/g", 1, 0))))
	p := build(t, c, mirror(t, "A", "B"), nil, plan.Options{})
	check(t, p, []string{"AGID_1 delete on B /g", "AGID_2 create on B /d", "AGID_3 copy A→B /d/f full", "AGID_4 copy-dates A→B /d quiet"})
	cp := p.Groups[2]
	src := cp.Source
	if !src.Exists() || src.Size() != 10 || !src.Mtime().Equal(testinv.T0.Add(5*60e9)) || src.ContentKey().IsZero() ||
		src.Part != "A" || src.Node != "A" || src.Root != "/a1" || src.Dir != "/a1" || src.Path() != "/d/f" {
		t.Errorf("source %+v", src)
	}
	if dst := cp.Targets[0]; dst.Exists() || dst.Part != "B" || dst.Dir != "/b1" || dst.Path() != "/d/f" {
		t.Errorf("absent target %+v", dst)
	}
	if cp.Size() != 10 || cp.ItemKind != inventory.File {
		t.Errorf("copy group %+v", cp)
	}
	if del := p.Groups[0]; !del.Targets[0].Exists() || del.Targets[0].Size() != 1 || del.ItemKind != inventory.File {
		t.Errorf("delete target %+v", del.Targets[0])
	}
	if mk := p.Groups[1]; mk.Targets[0].Exists() || mk.ItemKind != inventory.Dir {
		t.Errorf("create target %+v", mk.Targets[0])
	}
	want := []plan.PartInfo{{Name: "A", Node: "A", Root: "/a1", Type: inventory.SourceDir, Files: 1}, {Name: "B", Node: "B", Root: "/b1", Type: inventory.SourceDir, Files: 1}}
	if !reflect.DeepEqual(p.Parts, want) {
		t.Errorf("parts %+v", p.Parts)
	}
}

func TestFileDataSource(t *testing.T) {
	b := testinv.Part("B1", F("/g.txt", 1, 0, key("old")))
	b.Root, b.Type = "/b/g.txt", inventory.SourceFile
	c := tree([]*inventory.Node{testinv.Node("A", testinv.Part("A1", F("/g.txt", 2, 5, key("new")))), testinv.Node("B", b)})
	p := build(t, c, mirror(t, "A", "B"), nil, plan.Options{})
	check(t, p, []string{"AGID_1 copy A→B /g.txt full"})
	if dst := p.Groups[0].Targets[0]; dst.Root != "/b/g.txt" || dst.Dir != "/b" || dst.Path() != "/g.txt" || !dst.Exists() {
		t.Errorf("file data source target %+v", dst.Location)
	}
}

func TestFlatTargets(t *testing.T) {
	s := compare.DefaultSettings()
	s.Matching, s.DataType = compare.Flat, compare.Files
	c := compare.Compare(testinv.Nodes(
		E(F("/f", 3, 0, key("x"))),
		E(D("/p"), F("/p/f", 2, 0, key("y")), D("/q"), F("/q/f", 3, 0, key("x")), D("/r"), F("/r/f", 3, 4, key("x")), F("/z", 1, 0), D("/w"), F("/w/z", 1, 0)),
	), s)
	p := build(t, c, nil, []rules.Targeted{
		{Kind: inventory.File, Path: "z", Action: rules.Action{Op: rules.Delete, On: "B"}},
		{Kind: inventory.File, Path: "f", Action: rules.Action{Op: rules.Copy, From: "A", To: "B"}},
	}, plan.Options{})
	// The name is at several paths on B: each is a target, except /q/f, which already holds the
	// content and the date.
	check(t, p, []string{"AGID_1 delete on B+B /w/z,/z", "AGID_2 copy A→B+B /r/f,/p/f full"})
	if s := p.Summary(); s != (plan.Summary{Actions: 4, Bytes: 6}) {
		t.Errorf("summary %+v", s)
	}
}

func TestRejected(t *testing.T) {
	c := func() *compare.Comparison {
		return tree(testinv.Nodes(
			E(F("/b", 1, 0)),
			E(D("/dir1"), F("/dir1/keep", 1, 0), F("/a", 1, 0, testinv.Unreadable)),
		))
	}
	targeted := []rules.Targeted{
		{Kind: inventory.File, Path: "/dir1/keep", Action: rules.Action{Op: rules.DoNothing}},
		{Kind: inventory.File, Path: "/b", Action: rules.Action{Op: rules.CopyDates, From: "A", To: "B"}},
	}
	checkRejected(t, build(t, c(), mirror(t, "A", "B"), targeted, plan.Options{}))
	p, err := plan.Evaluate(c(), mirror(t, "A", "B"), targeted, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkRejected(t, p)
}

func checkRejected(t *testing.T, p *plan.Plan) {
	t.Helper()
	want := []plan.Rejected{
		{Op: "delete", On: "B", Path: "/a", Reason: rules.TargetNotAccessible},
		{Op: "read", On: "B", Path: "/a", Reason: rules.NotReadable},
		{Op: "copy-dates", From: "A", To: "B", Path: "/b", Reason: rules.TargetMissing},
		{Op: "delete", On: "B", Path: "/dir1", Reason: rules.DirectoryStillHoldsFile},
	}
	if !reflect.DeepEqual(p.Rejected, want) {
		t.Errorf("rejected:\n got  %+v\n want %+v", p.Rejected, want)
	}
	// What the do-nothing kept off its item is left alone, not refused.
	alone := []plan.Rejected{{Op: "delete", On: "B", Path: "/dir1/keep", Reason: rules.BlockedByDoNothing}}
	if !reflect.DeepEqual(p.LeftAlone, alone) {
		t.Errorf("left alone:\n got  %+v\n want %+v", p.LeftAlone, alone)
	}
	check(t, p, []string{"AGID_1 copy A→B /b full"}) // the do-nothing makes no group
}

func TestJSON(t *testing.T) {
	nodes := []*inventory.Node{
		testinv.Node("A", testinv.Part("A1", D("/d"), F("/d/b.txt", 2, 0), F("/e", 0, 0), F("/t", 3, 5, key("t")))),
		testinv.Node("B", testinv.Part("B1", D("/dir1"), F("/dir1/keep", 1, 0), F("/t", 3, 0, key("t")), F("/z.txt", 1, 0))),
	}
	c := tree(nodes)
	p := build(t, c, mirror(t, "A1", "B1"), []rules.Targeted{
		{Kind: inventory.File, Path: "/dir1/keep", Action: rules.Action{Op: rules.DoNothing}},
	}, plan.Options{})
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"nodes": map[string]any{"A": []any{"/a1"}, "B": []any{"/b1"}},
		"actions": []any{
			map[string]any{"op": "delete", "on": "B", "path": "/z.txt", "group": "AGID_1"},
			map[string]any{"op": "create", "on": "B", "path": "/d", "group": "AGID_2"},
			map[string]any{"op": "copy", "from": "A", "to": "B", "path": "/d/b.txt", "kind": "full", "size": 2.0, "group": "AGID_3"},
			map[string]any{"op": "copy", "from": "A", "to": "B", "path": "/e", "kind": "full", "size": 0.0, "group": "AGID_4"},
			map[string]any{"op": "copy-dates", "from": "A", "to": "B", "path": "/t", "group": "AGID_5"},
		},
		"rejected": []any{
			map[string]any{"op": "delete", "on": "B", "path": "/dir1", "reason": "directory still holds files"},
		},
		"left_alone": []any{
			map[string]any{"op": "delete", "on": "B", "path": "/dir1/keep", "reason": "item is set to do nothing"},
		},
		"summary": map[string]any{"actions": 5.0, "bytes": 2.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan JSON:\n got  %s\n want %s", data, mustJSON(t, want))
	}
}

func TestJSONEmptyAndSeveralSources(t *testing.T) {
	nodes := []*inventory.Node{
		testinv.Node("A", testinv.Part("A1", F("/f", 1, 0)), testinv.Part("A2")),
		testinv.Node("B", testinv.Part("B1", F("/f", 1, 0))),
	}
	p := build(t, tree(nodes), mirror(t, "A1", "B1"), nil, plan.Options{})
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"nodes":{"A":["/a1","/a2"],"B":["/b1"]},"actions":[],"rejected":[],"left_alone":[],"summary":{"actions":0,"bytes":0}}`
	if string(data) != want {
		t.Errorf("plan JSON\n got  %s\n want %s", data, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A folder A could not read leaves only what is below it alone: the rest of the mirror is planned,
// what B holds below that folder is not deleted, and the folder is reported.
func TestUnreadableFolderLeavesTheRest(t *testing.T) {
	nodes := testinv.Nodes(
		E(D("/u", testinv.Unreadable), F("/new.txt", 1, 0)),
		E(D("/u"), F("/u/kept.txt", 1, 0), F("/stale.txt", 1, 0)),
	)
	testinv.Incomplete(nodes[0].Parts[0])
	p := build(t, tree(nodes), mirror(t, "A", "B"), nil, plan.Options{})
	check(t, p, []string{"AGID_1 delete on B /stale.txt", "AGID_2 copy A→B /new.txt full"})
	want := []plan.Rejected{{Op: "read", On: "A", Path: "/u", Reason: rules.NotReadable}}
	if !reflect.DeepEqual(p.Rejected, want) {
		t.Errorf("rejected:\n got  %+v\n want %+v", p.Rejected, want)
	}
}
