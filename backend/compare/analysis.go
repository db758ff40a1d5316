package compare

import (
	"time"

	"github.com/ferrysync/ferry/backend/inventory"
)

// ContentNeeded returns, for each part in Parts(nodes) order, the indices of the entries whose
// content key the comparison needs. Smart: files of an item that share a size with another part's
// file but not its last write time (a different size already means different content). Checksum:
// every file present on two or more parts. Only readable files count, and files whose key is
// already known are not listed again.
func ContentNeeded(nodes []*inventory.Node, s Settings) [][]int {
	c := Compare(nodes, s)
	need := make([]map[int]bool, len(c.Parts))
	for i := range need {
		need[i] = map[int]bool{}
	}
	for _, it := range c.Items {
		if it.Kind != inventory.File {
			continue
		}
		// Only readable files count: a placeholder, an unreadable file or one whose analysis
		// failed has no content to compare with. Files whose key is already known take part in
		// the decision but are not read again.
		var files []Located
		parts := map[int]bool{}
		for _, id := range it.Identities {
			for _, l := range id.Entries {
				if l.Entry != nil && !l.Entry.Inaccessible && l.Entry.AnalysisError == "" {
					files = append(files, l)
					parts[l.Part] = true
				}
			}
		}
		if len(parts) < 2 {
			continue
		}
		read := func(ls []Located) {
			for _, l := range ls {
				if l.Entry.ContentKey.IsZero() {
					need[l.Part][entryIndex(c.Parts[l.Part].Inv, l.Entry)] = true
				}
			}
		}
		if s.Analysis == Checksum {
			read(files)
			continue
		}
		bySize := map[int64][]Located{}
		for _, l := range files {
			bySize[l.Entry.Size] = append(bySize[l.Entry.Size], l)
		}
		for _, group := range bySize {
			if spansParts(group) && !sameModTime(group) {
				read(group)
			}
		}
	}
	out := make([][]int, len(c.Parts))
	for p, set := range need {
		for i := range c.Parts[p].Inv.Entries {
			if set[i] {
				out[p] = append(out[p], i)
			}
		}
	}
	return out
}

func spansParts(ls []Located) bool {
	for _, l := range ls[1:] {
		if l.Part != ls[0].Part {
			return true
		}
	}
	return false
}

func sameModTime(ls []Located) bool {
	var t time.Time
	for i, l := range ls {
		if i == 0 {
			t = l.Entry.ModTime
		} else if !l.Entry.ModTime.Equal(t) {
			return false
		}
	}
	return true
}

// entryIndex finds an entry's index in its part; entries point into Part.Entries.
func entryIndex(p *inventory.Part, e *inventory.Entry) int {
	lo, hi := 0, len(p.Entries)
	for lo < hi {
		m := (lo + hi) / 2
		if p.Entries[m].Path < e.Path {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < len(p.Entries); i++ {
		if &p.Entries[i] == e {
			return i
		}
	}
	panic("compare: entry not in its part")
}
