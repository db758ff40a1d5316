package compare_test

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
	F          = testinv.File
	D          = testinv.Dir
	E          = testinv.E
	key        = testinv.Key
	unreadable = testinv.Unreadable
)

// settings returns the defaults changed by f.
func settings(f func(*compare.Settings)) compare.Settings {
	s := compare.DefaultSettings()
	if f != nil {
		f(&s)
	}
	return s
}

// describe renders every item as "f /path: A+B C": its kind, path, and its identities, each as
// the parts holding it ("?" marks a placeholder for content that could not be seen).
func describe(c *compare.Comparison) []string {
	var out []string
	for _, it := range c.Items {
		out = append(out, fmt.Sprintf("%s %s: %s", it.Kind.String()[:1], it.Path(), identities(c, it)))
	}
	return out
}

func identities(c *compare.Comparison, it *compare.Item) string {
	var ids []string
	for _, id := range it.Identities {
		var parts []string
		for _, l := range id.Entries {
			n := c.Parts[l.Part].Name
			if l.Entry == nil {
				n += "?"
			}
			parts = append(parts, n)
		}
		ids = append(ids, strings.Join(parts, "+"))
	}
	return strings.Join(ids, " ")
}

func item(t *testing.T, c *compare.Comparison, kind inventory.Kind, path string) *compare.Item {
	t.Helper()
	for _, it := range c.Items {
		if it.Kind == kind && it.Path() == path {
			return it
		}
	}
	t.Fatalf("no %s %q among %q", kind, path, describe(c))
	return nil
}

func checkItems(t *testing.T, c *compare.Comparison, want []string) {
	t.Helper()
	if got := describe(c); !slices.Equal(got, want) {
		t.Errorf("items:\n got  %q\n want %q", got, want)
	}
}

