package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// The actions the comparison shows and filters read for an item are all of its actions in the
// evaluation, in order, several on one item too; an item counts once as acting.
func TestItemActionsFromTheEvaluation(t *testing.T) {
	when := inventory.Nanos(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	part := func(code string, paths ...string) *inventory.Node {
		part := &inventory.Part{Code: code + "1", Root: "/" + code, Type: inventory.SourceDir, Entries: make([]inventory.Entry, len(paths))}
		for i, p := range paths {
			if dir, ok := strings.CutSuffix(p, "/"); ok {
				part.Entries[i] = inventory.Entry{Kind: inventory.Dir}.At(dir)
				continue
			}
			part.Entries[i] = inventory.Entry{Kind: inventory.File, Size: 1, ModTime: when}.At(p)
			part.Keys.Set(&part.Entries[i], inventory.HashBytes([]byte(p)))
		}
		return &inventory.Node{Code: code, Parts: []*inventory.Part{part}}
	}
	nodes := []*inventory.Node{
		part("A", "/a.txt", "/b.txt", "/c.txt", "/d.txt"),
		part("B", "/b.txt", "/old/", "/old/f.txt", "/x.txt"),
		part("C", "/c.txt", "/old/", "/old/g.txt", "/y.txt"),
	}
	s := compare.DefaultSettings()
	cmp := compare.Compare(nodes, s)
	var rs []rules.Rule
	for _, to := range []string{"B", "C"} {
		r, err := rules.Preset("mirror", "A", to)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r...)
	}
	targeted := []rules.Targeted{{Kind: inventory.File, Path: "/d.txt", Action: rules.Action{Op: rules.DoNothing}}}
	res, err := rules.Evaluate(cmp, rs, targeted)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rules.NewStream(cmp, rs, targeted)
	if err != nil {
		t.Fatal(err)
	}
	a := newAnalysis("", plan.Versions{})
	a.inv = newInventoryResult(nodes, cmp, s)
	a.install(a.planStream(stream, nil))

	acting, most := 0, 0
	for i, it := range cmp.Items {
		var want []itemAction
		for _, act := range res.Actions {
			if act.Item == it {
				want = append(want, itemAction{item: int32(i), source: int16(act.Source), target: int16(act.Target), op: act.Op, targeted: act.Targeted()})
			}
		}
		lo, hi := a.actionsOf(i, 0)
		if got := a.actions[lo:hi]; !slices.Equal(got, want) {
			t.Errorf("%s: actions %v, want %v", it.Path(), got, want)
		}
		if got := a.forFilters[lo:hi]; len(got) != len(want) {
			t.Errorf("%s: %d actions for filters, want %d", it.Path(), len(got), len(want))
		}
		if slices.ContainsFunc(want, func(act itemAction) bool { return act.op != rules.DoNothing }) {
			acting++
		}
		most = max(most, len(want))
	}
	if a.acting != acting {
		t.Errorf("%d items acting, want %d", a.acting, acting)
	}
	if most < 2 {
		t.Fatalf("no item has two actions: %v", res.Actions)
	}
	// /a.txt is copied to B and C, /b.txt to C, /c.txt to B; /x.txt, /y.txt, /old and the files
	// in it are deleted, /old on B and C once its files are; /d.txt is left alone.
	if acting != 8 {
		t.Errorf("%d items acting, want 8", acting)
	}

	// Filters read the same actions, an item at a time: twice for one item, or after items the
	// filter did not ask about.
	paths := func(text string) []string {
		idx, ferr := a.filtered(text)
		if ferr != nil {
			t.Fatalf("%s: %+v", text, ferr)
		}
		var out []string
		for _, i := range idx {
			out = append(out, cmp.Items[i].Path())
		}
		return out
	}
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"has:actions.copy", []string{"/a.txt", "/b.txt", "/c.txt"}},
		{"has:actions.delete OR has:actions.copy", []string{"/a.txt", "/b.txt", "/c.txt", "/old", "/old/f.txt", "/old/g.txt", "/x.txt", "/y.txt"}},
		{"has:actions.copy AND has:actions.copy", []string{"/a.txt", "/b.txt", "/c.txt"}},
		{"name:y.txt AND has:actions.delete", []string{"/y.txt"}},
		{"(name:a.txt OR name:y.txt) AND has:actions", []string{"/a.txt", "/y.txt"}},
		{"has:actions.targeted", []string{"/d.txt"}},
		{"NOT has:actions.copy", []string{"/d.txt", "/old", "/old/f.txt", "/old/g.txt", "/x.txt", "/y.txt"}},
		{"is:dir AND has:actions.delete", []string{"/old"}},
	} {
		if got := paths(c.filter); !slices.Equal(got, c.want) {
			t.Errorf("filter %q: %v, want %v", c.filter, got, c.want)
		}
	}
}
