package compare

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// The one-pass merge of sorted parts builds the very items the map-based index builds: same
// order, paths, identities and entry order, for random trees with mixed-case names.
func TestMergeMatchesIndex(t *testing.T) {
	t.Parallel()
	merged := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nodes := randomTree(rng)
		for _, cs := range []bool{false, true} {
			s := DefaultSettings()
			s.CaseSensitive = cs
			s.DataType = []DataType{FilesDirectories, Files, Directories}[rng.IntN(3)]
			viaIndex := &Comparison{Settings: s, Parts: Parts(nodes)}
			viaIndex.index(&arena{parts: len(nodes)})
			viaMerge := &Comparison{Settings: s, Parts: Parts(nodes)}
			if !viaMerge.mergeIn(&arena{parts: len(nodes)}, nil, 0) {
				continue
			}
			merged++
			want := dump(viaIndex)
			if got := dump(viaMerge); got != want {
				t.Fatalf("seed %d, case-sensitive %v:\nmerge:\n%s\nindex:\n%s", seed, cs, got, want)
			}
			// Merged in ranges, one goroutine each, where the parts hold every kind.
			ranges := 2 + rng.IntN(4)
			inRanges := &Comparison{Settings: s, Parts: Parts(nodes)}
			inRanges.mergeIn(&arena{parts: len(nodes)}, nil, ranges)
			if got := dump(inRanges); got != want {
				t.Fatalf("seed %d, case-sensitive %v, %d ranges:\nmerge:\n%s\nindex:\n%s", seed, cs, ranges, got, want)
			}
		}
	}
	if merged < 300 {
		t.Fatalf("the merge applied to %d comparisons of 600", merged)
	}
}