func TestPartNames(t *testing.T) {
	one := func(code string) *inventory.Node { return testinv.Node(code, testinv.Part(code+"1")) }
	tests := []struct {
		name  string
		nodes []*inventory.Node
		want  []string // name/node
	}{
		{"one source per node", []*inventory.Node{one("A"), one("B")}, []string{"A/A", "B/B"}},
		{"three nodes", []*inventory.Node{one("A"), one("B"), one("C")}, []string{"A/A", "B/B", "C/C"}},
		{"several sources on one node", []*inventory.Node{
			testinv.Node("A", testinv.Part("A1"), testinv.Part("A2")), one("B"),
		}, []string{"A1/A", "A2/A", "B1/B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := compare.Parts(tt.nodes)
			var got []string
			for i, p := range parts {
				got = append(got, p.Name+"/"+p.Node)
				if p.Index != i {
					t.Errorf("part %s has index %d, want %d", p.Name, p.Index, i)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parts %q, want %q", got, tt.want)
			}
			var inv []*inventory.Part
			for _, n := range tt.nodes {
				inv = append(inv, n.Parts...)
			}
			for i, p := range parts {
				if p.Inv != inv[i] {
					t.Errorf("part %s does not point at its inventory part", p.Name)
				}
			}
		})
	}
}

func TestPartLookup(t *testing.T) {
	perNode := compare.Compare(testinv.Nodes(nil, nil), compare.DefaultSettings())
	perPart := compare.Compare([]*inventory.Node{
		testinv.Node("A", testinv.Part("A1"), testinv.Part("A2")),
		testinv.Node("B", testinv.Part("B1")),
	}, compare.DefaultSettings())
	tests := []struct {
		c    *compare.Comparison
		name string
		want string // "" when unknown
	}{
		{perNode, "A", "A"},
		{perNode, "a", "A"},
		{perNode, "B", "B"},
		{perNode, "A1", "A"}, // alias
		{perNode, "a1", "A"},
		{perNode, "b1", "B"},
		{perNode, "A2", ""},
		{perNode, "C", ""},
		{perNode, "", ""},
		{perNode, "1", ""},
		{perPart, "A1", "A1"},
		{perPart, "a2", "A2"},
		{perPart, "b1", "B1"},
		{perPart, "A", ""}, // no alias the other way
		{perPart, "B", ""},
		{perPart, "A3", ""},
	}
	for _, tt := range tests {
		p, ok := tt.c.Part(tt.name)
		got := ""
		if ok {
			got = p.Name
		}
		if got != tt.want {
			t.Errorf("Part(%q) among %v = %q, want %q", tt.name, tt.c.PartNames(), got, tt.want)
		}
	}
}

func TestMatchingAndCase(t *testing.T) {
	a := E(D("/Dir1"), F("/Dir1/file.txt", 10, 0), D("/x"), F("/x/g.txt", 3, 0))
	b := E(D("/dir1"), F("/dir1/file.txt", 10, 0), D("/y"), F("/y/g.txt", 3, 0))
	tests := []struct {
		name  string
		nodes []*inventory.Node
		s     compare.Settings
		want  []string
	}{
		{"tree insensitive keeps the first spelling", testinv.Nodes(a, b), settings(nil), []string{
			"d /Dir1: A+B", "f /Dir1/file.txt: A+B", "d /x: A", "f /x/g.txt: A", "d /y: B", "f /y/g.txt: B",
		}},
		{"tree insensitive, other spelling first", testinv.Nodes(b, a), settings(nil), []string{
			"d /dir1: A+B", "f /dir1/file.txt: A+B", "d /x: B", "f /x/g.txt: B", "d /y: A", "f /y/g.txt: A",
		}},
		{"tree sensitive", testinv.Nodes(a, b), settings(func(s *compare.Settings) { s.CaseSensitive = true }), []string{
			"d /Dir1: A", "f /Dir1/file.txt: A", "d /dir1: B", "f /dir1/file.txt: B", "d /x: A", "f /x/g.txt: A", "d /y: B", "f /y/g.txt: B",
		}},
		{"flat insensitive merges levels", testinv.Nodes(a, b), settings(func(s *compare.Settings) { s.Matching = compare.Flat }), []string{
			"d Dir1: A+B", "f file.txt: A+B", "f g.txt: A+B", "d x: A", "d y: B",
		}},
		{"flat sensitive", testinv.Nodes(a, b), settings(func(s *compare.Settings) { s.Matching, s.CaseSensitive = compare.Flat, true }), []string{
			"d Dir1: A", "d dir1: B", "f file.txt: A+B", "f g.txt: A+B", "d x: A", "d y: B",
		}},
		{"a file and a directory with one path are two items", testinv.Nodes(E(F("/x", 1, 0)), E(D("/x"))), settings(nil), []string{
			"f /x: A", "d /x: B",
		}},
		{"flat keeps duplicates of one part in the item", testinv.Nodes(E(D("/p"), F("/p/f", 1, 0), D("/q"), F("/q/f", 1, 0)), E(F("/f", 1, 0))), settings(func(s *compare.Settings) { s.Matching, s.DataType = compare.Flat, compare.Files }), []string{
			"f f: A+A+B",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkItems(t, compare.Compare(tt.nodes, tt.s), tt.want)
		})
	}
}

func TestItemNameAndKey(t *testing.T) {
	c := compare.Compare(testinv.Nodes(E(D("/Dir1"), F("/Dir1/File.TXT", 1, 0)), nil), compare.DefaultSettings())
	it := item(t, c, inventory.File, "/Dir1/File.TXT")
	if it.Name() != "File.TXT" || it.Key() != "/dir1/file.txt" {
		t.Errorf("name %q key %q, want File.TXT and /dir1/file.txt", it.Name(), it.Key())
	}
	c = compare.Compare(testinv.Nodes(E(D("/Dir1"), F("/Dir1/File.TXT", 1, 0)), nil), settings(func(s *compare.Settings) { s.CaseSensitive = true }))
	if it := item(t, c, inventory.File, "/Dir1/File.TXT"); it.Key() != "/Dir1/File.TXT" {
		t.Errorf("case-sensitive key %q", it.Key())
	}
}

func TestDataType(t *testing.T) {
	nodes := testinv.Nodes(E(D("/d"), F("/d/f.txt", 1, 0)), E(D("/d")))
	tests := []struct {
		dt   compare.DataType
		want []string
	}{
		{compare.Files, []string{"f /d/f.txt: A"}},
		{compare.Directories, []string{"d /d: A+B"}},
		{compare.FilesDirectories, []string{"d /d: A+B", "f /d/f.txt: A"}},
	}
	for _, tt := range tests {
		t.Run(tt.dt.String(), func(t *testing.T) {
			checkItems(t, compare.Compare(nodes, settings(func(s *compare.Settings) { s.DataType = tt.dt })), tt.want)
		})
	}
}

func TestContentIdentities(t *testing.T) {
	tests := []struct {
		name  string
		sides [][]testinv.Entry
		want  string
	}{
		{"same key and size merge", [][]testinv.Entry{E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 5, key("x")))}, "A+B"},
		{"same key, different sizes split", [][]testinv.Entry{E(F("/f", 10, 0, key("x"))), E(F("/f", 11, 0, key("x")))}, "A B"},
		{"different keys split", [][]testinv.Entry{E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 0, key("y")))}, "A B"},
		{"unhashed equal sizes merge", [][]testinv.Entry{E(F("/f", 10, 0)), E(F("/f", 10, 0))}, "A+B"},
		{"unhashed different sizes split", [][]testinv.Entry{E(F("/f", 10, 0)), E(F("/f", 12, 0))}, "A B"},
		{"analysis errors are never merged", [][]testinv.Entry{
			E(F("/f", 10, 0, testinv.AnalysisError)), E(F("/f", 10, 0, testinv.AnalysisError)),
		}, "A B"},
		{"a sound file does not join an analysis error", [][]testinv.Entry{
			E(F("/f", 10, 0, testinv.AnalysisError)), E(F("/f", 10, 0)),
		}, "A B"},
		{"unreadable files are never merged", [][]testinv.Entry{E(F("/f", 0, 0, unreadable)), E(F("/f", 0, 0, unreadable))}, "A B"},
		{"three parts, two contents", [][]testinv.Entry{
			E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 0, key("y"))), E(F("/f", 10, 3, key("x"))),
		}, "A+C B"},
		{"a directory has one identity", [][]testinv.Entry{E(D("/f")), E(D("/f")), E(D("/f", unreadable))}, "A+B+C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compare.Compare(testinv.Nodes(tt.sides...), compare.DefaultSettings())
			if len(c.Items) != 1 {
				t.Fatalf("items %q, want one", describe(c))
			}
			if got := identities(c, c.Items[0]); got != tt.want {
				t.Errorf("identities %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIdentityFlags(t *testing.T) {
	c := compare.Compare(testinv.Nodes(
		E(F("/f", 10, 0, key("x"))),
		E(F("/f", 10, 0, testinv.AnalysisError)),
		E(F("/f", 0, 0, unreadable)),
	), compare.DefaultSettings())
	ids := c.Items[0].Identities
	if len(ids) != 3 {
		t.Fatalf("identities %q", identities(c, c.Items[0]))
	}
	type flags struct {
		key           bool
		size          int64
		analysis, acc bool
	}
	want := []flags{{true, 10, false, false}, {false, 10, true, false}, {false, 0, false, true}}
	for i, id := range ids {
		got := flags{!c.Key(&id).IsZero(), id.Size(), id.AnalysisError(), id.AccessIssue()}
		if got != want[i] {
			t.Errorf("identity %d: %+v, want %+v", i, got, want[i])
		}
	}
	it := c.Items[0]
	for p, want := range []bool{false, false, true} {
		if got := it.HasAccessIssue(p); got != want {
			t.Errorf("HasAccessIssue(%d) = %v, want %v", p, got, want)
		}
	}
}

func TestGroups(t *testing.T) {
	later := time.FixedZone("UTC+3", 3*3600)
	tests := []struct {
		name          string
		sides         [][]testinv.Entry
		content, date []int
	}{
		{"content and dates differ independently", [][]testinv.Entry{
			E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 5, key("x"))), E(F("/f", 20, 0, key("y"))), nil,
		}, []int{0, 0, 1, -1}, []int{0, 1, 0, -1}},
		{"groups are numbered by first part", [][]testinv.Entry{
			nil, E(F("/f", 10, 7, key("y"))), E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 0, key("y"))),
		}, []int{-1, 0, 1, 0}, []int{-1, 0, 1, 1}},
		{"dates compare as instants", [][]testinv.Entry{
			E(F("/f", 1, 0)), E(testinv.Entry{Entry: inventory.Entry{Kind: inventory.File, Size: 1, ModTime: inventory.Nanos(testinv.T0.In(later))}.At("/f")}),
		}, []int{0, 0}, []int{0, 0}},
		{"directories have no dates", [][]testinv.Entry{E(D("/f")), E(D("/f")), nil},
			[]int{0, 0, -1}, []int{-1, -1, -1}},
		{"an unreadable file has no date", [][]testinv.Entry{E(F("/f", 1, 0)), E(F("/f", 1, 0, unreadable))},
			[]int{0, 1}, []int{0, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compare.Compare(testinv.Nodes(tt.sides...), compare.DefaultSettings())
			it := c.Items[0]
			if got := it.ContentGroups(len(c.Parts)); !slices.Equal(got, tt.content) {
				t.Errorf("content groups %v, want %v", got, tt.content)
			}
			if got := it.DateGroups(len(c.Parts)); !slices.Equal(got, tt.date) {
				t.Errorf("date groups %v, want %v", got, tt.date)
			}
		})
	}
}

