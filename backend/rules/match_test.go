package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
)

var (
	F  = testinv.File
	D  = testinv.Dir
	E  = testinv.E
	k  = testinv.Key
	ae = testinv.AnalysisError
	ur = testinv.Unreadable
)

// plus2 is the local time of the literal dates below: T0 (12:00 UTC) is 14:00 there.
var plus2 = time.FixedZone("UTC+2", 2*3600)

// sides lists the entries of nodes A, B, C…
func sides(s ...[]testinv.Entry) [][]testinv.Entry { return s }

// f is the file "/f" on one side; d the directory "/f".
func f(size int64, min int, opts ...testinv.Opt) []testinv.Entry {
	return E(F("/f", size, min, opts...))
}

func d(opts ...testinv.Opt) []testinv.Entry { return E(D("/f", opts...)) }

// placeholderOnB: "/d/f" is on A, and B could not list "/d".
var placeholderOnB = sides(E(D("/d"), F("/d/f", 10, 0, k("x"))), E(D("/d", ur)))

func vs(prop, op string) string {
	return fmt.Sprintf(`{"left": "A", "property": %q, "op": %q, "right": "B"}`, prop, op)
}

func lit(prop, op, value string) string {
	return fmt.Sprintf(`{"left": "A", "property": %q, "op": %q, "value": %q}`, prop, op, value)
}

