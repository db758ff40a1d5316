package inventory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortByName orders children as their names compare in bytes, whatever prefixes they share.
func TestListingSortByName(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	letters := []byte("aAbB.-_0~\x01\xff\xc3")
	randomNames := func(count, prefix, maxTail int) []string {
		seen := map[string]bool{}
		shared := make([]byte, prefix)
		for i := range shared {
			shared[i] = letters[rng.IntN(len(letters))]
		}
		var names []string
		for len(names) < count {
			tail := make([]byte, rng.IntN(maxTail+1))
			for i := range tail {
				tail[i] = letters[rng.IntN(len(letters))]
			}
			name := string(shared) + string(tail)
			if name != "" && !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
		return names
	}
	cases := map[string][]string{
		"one":           {"only"},
		"short":         {"b", "a", "ab", "ba", "a0", "a-"},
		"random":        randomNames(500, 0, 9),
		"shared prefix": randomNames(500, 12, 10),
		"random tails":  randomNames(300, 3, 14),
		"ties past keys": func() []string {
			ns := []string{"b"}
			for i := range 600 {
				ns = append(ns, fmt.Sprintf("%clong shared %03d", 'a'+i%3, (i*7)%600))
			}
			return ns
		}(),
		"photos": func() []string {
			var ns []string
			for i := range 2000 {
				ns = append(ns, fmt.Sprintf("IMG_20190612_%06d.JPG", (i*7919)%100000))
			}
			return ns
		}(),
		"more than the keys index": func() []string {
			var ns []string
			for i := range 1<<16 + 10 {
				ns = append(ns, fmt.Sprintf("f%07d", (i*7919)%(1<<20)))
			}
			return ns
		}(),
	}
	for name, names := range cases {
		t.Run(name, func(t *testing.T) {
			var l listing
			for _, n := range names {
				l.add([]byte(n), typeFile)
			}
			l.sortByName()
			var got []string
			for _, c := range l.kids {
				got = append(got, string(l.name(c)))
			}
			want := slices.Sorted(slices.Values(names))
			if !slices.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("child %d is %q, want %q (of %d)", i, got[i], want[i], len(want))
					}
				}
				t.Fatalf("got %d children, want %d", len(got), len(want))
			}
		})
	}
}

// A listing reused for another directory holds that directory's children only.
func TestListingReused(t *testing.T) {
	var l listing
	for _, n := range []string{"c", "b", "a"} {
		l.add([]byte(n), typeFile)
	}
	l.sortByName()
	l.reset()
	l.add([]byte("z"), typeDir)
	l.add([]byte("y"), typeFile)
	l.sortByName()
	if len(l.kids) != 2 || string(l.name(l.kids[0])) != "y" || l.kids[1].typ != typeDir {
		t.Fatalf("kids %+v names %q", l.kids, l.names)
	}
}