func TestAccessIssuesTree(t *testing.T) {
	a := E(D("/d", unreadable), F("/e.txt", 1, 0))
	b := E(D("/d"), F("/d/f.txt", 1, 0), D("/d/sub"), F("/d/sub/g.txt", 1, 0), D("/dx"), F("/dx/h.txt", 1, 0), F("/e.txt", 1, 0))
	c := compare.Compare(testinv.Nodes(a, b), compare.DefaultSettings())
	checkItems(t, c, []string{
		"d /d: A+B",
		"f /d/f.txt: B A?",
		"d /d/sub: B+A?",
		"f /d/sub/g.txt: B A?",
		"d /dx: B",
		"f /dx/h.txt: B",
		"f /e.txt: A+B",
	})
	const A, B = 0, 1
	tests := []struct {
		kind    inventory.Kind
		path    string
		present bool // on A
		issue   bool // on A
		dirIss  []int
	}{
		{inventory.Dir, "/d", true, true, nil},
		{inventory.File, "/d/f.txt", true, true, nil},
		{inventory.Dir, "/d/sub", true, true, []int{A}},
		{inventory.File, "/d/sub/g.txt", true, true, nil},
		{inventory.Dir, "/dx", false, false, nil},
		{inventory.File, "/e.txt", true, false, nil},
	}
	for _, tt := range tests {
		it := item(t, c, tt.kind, tt.path)
		if got := it.Present(A); got != tt.present {
			t.Errorf("%s: Present(A) = %v, want %v", tt.path, got, tt.present)
		}
		if got := it.HasAccessIssue(A); got != tt.issue {
			t.Errorf("%s: HasAccessIssue(A) = %v, want %v", tt.path, got, tt.issue)
		}
		if it.HasAccessIssue(B) {
			t.Errorf("%s: access issue on B", tt.path)
		}
		if !slices.Equal(it.AccessIssues(), tt.dirIss) {
			t.Errorf("%s: AccessIssues %v, want %v", tt.path, it.AccessIssues(), tt.dirIss)
		}
	}
	if e := item(t, c, inventory.File, "/d/f.txt").Entry(A); e != nil {
		t.Errorf("a placeholder has an entry: %+v", e)
	}
}

