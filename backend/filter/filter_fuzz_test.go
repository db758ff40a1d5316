package filter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/filter"
)

// FuzzParse checks that no text panics the parser, that errors are *FilterErrors inside the
// text, and that a filter that parses matches without panicking and reads back from its String
// form as the same filter.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "report", `"my notes" OR é`, "is:file AND (on:A || only:b1) !has:access-issue",
		"A.size > 1.5MB", "B.date >= now-3d", "A.content != C._", "A.content-and-date == B.content-and-date",
		"name==*.txt", `path:docs\x`, `name=~"^a(b|c)$"`, "has:actions.targeted.copy-content >= 2",
		"A.date < 2024-01-31-12-00-00", "A.content == 0a1b", `A.content == "c"`, "(a", "A.colour == 3", `"\"\\`,
	} {
		f.Add(s)
	}
	comparisons := []*compare.Comparison{filterComparison(), filterMultiPart()}
	env := filterEnv(comparisons[0])
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range comparisons {
			flt, err := filter.Parse(text, c.Parts)
			if err != nil {
				var fe *filter.Error
				if !errors.As(err, &fe) {
					t.Fatalf("ParseFilter(%q): %T %v, want a *FilterError", text, err, err)
				}
				if fe.Pos < 0 || fe.End < fe.Pos || fe.End > len(text) {
					t.Fatalf("ParseFilter(%q): span [%d, %d) outside the text", text, fe.Pos, fe.End)
				}
				continue
			}
			s := flt.String()
			again, err := filter.Parse(s, c.Parts)
			if err != nil {
				if strings.Contains(err.Error(), "nested too deeply") {
					continue // String adds parentheses
				}
				t.Fatalf("ParseFilter(%q).String() = %q does not parse: %v", text, s, err)
			}
			if s2 := again.String(); s2 != s {
				t.Fatalf("ParseFilter(%q): String() %q reads back as %q", text, s, s2)
			}
			for _, it := range c.Items {
				if flt.Match(it, env) != again.Match(it, env) {
					t.Fatalf("ParseFilter(%q) and its String() %q differ on %s", text, s, it.Path())
				}
			}
		}
	})
}
