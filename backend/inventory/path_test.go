package inventory

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Paths held in pieces compare as the whole paths do, in bytes, whether or not two entries share
// their directory's path.
func TestComparePathsIsByteOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Bytes around '/' (0x2f) are where pieces and whole paths could disagree.
	elem := func() string {
		const alphabet = "-.0aé"
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(string([]rune(alphabet)[rng.IntN(5)]))
		}
		return b.String()
	}
	path := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString("/" + elem())
		}
		return b.String()
	}
	sign := func(n int) int { return max(-1, min(1, n)) }
	for range 20000 {
		pa, pb := path(), path()
		if rng.IntN(4) == 0 {
			pb = pa[:strings.LastIndexByte(pa, '/')] + "/" + elem() // siblings
		}
		a, b := Entry{}.At(pa), Entry{}.At(pb)
		if a.Dir() == b.Dir() && rng.IntN(2) == 0 {
			b.dir = a.dir
		}
		if a.Path() != pa || b.Path() != pb || string(a.AppendPath(nil)) != pa {
			t.Fatalf("At(%q).Path() = %q, At(%q).Path() = %q", pa, a.Path(), pb, b.Path())
		}
		want := strings.Compare(pa, pb)
		if got := ComparePaths(&a, &b); sign(got) != want {
			t.Fatalf("ComparePaths(%q, %q) = %d, want %d", pa, pb, got, want)
		}
		if got := ComparePath(&a, pb); sign(got) != want {
			t.Fatalf("ComparePath(%q, %q) = %d, want %d", pa, pb, got, want)
		}
		if got, want := a.Depth(), strings.Count(pa, "/"); got != want {
			t.Fatalf("Depth(%q) = %d, want %d", pa, got, want)
		}
	}
}
