package filter_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/filter"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/rules"
)

// filterNow is ten days after testinv.T0 (2024-01-31 12:00 UTC).
var filterNow = testinv.T0.AddDate(0, 0, 10)

// filterComparison has three nodes A, B, C with one data source each:
//
//	d /docs             A B C
//	f /docs/notes.md    A (2048 B, T0+10m) | B (4096 B, T0+20m)
//	f /docs/report.txt  A+B (100 B, T0) | C (other content, 100 B, T0)
//	f /err.dat          A (analysis error, 100 B, T0) | B (100 B, T0+5m)
//	d /locked           B (unreadable) C
//	f /locked/x.txt     C | B placeholder
//	f /my notes.txt     A
//	d /only-b           B
//	f /only-a.txt       A (10 B)
//	d /photos           A
//	f /photos/cat.jpg   A (5 MB)
//	f /same.bin         A (T0) + B (T0+30m): same content, 500 B
//	f /Été.txt          A
func filterComparison() *compare.Comparison {
	f, d, key := testinv.File, testinv.Dir, testinv.Key
	return compare.Compare(testinv.Nodes(
		testinv.E(
			d("/docs"),
			f("/docs/report.txt", 100, 0, key("r1")),
			f("/docs/notes.md", 2048, 10, key("n1")),
			d("/photos"),
			f("/photos/cat.jpg", 5<<20, 0),
			f("/only-a.txt", 10, 0),
			f("/same.bin", 500, 0, key("s")),
			f("/err.dat", 100, 0, testinv.AnalysisError),
			f("/Été.txt", 1, 0),
			f("/my notes.txt", 3, 0),
		),
		testinv.E(
			d("/docs"),
			f("/docs/report.txt", 100, 0, key("r1")),
			f("/docs/notes.md", 4096, 20, key("n2")),
			f("/same.bin", 500, 30, key("s")),
			f("/err.dat", 100, 5, key("e")),
			d("/only-b"),
			d("/locked", testinv.Unreadable),
		),
		testinv.E(
			d("/docs"),
			f("/docs/report.txt", 100, 0, key("r2")),
			d("/locked"),
			f("/locked/x.txt", 1, 0),
		),
	), compare.DefaultSettings())
}

// filterEnv plans actions on a few items of filterComparison and fails /err.dat.
func filterEnv(c *compare.Comparison) filter.Env {
	planned := map[string][]filter.Action{
		"/docs/report.txt": {{Op: rules.Copy}, {Op: rules.CopyContent, Targeted: true}},
		"/same.bin":        {{Op: rules.CopyDates}},
		"/only-b":          {{Op: rules.Create, Targeted: true}},
		"/only-a.txt":      {{Op: rules.Delete}},
		"/photos/cat.jpg":  {{Op: rules.DoNothing, Targeted: true}},
	}
	actions := map[*compare.Item][]filter.Action{}
	var failed *compare.Item
	for _, it := range c.Items {
		actions[it] = planned[it.Path()]
		if it.Path() == "/err.dat" {
			failed = it
		}
	}
	return filter.Env{
		Now:       filterNow,
		Actions:   func(it *compare.Item) []filter.Action { return actions[it] },
		SyncError: func(it *compare.Item) bool { return it == failed },
	}
}

// filtered lists the items that pass the filter as "f /path" or "d /path".
func filtered(t *testing.T, c *compare.Comparison, text string, env filter.Env) []string {
	t.Helper()
	flt, err := filter.Parse(text, c.Parts)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", text, err)
	}
	var out []string
	for _, it := range flt.Select(c.Items, env) {
		out = append(out, it.Kind.String()[:1]+" "+it.Path())
	}
	return out
}

type filterCase struct {
	filter string
	want   []string
}

func runFilterCases(t *testing.T, c *compare.Comparison, env filter.Env, tests []filterCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got := filtered(t, c, tt.filter, env)
			want := slices.Clone(tt.want)
			if want == nil {
				want = []string{}
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("filter %q\n got  %q\n want %q", tt.filter, got, want)
			}
		})
	}
}

var allFilterItems = []string{
	"d /docs", "f /docs/notes.md", "f /docs/report.txt", "f /err.dat", "d /locked", "f /locked/x.txt",
	"f /my notes.txt", "f /only-a.txt", "d /only-b", "d /photos", "f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
}