// matchedItems evaluates one rule (conditions as in a rules file, action do-nothing) and returns
// the paths of the items it matches.
func matchedItems(t *testing.T, nodes []*inventory.Node, s compare.Settings, kind, match, conds string) []string {
	t.Helper()
	file, err := Parse(strings.NewReader(rulesFile(fmt.Sprintf(
		`{"applies_to": %q, "match": %q, "conditions": [%s], "actions": [{"op": "do-nothing"}]}`, kind, match, conds))), plus2)
	if err != nil {
		t.Fatal(err)
	}
	c := compare.Compare(nodes, s)
	res, err := Evaluate(c, file.Rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range res.Actions {
		if a.Op != DoNothing || a.Targeted() {
			t.Fatalf("unexpected action %+v", a)
		}
		out = append(out, a.Item.Path())
	}
	return out
}

// condMatches tells whether the condition holds on the item named "f" of the sides.
func condMatches(t *testing.T, ss [][]testinv.Entry, cond string, incomplete ...int) bool {
	t.Helper()
	return condMatchesIn(t, compare.DefaultSettings(), ss, cond, incomplete...)
}

func condMatchesIn(t *testing.T, s compare.Settings, ss [][]testinv.Entry, cond string, incomplete ...int) bool {
	t.Helper()
	nodes := testinv.Nodes(ss...)
	for _, i := range incomplete {
		testinv.Incomplete(nodes[i].Parts[0])
	}
	kind := ""
	for _, es := range ss {
		for _, e := range es {
			if e.Name() == "f" {
				kind = e.Kind.String()
			}
		}
	}
	if kind == "" {
		t.Fatal("no item named f")
	}
	for _, p := range matchedItems(t, nodes, s, kind, "all", cond) {
		if strings.HasSuffix(p, "/f") || p == "f" {
			return true
		}
	}
	return false
}

type condCase struct {
	name  string
	sides [][]testinv.Entry
	cond  string
	want  bool
}

func runConds(t *testing.T, tests []condCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := condMatches(t, tt.sides, tt.cond); got != tt.want {
				t.Errorf("%s: %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

func TestContentCondition(t *testing.T) {
	eq, ne := vs("content", "=="), vs("content", "!=")
	same := sides(f(10, 0, k("x")), f(10, 5, k("x")))
	differ := sides(f(10, 0, k("x")), f(10, 0, k("y")))
	onlyA := sides(f(10, 0), nil)
	onlyB := sides(nil, f(10, 0))
	neither := sides(nil, nil, f(10, 0))
	unhashed := sides(f(10, 0), f(10, 0))
	sizes := sides(f(10, 0), f(11, 0))
	analysis := sides(f(10, 0, k("x"), ae), f(10, 0, k("x")))
	unreadableB := sides(f(10, 0), f(0, 0, ur))
	runConds(t, []condCase{
		{"== same content", same, eq, true},
		{"!= same content", same, ne, false},
		{"== different content", differ, eq, false},
		{"!= different content", differ, ne, true},
		{"== right absent", onlyA, eq, false},
		{"!= right absent", onlyA, ne, true},
		{"== left absent", onlyB, eq, false},
		{"!= left absent", onlyB, ne, true},
		{"== both absent", neither, eq, true},
		{"!= both absent", neither, ne, false},
		{"== unread equal sizes", unhashed, eq, true},
		{"!= unread different sizes", sizes, ne, true},
		{"== unread different sizes", sizes, eq, false},
		{"== analysis error", analysis, eq, false},
		{"!= analysis error", analysis, ne, false},
		{"== unreadable right", unreadableB, eq, false},
		{"!= unreadable right", unreadableB, ne, false},
		{"!= placeholder right", placeholderOnB, ne, false},
		{"== directories", sides(d(), d()), eq, false},
		{"!= directory on one side", sides(d(), nil), ne, false},
	})
}

func TestDateConditionAgainstPart(t *testing.T) {
	eq, ne, newer, older := vs("date", "=="), vs("date", "!="), vs("date", "newer"), vs("date", "older")
	sameDate := sides(f(10, 5, k("x")), f(10, 5, k("y")))
	aLater := sides(f(10, 5), f(10, 0))
	aEarlier := sides(f(10, 0), f(10, 5))
	onlyA := sides(f(10, 0), nil)
	onlyB := sides(nil, f(10, 0))
	unreadableB := sides(f(10, 5), f(0, 0, ur))
	unreadableA := sides(f(0, 0, ur), nil)
	runConds(t, []condCase{
		{"== same date", sameDate, eq, true},
		{"== different dates", aLater, eq, false},
		{"!= different dates", aLater, ne, true},
		{"!= same date", sameDate, ne, false},
		{"== one nanosecond apart", sides(f(1, 0), f(1, 0, testinv.At(1))), eq, false},
		{"== right absent", onlyA, eq, false},
		{"!= right absent", onlyA, ne, false},
		{"newer: left later", aLater, newer, true},
		{"newer: left earlier", aEarlier, newer, false},
		{"newer: same date", sameDate, newer, false},
		{"newer: right absent", onlyA, newer, true},
		{"newer: left absent", onlyB, newer, false},
		{"newer: both absent", sides(nil, nil, f(1, 0)), newer, false},
		{"newer: right unreadable", unreadableB, newer, false},
		{"newer: right is a placeholder", placeholderOnB, newer, false},
		{"newer: left unreadable", unreadableA, newer, false},
		{"older: left earlier", aEarlier, older, true},
		{"older: left later", aLater, older, false},
		{"older: same date", sameDate, older, false},
		{"older: right absent", onlyA, older, false},
		{"newer: directories", sides(d(), nil), newer, false},
		{"==: directories", sides(d(), d()), eq, false},
		{"newer: directory written later", sides(d(testinv.At(time.Hour)), d()), newer, false},
		{"!=: directories written at different times", sides(d(testinv.At(time.Hour)), d()), ne, false},
	})
}

func TestDateConditionAgainstLiteral(t *testing.T) {
	at := func(d time.Duration) [][]testinv.Entry { return sides(f(1, 0, testinv.At(d)), nil) }
	t0 := at(0)
	runConds(t, []condCase{
		{"== local minute", t0, lit("date", "==", "2024-01-31T14:00"), true},
		{"== within the minute", at(59 * time.Second), lit("date", "==", "2024-01-31T14:00"), true},
		{"== next minute", at(time.Minute), lit("date", "==", "2024-01-31T14:00"), false},
		{"== read as local time, not UTC", t0, lit("date", "==", "2024-01-31T12:00"), false},
		{"!= next minute", at(time.Minute), lit("date", "!=", "2024-01-31T14:00"), true},
		{"!= same minute", at(30 * time.Second), lit("date", "!=", "2024-01-31T14:00"), false},
		{"newer than the minute before", t0, lit("date", "newer", "2024-01-31T13:59"), true},
		{"newer within the same minute", at(30 * time.Second), lit("date", "newer", "2024-01-31T14:00"), false},
		{"newer than the day", t0, lit("date", "newer", "2024-01-31"), true},
		{"newer than the next day", t0, lit("date", "newer", "2024-02-01"), false},
		{"older than the minute after", t0, lit("date", "older", "2024-01-31T14:01"), true},
		{"older than the same minute", t0, lit("date", "older", "2024-01-31T14:00"), false},
		{"older than the day", t0, lit("date", "older", "2024-01-31"), false},
		{"older than the next day", t0, lit("date", "older", "2024-02-01"), true},
		{"== day literal is midnight", sides(f(1, -14*60), nil), lit("date", "==", "2024-01-31"), true},
		{"left absent", sides(nil, f(1, 0)), lit("date", "!=", "2024-01-01"), false},
		{"left unreadable", sides(f(0, 0, ur), nil), lit("date", "older", "2030-01-01"), false},
		{"directory", sides(d(), nil), lit("date", "older", "2030-01-01"), false},
		{"directory at the literal", sides(d(), nil), lit("date", "==", "2024-01-31T14:00"), false},
	})
}

func TestSizeCondition(t *testing.T) {
	const mb10 = 10 << 20
	runConds(t, []condCase{
		{"== same size", sides(f(10, 0), f(10, 5)), vs("size", "=="), true},
		{"== different sizes", sides(f(10, 0), f(11, 0)), vs("size", "=="), false},
		{"!= different sizes", sides(f(10, 0), f(11, 0)), vs("size", "!="), true},
		{"!= same size", sides(f(10, 0), f(10, 0)), vs("size", "!="), false},
		{"bigger", sides(f(11, 0), f(10, 0)), vs("size", "bigger"), true},
		{"bigger: same size", sides(f(10, 0), f(10, 0)), vs("size", "bigger"), false},
		{"bigger: smaller", sides(f(9, 0), f(10, 0)), vs("size", "bigger"), false},
		{"smaller", sides(f(9, 0), f(10, 0)), vs("size", "smaller"), true},
		{"smaller: same size", sides(f(10, 0), f(10, 0)), vs("size", "smaller"), false},
		{"smaller: bigger", sides(f(11, 0), f(10, 0)), vs("size", "smaller"), false},
		{"== right absent", sides(f(0, 0), nil), vs("size", "=="), false},
		{"!= right absent", sides(f(10, 0), nil), vs("size", "!="), false},
		{"bigger: right absent", sides(f(10, 0), nil), vs("size", "bigger"), false},
		{"smaller: left absent", sides(nil, f(10, 0)), vs("size", "smaller"), false},
		{"== right unreadable (no size)", sides(f(0, 0), f(0, 0, ur)), vs("size", "=="), false},
		{"== directories", sides(d(), d()), vs("size", "=="), false},
		{"== 10MB", sides(f(mb10, 0), nil), lit("size", "==", "10MB"), true},
		{"== 10MB, one byte more", sides(f(mb10+1, 0), nil), lit("size", "==", "10MB"), false},
		{"!= 10MB", sides(f(mb10+1, 0), nil), lit("size", "!=", "10MB"), true},
		{"!= 10MB, equal", sides(f(mb10, 0), nil), lit("size", "!=", "10MB"), false},
		{"bigger than 10MB", sides(f(mb10+1, 0), nil), lit("size", "bigger", "10MB"), true},
		{"bigger than 10MB, equal", sides(f(mb10, 0), nil), lit("size", "bigger", "10MB"), false},
		{"smaller than 10MB", sides(f(mb10-1, 0), nil), lit("size", "smaller", "10MB"), true},
		{"smaller than 10MB, equal", sides(f(mb10, 0), nil), lit("size", "smaller", "10MB"), false},
		{"smaller than a literal, left absent", sides(nil, f(0, 0)), lit("size", "smaller", "10MB"), false},
		{"literal on a directory", sides(d(), nil), lit("size", "smaller", "10MB"), false},
	})
}

func TestPresenceCondition(t *testing.T) {
	on, notOn := vs("presence", "on"), vs("presence", "not-on")
	for _, kind := range []struct {
		name string
		make func() []testinv.Entry
	}{{"file", func() []testinv.Entry { return f(1, 0) }}, {"directory", func() []testinv.Entry { return d() }}} {
		x := kind.make
		t.Run(kind.name, func(t *testing.T) {
			runConds(t, []condCase{
				{"on: both", sides(x(), x()), on, true},
				{"on: left only", sides(x(), nil), on, false},
				{"on: right only", sides(nil, x()), on, false},
				{"on: neither", sides(nil, nil, x()), on, false},
				{"not-on: left only", sides(x(), nil), notOn, true},
				{"not-on: both", sides(x(), x()), notOn, false},
				{"not-on: right only", sides(nil, x()), notOn, false},
				{"not-on: neither", sides(nil, nil, x()), notOn, false},
			})
		})
	}
	runConds(t, []condCase{
		{"on: a placeholder counts as present", placeholderOnB, on, true},
		{"not-on: a placeholder counts as present", placeholderOnB, notOn, false},
		{"on: an unreadable file is present", sides(f(1, 0), f(0, 0, ur)), on, true},
		{"on: an unreadable directory is present", sides(d(), d(ur)), on, true},
	})
}

func TestNameCondition(t *testing.T) {
	nodes := testinv.Nodes(E(
		F("/Report.txt", 1, 0), F("/report.TXT.bak", 1, 0), F("/a+b.txt", 1, 0), F("/notes", 1, 0),
		D("/dir.txt"), F("/dir.txt/inner.txt", 1, 0),
	), nil)
	named := func(op, value string) string {
		return fmt.Sprintf(`{"property": "name", "op": %q, "value": %q}`, op, value)
	}
	tests := []struct {
		kind, cond string
		want       []string
	}{
		{"file", named("==", "*.txt"), []string{"/a+b.txt", "/dir.txt/inner.txt", "/Report.txt"}},
		{"file", named("==", "*.TXT"), []string{"/a+b.txt", "/dir.txt/inner.txt", "/Report.txt"}},
		{"file", named("==", "report.txt"), []string{"/Report.txt"}},
		{"file", named("==", "rep*"), []string{"/Report.txt", "/report.TXT.bak"}},
		{"file", named("==", "*.*.*"), []string{"/report.TXT.bak"}},
		{"file", named("==", "a+b.txt"), []string{"/a+b.txt"}},
		{"file", named("==", "a.b.txt"), nil},
		{"file", named("==", "*"), []string{"/a+b.txt", "/dir.txt/inner.txt", "/notes", "/Report.txt", "/report.TXT.bak"}},
		{"file", named("!=", "*.txt"), []string{"/notes", "/report.TXT.bak"}},
		{"file", named("!=", "notes"), []string{"/a+b.txt", "/dir.txt/inner.txt", "/Report.txt", "/report.TXT.bak"}},
		{"directory", named("==", "*.txt"), []string{"/dir.txt"}},
		{"directory", named("!=", "*.txt"), nil},
	}
	for _, tt := range tests {
		got := matchedItems(t, nodes, compare.DefaultSettings(), tt.kind, "all", tt.cond)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %s: %q, want %q", tt.kind, tt.cond, got, tt.want)
		}
	}
}

func TestConditionsOnAnIncompletePart(t *testing.T) {
	name := `{"property": "name", "op": "==", "value": "f"}`
	tests := []struct {
		sides      [][]testinv.Entry
		cond       string
		incomplete int
		want       bool
	}{
		{sides(f(10, 0), nil), vs("content", "!="), 1, false},
		{sides(f(10, 0), f(10, 0)), vs("content", "=="), 1, false},
		{sides(f(10, 5), nil), vs("date", "newer"), 1, false},
		{sides(f(10, 5), f(10, 0)), vs("date", "!="), 0, false},
		{sides(f(10, 0), f(10, 0)), vs("size", "=="), 1, false},
		{sides(f(10, 0), nil), vs("presence", "not-on"), 1, false},
		{sides(f(10, 0), f(1, 0)), vs("presence", "on"), 0, false},
		{sides(f(10, 0), nil), lit("size", "==", "10B"), 0, false},
		{sides(f(10, 0), nil), lit("size", "==", "10B"), 1, true}, // the literal names no right part
		{sides(f(10, 0), nil), lit("date", "older", "2030-01-01"), 0, false},
		{sides(f(10, 0), f(10, 0)), name, 0, true},
		{sides(f(10, 0), f(10, 0)), name, 1, true},
	}
	flat := compare.DefaultSettings()
	flat.Matching = compare.Flat
	for _, tt := range tests {
		if got := condMatchesIn(t, flat, tt.sides, tt.cond, tt.incomplete); got != tt.want {
			t.Errorf("flat: %s with part %d incomplete: %v, want %v", tt.cond, tt.incomplete, got, tt.want)
		}
	}
}

// In tree matching, a part that could not read one folder still answers for everything else:
// only the items below that folder are unknown (an unreadable sub-folder must not make the whole
// run a silent no-op).
func TestConditionsBesideAnUnreadableFolder(t *testing.T) {
	unreadable := E(D("/u", testinv.Unreadable))
	tests := []struct {
		sides [][]testinv.Entry
		cond  string
		want  bool
	}{
		{sides(f(10, 0), nil), vs("presence", "not-on"), true},
		{sides(f(10, 0), f(10, 0)), vs("content", "=="), true},
		{sides(f(10, 5), f(10, 0)), vs("date", "newer"), true},
		{sides(f(10, 0), f(1, 0)), vs("size", "!="), true},
	}
	for _, tt := range tests {
		tt.sides[1] = append(tt.sides[1], unreadable...)
		if got := condMatches(t, tt.sides, tt.cond, 1); got != tt.want {
			t.Errorf("%s beside B's unreadable /u: %v, want %v", tt.cond, got, tt.want)
		}
	}
	// Below the folder B could not read, nothing is known of B: A's file is not "not on B".
	nodes := testinv.Nodes(E(D("/u"), F("/u/f", 1, 0)), unreadable)
	testinv.Incomplete(nodes[1].Parts[0])
	if got := matchedItems(t, nodes, compare.DefaultSettings(), "file", "all", vs("presence", "not-on")); len(got) != 0 {
		t.Errorf("not-on B below B's unreadable /u matched %q", got)
	}
}

func TestRuleMatching(t *testing.T) {
	nodes := testinv.Nodes(
		E(F("/both-same", 1, 0), F("/both-differ", 1, 0, k("x")), F("/a-only", 1, 0), D("/dir-a")),
		E(F("/both-same", 1, 0), F("/both-differ", 1, 0, k("y")), F("/b-only", 1, 0), D("/dir-b")),
	)
	aOnly := vs("presence", "not-on")
	differ := vs("content", "!=")
	tests := []struct {
		name, kind, match, conds string
		want                     []string
	}{
		{"all: every condition", "file", "all", aOnly + "," + differ, []string{"/a-only"}},
		{"any: one condition", "file", "any", aOnly + "," + differ, []string{"/a-only", "/b-only", "/both-differ"}},
		{"all with one condition", "file", "all", differ, []string{"/a-only", "/b-only", "/both-differ"}},
		{"any with a false condition", "file", "any", lit("size", "bigger", "1TB"), nil},
		{"all: one false condition fails", "file", "all", differ + "," + lit("size", "bigger", "1TB"), nil},
		{"no condition never matches (all)", "file", "all", "", nil},
		{"no condition never matches (any)", "file", "any", "", nil},
		{"a file rule skips directories", "file", "all", aOnly, []string{"/a-only"}},
		{"a directory rule skips files", "directory", "all", aOnly, []string{"/dir-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matchedItems(t, nodes, compare.DefaultSettings(), tt.kind, tt.match, tt.conds)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}
