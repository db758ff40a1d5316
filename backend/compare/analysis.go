package compare

import (
	"cmp"
	"slices"

	"github.com/ferrysync/ferry/backend/inventory"
)

// ContentNeeded returns, for each part in Parts(nodes) order, the indices of the entries whose
// content key the comparison needs. Smart: files of an item that share a size with another part's
// file but not its last write time (a different size already means different content). Checksum:
// every file present on two or more parts. Only readable files count, and files whose key is
// already known are not listed again.
func ContentNeeded(nodes []*inventory.Node, s Settings) [][]int {
	return Compare(nodes, s).ContentNeeded()
}

// ContentNeeded is the package's ContentNeeded on a comparison already made: after reading the
// keys, Regroup brings the comparison up to date.
func (c *Comparison) ContentNeeded() [][]int {
	type need struct{ part, index int }
	var needed []need
	var nf needFiles
	read := func(l Located) {
		needed = append(needed, need{l.Part, entryIndex(c.Parts[l.Part].Inv, l.Entry)})
	}
	for _, it := range c.Items {
		if it.Kind == inventory.File {
			c.needs(it, &nf, read)
		}
	}
	slices.SortFunc(needed, func(a, b need) int { return cmp.Or(cmp.Compare(a.part, b.part), cmp.Compare(a.index, b.index)) })
	needed = slices.Compact(needed)
	out := make([][]int, len(c.Parts))
	for _, n := range needed {
		out[n.part] = append(out[n.part], n.index)
	}
	return out
}

// needFiles is room for needs to work in.
type needFiles struct{ files, group []Located }

// needs calls read with each file of a file item whose content key the comparison needs.
func (c *Comparison) needs(it *Item, nf *needFiles, read func(Located)) {
	// Only readable files count: a placeholder, an unreadable file or one whose analysis failed
	// has no content to compare with. Files whose key is already known take part in the
	// decision but are not read again.
	files := nf.files[:0]
	defer func() { nf.files = files[:0] }()
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Entry != nil && !l.Entry.Inaccessible && !l.Entry.AnalysisFailed {
				files = append(files, l)
			}
		}
	}
	if len(files) < 2 || !spansParts(files) {
		return
	}
	readAll := func(ls []Located) {
		for _, l := range ls {
			if c.Parts[l.Part].Inv.Keys.Of(l.Entry).IsZero() {
				read(l)
			}
		}
	}
	if c.Settings.Analysis == Checksum {
		readAll(files)
		return
	}
	// The files of one size, in turn.
	slices.SortStableFunc(files, func(a, b Located) int { return cmp.Compare(a.Entry.Size, b.Entry.Size) })
	for i := 0; i < len(files); {
		j := i + 1
		for j < len(files) && files[j].Entry.Size == files[i].Entry.Size {
			j++
		}
		nf.group = append(nf.group[:0], files[i:j]...)
		if len(nf.group) > 1 && spansParts(nf.group) && !sameModTime(nf.group) {
			readAll(nf.group)
		}
		i = j
	}
}

// Regroup sorts again into identities the files of the items holding the entries listed (per
// part, as ContentNeeded lists them) once their content keys were read: the comparison is then
// the one Compare would make now.
func (c *Comparison) Regroup(read [][]int) {
	hashed := map[*inventory.Entry]bool{}
	for p, idx := range read {
		for _, i := range idx {
			hashed[&c.Parts[p].Inv.Entries[i]] = true
		}
	}
	if len(hashed) == 0 {
		return
	}
	a := &arena{parts: len(c.Parts)}
	var real []Located
	for _, it := range c.Items {
		if it.Kind != inventory.File || !it.holdsAny(hashed) {
			continue
		}
		// Real entries in the order Compare adds them (part, then path); the placeholders,
		// added after them, stay last.
		real = real[:0]
		var placeholders []Identity
		for _, id := range it.Identities {
			if len(id.Entries) == 1 && id.Entries[0].Entry == nil {
				placeholders = append(placeholders, id)
				continue
			}
			real = append(real, id.Entries...)
		}
		slices.SortFunc(real, func(x, y Located) int {
			return cmp.Or(cmp.Compare(x.Part, y.Part), inventory.ComparePaths(x.Entry, y.Entry))
		})
		it.Identities = nil
		for _, l := range real {
			it.add(a, c.Parts, l.Part, l.Entry)
		}
		it.Identities = append(it.Identities, placeholders...)
	}
}

func (it *Item) holdsAny(entries map[*inventory.Entry]bool) bool {
	for _, id := range it.Identities {
		for _, l := range id.Entries {
			if l.Entry != nil && entries[l.Entry] {
				return true
			}
		}
	}
	return false
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
	var t int64
	for i, l := range ls {
		if i == 0 {
			t = l.Entry.ModTime
		} else if l.Entry.ModTime != t {
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
		if inventory.ComparePaths(&p.Entries[m], e) < 0 {
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