func TestFilterFixture(t *testing.T) {
	got := filtered(t, filterComparison(), "", filter.Env{})
	if !slices.Equal(got, allFilterItems) {
		t.Fatalf("items %q, want %q", got, allFilterItems)
	}
}

func TestFilterText(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		{"   ", allFilterItems},
		{"report", []string{"f /docs/report.txt"}},
		{"REPORT", []string{"f /docs/report.txt"}},
		{"docs", []string{"d /docs"}}, // the name, not the path
		{"notes", []string{"f /docs/notes.md", "f /my notes.txt"}},
		{"my notes", []string{"f /my notes.txt"}},
		{`"my notes"`, []string{"f /my notes.txt"}},
		{`"y n"`, []string{"f /my notes.txt"}},
		{"y n", []string{"f /my notes.txt", "f /only-a.txt", "d /only-b"}},
		{"été", []string{"f /Été.txt"}},
		{"ÉTÉ.TXT", []string{"f /Été.txt"}},
		{"*.jpg", []string{"f /photos/cat.jpg"}},
		{"c*t", []string{"f /photos/cat.jpg"}},
		{"report.txt", []string{"f /docs/report.txt"}},
		{"nothing-like-this", nil},
		{`"and"`, nil},
	})
}

func TestFilterLogic(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		{"is:file AND on:C", []string{"f /docs/report.txt", "f /locked/x.txt"}},
		{"is:file && on:C", []string{"f /docs/report.txt", "f /locked/x.txt"}},
		{"is:file on:C", []string{"f /docs/report.txt", "f /locked/x.txt"}},
		{"only:B OR only:C", []string{"d /only-b"}},
		{"only:B || on:C", []string{"d /docs", "f /docs/report.txt", "d /locked", "f /locked/x.txt", "d /only-b"}},
		// AND binds tighter than OR, whether written or implied.
		{"only:B OR is:file AND on:C", []string{"f /docs/report.txt", "f /locked/x.txt", "d /only-b"}},
		{"only:B OR is:file on:C", []string{"f /docs/report.txt", "f /locked/x.txt", "d /only-b"}},
		{"is:file AND on:C OR only:B", []string{"f /docs/report.txt", "f /locked/x.txt", "d /only-b"}},
		{"(only:B OR is:file) AND on:C", []string{"f /docs/report.txt", "f /locked/x.txt"}},
		{"NOT is:file", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		{"!is:file", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		{"not not is:dir", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		// NOT binds tighter than AND.
		{"NOT on:A AND is:file", []string{"f /locked/x.txt"}},
		{"NOT (on:A AND is:file)", []string{"d /docs", "d /locked", "f /locked/x.txt", "d /only-b", "d /photos"}},
		{"on:B and not on:A", []string{"d /locked", "f /locked/x.txt", "d /only-b"}},
		{"((is:dir))", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		{"is:dir (only:A OR only:B)", []string{"d /only-b", "d /photos"}},
	})
}

func TestFilterStructure(t *testing.T) {
	c := filterComparison()
	tests := []struct{ filter, want string }{
		{"a b OR c", "((name:a AND name:b) OR name:c)"},
		{"a OR b c", "(name:a OR (name:b AND name:c))"},
		{"a OR b AND c OR d", "(name:a OR (name:b AND name:c) OR name:d)"},
		{"NOT a b", "(NOT name:a AND name:b)"},
		{"!(a || b) && c", "(NOT (name:a OR name:b) AND name:c)"},
		{`"two words" x`, `(name:"two words" AND name:x)`},
		{"on:a1 only:b", "(on:A AND only:B)"},
		{"a.size>1kb", "A.size > 1kb"},
		{"b.DATE <= now-3d", "B.last-write-time <= now-3d"},
		{"A.content <> c._", "A.content != C.content"},
		{"has:actions", "has:actions > 0"},
		{"HAS:Actions.Targeted.COPY >= 2", "has:actions.targeted.copy >= 2"},
		{`path:\docs\`, "path:docs/"},
		{"NAME=*.TXT", "name==*.TXT"},
		{`name!="a b"`, `name!="a b"`},
		{`name=~"^a(b|c)"`, `name=~"^a(b|c)"`},
		{"is:directory", "is:dir"},
		{`A.content == "b"`, `A.content == "b"`}, // quoted: a literal, not part B
	}
	for _, tt := range tests {
		f, err := filter.Parse(tt.filter, c.Parts)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.filter, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseFilter(%q) = %s, want %s", tt.filter, got, tt.want)
		}
	}
}

func TestFilterPresenceAndKind(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		{"is:dir", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		{"is:directory", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
		{"IS:FILE only:A", []string{"f /my notes.txt", "f /only-a.txt", "f /photos/cat.jpg", "f /Été.txt"}},
		{"on:C", []string{"d /docs", "f /docs/report.txt", "d /locked", "f /locked/x.txt"}},
		{"on:c1", []string{"d /docs", "f /docs/report.txt", "d /locked", "f /locked/x.txt"}}, // alias of C
		{"on: C", []string{"d /docs", "f /docs/report.txt", "d /locked", "f /locked/x.txt"}},
		{"only:A", []string{"f /my notes.txt", "f /only-a.txt", "d /photos", "f /photos/cat.jpg", "f /Été.txt"}},
		{"only:B", []string{"d /only-b"}},
		{"only:C", nil},
		// A placeholder for what could not be seen counts as present.
		{"on:B NOT on:A", []string{"d /locked", "f /locked/x.txt", "d /only-b"}},
	})
}

// filterMultiPart has node A with data sources A1 and A2 and node B with B1: parts are named per
// data source.
func filterMultiPart() *compare.Comparison {
	f := testinv.File
	return compare.Compare([]*inventory.Node{
		testinv.Node("A", testinv.Part("A1", f("/x.txt", 1, 0)), testinv.Part("A2", f("/x.txt", 1, 0), f("/y.txt", 2, 0))),
		testinv.Node("B", testinv.Part("B1", f("/y.txt", 3, 0), f("/z.txt", 1, 0))),
	}, compare.DefaultSettings())
}

func TestFilterParts(t *testing.T) {
	c := filterMultiPart()
	runFilterCases(t, c, filter.Env{}, []filterCase{
		{"on:A", []string{"f /x.txt", "f /y.txt"}},
		{"on:a1", []string{"f /x.txt"}},
		{"on:A2", []string{"f /x.txt", "f /y.txt"}},
		{"only:A", []string{"f /x.txt"}},
		{"only:A1", nil},
		{"only:A2", nil},
		{"only:B", []string{"f /z.txt"}},
		{"only:b1", []string{"f /z.txt"}},
		{"A1.size == A2._", []string{"f /x.txt", "f /z.txt"}}, // z.txt: both empty
		{"A2.size < B1.size", []string{"f /y.txt"}},
		{"B.size == 1", []string{"f /z.txt"}}, // B has a single part: B1
	})
}

func TestFilterName(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		{"name==report.txt", []string{"f /docs/report.txt"}},
		{"name = REPORT.TXT", []string{"f /docs/report.txt"}},
		{"name==report", nil},
		{"name:PORT", []string{"f /docs/report.txt"}},
		{`name:"y n"`, []string{"f /my notes.txt"}},
		{"name!=report.txt AND is:file", []string{
			"f /docs/notes.md", "f /err.dat", "f /locked/x.txt", "f /my notes.txt", "f /only-a.txt",
			"f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
		}},
		{"name==*.TXT", []string{"f /docs/report.txt", "f /locked/x.txt", "f /my notes.txt", "f /only-a.txt", "f /Été.txt"}},
		{"name==r*t", []string{"f /docs/report.txt"}},
		{"name==t*t", nil},
		{"name==r*T*", []string{"f /docs/report.txt"}},
		{"name<>*.txt is:file", []string{"f /docs/notes.md", "f /err.dat", "f /photos/cat.jpg", "f /same.bin"}},
		{`name==*é*`, []string{"f /Été.txt"}},
		{`name=~^r.*\.TXT$`, []string{"f /docs/report.txt"}},
		{`name=~"\.(md|bin)$"`, []string{"f /docs/notes.md", "f /same.bin"}},
		{`name=~"(?-i)^été"`, nil},
		{`name=~"^(?-i:Été)"`, []string{"f /Été.txt"}},
	})
}

func TestFilterPath(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		{"path:docs", []string{"d /docs", "f /docs/notes.md", "f /docs/report.txt"}},
		{"path:/docs/", []string{"f /docs/notes.md", "f /docs/report.txt"}},
		{"path:DOCS/N", []string{"f /docs/notes.md"}},
		{`path:docs\rep`, []string{"f /docs/report.txt"}},
		{"path:o", []string{"f /only-a.txt", "d /only-b"}}, // a prefix, not a substring
		{"path==docs/report.txt", []string{"f /docs/report.txt"}},
		{"path==/DOCS/REPORT.TXT", []string{"f /docs/report.txt"}},
		{"path==docs", []string{"d /docs"}},
		{"path==*.md", []string{"f /docs/notes.md"}},
		{"path==*/*", []string{"f /docs/notes.md", "f /docs/report.txt", "f /locked/x.txt", "f /photos/cat.jpg"}},
		{"path!=*/* is:file", []string{"f /err.dat", "f /my notes.txt", "f /only-a.txt", "f /same.bin", "f /Été.txt"}},
		{"path=~^/docs/", []string{"f /docs/notes.md", "f /docs/report.txt"}},
		{`path=~"/(locked|photos)$"`, []string{"d /locked", "d /photos"}},
	})
}

func TestFilterProperties(t *testing.T) {
	c := filterComparison()
	runFilterCases(t, c, filterEnv(c), []filterCase{
		// Content: the same identity. A file that could not be analysed or seen has no known
		// content: no comparison holds.
		{"A.content == B.content", []string{"f /docs/report.txt", "f /same.bin"}},
		{"A.content = B._", []string{"f /docs/report.txt", "f /same.bin"}},
		{"A.content != B.content", []string{
			"f /docs/notes.md", "f /my notes.txt", "f /only-a.txt", "f /photos/cat.jpg", "f /Été.txt",
		}},
		{"A.content <> C._", []string{
			"f /docs/notes.md", "f /docs/report.txt", "f /locked/x.txt", "f /my notes.txt", "f /only-a.txt",
			"f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
		}},
		{"A.content == C._", nil},
		// Both sides empty: only == holds.
		{"B.content == C.content", []string{"f /my notes.txt", "f /only-a.txt", "f /photos/cat.jpg", "f /Été.txt"}},
		{"B.size == C.size", []string{"f /docs/report.txt", "f /my notes.txt", "f /only-a.txt", "f /photos/cat.jpg", "f /Été.txt"}},
		{"B.size != C.size", []string{"f /docs/notes.md", "f /err.dat", "f /same.bin"}},
		{"A.content-and-date == B._", []string{"f /docs/report.txt"}},
		{"A.content-and-date != B.content-and-date", []string{
			"f /docs/notes.md", "f /my notes.txt", "f /only-a.txt", "f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
		}},
		// Sizes are known even when content is not (/err.dat).
		{"A.size == B.size", []string{"f /docs/report.txt", "f /err.dat", "f /same.bin"}},
		{"A.size < B.size", []string{"f /docs/notes.md"}},
		{"B.size > A._", []string{"f /docs/notes.md"}},
		{"A.size >= B.size", []string{"f /docs/report.txt", "f /err.dat", "f /same.bin"}},
		{"A.size > 1kb", []string{"f /docs/notes.md", "f /photos/cat.jpg"}},
		{"A.size >= 2048", []string{"f /docs/notes.md", "f /photos/cat.jpg"}},
		{"A.size > 2KB", []string{"f /photos/cat.jpg"}},
		{"A.size == 5mb", []string{"f /photos/cat.jpg"}},
		{"A.size == 5MiB", []string{"f /photos/cat.jpg"}},
		{"A.size <= 0.5k", []string{"f /docs/report.txt", "f /err.dat", "f /my notes.txt", "f /only-a.txt", "f /same.bin", "f /Été.txt"}},
		{"A.size < 10", []string{"f /my notes.txt", "f /Été.txt"}},
		// One side empty: only != holds.
		{"A.size != 10", []string{
			"f /docs/notes.md", "f /docs/report.txt", "f /err.dat", "f /locked/x.txt", "f /my notes.txt",
			"f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
		}},
		{"C.size > 0", []string{"f /docs/report.txt", "f /locked/x.txt"}},
		// B's /locked/x.txt is a placeholder: unknown, so neither == nor != holds.
		{"B.size == 1 OR B.size != 1", []string{
			"f /docs/notes.md", "f /docs/report.txt", "f /err.dat", "f /my notes.txt", "f /only-a.txt",
			"f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
		}},
		// Keys that were not computed are unknown too.
		{"A.content == 0 OR A.content != 0", []string{"f /docs/notes.md", "f /docs/report.txt", "f /locked/x.txt", "f /same.bin"}},
		{"is:dir A.size == B.size", nil},
	})
}

func TestFilterContentLiteral(t *testing.T) {
	c := filterComparison()
	var it *compare.Item
	for _, x := range c.Items {
		if x.Path() == "/docs/report.txt" {
			it = x
		}
	}
	full := c.Key(it.IdentityOn(0)).String()
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{"A.content == " + full, true},
		{"A.content == " + strings.ToUpper(full[:6]), true},
		{"A.content != " + full[:6], false},
		{"C.content == " + full[:6], false},
		{"C.content != " + full[:6], true},
	} {
		f, err := filter.Parse(tt.filter, c.Parts)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(it, filter.Env{}); got != tt.want {
			t.Errorf("%s on /docs/report.txt: %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestFilterDates(t *testing.T) {
	c := filterComparison()
	env := filterEnv(c)
	onA := []string{
		"f /docs/notes.md", "f /docs/report.txt", "f /err.dat", "f /my notes.txt", "f /only-a.txt",
		"f /photos/cat.jpg", "f /same.bin", "f /Été.txt",
	}
	onAatT0 := slices.DeleteFunc(slices.Clone(onA), func(s string) bool { return s == "f /docs/notes.md" })
	runFilterCases(t, c, env, []filterCase{
		{"A.date == 2024-01-31", onA}, // a day stands for the whole day
		{"A.last-write-time > 2024-01-31", nil},
		{"A.date <= 2024-01-31", onA},
		{"A.date < 2024-01-31", nil},
		{"A.date >= 2024-01-31-12-10-00", []string{"f /docs/notes.md"}},
		{"A.date == 2024-01-31-12-10-00", []string{"f /docs/notes.md"}},
		{"A.date > 2024-01-31-12-00-00", []string{"f /docs/notes.md"}},
		{"A.date < 2024-01-31T12:05", onAatT0},
		{"A.date == 2024-01-31T12:10", []string{"f /docs/notes.md"}},
		{"B.date > A.date", []string{"f /docs/notes.md", "f /err.dat", "f /same.bin"}},
		{"A.date < B._", []string{"f /docs/notes.md", "f /err.dat", "f /same.bin"}},
		{"A.date == B.date", []string{"f /docs/report.txt"}},
		// filterNow is T0 + 10 days.
		{"B.date > now-10d", []string{"f /docs/notes.md", "f /err.dat", "f /same.bin"}},
		{"B.date >= now-10d", []string{"f /docs/notes.md", "f /docs/report.txt", "f /err.dat", "f /same.bin"}},
		{"B.date > now-240h", []string{"f /docs/notes.md", "f /err.dat", "f /same.bin"}},
		{"B.date > now-14385m", []string{"f /docs/notes.md", "f /same.bin"}},
		{"A.date > now-1w", nil},
		{"A.date < now-1M", nil},
		{"A.date > now-1y", onA},
		{"A.date < NOW", onA},
		{"A.date < NOW-1D", onA},
		{"A.date > now-1Y", onA},
	})
	// Literal dates are wall-clock times in the location of Now: 13:00 at UTC+2 is 11:00 UTC.
	plus2 := env
	plus2.Now = filterNow.In(time.FixedZone("UTC+2", 2*3600))
	runFilterCases(t, c, plus2, []filterCase{
		{"A.date < 2024-01-31-13-00-00", nil},
		{"A.date < 2024-01-31-14-01-00", onAatT0},
	})
}

func TestFilterHas(t *testing.T) {
	c := filterComparison()
	env := filterEnv(c)
	runFilterCases(t, c, env, []filterCase{
		{"has:access-issue", []string{"d /locked", "f /locked/x.txt"}},
		{"HAS:Access-Issue", []string{"d /locked", "f /locked/x.txt"}},
		{"has:computation-error", []string{"f /err.dat"}},
		{"has:sync-error", []string{"f /err.dat"}},
		{"has:actions", []string{"f /docs/report.txt", "f /only-a.txt", "d /only-b", "f /photos/cat.jpg", "f /same.bin"}},
		{"has:actions > 1", []string{"f /docs/report.txt"}},
		{"has:actions == 0 is:dir", []string{"d /docs", "d /locked", "d /photos"}},
		{"has:actions.copy", []string{"f /docs/report.txt"}},
		{"has:actions.copy == 1", []string{"f /docs/report.txt"}},
		// copy-content counts copy too.
		{"has:actions.copy-content == 2", []string{"f /docs/report.txt"}},
		{"has:actions.copy-dates", []string{"f /same.bin"}},
		{"has:actions.create", []string{"d /only-b"}},
		{"has:actions.delete", []string{"f /only-a.txt"}},
		{"has:actions.do-nothing", []string{"f /photos/cat.jpg"}},
		{"has:actions.targeted", []string{"f /docs/report.txt", "d /only-b", "f /photos/cat.jpg"}},
		{"has:actions.rules", []string{"f /docs/report.txt", "f /only-a.txt", "f /same.bin"}},
		{"has:actions.targeted.copy", nil},
		{"has:actions.copy.rules", []string{"f /docs/report.txt"}},
		{"has:actions.targeted.copy-content", []string{"f /docs/report.txt"}},
		{"has:actions.rules.copy-dates >= 1 OR has:actions.delete", []string{"f /only-a.txt", "f /same.bin"}},
		{"has:actions<1 AND NOT is:dir AND NOT has:sync-error", []string{
			"f /docs/notes.md", "f /locked/x.txt", "f /my notes.txt", "f /Été.txt",
		}},
	})
	// Without actions or synchronization status, nothing has them.
	runFilterCases(t, c, filter.Env{}, []filterCase{
		{"has:actions", nil},
		{"has:sync-error", nil},
		{"has:actions == 0 is:dir", []string{"d /docs", "d /locked", "d /only-b", "d /photos"}},
	})
}

func TestFilterFlat(t *testing.T) {
	f := testinv.File
	c := compare.Compare(testinv.Nodes(
		testinv.E(f("/a/dup.txt", 1, 0), f("/b/dup.txt", 2, 0)),
		testinv.E(f("/dup.txt", 2, 0)),
	), compare.Settings{Matching: compare.Flat})
	// A holds two files named dup.txt: a comparison holds when one pair of values does.
	runFilterCases(t, c, filter.Env{}, []filterCase{
		{"A.size == B.size", []string{"f dup.txt"}},
		{"A.size != B.size", []string{"f dup.txt"}},
		{"A.size < B.size", []string{"f dup.txt"}},
		{"A.size > B.size", nil},
		{"path==dup.txt", []string{"f dup.txt"}},
		{"path==/dup.txt", []string{"f dup.txt"}},
		{"path:dup", []string{"f dup.txt"}},
	})
}

func TestFilterErrors(t *testing.T) {
	c := filterComparison()
	tests := []struct {
		filter string
		pos    int
		msg    string // a part of the message
	}{
		{"(is:file", 0, "unclosed parenthesis"},
		{"is:file (on:A OR (on:B)", 8, "unclosed parenthesis"},
		{"is:file)", 7, `unexpected ")"`},
		{"()", 0, "empty parentheses"},
		{`"unclosed`, 0, "unclosed quote"},
		{`name:"a`, 5, "unclosed quote"},
		{"is:file AND", 8, "expected an expression after AND"},
		{"is:file OR )", 11, `expected an expression after OR, found ")"`},
		{"OR is:file", 0, "expected an expression before OR"},
		{"NOT", 0, "expected an expression after NOT"},
		{"a !", 2, "expected an expression after !"},
		{"== x", 0, `unexpected operator "=="`},
		{"is:file == x", 8, `unexpected operator "=="`},
		{`"name" == x`, 7, `unexpected operator "=="`},
		{"size > 3", 0, `"size" is not a property`},
		{"A.colour == 3", 2, `unknown property "colour"`},
		{"Ab1.colour == 3", 0, `unknown part "Ab1" (known: A, B, C)`},
		{"A. == 3", 0, `expected a property after "A."`},
		{".size == 3", 0, "expected a part name"},
		{"Q.size > 1", 0, `unknown part "Q"`},
		{"A.size > Q.size", 9, `unknown part "Q"`},
		{"A.size > B.colour", 11, `unknown property "colour"`},
		{"A.size == B.date", 12, "cannot compare size with last-write-time"},
		{"on:Q", 3, `unknown part "Q"`},
		{"only: A2", 6, `unknown part "A2"`},
		{"on:", 0, `expected a value after "on:"`},
		{"name:", 0, `expected a value after "name:"`},
		{"foo:bar", 0, `unknown keyword "foo:"`},
		{"is:folder", 3, `unknown item type "folder"`},
		{"has:nothing", 4, `unknown has: value "nothing"`},
		{"has:actions.move", 12, `unknown action selector "move"`},
		{"has:actions.rules.targeted", 18, "by origin once"},
		{"has:actions.copy.delete", 17, "by operator once"},
		{"has:actions > x", 14, `invalid action count "x"`},
		{"has:actions >", 12, `expected a value after ">"`},
		{"has:actions =~ 1", 12, "=~ applies to name and path only"},
		{"A.size > big", 9, `invalid size "big"`},
		{"A.size > 1.2.3kb", 9, "invalid size"},
		{"A.size > 1ib", 9, "invalid size"},
		{"A.size =~ 3", 7, "=~ applies to name and path only"},
		{"A.date < yesterday", 9, `invalid date "yesterday"`},
		{"A.date < 2024-02-30", 9, "invalid date"},
		{"A.date < 2024-01-31-25-00-00", 9, "invalid date"},
		{"A.date < now-3x", 9, "invalid date"},
		{"A.date < now-d", 9, "invalid date"},
		{"A.content > B.content", 10, `operator ">" does not apply to content`},
		{"A.content == xyz", 13, `invalid content "xyz"`},
		{"A.content == b", 13, `"b" is a part: write b._ to compare with its content`},
		{"A.size > C1", 9, `"C1" is a part: write C1._`},
		{"A.content-and-date == 12", 22, "content-and-date compares with another part"},
		{"A.size >", 7, `expected a value after ">"`},
		{"A.size > (", 9, `expected a value after ">", found "("`},
		{"name < x", 5, `operator "<" does not apply to name`},
		{`name=~"("`, 6, "invalid regular expression"},
		{strings.Repeat("(", 300) + "a" + strings.Repeat(")", 300), 200, "nested too deeply"},
		{strings.Repeat("!", 300) + "a", 200, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.filter[:min(len(tt.filter), 40)], func(t *testing.T) {
			f, err := filter.Parse(tt.filter, c.Parts)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %s, want an error", tt.filter, f)
			}
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFilter(%q): %T %v, want a *FilterError", tt.filter, err, err)
			}
			if fe.Pos != tt.pos || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("ParseFilter(%q): %v (pos %d), want %q at %d", tt.filter, err, fe.Pos, tt.msg, tt.pos)
			}
			if fe.Pos < 0 || fe.End < fe.Pos || fe.End > len(tt.filter) {
				t.Errorf("ParseFilter(%q): span [%d, %d) outside the text", tt.filter, fe.Pos, fe.End)
			}
		})
	}
}