func TestAccessIssuesTreeFollowCase(t *testing.T) {
	nodes := testinv.Nodes(E(D("/D", unreadable)), E(D("/d"), F("/d/f.txt", 1, 0)))
	checkItems(t, compare.Compare(nodes, compare.DefaultSettings()), []string{"d /D: A+B", "f /d/f.txt: B A?"})
	checkItems(t, compare.Compare(nodes, settings(func(s *compare.Settings) { s.CaseSensitive = true })),
		[]string{"d /D: A", "d /d: B", "f /d/f.txt: B"})
}

func TestAccessIssuesIncompletePart(t *testing.T) {
	withIncompleteA := func(a, b []testinv.Entry) []*inventory.Node {
		nodes := testinv.Nodes(a, b)
		testinv.Incomplete(nodes[0].Parts[0])
		return nodes
	}
	flat := settings(func(s *compare.Settings) { s.Matching = compare.Flat })
	tests := []struct {
		name  string
		nodes []*inventory.Node
		s     compare.Settings
		want  []string
	}{
		{"tree: an incomplete part alone adds no placeholder",
			withIncompleteA(E(F("/f", 0, 0, unreadable)), E(F("/f", 1, 0), F("/g", 1, 0))), settings(nil),
			[]string{"f /f: A B", "f /g: B"}},
		{"flat: the incomplete part is not compared, every item is unseen there",
			withIncompleteA(E(F("/f.txt", 1, 0), F("/only-a.txt", 1, 0)), E(F("/f.txt", 1, 0), D("/sub"), F("/sub/g.txt", 1, 0))), flat,
			[]string{"f f.txt: B A?", "f g.txt: B A?", "d sub: B+A?"}},
		{"flat: no propagation from unreadable directories",
			testinv.Nodes(E(D("/d", unreadable)), E(D("/d"), F("/d/f.txt", 1, 0))), flat,
			[]string{"d d: A+B", "f f.txt: B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkItems(t, compare.Compare(tt.nodes, tt.s), tt.want)
		})
	}

	c := compare.Compare(withIncompleteA(nil, E(D("/sub"))), flat)
	if it := c.Items[0]; !slices.Equal(it.AccessIssues(), []int{0}) || !it.HasAccessIssue(0) || !it.Present(0) {
		t.Errorf("flat placeholder dir: AccessIssues %v", it.AccessIssues())
	}

	all := testinv.Nodes(E(F("/f", 1, 0)), E(F("/f", 1, 0)))
	testinv.Incomplete(all[0].Parts[0])
	testinv.Incomplete(all[1].Parts[0])
	if c := compare.Compare(all, flat); len(c.Items) != 0 {
		t.Errorf("every part incomplete: items %q, want none", describe(c))
	}
}

