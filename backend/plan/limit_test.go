package plan_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/internal/testinv"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// files makes n files /f0… of one byte.
func files(n int) []testinv.Entry {
	var es []testinv.Entry
	for i := range n {
		es = append(es, F(fmt.Sprintf("/f%02d", i), 1, 0))
	}
	return es
}

// mirrorPlan mirrors a source holding the first keep files of the target's total.
func mirrorPlan(t *testing.T, keep, total int) *plan.Plan {
	t.Helper()
	all := files(total)
	return build(t, tree(testinv.Nodes(all[:keep], all)), mirror(t, "A", "B"), nil, plan.Options{})
}

func TestDeletionLimit(t *testing.T) {
	limit := func(s string) rules.DeleteLimit {
		if s == "" {
			return rules.DeleteLimit{}
		}
		l, err := rules.ParseDeleteLimit(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, c := range []struct {
		name        string
		keep, total int
		limit       string
		over        bool
	}{
		{"default: the source is empty", 0, 3, "", true},
		{"default: 9 of 10 files is under the 10-file floor", 1, 10, "", false},
		{"default: 10 of 20 files is not more than half", 10, 20, "", false},
		{"default: 10 of 19 files is more than half", 9, 19, "", true},
		{"default: nothing deleted", 5, 5, "", false},
		{"count: 10 deletes, limit 10", 10, 20, "10", false},
		{"count: 10 deletes, limit 9", 10, 20, "9", true},
		{"count: an empty source within the count", 0, 3, "3", false},
		{"share: 5 of 9 is over 50%", 4, 9, "50%", true},
		{"share: 100% allows an empty source", 0, 30, "100%", false},
		{"share: 0% refuses one delete", 9, 10, "0%", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := mirrorPlan(t, c.keep, c.total)
			err := p.CheckDeletions(limit(c.limit))
			var le *plan.DeleteLimitError
			if got := errors.As(err, &le); got != c.over {
				t.Fatalf("over the limit: %v (%v), want %v", got, err, c.over)
			}
			ds := p.Deletions(limit(c.limit))
			if deletes := c.total - c.keep; deletes > 0 {
				if len(ds) != 1 || ds[0].Part != "B" || ds[0].Deletes != deletes || ds[0].Files != c.total || ds[0].Over != c.over {
					t.Fatalf("deletions %+v", ds)
				}
			} else if len(ds) != 0 {
				t.Fatalf("deletions %+v, want none", ds)
			}
			if c.over && (!strings.Contains(err.Error(), "--max-delete") || !strings.Contains(err.Error(), "nothing was changed")) {
				t.Errorf("message %q names neither the flag nor the outcome", err)
			}
			if c.over && c.keep == 0 && !strings.Contains(err.Error(), "while A is empty") {
				t.Errorf("message %q does not name the empty source", err)
			}
		})
	}
}

func TestParseDeleteLimit(t *testing.T) {
	for in, want := range map[string]rules.DeleteLimit{
		"0":     {IsCount: true, Set: true},
		"25":    {Count: 25, IsCount: true, Set: true},
		"12.5%": {Percent: 12.5, Set: true},
		" 100%": {Percent: 100, Set: true},
	} {
		got, err := rules.ParseDeleteLimit(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "101%", "ten", "5 files", "%"} {
		if _, err := rules.ParseDeleteLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