func TestFilterNodeWithSeveralParts(t *testing.T) {
	_, err := filter.Parse("A.size > 1", filterMultiPart().Parts)
	if err == nil || !strings.Contains(err.Error(), `"A" is a node with several parts: name one of A1, A2 at 0`) {
		t.Errorf("got %v", err)
	}
}

func TestFilterEmpty(t *testing.T) {
	var nilFilter *filter.Filter
	f, err := filter.Parse(" \t", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, flt := range []*filter.Filter{nilFilter, f} {
		if !flt.Match(&compare.Item{}, filter.Env{}) || flt.String() != "" {
			t.Errorf("an empty filter must match everything")
		}
	}
}

// TestFilterNoAlloc checks that matching does not allocate in the common paths. Regular
// expressions are left out: package regexp keeps its matchers in a sync.Pool, which the garbage
// collector and the race detector empty now and then.
func TestFilterNoAlloc(t *testing.T) {
	c := filterComparison()
	env := filterEnv(c)
	for _, text := range []string{
		"report", "ÉTÉ", "name==*.txt", "path:docs NOT is:dir", "path!=*/*.md",
		"on:A AND NOT only:B", "A.content != B.content OR A.size > 1kb", "A.date > now-3d",
		"A.content == 0123", "has:actions.copy-content > 0 OR has:access-issue OR has:sync-error",
		"A.content-and-date == B._ OR B.date < A.date",
	} {
		f, err := filter.Parse(text, c.Parts)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(50, func() {
			for _, it := range c.Items {
				f.Match(it, env)
			}
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per run", text, allocs)
		}
	}
}