func TestContentNeeded(t *testing.T) {
	checksum := func(s *compare.Settings) { s.Analysis = compare.Checksum }
	tests := []struct {
		name  string
		nodes []*inventory.Node
		s     func(*compare.Settings)
		want  [][]string // paths per part
	}{
		{"smart: same size, different dates: both read",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 5))), nil, [][]string{{"/f"}, {"/f"}}},
		{"smart: different sizes: nothing",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 11, 5))), nil, [][]string{nil, nil}},
		{"smart: same size and date: nothing",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 0))), nil, [][]string{nil, nil}},
		{"smart: on one part only: nothing",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/g", 10, 5))), nil, [][]string{nil, nil}},
		{"smart: only the parts that share a size",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 5)), E(F("/f", 20, 9))), nil, [][]string{{"/f"}, {"/f"}, nil}},
		{"smart: a third date reads every equal size",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 0)), E(F("/f", 10, 1))), nil, [][]string{{"/f"}, {"/f"}, {"/f"}}},
		{"smart: an equal pair beside a different size: nothing",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 0)), E(F("/f", 20, 1))), nil, [][]string{nil, nil, nil}},
		{"smart: a key already known is not read again, its counterpart is",
			testinv.Nodes(E(F("/f", 10, 0, key("x"))), E(F("/f", 10, 5))), nil, [][]string{nil, {"/f"}}},
		{"smart: unreadable and failed files are not read",
			testinv.Nodes(E(F("/f", 0, 0, unreadable), F("/g", 10, 0, testinv.AnalysisError)), E(F("/f", 10, 5), F("/g", 10, 5))), nil, [][]string{nil, nil}},
		{"smart: directories are never read",
			testinv.Nodes(E(D("/d")), E(D("/d"))), nil, [][]string{nil, nil}},
		{"smart: two sources of one node are two parts",
			[]*inventory.Node{testinv.Node("A", testinv.Part("A1", F("/f", 10, 0)), testinv.Part("A2", F("/f", 10, 3))), testinv.Node("B", testinv.Part("B1"))},
			nil, [][]string{{"/f"}, {"/f"}, nil}},
		{"smart: entry indices follow the part",
			testinv.Nodes(E(D("/a"), F("/a/x", 1, 0), F("/f", 10, 0)), E(F("/f", 10, 5))), nil, [][]string{{"/f"}, {"/f"}}},
		{"smart: flat matching pairs names across levels",
			testinv.Nodes(E(D("/p"), F("/p/f", 10, 0), D("/q"), F("/q/f", 10, 5)), E(F("/f", 10, 0))),
			func(s *compare.Settings) { s.Matching = compare.Flat }, [][]string{{"/p/f", "/q/f"}, {"/f"}}},
		{"smart: a placeholder is not a second part",
			testinv.Nodes(E(D("/d", unreadable)), E(D("/d"), F("/d/f", 10, 5))), nil, [][]string{nil, nil}},
		{"checksum: same size and date: both read",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 10, 0))), checksum, [][]string{{"/f"}, {"/f"}}},
		{"checksum: different sizes: both read",
			testinv.Nodes(E(F("/f", 10, 0)), E(F("/f", 11, 0))), checksum, [][]string{{"/f"}, {"/f"}}},
		{"checksum: on one part only: nothing",
			testinv.Nodes(E(F("/f", 10, 0), F("/g", 1, 0)), E(F("/g", 1, 0))), checksum, [][]string{{"/g"}, {"/g"}}},
		{"checksum: a placeholder is not a second part",
			testinv.Nodes(E(D("/d", unreadable)), E(D("/d"), F("/d/f", 10, 5))), checksum, [][]string{nil, nil}},
		{"checksum: beside an unreadable file: nothing",
			testinv.Nodes(E(F("/f", 0, 0, unreadable)), E(F("/f", 10, 5))), checksum, [][]string{nil, nil}},
		{"checksum: directories only: nothing",
			testinv.Nodes(E(D("/d"), F("/d/f", 1, 0)), E(D("/d"), F("/d/f", 1, 0))),
			func(s *compare.Settings) { s.Analysis, s.DataType = compare.Checksum, compare.Directories }, [][]string{nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []*inventory.Part
			for _, n := range tt.nodes {
				parts = append(parts, n.Parts...)
			}
			idx := compare.ContentNeeded(tt.nodes, settings(tt.s))
			if len(idx) != len(parts) {
				t.Fatalf("%d index lists for %d parts", len(idx), len(parts))
			}
			for p, is := range idx {
				var got []string
				for _, i := range is {
					got = append(got, parts[p].Entries[i].Path())
				}
				if !slices.Equal(got, tt.want[p]) {
					t.Errorf("part %s: %q, want %q", parts[p].Code, got, tt.want[p])
				}
			}
		})
	}
}

