package plan_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// randomNodes are two or three nodes of nested folders whose files share paths, content (a size
// per content) and dates at random; content[i][path] is what the analysis would read.
func randomNodes(rng *rand.Rand) (nodes []*inventory.Node, content []map[string]int) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"a", "b", "c"}
	for n := range 2 + rng.IntN(2) {
		var entries []inventory.Entry
		read := map[string]int{}
		var walk func(dir string, depth int)
		walk = func(dir string, depth int) {
			for _, name := range names {
				p := dir + "/" + name
				switch r := rng.IntN(5); {
				case r == 0:
				case r == 1 && depth < 2:
					entries = append(entries, inventory.Entry{Kind: inventory.Dir,
						ModTime: inventory.Nanos(base.Add(time.Duration(rng.IntN(2)) * time.Minute))}.At(p))
					walk(p, depth+1)
				default:
					c := rng.IntN(3)
					read[p] = c
					entries = append(entries, inventory.Entry{Kind: inventory.File, Size: int64(c % 2),
						ModTime: inventory.Nanos(base.Add(time.Duration(rng.IntN(2)) * time.Second))}.At(p))
				}
			}
		}
		walk("", 0)
		slices.SortFunc(entries, func(a, b inventory.Entry) int { return strings.Compare(a.Path(), b.Path()) })
		code := string(rune('A' + n))
		nodes = append(nodes, &inventory.Node{Code: code, Parts: []*inventory.Part{{Code: code + "1",
			Root: "/" + strings.ToLower(code), Type: inventory.SourceDir, Entries: entries}}})
		content = append(content, read)
	}
	return nodes, content
}

// analysed reads the content keys the comparison needs, as the analysis would.
func analysed(c *compare.Comparison, content []map[string]int) {
	need := c.ContentNeeded()
	for p, idx := range need {
		for _, i := range idx {
			inv := c.Parts[p].Inv
			e := &inv.Entries[i]
			inv.Keys.Set(e, inventory.HashBytes(fmt.Appendf(nil, "%d", content[p][e.Path()])))
		}
	}
	c.Regroup(need)
}

// A comparison that leaves out the items the rules leave alone plans what the whole one plans,
// including the refusal to delete a folder that still holds a file left out; so does a plan made
// item by item (plan.Evaluate), which lets every item go.
func TestSparsePlanIsThePlan(t *testing.T) {
	t.Parallel()
	omitted := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 5))
		mode := []string{"mirror", "update", "two-way", "delete-dirs"}[rng.IntN(4)]
		rs, err := rules.Preset(mode, "A", "B")
		if mode == "delete-dirs" {
			rs, err = []rules.Rule{{AppliesTo: inventory.Dir, MatchAll: true,
				Conditions: []rules.Condition{{Left: "A", Property: rules.Presence, Op: rules.On, Right: "B"}},
				Actions:    []rules.Action{{Op: rules.Delete, On: "B"}}}}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		s := compare.DefaultSettings()
		s.CaseSensitive = rng.IntN(2) == 0
		if rng.IntN(3) == 0 {
			s.Analysis = compare.Checksum
		}
		variants := []string{"whole", "sparse", "streamed", "sparse and streamed", "kept whole"}
		plans := make([]string, len(variants))
		for i, variant := range variants {
			sparse := strings.HasPrefix(variant, "sparse")
			nodes, content := randomNodes(rand.New(rand.NewPCG(seed, 7)))
			var c *compare.Comparison
			if sparse {
				c = compare.CompareOmitting(nodes, s, func(c *compare.Comparison) func(*compare.Item) bool {
					idle, err := rules.Idle(c, rs)
					if err != nil {
						t.Fatal(err)
					}
					return idle
				})
				omitted += c.Omitted
			} else {
				c = compare.Compare(nodes, s)
			}
			analysed(c, content)
			var p *plan.Plan
			if strings.HasSuffix(variant, "streamed") {
				items := c.Items
				if p, err = plan.Evaluate(c, rs, nil, plan.Options{}); err != nil {
					t.Fatal(err)
				}
				if slices.ContainsFunc(items, func(it *compare.Item) bool { return it != nil }) {
					t.Fatalf("seed %d: the streamed plan still holds items", seed)
				}
				if slices.ContainsFunc(c.Items, func(it *compare.Item) bool { return it.Kind != inventory.Dir }) {
					t.Fatalf("seed %d: the comparison still holds its files", seed)
				}
			} else {
				res, err := rules.Evaluate(c, rs, nil)
				if err != nil {
					t.Fatal(err)
				}
				p = plan.Build(c, res, plan.Options{})
				if variant == "kept whole" {
					p = keptWhole(t, c, rs, res)
				}
			}
			data, err := json.MarshalIndent(struct {
				Plan                any
				Groups              []plan.Group // quiet ones too
				Rejected, LeftAlone []plan.Rejected
			}{p, p.Groups, p.Rejected, p.LeftAlone}, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			plans[i] = string(data)
		}
		for i, variant := range variants[1:] {
			if plans[0] != plans[i+1] {
				t.Fatalf("seed %d, %s: the plan of the whole comparison\n%s\nthe %s one\n%s", seed, mode, plans[0], variant, plans[i+1])
			}
		}
	}
	if omitted == 0 {
		t.Fatal("no item was left out")
	}
}