// randomTree is two or three nodes of files and folders with mixed-case names, some sharing
// content, some inaccessible.
func randomTree(rng *rand.Rand) []*inventory.Node {
	names := []string{"a", "B", "b", "c", "A.txt", "a.txt", "z"}
	var nodes []*inventory.Node
	for n := range 2 + rng.IntN(2) {
		seen, keys := map[string]bool{}, map[string]byte{}
		var entries []inventory.Entry
		for range rng.IntN(25) {
			p := "/" + names[rng.IntN(len(names))]
			if rng.IntN(2) == 0 {
				p += "/" + names[rng.IntN(len(names))]
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			e := inventory.Entry{Kind: inventory.File, Size: int64(rng.IntN(3))}.At(p)
			if rng.IntN(3) == 0 {
				e.Kind, e.Size = inventory.Dir, 0
			}
			keys[p] = byte(rng.IntN(3))
			e.Inaccessible = rng.IntN(10) == 0
			entries = append(entries, e)
		}
		slices.SortFunc(entries, func(a, b inventory.Entry) int { return strings.Compare(a.Path(), b.Path()) })
		code := string(rune('A' + n))
		part := &inventory.Part{Code: code + "1", Entries: entries}
		for i := range entries {
			part.Keys.Set(&entries[i], inventory.ContentKey{keys[entries[i].Path()]})
		}
		nodes = append(nodes, &inventory.Node{Code: code, Parts: []*inventory.Part{part}})
	}
	return nodes
}

func dump(c *Comparison) string {
	var b strings.Builder
	for _, it := range c.Items {
		fmt.Fprintf(&b, "%d %q %q %q:", it.Kind, it.Key(), it.Path(), it.Name())
		for _, id := range it.Identities {
			key := c.Key(&id)
			fmt.Fprintf(&b, " [%x %d %v %v", key[:1], id.Size(), id.AnalysisError(), id.AccessIssue())
			for _, l := range id.Entries {
				if l.Entry == nil {
					fmt.Fprintf(&b, " %d:?", l.Part)
				} else {
					fmt.Fprintf(&b, " %d:%s", l.Part, l.Entry.Path())
				}
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// A comparison regrouped once the content keys it needs are read is the one Compare makes then.
func TestRegroupMatchesCompare(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "C", "c", "d"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	regrouped := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var nodes []*inventory.Node
		for n := range 2 + rng.IntN(2) {
			var entries []inventory.Entry
			for _, d := range names {
				if rng.IntN(4) == 0 {
					continue
				}
				dir := inventory.Entry{Kind: inventory.Dir, Inaccessible: rng.IntN(12) == 0}.At("/" + d)
				entries = append(entries, dir)
				if dir.Inaccessible {
					continue
				}
				for _, f := range names {
					if rng.IntN(3) == 0 {
						continue
					}
					entries = append(entries, inventory.Entry{Kind: inventory.File,
						Size: int64(rng.IntN(2)), ModTime: inventory.Nanos(base.Add(time.Duration(rng.IntN(2)) * time.Second))}.At(dir.Path()+"/"+f))
				}
			}
			slices.SortFunc(entries, func(a, b inventory.Entry) int { return strings.Compare(a.Path(), b.Path()) })
			code := string(rune('A' + n))
			nodes = append(nodes, &inventory.Node{Code: code, Parts: []*inventory.Part{{Code: code + "1", Entries: entries}}})
		}
		s := DefaultSettings()
		s.CaseSensitive = rng.IntN(2) == 0
		if rng.IntN(4) == 0 {
			s.Analysis = Checksum
		}
		c := Compare(nodes, s)
		need := c.ContentNeeded()
		for p, idx := range need {
			for _, i := range idx {
				inv := c.Parts[p].Inv
				e := &inv.Entries[i]
				inv.Keys.Set(e, inventory.ContentKey{1 + byte(rng.IntN(2))})
				if rng.IntN(10) == 0 {
					e.AnalysisFailed = true
				}
				regrouped++
			}
		}
		c.Regroup(need)
		if got, want := dump(c), dump(Compare(nodes, s)); got != want {
			t.Fatalf("seed %d:\nregrouped:\n%s\ncompared:\n%s", seed, got, want)
		}
	}
	if regrouped < 300 {
		t.Fatalf("%d entries read in all", regrouped)
	}
}

// Find finds every item by kind and linking key, and nothing else, whichever way the items
// were built (merged, indexed, flat).
func TestFind(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 9))
		nodes := randomTree(rng)
		s := DefaultSettings()
		s.CaseSensitive = rng.IntN(2) == 0
		if rng.IntN(3) == 0 {
			s.Matching = Flat
		}
		c := Compare(nodes, s)
		for _, it := range c.Items {
			if got := c.Find(it.Kind, it.Key()); got != it {
				t.Fatalf("seed %d: %d %q found as %v", seed, it.Kind, it.Key(), got)
			}
		}
		for _, key := range []string{"", "/", "/zz", "/a/zz", "0"} {
			for _, kind := range []inventory.Kind{inventory.File, inventory.Dir} {
				if got := c.Find(kind, key); got != nil {
					t.Fatalf("seed %d: %d %q found: %+v", seed, kind, key, got)
				}
			}
		}
	}
}

// The word-at-a-time test finds every upper-case ASCII letter and every non-ASCII byte, at
// every position of a word and of the tail, and nothing in lower-case ASCII.
func TestMayHaveUpper(t *testing.T) {
	t.Parallel()
	for n := range 20 {
		base := []byte(strings.Repeat("a/z.0@[`{~", 2)[:n])
		if mayHaveUpper(string(base)) {
			t.Fatalf("%q: upper case found in lower case", base)
		}
		for i := range n {
			for c := range 256 {
				s := slices.Clone(base)
				s[i] = byte(c)
				want := c >= 0x80 || 'A' <= c && c <= 'Z'
				if got := mayHaveUpper(string(s)); got != want {
					t.Fatalf("%q (byte %#x at %d): mayHaveUpper %v, want %v", s, c, i, got, want)
				}
				if key := DefaultSettings().linkingKey(string(s)); key != strings.ToLower(string(s)) {
					t.Fatalf("%q: key %q, want %q", s, key, strings.ToLower(string(s)))
				}
			}
		}
	}
}

// parentKey is the linking key of the folder holding the item keyed k, a tree path: "/" for an
// item at the root.
func parentKey(k string) string {
	i := strings.LastIndexByte(k, '/')
	if i <= 0 {
		return "/"
	}
	return k[:i]
}

// Linking keys compared without being made order as the keys do, whatever the strings hold:
// mixed case, non-ASCII letters (some whose lower case is longer), invalid UTF-8; and so do the
// keys of paths held in pieces (a directory's path and a name).
func TestCompareKeys(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "A", "z", "Z", "/", "-", "0", "[", "`", "é", "É", "İ", "ß", "Σ", "\xff", "\xc3"}
	rng := rand.New(rand.NewPCG(3, 5))
	word := func() string {
		var sb strings.Builder
		for range rng.IntN(6) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	for range 50000 {
		// Paths share long prefixes: the bytes skipped as equal end anywhere, inside a rune too.
		prefix := strings.Repeat(word(), rng.IntN(4))
		a, b := prefix+word(), prefix+word()
		if rng.IntN(3) == 0 {
			b = a + word()
		}
		for _, cs := range []bool{false, true} {
			s := Settings{CaseSensitive: cs}
			want := strings.Compare(s.linkingKey(a), s.linkingKey(b))
			if got := s.CompareKeys(a, b); got != want {
				t.Fatalf("case-sensitive %v: CompareKeys(%q, %q) = %d, want %d", cs, a, b, got, want)
			}
			ea, eb := inventory.Entry{}.At("/"+a), inventory.Entry{}.At("/"+b)
			if got := s.comparePaths(&ea, &eb); got != want {
				t.Fatalf("case-sensitive %v: comparePaths(%q, %q) = %d, want %d", cs, "/"+a, "/"+b, got, want)
			}
		}
	}
}

// A comparison that leaves items out holds the items of the whole one that were kept, with the
// same keys, paths and entries, over thousands of items (arena chunks filled and rewound across)
// and mixed-case folders; it knows the folders, by key and part, that held an item left out.
func TestOmittingKeepsTheRest(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var nodes []*inventory.Node
		for n := range 2 {
			var entries []inventory.Entry
			for d := range 40 {
				dir := fmt.Sprintf("/Dir%02d", d)
				if n == 1 && d%3 == 0 {
					dir = strings.ToLower(dir)
				}
				entries = append(entries, inventory.Entry{Kind: inventory.Dir}.At(dir))
				for f := range 100 {
					if rng.IntN(10) == 0 {
						continue
					}
					e := inventory.Entry{Kind: inventory.File, Size: int64(rng.IntN(2))}.At(fmt.Sprintf("%s/File%03d.TXT", dir, f))
					entries = append(entries, e)
				}
			}
			slices.SortFunc(entries, func(a, b inventory.Entry) int { return strings.Compare(a.Path(), b.Path()) })
			code := string(rune('A' + n))
			nodes = append(nodes, &inventory.Node{Code: code, Parts: []*inventory.Part{{Code: code + "1", Entries: entries}}})
		}
		s := DefaultSettings()
		whole := Compare(nodes, s)
		var mu sync.Mutex
		left := map[string]bool{}
		ranges := 1 + int(seed%4) // merged in ranges by as many goroutines
		sparse := compareOmitting(nodes, s, func(*Comparison) func(*Item) bool {
			return func(it *Item) bool {
				h := fnv.New32a()
				h.Write([]byte(it.Key()))
				if it.Kind != inventory.File || h.Sum32()%4 == 0 {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				left[it.Key()] = true
				return true
			}
		}, ranges)
		if sparse.Omitted != len(left) || len(left) < 2000 {
			t.Fatalf("seed %d, %d ranges: %d items left out, %d told", seed, ranges, sparse.Omitted, len(left))
		}
		kept := &Comparison{Parts: whole.Parts}
		holds := map[dirPart]bool{}
		for _, it := range whole.Items {
			if !left[it.Key()] {
				kept.Items = append(kept.Items, it)
				continue
			}
			for _, l := range it.Identities[0].Entries {
				holds[dirPart{parentKey(it.Key()), l.Part}] = true
			}
		}
		if got, want := dump(sparse), dump(kept); got != want {
			t.Fatalf("seed %d: sparse comparison\n%s\nwhole one, less what was left out\n%s", seed, got, want)
		}
		for _, it := range sparse.Items {
			for part := range 2 {
				if got := sparse.HoldsOmitted(it, part); got != holds[dirPart{it.Key(), part}] {
					t.Fatalf("seed %d: HoldsOmitted(%s, %d) = %v", seed, it.Key(), part, got)
				}
			}
		}
	}
}