func TestSettingsNames(t *testing.T) {
	for _, name := range []string{"files", "files-directories", "directories"} {
		v, err := compare.ParseDataType(name)
		if err != nil || v.String() != name {
			t.Errorf("data type %q: %v %v", name, v, err)
		}
	}
	for _, name := range []string{"tree", "flat"} {
		v, err := compare.ParseMatching(name)
		if err != nil || v.String() != name {
			t.Errorf("matching %q: %v %v", name, v, err)
		}
	}
	for _, name := range []string{"smart", "checksum"} {
		v, err := compare.ParseAnalysis(name)
		if err != nil || v.String() != name {
			t.Errorf("analysis %q: %v %v", name, v, err)
		}
	}
	for _, bad := range []string{"", "Files", "file"} {
		if _, err := compare.ParseDataType(bad); err == nil {
			t.Errorf("data type %q accepted", bad)
		}
	}
	if _, err := compare.ParseMatching("name"); err == nil || !strings.Contains(err.Error(), "flat") {
		t.Errorf("matching error %v should list the values", err)
	}
	d := compare.DefaultSettings()
	if d.DataType != compare.FilesDirectories || d.Matching != compare.Tree || d.CaseSensitive || d.Analysis != compare.Smart || !d.ExcludeHidden || !d.ExcludeSystem {
		t.Errorf("defaults %+v differ from the rules file defaults", d)
	}
}