// keptWhole plans c as a caller that keeps the comparison may, holding no rules.Result: it
// gathers the outcomes of a rules.Stream, puts the kept actions in At order, which is the order of
// res, the whole evaluation, and plans them with plan.BuildEach.
func keptWhole(t *testing.T, c *compare.Comparison, rs []rules.Rule, res *rules.Result) *plan.Plan {
	t.Helper()
	s, err := rules.NewStream(c, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kept []rules.Outcome
	var refusals rules.Refusals
	yield := func(o rules.Outcome) {
		if o.Reason == "" {
			kept = append(kept, o)
		} else {
			refusals.Add(o)
		}
	}
	for _, it := range c.Items {
		s.Item(it, yield)
	}
	s.End(yield)
	slices.SortFunc(kept, func(x, y rules.Outcome) int { return x.At() - y.At() })
	actions := make([]rules.AtomicAction, len(kept))
	for i, o := range kept {
		actions[i] = o.Action
	}
	if !slices.Equal(actions, res.Actions) {
		t.Fatalf("kept outcomes\n%v\nthe evaluation's actions\n%v", actions, res.Actions)
	}
	return plan.BuildEach(c, s.Directions, refusals.List(), len(actions), slices.Values(actions), plan.Options{})
}

// Groups are numbered in plan order, past one digit too, and found by their ids only.
func TestGroupIDs(t *testing.T) {
	var files []testinv.Entry
	for i := range 120 {
		files = append(files, F(fmt.Sprintf("/f%03d", i), 1, 0))
	}
	p := build(t, compare.Compare(testinv.Nodes(E(files...), nil), compare.DefaultSettings()), mirror(t, "A", "B"), nil, plan.Options{})
	if len(p.Groups) < 120 {
		t.Fatalf("%d groups", len(p.Groups))
	}
	for i, g := range p.Groups {
		if want := fmt.Sprintf("AGID_%d", i+1); g.ID() != want {
			t.Fatalf("group %d: id %q, want %q", i, g.ID(), want)
		}
		if got := p.Group(g.ID()); got != &p.Groups[i] {
			t.Fatalf("group %s found at %p, want %p", g.ID(), got, &p.Groups[i])
		}
	}
	for _, id := range []string{"", "AGID_", "AGID_0", "AGID_01", "AGID_+1", "agid_1", "AGID_1 ", fmt.Sprintf("AGID_%d", len(p.Groups)+1)} {
		if g := p.Group(id); g != nil {
			t.Errorf("%q found: %s", id, g.ID())
		}
	}
}
