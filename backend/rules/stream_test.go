package rules

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/inventory"
)

// refusedByDefinition is what the refusal of non-empty directory deletes means, on the whole
// evaluation at once: in tree matching, a directory's delete on a part is refused when the
// directory holds what the inventory skipped, or an item below it is present on that part and
// not deleted there, or holds what the inventory skipped or the comparison left out.
func refusedByDefinition(cmp *compare.Comparison, actions []AtomicAction) (kept []AtomicAction, refused []Rejection) {
	deleted := map[[2]any]bool{}
	for _, a := range actions {
		if a.Op == Delete {
			deleted[[2]any{a.Item, a.Target}] = true
		}
	}
	items := cmp.Items
	for _, a := range actions {
		if cmp.Settings.Matching != compare.Tree || a.Op != Delete || a.Item.Kind != inventory.Dir {
			kept = append(kept, a)
			continue
		}
		prefix := a.Item.Key() + "/"
		start := sort.Search(len(items), func(i int) bool { return items[i].Key() >= prefix })
		holds := holdsSkippedOn(a.Item, a.Target) || cmp.HoldsOmitted(a.Item, a.Target)
		for _, it := range items[start:] {
			if holds || !strings.HasPrefix(it.Key(), prefix) {
				break
			}
			holds = it.Present(a.Target) && (!deleted[[2]any{it, a.Target}] ||
				holdsSkippedOn(it, a.Target) || cmp.HoldsOmitted(it, a.Target))
		}
		if holds {
			refused = append(refused, Rejection{a, DirectoryStillHoldsFile})
		} else {
			kept = append(kept, a)
		}
	}
	return kept, refused
}

// randomTree is a tree of folders and files named so that siblings sort between a folder and
// its content ("a-b", "a.c" fall between "a" and "a/…"), some of them differing in case only.
func randomTree(rng *rand.Rand) []testinv.Entry {
	names := []string{"a", "a-b", "a.c", "A", "b"}
	var out []testinv.Entry
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		for _, name := range names {
			p := dir + "/" + name
			switch r := rng.IntN(6); {
			case r < 2:
			case r < 4 && depth < 3:
				var opts []testinv.Opt
				if rng.IntN(8) == 0 {
					opts = append(opts, func(e *testinv.Entry) { e.HoldsSkipped = true })
				}
				out = append(out, testinv.Dir(p, opts...))
				walk(p, depth+1)
			default:
				out = append(out, testinv.File(p, int64(rng.IntN(2)), rng.IntN(2)))
			}
		}
	}
	walk("", 0)
	slices.SortFunc(out, func(a, b testinv.Entry) int { return strings.Compare(a.Path(), b.Path()) })
	return out
}

// Evaluate, which decides each directory's delete at the end of its subtree, keeps and refuses
// what the whole-evaluation definition does, in the same order.
func TestStreamedRefusalsAreTheDefinition(t *testing.T) {
	t.Parallel()
	deleteDirs := Rule{AppliesTo: inventory.Dir, MatchAll: true,
		Conditions: []Condition{{Left: "A", Property: Presence, Op: On, Right: "B"}},
		Actions:    []Action{del("B")}}
	refusals := 0
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := compare.DefaultSettings()
		s.CaseSensitive = rng.IntN(2) == 0
		nodes := testinv.Nodes(randomTree(rng), randomTree(rng))
		c := compare.Compare(nodes, s)
		rs := []Rule{deleteDirs}
		if rng.IntN(2) == 0 {
			rs = mustPreset(t, "mirror")
		}
		var ts []Targeted
		for _, it := range c.Items {
			if it.Kind == inventory.File && rng.IntN(6) == 0 {
				ts = append(ts, tgt(file, it.Path(), nothing))
			}
		}
		res, err := Evaluate(c, rs, ts)
		if err != nil {
			t.Fatal(err)
		}
		// The definition, on every item's own evaluation.
		bound, _ := bindRules(c, rs)
		byItem, _ := bindTargeted(c, ts)
		var all []AtomicAction
		var rejected []Rejection
		for _, it := range c.Items {
			kept, rej := evaluateItem(c, it, bound, byItem[it])
			all = append(all, kept...)
			rejected = append(rejected, rej...)
		}
		kept, refused := refusedByDefinition(c, all)
		refusals += len(refused)
		rejected = append(rejected, refused...)
		if !slices.Equal(res.Actions, kept) {
			t.Fatalf("seed %d: kept\n%v\nwant\n%v", seed, res.Actions, kept)
		}
		if !slices.Equal(res.Rejected, rejected) {
			t.Fatalf("seed %d: rejected\n%v\nwant\n%v", seed, res.Rejected, rejected)
		}
	}
	if refusals == 0 {
		t.Fatal("no delete was refused: the trees test nothing")
	}
}
